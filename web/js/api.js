// @ts-check
// The one way this app talks to the REST API: JSON in, JSON out, and every failure turned
// into an ApiError whose message a person can read (the server's problem `detail`).

/**
 * An RFC 9457 problem document, as the server sends them.
 * @typedef {{ detail?: string, title?: string, code?: string }} Problem
 */

export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status; 0 when the server could not be reached
   * @param {Problem} [problem]
   * @param {number | null} [retryAfter] seconds, from Retry-After
   */
  constructor(status, problem = {}, retryAfter = null) {
    const text = problem.detail || problem.title || `The server answered ${status}.`;
    super(text);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || (status ? `http_${status}` : 'network');
    this.title = problem.title || '';
    this.detail = problem.detail || '';
    this.retryAfter = retryAfter;
  }
}

/**
 * What to tell a person about any error, ApiError or not.
 * @param {any} err
 * @returns {string}
 */
export function describeError(err) {
  if (!err) return 'Something went wrong.';
  if (err instanceof ApiError) {
    if (err.status === 429) {
      const wait = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : ' Try again shortly.';
      return `${err.detail || 'Too many attempts.'}${wait}`;
    }
    return err.message;
  }
  if (err.name === 'NotAllowedError') return 'Permission was refused by the browser or by you. Allow camera and microphone access for this site and try again.';
  if (err.name === 'NotFoundError') return 'No camera or microphone was found on this device.';
  if (err.name === 'NotReadableError') return 'The camera is in use by another app or could not be started.';
  if (err.name === 'OverconstrainedError') return 'This device has no camera matching that request.';
  return err.message || String(err);
}

/** @param {Response} response */
function retryAfterOf(response) {
  const value = response.headers.get('Retry-After');
  if (!value) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds : null;
}

/**
 * Reads a failed response as a problem document, whatever it actually is.
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
export async function problemOf(response) {
  /** @type {Problem} */
  let problem = {};
  const type = response.headers.get('Content-Type') || '';
  try {
    if (type.includes('json')) problem = await response.json();
    else {
      const text = (await response.text()).trim();
      if (text) problem = { detail: text.slice(0, 300) };
    }
  } catch {
    // A body that is not what it claims to be still leaves the status to explain.
  }
  return new ApiError(response.status, problem, retryAfterOf(response));
}

export const NETWORK_ERROR = {
  code: 'network',
  title: 'Network error',
  detail: 'Could not reach the SecureCam server. Check the connection and try again.',
};

/**
 * Whether the server answered the last request for one of its paths (`/…`): `reachable`
 * flips to false when one could not reach it at all (this device offline, the server down or
 * out of reach) and back to true with the next answer, of any status; each flip dispatches
 * `change`. The page's banner (offline.js) shows it.
 */
export const server = Object.assign(new EventTarget(), { reachable: true });

/** @param {boolean} reachable */
function heard(reachable) {
  if (server.reachable === reachable) return;
  server.reachable = reachable;
  server.dispatchEvent(new Event('change'));
}

/**
 * @typedef {object} RequestOptions
 * @property {string} [method] GET by default
 * @property {any} [body] sent as JSON, unless a Blob or a string
 * @property {string} [token] a bearer token (user or device)
 * @property {Record<string, string>} [headers]
 * @property {AbortSignal} [signal]
 * @property {boolean} [raw] resolve with the Response itself
 */

/**
 * A fetch that only throws ApiError; `token` is a bearer token (user or device).
 * @param {string} url
 * @param {RequestOptions} [options]
 * @returns {Promise<any>} the JSON answer (null when there is none), or the Response when `raw`
 */
export async function request(url, { method = 'GET', body, token, headers = {}, signal, raw = false } = {}) {
  /** @type {RequestInit & { headers: Record<string, string> }} */
  const init = { method, headers: { ...headers }, signal };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined && !(body instanceof Blob) && typeof body !== 'string') {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  } else if (body !== undefined) {
    init.body = body;
  }
  // Only this server's paths tell whether it is reachable (not another origin's URL).
  const ours = url.startsWith('/') && !url.startsWith('//');
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    if (ours) heard(false);
    throw new ApiError(0, NETWORK_ERROR);
  }
  if (ours) heard(true);
  if (!response.ok) {
    const error = await problemOf(response);
    if (error.status === 401 && token) {
      // Lets whoever holds the credential forget it (a revoked session, a deleted device).
      window.dispatchEvent(new CustomEvent('securecam:unauthorized', { detail: { token } }));
    }
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('json')) return null;
  return response.json();
}

/**
 * The REST API: `request` on a path of this server.
 * @param {string} path
 * @param {RequestOptions} [options]
 * @returns {Promise<any>}
 */
export const api = (path, options) => request(path, options);

/**
 * All pages of a keyset-paginated list, up to `max` items.
 * @param {string} path
 * @param {string} token
 * @param {number} [max]
 * @returns {Promise<any[]>}
 */
export async function listAll(path, token, max = 500) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await api(url, { token });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * Whether a host name is this machine's own (a URL on it only works on the server itself).
 * @param {string} hostname
 * @returns {boolean}
 */
export const isLoopback = (hostname) => LOOPBACK.has(hostname);

/**
 * URLs the server builds from its public URL. When the operator did not set one it is
 * `http://localhost:<port>`, which only works on the server itself. A page reached by another
 * address (a phone on the LAN) or over HTTPS uses its own origin instead, protocol, host and
 * port: this server answers every path of its URLs there, and a page on HTTPS may not load an
 * `http:` URL at all (mixed content), so an `http:` URL on the page's own host name moves to
 * the page's origin too. A loopback URL stays as it is only where it already works: on a page
 * of the server's own machine, over the same protocol.
 * @param {string} url
 * @param {{ href: string }} [here] the page's location
 * @returns {string}
 */
export function reachable(url, here = location) {
  if (!url) return url;
  try {
    const parsed = new URL(url, here.href);
    const page = new URL(here.href);
    const mixed = page.protocol === 'https:' && parsed.protocol === 'http:';
    const moves = isLoopback(parsed.hostname)
      ? mixed || !isLoopback(page.hostname)
      : mixed && parsed.hostname === page.hostname;
    if (!moves) return parsed.toString();
    return new URL(`${parsed.pathname}${parsed.search}${parsed.hash}`, page.origin).toString();
  } catch {
    return url;
  }
}
