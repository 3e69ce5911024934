// The service worker (web/sw.js), run in a context of its own with a stand-in `self`: where
// an alert leads, what it shows, and what tapping it opens; which requests its app shell
// answers, always network first, and which it never touches.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import vm from 'node:vm';

const SOURCE = await readFile(new URL('../../web/sw.js', import.meta.url), 'utf8');
const WEB = new URL('../../web/', import.meta.url);
const ORIGIN = 'https://cams.example';
const CACHE = 'securecam-shell-v1';

/** A stand-in Response: what sw.js reads of one. */
function answer(body, { status = 200, type = 'basic', contentType = 'text/html', redirected = false } = {}) {
  return {
    body, status, type, redirected, ok: status >= 200 && status < 300,
    headers: new Headers({ 'Content-Type': contentType }),
    clone() { return answer(body, { status, type, contentType, redirected }); },
  };
}

/** A stand-in CacheStorage, with its caches as maps of URL to response. */
function fakeCaches(stores = {}) {
  const all = new Map(Object.entries(stores).map(([name, entries]) => [name, new Map(Object.entries(entries))]));
  const store = (name) => {
    if (!all.has(name)) all.set(name, new Map());
    return all.get(name);
  };
  return {
    all,
    open: async (name) => ({
      put: async (key, response) => { store(name).set(String(key), response); },
      match: async (key) => store(name).get(String(key)),
    }),
    keys: async () => [...all.keys()],
    delete: async (name) => all.delete(name),
    match: async (key, { cacheName } = {}) => all.get(cacheName)?.get(String(key)),
  };
}

/**
 * Loads sw.js against stand-ins; returns its listeners, its globals and what it did.
 * `network(url)` answers its fetches (a thrown error is the server out of reach).
 */
function loadWorker({ clients = [], network = () => answer('fresh'), caches = fakeCaches() } = {}) {
  const listeners = {};
  const did = { shown: [], opened: [], fetched: [] };
  const self = {
    location: new URL(`${ORIGIN}/sw.js`),
    addEventListener: (type, listener) => { listeners[type] = listener; },
    skipWaiting: () => { did.skipped = true; },
    clients: {
      claim: async () => { did.claimed = true; },
      matchAll: async () => clients,
      openWindow: async (url) => { did.opened.push(url); },
    },
    registration: { showNotification: async (title, options) => { did.shown.push({ title, options }); } },
  };
  const fetch = async (request) => {
    const url = typeof request === 'string' ? request : request.url;
    did.fetched.push(url);
    return network(url);
  };
  const context = vm.createContext({ self, URL, Date, caches, fetch });
  vm.runInContext(SOURCE, context, { filename: 'sw.js' });
  return { listeners, context, did, caches };
}

/** Fires a listener with an event whose waitUntil promises are awaited. */
async function fire(listener, event) {
  const waits = [];
  listener({ ...event, waitUntil: (promise) => waits.push(promise) });
  await Promise.all(waits);
}

/** A request as the worker sees it. */
function request(path, { method = 'GET', mode = 'cors', headers = {} } = {}) {
  return { url: new URL(path, ORIGIN).href, method, mode, headers: new Headers(headers) };
}

/** Fires `fetch`; resolves with the response the worker gave, or `untouched`. */
async function fetchEvent(listeners, req) {
  let responded = null;
  listeners.fetch({ request: req, respondWith: (promise) => { responded = promise; } });
  if (!responded) return 'untouched';
  const response = await responded;
  // Lets the worker's copy reach the cache (it does not hold the page up for it).
  await new Promise((resolve) => setImmediate(resolve));
  return response;
}

const plain = (value) => JSON.parse(JSON.stringify(value));

test('it installs and takes over at once, with the app shell kept', async () => {
  const { listeners, did, caches } = loadWorker();
  assert.deepEqual(Object.keys(listeners).sort(), ['activate', 'fetch', 'install', 'notificationclick', 'push']);
  await fire(listeners.install, {});
  assert.equal(did.skipped, true);
  // Every file the page loads: a module missing from the list would break the app offline.
  const files = async (dir, ext) => (await readdir(new URL(dir, WEB))).filter((f) => f.endsWith(ext)).map((f) => `${ORIGIN}/assets/${dir}${f}`);
  const expected = [
    `${ORIGIN}/app`, `${ORIGIN}/assets/app.css`, `${ORIGIN}/manifest.webmanifest`, `${ORIGIN}/assets/icon.svg`,
    ...await files('js/', '.js'), ...await files('vendor/', '.js'), ...await files('icons/', '.png'),
  ];
  assert.deepEqual([...did.fetched].sort(), [...expected].sort());
  assert.deepEqual([...caches.all.get(CACHE).keys()].sort(), [...expected].sort());
  await fire(listeners.activate, {});
  assert.equal(did.claimed, true);
});

test('a file that cannot be fetched does not stop it installing', async () => {
  const { listeners, caches } = loadWorker({
    network: (url) => {
      if (url.endsWith('/main.js')) throw new TypeError('Failed to fetch');
      if (url.endsWith('/app.css')) return answer('', { status: 404 });
      if (url.endsWith('/qr.js')) return answer('', { redirected: true });
      return answer('x');
    },
  });
  await fire(listeners.install, {});
  const kept = caches.all.get(CACHE);
  assert.equal(kept.has(`${ORIGIN}/assets/js/main.js`), false);
  assert.equal(kept.has(`${ORIGIN}/assets/app.css`), false);
  assert.equal(kept.has(`${ORIGIN}/assets/js/qr.js`), false);
  assert.equal(kept.has(`${ORIGIN}/assets/js/api.js`), true);
});

test('activating drops the shell caches of other versions, and nothing else', async () => {
  const caches = fakeCaches({ 'securecam-shell-v0': {}, [CACHE]: {}, 'someone-else': {} });
  const { listeners, did } = loadWorker({ caches });
  await fire(listeners.activate, {});
  assert.deepEqual([...caches.all.keys()].sort(), [CACHE, 'someone-else']);
  assert.equal(did.claimed, true);
});

test('the API, media, the CA certificate, other origins and other methods are never touched', async () => {
  const { listeners, did } = loadWorker();
  const untouched = [
    request('/api/v1/devices'),
    request('/api/v1/tls', { mode: 'navigate' }),
    request('/media/whip/s1'),
    request('/media/recordings/r1.mp4', { mode: 'navigate' }),
    request('/ca.pem', { mode: 'navigate' }),
    request('/ca.crt'),
    request('/sw.js'),
    request('/healthz'),
    request('/healthz', { mode: 'navigate' }),
    request('/docs', { mode: 'navigate' }),
    request('/docs/api', { mode: 'navigate' }),
    request('/apps', { mode: 'navigate' }),
    request('https://relay.example/assets/app.css'),
    request('https://other.example/app', { mode: 'navigate' }),
    request('/assets/app.css', { method: 'POST' }),
    request('/assets/clip.mp4', { headers: { Range: 'bytes=0-' } }),
  ];
  for (const req of untouched) assert.equal(await fetchEvent(listeners, req), 'untouched', req.url);
  assert.deepEqual(did.fetched, []);
});

test('pages come from the server whenever it answers, and refresh the kept shell', async () => {
  const caches = fakeCaches({ [CACHE]: { [`${ORIGIN}/app`]: answer('old page') } });
  const { listeners } = loadWorker({ caches, network: () => answer('new page') });
  const page = await fetchEvent(listeners, request('/app/events', { mode: 'navigate' }));
  assert.equal(page.body, 'new page');
  assert.equal(caches.all.get(CACHE).get(`${ORIGIN}/app`).body, 'new page');
  // Whatever the server says, even an error, is what the page gets; only a good page is kept.
  const failing = loadWorker({ caches, network: () => answer('{"title":"Bad gateway"}', { status: 502, contentType: 'application/problem+json' }) });
  assert.equal((await fetchEvent(failing.listeners, request('/camera', { mode: 'navigate' }))).status, 502);
  assert.equal(caches.all.get(CACHE).get(`${ORIGIN}/app`).body, 'new page');
});

test('without the server, every page of the app opens the kept shell', async () => {
  const caches = fakeCaches({ [CACHE]: { [`${ORIGIN}/app`]: answer('kept page') } });
  const offline = () => { throw new TypeError('Failed to fetch'); };
  const { listeners } = loadWorker({ caches, network: offline });
  for (const path of ['/app', '/app/events/e1', '/camera', '/trust', '/', '/pair', '/invite', '/reset-password', '/events/e1']) {
    assert.equal((await fetchEvent(listeners, request(path, { mode: 'navigate' }))).body, 'kept page', path);
  }
  // Nothing kept: the browser's own offline page, not something invented.
  const empty = loadWorker({ network: offline });
  await assert.rejects(fetchEvent(empty.listeners, request('/app', { mode: 'navigate' })), TypeError);
});

test('app files are fresh from the server when it answers, and kept for when it does not', async () => {
  const caches = fakeCaches({ [CACHE]: { [`${ORIGIN}/assets/js/main.js`]: answer('old code', { contentType: 'text/javascript' }) } });
  let up = true;
  const { listeners } = loadWorker({
    caches,
    network: () => {
      if (!up) throw new TypeError('Failed to fetch');
      return answer('new code', { contentType: 'text/javascript' });
    },
  });
  assert.equal((await fetchEvent(listeners, request('/assets/js/main.js'))).body, 'new code');
  up = false;
  assert.equal((await fetchEvent(listeners, request('/assets/js/main.js'))).body, 'new code');
  await assert.rejects(fetchEvent(listeners, request('/assets/js/nowhere.js')), TypeError);
});
test('an alert leads to its event’s page in this app', () => {
  const { context } = loadWorker();
  assert.equal(context.pageFor({ event_id: 'e1' }), `${ORIGIN}/app/events/e1`);
  assert.equal(context.pageFor({ deep_link: 'https://public.example/events/e2' }), `${ORIGIN}/app/events/e2`);
  assert.equal(context.pageFor({ event_id: 'e3', deep_link: 'https://public.example/events/e2' }), `${ORIGIN}/app/events/e3`);
  assert.equal(context.pageFor({ deep_link: 'https://public.example/app/settings' }), `${ORIGIN}/app/settings`);
  assert.equal(context.pageFor({ deep_link: 'not a url' }), `${ORIGIN}/app/events`);
  assert.equal(context.pageFor({}), `${ORIGIN}/app/events`);
});

test('an alert shows its title and body, one notification per camera', async () => {
  const { listeners, did } = loadWorker();
  const alert = { type: 'event', title: 'Front door', body: 'Motion', event_id: 'e1', camera_device_id: 'c1' };
  await fire(listeners.push, { data: { json: () => alert } });
  assert.equal(did.shown.length, 1);
  const { title, options } = plain(did.shown[0]);
  assert.equal(title, 'Front door');
  assert.equal(options.body, 'Motion');
  assert.equal(options.tag, 'camera-c1');
  assert.equal(options.renotify, true);
  assert.equal(options.icon, '/assets/icons/icon-192.png');
  assert.deepEqual(options.data, { url: `${ORIGIN}/app/events/e1` });
});

test('an alert without data, or with text, still shows', async () => {
  const { listeners, did } = loadWorker();
  await fire(listeners.push, { data: null });
  await fire(listeners.push, { data: { json: () => { throw new SyntaxError('not json'); }, text: () => 'Hello' } });
  await fire(listeners.push, { data: { json: () => ({ event_id: 'e9' }) } });
  const [none, text, bare] = plain(did.shown);
  assert.deepEqual([none.title, none.options.body, none.options.tag], ['SecureCam', 'Something happened at a camera.', 'securecam']);
  assert.deepEqual([text.title, text.options.body], ['SecureCam', 'Hello']);
  assert.equal(bare.options.tag, 'e9');
});

test('a command wake-up goes to the open pages, else shows a silent notification', async () => {
  const messages = [];
  const open = loadWorker({ clients: [{ postMessage: (m) => messages.push(m) }] });
  await fire(open.listeners.push, { data: { json: () => ({ type: 'command', device_id: 'd1' }) } });
  assert.deepEqual(plain(messages), [{ type: 'securecam:wakeup', data: { type: 'command', device_id: 'd1' } }]);
  assert.equal(open.did.shown.length, 0);

  const closed = loadWorker();
  await fire(closed.listeners.push, { data: { json: () => ({ type: 'command' }) } });
  const [shown] = plain(closed.did.shown);
  assert.equal(shown.title, 'SecureCam');
  assert.deepEqual([shown.options.tag, shown.options.silent], ['securecam-command', true]);
});

test('tapping an alert focuses an open page of the app and navigates it there', async () => {
  const steps = [];
  const client = {
    url: `${ORIGIN}/app`,
    focus: async () => { steps.push('focus'); },
    navigate: async (url) => { steps.push(`navigate ${url}`); },
  };
  const other = { url: 'https://elsewhere.example/', focus: async () => { steps.push('wrong page'); } };
  const { listeners, did } = loadWorker({ clients: [other, client] });
  let closed = false;
  await fire(listeners.notificationclick, { notification: { close: () => { closed = true; }, data: { url: `${ORIGIN}/app/events/e1` } } });
  assert.equal(closed, true);
  assert.deepEqual(steps, ['focus', `navigate ${ORIGIN}/app/events/e1`]);
  assert.deepEqual(did.opened, []);
});

test('tapping an alert with no page open opens one', async () => {
  const { listeners, did } = loadWorker();
  await fire(listeners.notificationclick, { notification: { close() {}, data: null } });
  assert.deepEqual(did.opened, [`${ORIGIN}/app/events`]);
});
