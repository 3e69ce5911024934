// @ts-check
// SecureCam's service worker: it exists for Web Push. It shows the server's alert
// (notifier/src/providers/webpush.rs: {type, title, body, event_id, camera_device_id,
// camera_name, deep_link, delivery_id}) and opens the event when the alert is tapped.
// It caches nothing: a security camera app showing stale pages would be worse than none.
// A classic worker script (no imports); type-checked with tests/web/tsconfig.sw.json and
// tested in Node by tests/web/sw.test.mjs.

/** This worker's global scope, as its type (`self` is only a WorkerGlobalScope to TypeScript). */
const worker = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

worker.addEventListener('install', () => worker.skipWaiting());
worker.addEventListener('activate', (event) => event.waitUntil(worker.clients.claim()));

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
    icon: '/assets/icon.svg',
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
