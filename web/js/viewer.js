// @ts-check
// Viewer mode: a signed-in person's cameras, live view, commands, events, clips, sharing
// and notification settings. This browser is registered once as a viewer device, whose
// WebSocket brings presence, events and clips as they happen.

import { api, ApiError, describeError } from './api.js';
import { currentSession, renderAuth, signOut, verifySession } from './auth.js';
import { CamerasView } from './cameras.js';
import { clear, h } from './dom.js';
import { isCurrentLink, signInIntro, viewerRoute } from './routes.js';
import { SettingsView } from './settings.js';
import { browserName, forget, load, save } from './store.js';
import { EventDetail, RecordingsView, Timeline } from './timeline.js';
import { Signalling } from './ws.js';

/**
 * A signed-in session, as kept in `user`.
 * @typedef {{ token: string, expires_at?: string, user: { id: string, name: string, email: string } }} Session
 */

/**
 * This browser as a viewer device of the signed-in user (kept in `viewer`, with the device).
 * @typedef {{ user_id: string, device_id: string, device_token: string, device: any }} ViewerDevice
 */

export class ViewerApp {
  /**
   * @param {HTMLElement} root
   * @param {(path: string, replace?: boolean) => void} navigate
   */
  constructor(root, navigate) {
    this.root = root;
    this.navigate = navigate;
    /** @type {Session | null} */
    this.session = null;
    /** @type {ViewerDevice | null} */
    this.device = null;
    /** @type {Signalling | null} */
    this.ws = null;
    /** The cameras view; its cameras and cards last as long as the page. */
    this.camerasView = new CamerasView(this);
    /** @type {Set<import('./live.js').LiveView>} */
    this.liveViews = new Set();
    /** @type {import('./live.js').LiveView | null} */
    this.lastLive = null;
    /** @type {Map<string, (command: any) => void>} */
    this.commandWatchers = new Map();
    /** @type {Partial<Record<import('./routes.js').ViewName, HTMLElement>>} */
    this.views = {};
    /** @type {Timeline | undefined} */
    this.timeline = undefined;
    /** @type {RecordingsView | undefined} */
    this.recordingsView = undefined;
    /** @type {SettingsView | undefined} */
    this.settingsView = undefined;
    /** @type {EventDetail | null | undefined} */
    this.eventDetail = undefined;
    this.onUnauthorized = (/** @type {CustomEvent<{ token: string }>} */ e) => {
      if (this.session && e.detail.token === this.session.token) this.signedOut('Your session has ended. Sign in again.');
    };
    window.addEventListener('securecam:unauthorized', this.onUnauthorized);
    // For the browser story (tests/browser/story.mjs) and for looking around in devtools.
    /** @type {Window & { securecam?: object }} */ (window).securecam = {
      viewerPc: () => this.lastLive?.pc || null,
      viewerPcs: () => [...this.liveViews].map((v) => v.pc).filter(Boolean),
      liveViews: () => [...this.liveViews],
      app: this,
    };
  }

  userToken = () => this.session?.token;

  /** The cameras the viewer knows, by id. */
  get cameras() {
    return this.camerasView.cameras;
  }

  async start() {
    const session = await verifySession();
    if (!session) {
      this.showAuth();
      return;
    }
    await this.enter(session);
  }

  /** @param {string} [note] */
  showAuth(note) {
    this.shell = null;
    const main = h('main', { id: 'main', class: 'page', tabindex: '-1' });
    clear(this.root, this.topbar(false), main);
    const intro = note || (this.pendingIntro());
    renderAuth(main, (session) => this.enter(session), intro);
  }

  pendingIntro() {
    return signInIntro(location.pathname);
  }

  /** @param {boolean} signedIn */
  topbar(signedIn) {
    const nav = signedIn ? h('nav', { class: 'nav', 'aria-label': 'Main' },
      ...[['/app', 'Cameras', 'nav-cameras'], ['/app/events', 'Events', 'nav-events'], ['/app/recordings', 'Recordings', 'nav-recordings'], ['/app/settings', 'Settings', 'nav-settings']]
        .map(([href, text, testid]) => h('a', { href, 'data-link': '', 'data-testid': testid, text }))) : null;
    return h('header', { class: 'topbar' },
      h('a', { href: '/?choose=1', class: 'brand', text: 'SecureCam' }),
      nav,
      signedIn ? h('span', { class: 'connection', 'data-testid': 'viewer-connection', role: 'status' }) : null);
  }

  /** @param {string} note */
  async signedOut(note) {
    this.teardown();
    this.session = null;
    this.showAuth(note);
  }

  teardown() {
    for (const view of this.liveViews) view.stop();
    this.liveViews.clear();
    this.ws?.stop();
    this.ws = null;
  }

  /** @param {Session} session */
  async enter(session) {
    this.session = session;
    const main = h('main', { id: 'main', class: 'page', tabindex: '-1' }, h('p', { text: 'Loading…' }));
    clear(this.root, this.topbar(true), main);
    this.main = main;
    this.connectionEl = /** @type {HTMLElement | null} */ (this.root.querySelector('.connection'));
    try {
      this.device = await this.ensureDevice();
    } catch (err) {
      const retry = h('button', { type: 'button', class: 'primary', 'data-testid': 'viewer-retry', text: 'Try again' });
      retry.addEventListener('click', () => this.enter(session));
      clear(main, h('p', { class: 'message error', role: 'alert', text: `Could not register this browser: ${describeError(err)}` }), retry);
      return;
    }
    this.buildViews();
    this.connect();
    await this.refreshCameras();
    this.route();
    this.settingsView.resumePush();
  }

  /** This browser as a viewer device of the signed-in user, registered once. */
  async ensureDevice() {
    const stored = load('viewer');
    const token = this.userToken();
    if (stored && stored.user_id === this.session.user.id) {
      try {
        const device = await api(`/api/v1/devices/${stored.device_id}`, { token });
        return { ...stored, device };
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 404) throw err;
      }
    }
    const created = await api('/api/v1/devices', {
      method: 'POST',
      token,
      body: { name: `${browserName()} viewer`, role: 'viewer', platform: 'web' },
    });
    const record = { user_id: this.session.user.id, device_id: created.device.id, device_token: created.device_token };
    save('viewer', record);
    return { ...record, device: created.device };
  }

  get deviceId() {
    return this.device?.device_id;
  }

  connect() {
    const ws = new Signalling(() => this.device.device_token);
    this.ws = ws;
    ws.addEventListener('state', (/** @type {CustomEvent<import('./ws.js').StateDetail>} */ e) => {
      const { state } = e.detail;
      const text = {
        open: 'Connected', connecting: 'Connecting…', reconnecting: 'Reconnecting…',
        replaced: 'Open in another tab', unauthorized: 'Signed out', idle: '',
      }[state] ?? state;
      if (this.connectionEl) {
        this.connectionEl.textContent = text;
        this.connectionEl.dataset.state = state;
      }
      if (state === 'unauthorized') {
        // This browser's viewer device was deleted: register a new one.
        forget('viewer');
        this.enter(this.session);
      }
      if (state === 'open') {
        // Anything that changed while we were away.
        this.refreshCameras();
        this.timeline?.reload();
      }
    });
    ws.addEventListener('presence', (/** @type {CustomEvent} */ e) => this.camerasView.onPresence(e.detail));
    ws.addEventListener('event.created', (/** @type {CustomEvent} */ e) => this.timeline.upsert(e.detail.event, true));
    ws.addEventListener('event.updated', (/** @type {CustomEvent} */ e) => {
      this.timeline.upsert(e.detail.event, false);
      this.eventDetail?.onEvent(e.detail.event);
    });
    ws.addEventListener('recording.available', (/** @type {CustomEvent} */ e) => {
      this.eventDetail?.onRecording(e.detail.recording);
      this.recordingsView?.onRecording(e.detail.recording);
    });
    ws.addEventListener('stream.updated', (/** @type {CustomEvent} */ e) => {
      for (const view of this.liveViews) view.onSessionUpdate(e.detail.stream_session);
    });
    ws.addEventListener('command.updated', (/** @type {CustomEvent} */ e) => {
      const watcher = this.commandWatchers.get(e.detail.command.id);
      if (watcher) watcher(e.detail.command);
    });
    ws.start();
  }

  buildViews() {
    const cameras = this.camerasView.build();
    this.timeline = new Timeline(this);
    this.recordingsView = new RecordingsView(this);
    this.settingsView = new SettingsView(this);
    this.detailSlot = h('section', { class: 'view', 'aria-label': 'Event' });
    this.views = {
      cameras,
      events: this.timeline.el,
      event: this.detailSlot,
      recordings: this.recordingsView.el,
      settings: this.settingsView.el,
    };
    clear(this.main, ...Object.values(this.views));
  }

  /** Shows the view of the current path (called on every navigation). */
  route() {
    if (!this.views.cameras) return;
    const route = viewerRoute(location.pathname);
    const { name } = route;
    for (const [key, el] of Object.entries(this.views)) el.hidden = key !== name;
    for (const link of this.root.querySelectorAll('.nav a')) {
      const current = isCurrentLink(link.getAttribute('href'), route);
      if (current) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (name === 'event') {
      this.eventDetail = new EventDetail(this, route.eventId);
      clear(this.detailSlot, this.eventDetail.el);
    } else {
      this.eventDetail = null;
    }
    if (name === 'events') this.timeline.ensureLoaded();
    if (name === 'recordings') this.recordingsView.ensureLoaded();
    if (name === 'settings') this.settingsView.load();
    if (name === 'cameras') this.camerasView.applyLinkParams();
    const heading = this.views[name].querySelector('h1, h2');
    document.title = heading ? `${heading.textContent} · SecureCam` : 'SecureCam';
  }

  /** The caller's cameras, and cameras other people shared with this browser. */
  async refreshCameras() {
    return this.camerasView.refresh();
  }

  /**
   * @param {string} id a camera's device id
   * @returns {string} its name, `Camera` when unknown
   */
  cameraName(id) {
    return this.camerasView.cameraName(id);
  }

  async signOutEverywhere() {
    this.teardown();
    await signOut();
    this.signedOut('You are signed out.');
  }
}

/**
 * @param {HTMLElement} root
 * @param {(path: string, replace?: boolean) => void} navigate
 */
export function mountViewer(root, navigate) {
  const app = new ViewerApp(root, navigate);
  app.start();
  return app;
}

export { currentSession };
