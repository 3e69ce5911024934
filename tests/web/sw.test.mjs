// The service worker (web/sw.js), run in a context of its own with a stand-in `self`: where
// an alert leads, what it shows, and what tapping it opens.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import vm from 'node:vm';

const SOURCE = await readFile(new URL('../../web/sw.js', import.meta.url), 'utf8');
const ORIGIN = 'https://cams.example';

/** Loads sw.js against stand-ins; returns its listeners, its globals and what it did. */
function loadWorker({ clients = [] } = {}) {
  const listeners = {};
  const did = { shown: [], opened: [] };
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
  const context = vm.createContext({ self, URL, Date });
  vm.runInContext(SOURCE, context, { filename: 'sw.js' });
  return { listeners, context, did };
}

/** Fires a listener with an event whose waitUntil promises are awaited. */
async function fire(listener, event) {
  const waits = [];
  listener({ ...event, waitUntil: (promise) => waits.push(promise) });
  await Promise.all(waits);
}

const plain = (value) => JSON.parse(JSON.stringify(value));

test('it takes over at once and caches nothing', async () => {
  const { listeners, did } = loadWorker();
  assert.deepEqual(Object.keys(listeners).sort(), ['activate', 'install', 'notificationclick', 'push']);
  listeners.install({});
  await fire(listeners.activate, {});
  assert.equal(did.skipped, true);
  assert.equal(did.claimed, true);
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
  assert.equal(options.icon, '/assets/icon.svg');
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
