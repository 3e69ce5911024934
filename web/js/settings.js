// @ts-check
// Notification settings (quiet hours, muted cameras, cooldown), Web Push for this browser,
// and the account.

import { api, describeError } from './api.js';
import { busy, clear, field, h, messageBox } from './dom.js';
import { save } from './store.js';

function localZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

function zones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return [localZone()];
  }
}

/** The VAPID key (base64url) as the bytes pushManager.subscribe wants. */
/**
 * @param {string} base64url
 * @returns {Uint8Array<ArrayBuffer>}
 */
function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(base64url.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export class SettingsView {
  /** @param {import('./viewer.js').ViewerApp} app */
  constructor(app) {
    this.app = app;
    this.prefs = null;
    this.message = messageBox('settings-message');
    this.pushMessage = messageBox('push-message');

    this.quietOn = h('input', { type: 'checkbox', id: 'quiet-on', 'data-testid': 'quiet-on' });
    this.quietStart = field('From', { type: 'time', value: '22:00', 'data-testid': 'quiet-start' });
    this.quietEnd = field('Until', { type: 'time', value: '07:00', 'data-testid': 'quiet-end' });
    const list = h('datalist', { id: 'tz-list' }, ...zones().map((z) => h('option', { value: z })));
    this.timezone = field('Time zone', { value: localZone(), list: 'tz-list', autocomplete: 'off', 'data-testid': 'quiet-timezone' }, 'An IANA time zone, such as Europe/Paris.');
    this.quietFields = h('div', { class: 'quiet-fields' }, this.quietStart.field, this.quietEnd.field, this.timezone.field, list);
    this.quietOn.addEventListener('change', () => { this.quietFields.hidden = !this.quietOn.checked; });
    this.cooldown = field('Cooldown (seconds)', { type: 'number', min: 0, max: 86400, step: 1, value: 0, 'data-testid': 'cooldown' },
      'After an alert about a camera, more events of that camera within this time raise no alert.');
    this.muted = h('fieldset', { class: 'muted-cameras' }, h('legend', { text: 'Muted cameras (no alerts)' }));
    this.save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'settings-save', text: 'Save' });
    const form = h('form', { class: 'stack', novalidate: true },
      h('div', { class: 'check' }, this.quietOn, h('label', { for: 'quiet-on', text: 'Quiet hours: no alerts during these hours' })),
      this.quietFields, this.muted, this.cooldown.field, this.message.el, this.save);
    form.addEventListener('submit', (e) => { e.preventDefault(); busy(this.save, () => this.store()); });

    this.pushState = h('p', { 'data-testid': 'push-state' });
    this.pushButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'push-toggle', text: 'Turn on alerts in this browser' });
    this.pushButton.addEventListener('click', () => busy(this.pushButton, () => this.togglePush()));

    const signOut = h('button', { type: 'button', class: 'secondary', 'data-testid': 'sign-out', text: 'Sign out' });
    signOut.addEventListener('click', () => busy(signOut, () => this.app.signOutEverywhere()));
    this.account = h('p');
    const camera = h('a', { href: '/camera', 'data-mode': 'camera', text: 'Use this device as a camera instead' });

    const trust = h('section', { class: 'card', 'aria-labelledby': 'trust-title', 'data-testid': 'settings-trust' },
      h('h2', { id: 'trust-title', text: 'Secure connection' }),
      h('p', { text: window.isSecureContext
        ? 'This browser reaches the server over a secure connection.'
        : 'This browser reaches the server over plain HTTP: alerts and installing the app need HTTPS.' }),
      h('p', {}, 'Camera phones, alerts and installing the app need each device to trust this server’s certificate once: ',
        h('a', { href: '/trust', 'data-link': '', 'data-testid': 'settings-trust-link', text: 'how to trust this server' }), '.'));

    this.el = h('section', { class: 'view', 'aria-labelledby': 'settings-title' },
      h('h1', { id: 'settings-title', text: 'Settings' }),
      h('section', { class: 'card', 'aria-labelledby': 'push-title' }, h('h2', { id: 'push-title', text: 'Alerts in this browser' }), this.pushState, this.pushButton, this.pushMessage.el),
      h('section', { class: 'card', 'aria-labelledby': 'notif-title' }, h('h2', { id: 'notif-title', text: 'Notifications' }), form),
      trust,
      h('section', { class: 'card', 'aria-labelledby': 'account-title' }, h('h2', { id: 'account-title', text: 'Account' }), this.account,
        h('div', { class: 'button-row' }, signOut), h('p', {}, camera)));
  }

  async load() {
    const user = this.app.session.user;
    this.account.textContent = `Signed in as ${user.name} (${user.email}).`;
    this.renderPushState();
    try {
      this.prefs = await api('/api/v1/notification-preferences', { token: this.app.userToken() });
      this.message.hide();
    } catch (err) {
      this.message.error(`Could not load your notification settings: ${describeError(err)}`);
      return;
    }
    const quiet = this.prefs.quiet_hours;
    this.quietOn.checked = Boolean(quiet);
    this.quietFields.hidden = !quiet;
    if (quiet) {
      this.quietStart.input.value = quiet.start;
      this.quietEnd.input.value = quiet.end;
      this.timezone.input.value = quiet.timezone;
    }
    this.cooldown.input.value = this.prefs.cooldown_seconds ?? 0;
    this.camerasChanged();
  }

  camerasChanged() {
    const muted = new Set(this.prefs?.muted_camera_ids || []);
    for (const box of this.checkedMutes()) muted.add(box.value);
    clear(this.muted, h('legend', { text: 'Muted cameras (no alerts)' }));
    const cameras = [...this.app.cameras.values()];
    if (!cameras.length) this.muted.append(h('p', { class: 'hint', text: 'No cameras yet.' }));
    for (const camera of cameras) {
      const id = `mute-${camera.id}`;
      this.muted.append(h('div', { class: 'check' },
        h('input', { type: 'checkbox', id, value: camera.id, checked: muted.has(camera.id) }),
        h('label', { for: id, text: camera.name })));
    }
  }

  /** The ticked boxes of the muted cameras. */
  checkedMutes() {
    return /** @type {NodeListOf<HTMLInputElement>} */ (this.muted.querySelectorAll('input:checked'));
  }

  async store() {
    const cooldown = Number(this.cooldown.input.value || 0);
    if (!Number.isInteger(cooldown) || cooldown < 0 || cooldown > 86400) {
      this.message.error('The cooldown is a whole number of seconds from 0 to 86400 (a day).');
      return;
    }
    const body = {
      quiet_hours: this.quietOn.checked ? {
        start: this.quietStart.input.value,
        end: this.quietEnd.input.value,
        timezone: this.timezone.input.value.trim() || localZone(),
      } : null,
      muted_camera_ids: [...this.checkedMutes()].map((b) => b.value),
      cooldown_seconds: cooldown,
    };
    if (body.quiet_hours && (!body.quiet_hours.start || !body.quiet_hours.end)) {
      this.message.error('Enter both times of the quiet hours.');
      return;
    }
    try {
      this.prefs = await api('/api/v1/notification-preferences', { method: 'PUT', token: this.app.userToken(), body });
      this.message.ok('Saved.');
    } catch (err) {
      this.message.error(`Not saved: ${describeError(err)}`);
    }
  }

  async registration() {
    // The worker lives at the site root so its scope covers every page of the app.
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    return navigator.serviceWorker.ready;
  }

  async renderPushState() {
    if (!pushSupported()) {
      this.pushState.textContent = 'This browser cannot receive alerts while the page is closed.';
      this.pushButton.hidden = true;
      return;
    }
    const permission = Notification.permission;
    let subscribed = false;
    if (permission === 'granted') {
      const reg = await navigator.serviceWorker.getRegistration('/');
      subscribed = Boolean(await reg?.pushManager.getSubscription());
    }
    this.subscribed = subscribed;
    this.pushState.textContent = permission === 'denied'
      ? 'Alerts are blocked for this site. Allow notifications in the browser’s site settings to turn them on.'
      : subscribed ? 'This browser shows an alert when a camera sees something, even with the page closed.'
        : 'Alerts are off in this browser.';
    this.pushButton.textContent = subscribed ? 'Turn off alerts in this browser' : 'Turn on alerts in this browser';
    this.pushButton.hidden = permission === 'denied';
  }

  async togglePush() {
    this.pushMessage.hide();
    try {
      if (this.subscribed) await this.unsubscribe();
      else await this.subscribe(true);
    } catch (err) {
      const refused = err.name === 'AbortError' || (err.name === 'NotAllowedError' && Notification.permission === 'granted');
      this.pushMessage.error(refused
        ? `This browser would not subscribe to push messages (private windows, and browsers without a push service, cannot receive them): ${err.message}`
        : `Could not change alerts: ${describeError(err)}`);
    }
    await this.renderPushState();
  }

  async subscribe(ask) {
    if (ask && Notification.permission === 'default') {
      const answer = await Notification.requestPermission();
      if (answer !== 'granted') throw new Error('notifications were not allowed');
    }
    if (Notification.permission !== 'granted') return;
    const { public_key: key } = await api('/api/v1/webpush/vapid-public-key');
    const reg = await this.registration();
    let subscription = await reg.pushManager.getSubscription();
    if (!subscription) {
      subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
    }
    await api(`/api/v1/devices/${this.app.deviceId}`, {
      method: 'PATCH',
      token: this.app.userToken(),
      body: { push_provider: 'webpush', push_token: JSON.stringify(subscription) },
    });
    save('pushEndpoint', subscription.endpoint);
    this.pushMessage.ok('Alerts are on.');
  }

  async unsubscribe() {
    const reg = await navigator.serviceWorker.getRegistration('/');
    const subscription = await reg?.pushManager.getSubscription();
    if (subscription) await subscription.unsubscribe();
    await api(`/api/v1/devices/${this.app.deviceId}`, {
      method: 'PATCH', token: this.app.userToken(), body: { push_provider: null, push_token: null },
    });
    save('pushEndpoint', null);
    this.pushMessage.ok('Alerts are off.');
  }

  /** After sign-in: a subscription made earlier is handed to this (possibly new) viewer device. */
  async resumePush() {
    if (!pushSupported() || Notification.permission !== 'granted') return;
    try {
      const reg = await navigator.serviceWorker.getRegistration('/');
      if (reg && await reg.pushManager.getSubscription()) await this.subscribe(false);
    } catch {
      // The settings page shows the state and offers to try again.
    }
  }
}
