// SecureCam's service worker: it exists for Web Push. It shows the server's alert
// (notifier/src/providers/webpush.rs: {type, title, body, event_id, camera_device_id,
// camera_name, deep_link, delivery_id}) and opens the event when the alert is tapped.
// It caches nothing: a security camera app showing stale pages would be worse than none.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

/** The event's page in this app; the server's deep link is `<public url>/events/<id>`. */
function pageFor(data) {
  if (data.event_id) return new URL(`/app/events/${data.event_id}`, self.location.origin).href;
  if (data.deep_link) {
    try {
      const url = new URL(data.deep_link);
      const match = /^\/events\/([^/]+)$/.exec(url.pathname);
      return new URL(match ? `/app/events/${match[1]}` : url.pathname, self.location.origin).href;
    } catch {
      // Fall through to the app's home.
    }
  }
  return new URL('/app/events', self.location.origin).href;
}

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : '' };
  }
  if (data.type === 'command') {
    // A wake-up for a device with commands waiting: nothing to show a person, but a push
    // must be visible, so tell any open page instead when there is one.
    event.waitUntil(self.clients.matchAll({ type: 'window' }).then((clients) => {
      if (clients.length) return clients.forEach((c) => c.postMessage({ type: 'securecam:wakeup', data }));
      return self.registration.showNotification('SecureCam', { body: 'A camera command is waiting.', tag: 'securecam-command', silent: true });
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
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data?.url || new URL('/app/events', self.location.origin).href;
  event.waitUntil((async () => {
    const clients = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of clients) {
      if (new URL(client.url).origin === self.location.origin && 'focus' in client) {
        await client.focus();
        if ('navigate' in client) return client.navigate(url);
        return undefined;
      }
    }
    return self.clients.openWindow(url);
  })());
});
