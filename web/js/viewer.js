// Viewer mode: a signed-in person's cameras, live view, commands, events, clips, sharing
// and notification settings. This browser is registered once as a viewer device, whose
// WebSocket brings presence, events and clips as they happen.

import { api, ApiError, describeError, listAll, reachable } from './api.js';
import { currentSession, renderAuth, signOut, verifySession } from './auth.js';
import { busy, clear, field, fmtTime, h, messageBox } from './dom.js';
import { LiveView } from './live.js';
import { qrSvg } from './qr.js';
import { Scanner } from './scan.js';
import { SettingsView } from './settings.js';
import { browserName, forget, load, save } from './store.js';
import { EventDetail, RecordingsView, Timeline } from './timeline.js';
import { Signalling } from './ws.js';

const COMMAND_LABELS = {
  play_siren: 'Siren',
  set_torch: 'Torch',
  switch_camera: 'Switch camera',
  set_motion_detection: 'Motion detection',
  take_snapshot: 'Snapshot',
  ping: 'Ping',
};

export class ViewerApp {
  constructor(root, navigate) {
    this.root = root;
    this.navigate = navigate;
    this.session = null;
    this.device = null;
    this.ws = null;
    this.cameras = new Map();
    this.cards = new Map();
    this.liveViews = new Set();
    this.lastLive = null;
    this.commandWatchers = new Map();
    // Presence heard over the WebSocket, by device: it may arrive while a camera list is
    // being fetched, and is newer than what that list says.
    this.presence = new Map();
    this.views = {};
    this.onUnauthorized = (e) => {
      if (this.session && e.detail.token === this.session.token) this.signedOut('Your session has ended. Sign in again.');
    };
    window.addEventListener('securecam:unauthorized', this.onUnauthorized);
    window.securecam = {
      viewerPc: () => this.lastLive?.pc || null,
      viewerPcs: () => [...this.liveViews].map((v) => v.pc).filter(Boolean),
      liveViews: () => [...this.liveViews],
      app: this,
    };
  }

  userToken = () => this.session?.token;

  async start() {
    const session = await verifySession();
    if (!session) {
      this.showAuth();
      return;
    }
    await this.enter(session);
  }

  showAuth(note) {
    this.shell = null;
    const main = h('main', { id: 'main', class: 'page', tabindex: '-1' });
    clear(this.root, this.topbar(false), main);
    const intro = note || (this.pendingIntro());
    renderAuth(main, (session) => this.enter(session), intro);
  }

  pendingIntro() {
    const path = location.pathname;
    if (path === '/pair') return 'Sign in (or create an account) to add this camera.';
    if (path === '/invite') return 'Sign in (or create an account) to accept this invitation.';
    return null;
  }

  topbar(signedIn) {
    const nav = signedIn ? h('nav', { class: 'nav', 'aria-label': 'Main' },
      ...[['/app', 'Cameras', 'nav-cameras'], ['/app/events', 'Events', 'nav-events'], ['/app/recordings', 'Recordings', 'nav-recordings'], ['/app/settings', 'Settings', 'nav-settings']]
        .map(([href, text, testid]) => h('a', { href, 'data-link': '', 'data-testid': testid, text }))) : null;
    return h('header', { class: 'topbar' },
      h('a', { href: '/?choose=1', class: 'brand', text: 'SecureCam' }),
      nav,
      signedIn ? h('span', { class: 'connection', 'data-testid': 'viewer-connection', role: 'status' }) : null);
  }

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

  async enter(session) {
    this.session = session;
    const main = h('main', { id: 'main', class: 'page', tabindex: '-1' }, h('p', { text: 'Loading…' }));
    clear(this.root, this.topbar(true), main);
    this.main = main;
    this.connectionEl = this.root.querySelector('.connection');
    try {
      this.device = await this.ensureDevice();
    } catch (err) {
      clear(main, h('p', { class: 'message error', role: 'alert', text: `Could not register this browser: ${describeError(err)}` }));
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
    ws.addEventListener('state', (e) => {
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
    ws.addEventListener('presence', (e) => this.onPresence(e.detail));
    ws.addEventListener('event.created', (e) => this.timeline.upsert(e.detail.event, true));
    ws.addEventListener('event.updated', (e) => {
      this.timeline.upsert(e.detail.event, false);
      this.eventDetail?.onEvent(e.detail.event);
    });
    ws.addEventListener('recording.available', (e) => {
      this.eventDetail?.onRecording(e.detail.recording);
      this.recordingsView?.onRecording(e.detail.recording);
    });
    ws.addEventListener('stream.updated', (e) => {
      for (const view of this.liveViews) view.onSessionUpdate(e.detail.stream_session);
    });
    ws.addEventListener('command.updated', (e) => {
      const watcher = this.commandWatchers.get(e.detail.command.id);
      if (watcher) watcher(e.detail.command);
    });
    ws.start();
  }

  buildViews() {
    this.camerasView = this.buildCamerasView();
    this.timeline = new Timeline(this);
    this.recordingsView = new RecordingsView(this);
    this.settingsView = new SettingsView(this);
    this.detailSlot = h('section', { class: 'view', 'aria-label': 'Event' });
    this.views = {
      cameras: this.camerasView,
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
    const path = location.pathname.replace(/\/+$/, '') || '/app';
    let name = 'cameras';
    let match;
    if ((match = /^\/app\/events\/([0-9a-f-]+)$/i.exec(path))) name = 'event';
    else if (path === '/app/events') name = 'events';
    else if (path === '/app/recordings') name = 'recordings';
    else if (path === '/app/settings') name = 'settings';
    for (const [key, el] of Object.entries(this.views)) el.hidden = key !== name;
    for (const link of this.root.querySelectorAll('.nav a')) {
      const href = link.getAttribute('href');
      const current = href === path || (href === '/app/events' && name === 'event');
      if (current) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (name === 'event') {
      this.eventDetail = new EventDetail(this, match[1]);
      clear(this.detailSlot, this.eventDetail.el);
    } else {
      this.eventDetail = null;
    }
    if (name === 'events') this.timeline.ensureLoaded();
    if (name === 'recordings') this.recordingsView.ensureLoaded();
    if (name === 'settings') this.settingsView.load();
    if (name === 'cameras') this.applyLinkParams();
    const heading = this.views[name].querySelector('h1, h2');
    document.title = heading ? `${heading.textContent} · SecureCam` : 'SecureCam';
  }

  /** `/pair?code=` and `/invite?code=`: the code is filled in for the person to confirm. */
  applyLinkParams() {
    const params = new URLSearchParams(location.search);
    const code = params.get('code');
    if (location.pathname === '/pair' && code) {
      this.claimInput.value = code;
      this.claimMessage.show('Check the code matches the one on the camera, then choose Add camera.');
      this.claimButton.focus();
    }
    if (location.pathname === '/invite' && code) this.showInviteAccept(code);
  }

  // ---- cameras -------------------------------------------------------------------------

  buildCamerasView() {
    const claim = field('Pairing code', { autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', placeholder: 'ABCD-EFGH', 'data-testid': 'claim-code', maxlength: 32 },
      'The code shown on the camera.');
    this.claimInput = claim.input;
    this.claimMessage = messageBox('claim-message');
    this.claimButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'claim-submit', text: 'Add camera' });
    const form = h('form', { class: 'claim-form', novalidate: true }, claim.field, h('div', { class: 'button-row' }, this.claimButton));
    if (Scanner.supported()) {
      const scan = h('button', { type: 'button', class: 'secondary', 'data-testid': 'claim-scan', text: 'Scan QR code' });
      scan.addEventListener('click', () => this.scanCode(scan, form));
      form.querySelector('.button-row').append(scan);
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(this.claimButton, () => this.claim());
    });
    this.inviteSlot = h('div');
    this.cameraList = h('ul', { class: 'camera-list', 'data-testid': 'camera-list', 'aria-live': 'polite' });
    this.camerasMessage = messageBox('cameras-message');
    this.emptyCameras = h('p', { class: 'empty', text: 'No cameras yet. Open SecureCam on a spare phone, choose “Use this device as a camera”, and enter the code it shows here.' });
    const useAsCamera = h('p', { class: 'hint' }, 'To use this device as a camera instead, ', h('a', { href: '/camera', 'data-mode': 'camera', text: 'switch to camera mode' }), '.');
    return h('section', { class: 'view', 'aria-labelledby': 'cameras-title' },
      h('h1', { id: 'cameras-title', text: 'Cameras' }),
      this.inviteSlot,
      this.camerasMessage.el,
      this.cameraList,
      this.emptyCameras,
      h('section', { class: 'card', 'aria-labelledby': 'add-title' },
        h('h2', { id: 'add-title', text: 'Add a camera' }), form, this.claimMessage.el),
      useAsCamera);
  }

  async claim() {
    const code = this.claimInput.value.trim();
    this.claimMessage.hide();
    if (!code) {
      this.claimMessage.error('Enter the code shown on the camera.');
      this.claimInput.focus();
      return;
    }
    try {
      const { device } = await api('/api/v1/pairing-codes/claim', {
        method: 'POST', token: this.userToken(), body: { code, viewer_device_id: this.deviceId },
      });
      this.claimInput.value = '';
      this.claimMessage.ok(`“${device.name}” is now one of your cameras.`);
      if (location.pathname === '/pair') this.navigate('/app', true);
      await this.refreshCameras();
    } catch (err) {
      const text = err.code === 'pairing_code_not_found' ? 'No camera is waiting with that code. Check it against the camera screen.'
        : err.code === 'pairing_code_gone' ? 'That code has expired or was used. The camera shows a new one.'
          : describeError(err);
      this.claimMessage.error(text);
    }
  }

  async scanCode(button, form) {
    const scanner = new Scanner();
    const video = h('video', { class: 'scan-video', muted: true, playsinline: true, 'aria-label': 'Camera view for scanning' });
    const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel scan' });
    const box = h('div', { class: 'scan-box' }, video, cancel);
    form.after(box);
    cancel.addEventListener('click', () => scanner.stop());
    button.disabled = true;
    try {
      const text = await scanner.scan(video);
      if (text) {
        let code = text;
        try { code = new URL(text).searchParams.get('code') || text; } catch { /* a bare code */ }
        this.claimInput.value = code;
        this.claimMessage.show('Code scanned. Choose Add camera to confirm.');
        this.claimButton.focus();
      }
    } catch (err) {
      this.claimMessage.error(`Could not scan: ${describeError(err)}`);
    } finally {
      button.disabled = false;
      box.remove();
    }
  }

  /** The caller's cameras, and cameras other people shared with this browser. */
  async refreshCameras() {
    if (!this.session) return;
    const asked = performance.now();
    try {
      const [devices, links] = await Promise.all([
        listAll('/api/v1/devices', this.userToken()),
        listAll('/api/v1/device-links', this.userToken()).catch(() => []),
      ]);
      const cameras = devices.filter((d) => d.is_camera || d.role === 'camera').map((d) => ({ ...d, own: true }));
      this.otherDevices = new Set(devices.filter((d) => !(d.is_camera || d.role === 'camera')).map((d) => d.id));
      const known = new Set(cameras.map((c) => c.id));
      const shared = [];
      for (const link of links) {
        if (link.status !== 'active' || link.client_device_id !== this.deviceId || known.has(link.camera_device_id)) continue;
        known.add(link.camera_device_id);
        shared.push(link.camera_device_id);
      }
      // A shared camera's name and state come from GET /devices/{id}, which answers for
      // cameras linked to this person's devices.
      const details = await Promise.all(shared.map((id) =>
        api(`/api/v1/devices/${id}`, { token: this.userToken() }).catch(() => null)));
      shared.forEach((id, i) => {
        const previous = this.cameras.get(id);
        const device = details[i];
        cameras.push({
          ...(device || {}),
          id,
          name: device?.name || previous?.name || 'Shared camera',
          status: device?.status || previous?.status || 'unknown',
          own: false,
          shared: true,
        });
      });
      this.camerasMessage.hide();
      for (const camera of cameras) {
        const heard = this.presence.get(camera.id);
        if (heard && heard.at >= asked) camera.status = heard.status;
      }
      this.setCameras(cameras);
    } catch (err) {
      this.camerasMessage.error(`Could not load your cameras: ${describeError(err)}`);
    }
  }

  setCameras(cameras) {
    const ids = new Set(cameras.map((c) => c.id));
    for (const [id, card] of this.cards) {
      if (!ids.has(id)) {
        card.live?.stop();
        card.el.remove();
        this.cards.delete(id);
        this.cameras.delete(id);
      }
    }
    for (const camera of cameras) {
      this.cameras.set(camera.id, { ...this.cameras.get(camera.id), ...camera });
      const card = this.cards.get(camera.id) || this.cameraCard(camera);
      this.updateCard(card, this.cameras.get(camera.id));
    }
    this.emptyCameras.hidden = cameras.length > 0;
    this.timeline?.renderNames();
    this.settingsView?.camerasChanged();
  }

  cameraName(id) {
    return this.cameras.get(id)?.name || 'Camera';
  }

  onPresence({ device_id: id, status }) {
    this.presence.set(id, { status, at: performance.now() });
    const camera = this.cameras.get(id);
    if (!camera) {
      // A camera paired from another browser (or shared) since the list was fetched; the
      // viewer's own devices are in that list too and need no refresh.
      if (id !== this.deviceId && !this.otherDevices?.has(id) && !this.refreshSoon) {
        this.refreshSoon = setTimeout(() => { this.refreshSoon = null; this.refreshCameras(); }, 500);
      }
      return;
    }
    camera.status = status;
    if (status === 'online') camera.last_seen_at = new Date().toISOString();
    this.updateCard(this.cards.get(id), camera);
  }

  cameraCard(camera) {
    const card = { id: camera.id };
    card.name = h('h2', { class: 'camera-name' });
    card.badge = h('span', { class: 'badge', 'data-testid': 'camera-state' });
    card.seen = h('span', { class: 'hint' });
    card.video = h('video', {
      id: `live-video-${camera.id}`, class: 'live-video', 'data-testid': 'live-video', 'data-camera-id': camera.id,
      muted: true, autoplay: true, playsinline: true, hidden: true, 'aria-label': `Live view of ${camera.name}`,
    });
    card.video.muted = true;
    card.liveStatus = h('p', { class: 'live-status', 'data-testid': 'live-status', 'aria-live': 'polite' });
    card.watch = h('button', { type: 'button', class: 'primary', 'data-testid': 'live-start', text: 'Watch live' });
    card.stop = h('button', { type: 'button', class: 'secondary', 'data-testid': 'live-stop', text: 'Stop', hidden: true });
    card.unmute = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', text: 'Sound on', hidden: true });
    card.watch.addEventListener('click', () => this.startLive(card));
    card.stop.addEventListener('click', () => card.live?.stop());
    card.unmute.addEventListener('click', () => {
      card.video.muted = !card.video.muted;
      card.unmute.setAttribute('aria-pressed', String(!card.video.muted));
      card.unmute.textContent = card.video.muted ? 'Sound on' : 'Sound off';
    });
    card.commandMessage = messageBox('command-result');
    const command = (label, type, payload, testid) => {
      const button = h('button', { type: 'button', class: 'secondary small', 'data-testid': testid, text: label });
      button.addEventListener('click', () => busy(button, () => this.sendCommand(card, type, payload)));
      return button;
    };
    card.commands = h('div', { class: 'button-row commands', role: 'group', 'aria-label': 'Camera controls' },
      command('Siren 10 s', 'play_siren', { seconds: 10 }, 'cmd-siren'),
      command('Torch on', 'set_torch', { on: true }, 'cmd-torch-on'),
      command('Torch off', 'set_torch', { on: false }, 'cmd-torch-off'),
      command('Front camera', 'switch_camera', { facing: 'front' }, 'cmd-front'),
      command('Back camera', 'switch_camera', { facing: 'back' }, 'cmd-back'),
      command('Motion detection on', 'set_motion_detection', { enabled: true }, 'cmd-motion-on'),
      command('Motion detection off', 'set_motion_detection', { enabled: false }, 'cmd-motion-off'));
    card.share = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'camera-share', text: 'Share' });
    card.share.addEventListener('click', () => busy(card.share, () => this.share(card)));
    card.remove = h('button', { type: 'button', class: 'danger small', text: 'Remove' });
    card.remove.addEventListener('click', () => busy(card.remove, () => this.removeCamera(card)));
    card.shareSlot = h('div');
    card.el = h('li', { class: 'card camera-card', 'data-testid': 'camera-item', 'data-camera-id': camera.id },
      h('div', { class: 'camera-head' }, card.name, card.badge, card.seen),
      h('div', { class: 'video-box' }, card.video),
      card.liveStatus,
      h('div', { class: 'button-row' }, card.watch, card.stop, card.unmute),
      card.commands, card.commandMessage.el,
      h('div', { class: 'button-row' }, card.share, card.remove),
      card.shareSlot);
    this.cards.set(camera.id, card);
    this.cameraList.append(card.el);
    return card;
  }

  updateCard(card, camera) {
    if (!card) return;
    card.name.textContent = camera.name;
    const status = camera.status || 'unknown';
    card.el.dataset.status = status;
    card.badge.dataset.status = status;
    card.badge.textContent = status === 'online' ? 'Online' : status === 'offline' ? 'Offline' : 'Unknown';
    const seen = status !== 'online' && camera.last_seen_at ? `Last seen ${fmtTime(camera.last_seen_at)}` : '';
    // What the camera's page last reported with a heartbeat, where its browser tells.
    const battery = Number.isInteger(camera.battery_level)
      ? `Battery ${camera.battery_level}%${camera.battery_charging ? ', charging' : ''}`
      : '';
    card.seen.textContent = [battery, seen].filter(Boolean).join(' · ');
    card.video.setAttribute('aria-label', `Live view of ${camera.name}`);
    card.share.hidden = !camera.own;
    card.remove.hidden = !camera.own;
  }

  startLive(card) {
    if (card.live && !card.live.stopped) return;
    const view = new LiveView({
      camera: this.cameras.get(card.id),
      video: card.video,
      requesterId: () => this.deviceId,
      token: this.userToken,
    });
    card.live = view;
    this.liveViews.add(view);
    this.lastLive = view;
    card.video.hidden = false;
    card.watch.hidden = true;
    card.stop.hidden = false;
    card.unmute.hidden = false;
    view.addEventListener('status', (e) => {
      card.liveStatus.textContent = e.detail.text;
      card.liveStatus.className = `live-status ${e.detail.kind}`;
      card.liveStatus.dataset.kind = e.detail.kind;
    });
    view.addEventListener('ended', () => {
      this.liveViews.delete(view);
      card.video.hidden = true;
      card.watch.hidden = false;
      card.stop.hidden = true;
      card.unmute.hidden = true;
      card.watch.textContent = 'Watch live';
    });
    view.start();
  }

  async sendCommand(card, type, payload) {
    const label = COMMAND_LABELS[type] || type;
    card.commandMessage.show(`${label}: sending…`);
    let command;
    try {
      ({ command } = await api(`/api/v1/devices/${card.id}/commands`, {
        method: 'POST', token: this.userToken(), body: { command_type: type, payload, source_device_id: this.deviceId },
      }));
    } catch (err) {
      card.commandMessage.error(`${label}: ${describeError(err)}`);
      return;
    }
    const show = (c) => {
      const text = {
        queued: 'waiting for the camera…',
        dispatched: 'sent to the camera…',
        acknowledged: 'done.',
        failed: `the camera could not do it: ${c.error || 'no reason given'}.`,
        expired: 'the camera did not answer in time (is it online?).',
        cancelled: 'cancelled.',
      }[c.status] || c.status;
      if (c.status === 'failed' || c.status === 'expired') card.commandMessage.error(`${label}: ${text}`);
      else if (c.status === 'acknowledged') card.commandMessage.ok(`${label}: ${text}`);
      else card.commandMessage.show(`${label}: ${text}`);
      return ['acknowledged', 'failed', 'expired', 'cancelled'].includes(c.status);
    };
    if (show(command)) return;
    let done = false;
    this.commandWatchers.set(command.id, (c) => { done = show(c) || done; if (done) this.commandWatchers.delete(command.id); });
    // The WebSocket usually answers first; polling covers a dropped connection.
    for (const wait of [3000, 7000, 20000, 35000]) {
      await new Promise((r) => setTimeout(r, wait));
      if (done) return;
      try {
        const latest = await api(`/api/v1/commands/${command.id}`, { token: this.userToken() });
        if (show(latest)) { done = true; this.commandWatchers.delete(command.id); return; }
      } catch {
        // Keep waiting for the WebSocket.
      }
    }
  }

  async share(card) {
    try {
      const invite = await api('/api/v1/device-links/invites', { method: 'POST', token: this.userToken(), body: { camera_device_id: card.id } });
      const url = reachable(invite.invite_url);
      const copy = h('button', { type: 'button', class: 'secondary small', text: 'Copy link' });
      copy.addEventListener('click', async () => {
        try { await navigator.clipboard.writeText(url); copy.textContent = 'Copied'; } catch { copy.textContent = 'Select the link to copy it'; }
      });
      clear(card.shareSlot, h('div', { class: 'share-box' },
        h('p', { text: `Send this link to the person who may watch “${this.cameraName(card.id)}”. It works once, until ${fmtTime(invite.expires_at)}.` }),
        h('p', {}, h('a', { href: url, class: 'invite-link', 'data-testid': 'invite-url', text: url })),
        h('p', { class: 'hint' }, 'Invite code: ', h('code', { 'data-testid': 'invite-code', text: invite.code })),
        qrSvg(url, 'QR code of the invitation link'),
        copy));
    } catch (err) {
      clear(card.shareSlot, h('p', { class: 'message error', role: 'alert', text: `Could not create an invitation: ${describeError(err)}` }));
    }
  }

  showInviteAccept(code) {
    const message = messageBox('invite-message');
    const accept = h('button', { type: 'button', class: 'primary', 'data-testid': 'invite-accept', text: 'Accept invitation' });
    const dismiss = h('button', { type: 'button', class: 'secondary', text: 'Not now' });
    const box = h('section', { class: 'card highlight', 'aria-labelledby': 'invite-title' },
      h('h2', { id: 'invite-title', text: 'You were invited to watch a camera' }),
      h('p', { text: 'Accepting lets this browser watch the camera live, see its events and play its clips.' }),
      h('div', { class: 'button-row' }, accept, dismiss), message.el);
    dismiss.addEventListener('click', () => { box.remove(); this.navigate('/app', true); });
    accept.addEventListener('click', () => busy(accept, async () => {
      try {
        await api('/api/v1/device-links/invites/accept', { method: 'POST', token: this.userToken(), body: { code, client_device_id: this.deviceId } });
        message.ok('Invitation accepted: the camera is in your list.');
        accept.remove();
        this.navigate('/app', true);
        await this.refreshCameras();
      } catch (err) {
        message.error(err.code === 'invite_gone' ? 'This invitation has expired or was used. Ask for a new one.'
          : err.code === 'invite_not_found' ? 'This invitation does not exist. Check the link.'
            : err.code === 'link_exists' ? 'This browser can already watch that camera.'
              : describeError(err));
      }
    }));
    clear(this.inviteSlot, box);
    accept.focus();
  }

  async removeCamera(card) {
    const name = this.cameraName(card.id);
    if (!window.confirm(`Remove “${name}”? It stops being a camera of your account, and its events stay in the list.`)) return;
    try {
      await api(`/api/v1/devices/${card.id}`, { method: 'DELETE', token: this.userToken() });
      await this.refreshCameras();
    } catch (err) {
      card.commandMessage.error(`Could not remove the camera: ${describeError(err)}`);
    }
  }

  async signOutEverywhere() {
    this.teardown();
    await signOut();
    this.signedOut('You are signed out.');
  }
}

export function mountViewer(root, navigate) {
  const app = new ViewerApp(root, navigate);
  app.start();
  return app;
}

export { currentSession };
