// @ts-check
// SecureCam's service worker. It does two things:
// - Web Push: it shows the server's alert (notifier/src/providers/webpush.rs: {type, title,
//   body, event_id, camera_device_id, camera_name, deep_link, delivery_id}) and opens the
//   event when the alert is tapped.
// - The app shell offline: the page, its scripts, styles, icons and manifest are kept in a
//   cache so the app still opens (and says the server cannot be reached) without a network,
//   and so browsers can install it. Always network first: whenever the server answers, the
//   page and its code come fresh from it (and refresh the copy); the copy is only used when
//   the server cannot be reached. A security camera app showing stale pages or stale code
//   while the server is up would be worse than none.
// It answers only navigations to the app's pages and GETs of /assets/; everything else goes
// straight to the network untouched: the API, media, the CA certificate (/api/, /media/,
// /ca.*), WebSockets, other origins. So no camera picture, clip, event or token is ever
// stored by it, and nothing live is ever answered from a cache.
// A classic worker script (no imports); type-checked with tests/web/tsconfig.sw.json and
// tested in Node by tests/web/sw.test.mjs.

/** This worker's global scope, as its type (`self` is only a WorkerGlobalScope to TypeScript). */
const worker = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

/**
 * The shell's cache. Copies are refreshed on every fetch while online, so the version only
 * changes when what is kept changes (a file renamed or removed): activating a new version
 * deletes the caches of the others.
 */
const CACHE = 'securecam-shell-v1';
const CACHE_PREFIX = 'securecam-shell-';

/** The page every app route serves (`index.html`, as answered for `/app`). */
const SHELL_PAGE = '/app';

/**
 * Everything the page loads from this server (tests/web/sw.test.mjs checks every module of
 * web/js and web/vendor is listed: a module missing here breaks the app offline).
 */
const SHELL = [
  SHELL_PAGE,
  '/assets/app.css',
  '/manifest.webmanifest',
  '/assets/icon.svg',
  '/assets/icons/icon-192.png',
  '/assets/icons/icon-512.png',
  '/assets/icons/maskable-192.png',
  '/assets/icons/maskable-512.png',
  '/assets/icons/apple-touch-icon.png',
  '/assets/vendor/qrcode.js',
  ...[
    'api', 'auth', 'backoff', 'camera-commands', 'camera-events', 'camera-pairing',
    'camera-publisher', 'camera-sensors', 'camera-siren', 'camera', 'cameras', 'dom', 'live',
    'main', 'motion', 'qr', 'routes', 'scan', 'settings', 'shell', 'store', 'timeline', 'tls',
    'trust', 'viewer', 'webrtc', 'ws',
  ].map((name) => `/assets/js/${name}.js`),
];

/** Paths of this origin that are never the shell's business. */
const NEVER = [/^\/api\//, /^\/media\//, /^\/ca\./, /^\/sw\.js$/];

/**
 * The app's pages (PAGES in securecam/src/web.rs): the only navigations the shell answers
 * offline. Anything else this origin serves (the API reference at /docs, /healthz) is not
 * the app, and is left to the browser.
 */
const PAGES = /^\/(camera|pair|invite|reset-password|trust)?\/?$|^\/(app|events)(\/|$)/;

/** @param {string} path */
const absolute = (path) => new URL(path, worker.location.origin).href;

/**
 * Whether a response is one to keep: a whole, plain answer of this server.
 * @param {Response} response
 */
const keepable = (response) => response.ok && response.status === 200 && response.type === 'basic' && !response.redirected;

worker.addEventListener('install', (event) => {
  // Each file on its own: one that cannot be fetched leaves a gap offline, but never stops
  // the worker from installing (Web Push depends on it).
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(SHELL.map(async (path) => {
      try {
        const response = await fetch(absolute(path), { cache: 'no-cache' });
        if (keepable(response)) await cache.put(absolute(path), response);
      } catch {
        // Offline while installing: the next visit online fills the cache.
      }
    }));
  })());
  worker.skipWaiting();
});

worker.addEventListener('activate', (event) => event.waitUntil((async () => {
  const names = await caches.keys();
  await Promise.all(names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE).map((name) => caches.delete(name)));
  await worker.clients.claim();
})()));

/**
 * What the shell does with a request: `page` (a navigation to a page of the app), `asset` (a
 * file under /assets/), or null: the browser's own fetch, untouched.
 * @param {{ url: string, method: string, mode: string, headers: Headers }} request
 * @returns {'page' | 'asset' | null}
 */
function shellKind(request) {
  if (request.method !== 'GET' || request.headers.has('range')) return null;
  const url = new URL(request.url);
  // Another origin (a relay, object storage), or a WebSocket (ws:, wss:; browsers do not
  // route those through a worker, but a request for one is never ours either).
  if (url.origin !== worker.location.origin) return null;
  if (NEVER.some((pattern) => pattern.test(url.pathname))) return null;
  if (request.mode === 'navigate') return PAGES.test(url.pathname) ? 'page' : null;
  if (url.pathname.startsWith('/assets/')) return 'asset';
  return null;
}

/**
 * Network first: the server's answer, whatever it is, when there is one (a fresh copy of the
 * shell is kept); the kept copy only when the server cannot be reached.
 * @param {Request} request
 * @param {'page' | 'asset'} kind
 * @returns {Promise<Response>}
 */
async function networkFirst(request, kind) {
  const key = kind === 'page' ? absolute(SHELL_PAGE) : request.url;
  try {
    const response = await fetch(request);
    const html = (response.headers.get('Content-Type') || '').startsWith('text/html');
    // Every page route answers the same index.html: any of them refreshes the shell's page.
    if (keepable(response) && (kind === 'asset' || html)) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(key, copy)).catch(() => {});
    }
    return response;
  } catch (err) {
    const kept = await caches.match(key, { cacheName: CACHE });
    if (kept) return kept;
    throw err;
  }
}

worker.addEventListener('fetch', (event) => {
  const kind = shellKind(event.request);
  if (kind) event.respondWith(networkFirst(event.request, kind));
});

/**
 * What the server's alert carries (a `command` wake-up carries less).
 * @typedef {object} Alert
 * @property {string} [type]
 * @property {string} [title]
 * @property {string} [body]
 * @property {string} [event_id]
 * @property {string} [camera_device_id]
 * @property {string} [deep_link]
 */

/**
 * The event's page in this app; the server's deep link is `<public url>/events/<id>`.
 * @param {Alert} data
 * @returns {string}
 */
function pageFor(data) {
  if (data.event_id) return new URL(`/app/events/${data.event_id}`, worker.location.origin).href;
  if (data.deep_link) {
    try {
      const url = new URL(data.deep_link);
      const match = /^\/events\/([^/]+)$/.exec(url.pathname);
      return new URL(match ? `/app/events/${match[1]}` : url.pathname, worker.location.origin).href;
    } catch {
      // Fall through to the app's home.
    }
  }
  return new URL('/app/events', worker.location.origin).href;
}

worker.addEventListener('push', (event) => {
  /** @type {Alert} */
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : '' };
  }
  if (data.type === 'command') {
    // A wake-up for a device with commands waiting: nothing to show a person, but a push
    // must be visible, so tell any open page instead when there is one.
    event.waitUntil(worker.clients.matchAll({ type: 'window' }).then((clients) => {
      if (clients.length) return clients.forEach((c) => c.postMessage({ type: 'securecam:wakeup', data }));
      return worker.registration.showNotification('SecureCam', { body: 'A camera command is waiting.', tag: 'securecam-command', silent: true });
    }));
    return;
  }
  const title = data.title || 'SecureCam';
  const options = {
    body: data.body || 'Something happened at a camera.',
    tag: data.camera_device_id ? `camera-${data.camera_device_id}` : data.event_id || 'securecam',
    renotify: true,
    // A PNG: Android shows no SVG notification icon.
    icon: '/assets/icons/icon-192.png',
    badge: '/assets/icon.svg',
    timestamp: Date.now(),
    data: { url: pageFor(data) },
  };
  event.waitUntil(worker.registration.showNotification(title, options));
});

worker.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data?.url || new URL('/app/events', worker.location.origin).href;
  event.waitUntil((async () => {
    const clients = await worker.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of clients) {
      if (new URL(client.url).origin === worker.location.origin && 'focus' in client) {
        await client.focus();
        if ('navigate' in client) return client.navigate(url);
        return undefined;
      }
    }
    return worker.clients.openWindow(url);
  })());
});
