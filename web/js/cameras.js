// @ts-check
// The viewer's cameras view: the person's cameras and the cameras shared with them, each a
// card with its live state and battery, live view (WHEP), commands, sharing and removal; and
// adding a camera by its pairing code (typed, scanned, or from a `/pair` link) with a QR code
// that opens camera mode on the spare phone, or accepting an invitation (`/invite`).

import { api, describeError, listAll, reachable } from './api.js';
import { busy, clear, field, fmtTime, h, messageBox } from './dom.js';
import { LiveView } from './live.js';
import { qrSvg } from './qr.js';
import { linkCode, scannedCode } from './routes.js';
import { Scanner } from './scan.js';
import { cameraModeUrl, onlyHere, tlsInfo } from './tls.js';

const COMMAND_LABELS = {
  play_siren: 'Siren',
  set_torch: 'Torch',
  switch_camera: 'Switch camera',
  set_motion_detection: 'Motion detection',
  take_snapshot: 'Snapshot',
  ping: 'Ping',
};

/** @typedef {import('./viewer.js').ViewerApp} ViewerApp */

/**
 * A camera as the list shows it: the device (GET /devices) and whose it is.
 * @typedef {object} Camera
 * @property {string} id
 * @property {string} name
 * @property {string} [status] `online`, `offline` or `unknown`
 * @property {string} [last_seen_at]
 * @property {number} [battery_level] percent, as the camera last reported it
 * @property {boolean} [battery_charging]
 * @property {boolean} own the caller's camera (not one shared with them)
 * @property {boolean} [shared]
 */

/**
 * One camera's card and its parts.
 * @typedef {object} CameraCard
 * @property {string} id
 * @property {HTMLLIElement} el
 * @property {HTMLElement} name
 * @property {HTMLElement} badge
 * @property {HTMLElement} seen
 * @property {HTMLVideoElement} video
 * @property {HTMLElement} liveStatus
 * @property {HTMLButtonElement} watch
 * @property {HTMLButtonElement} stop
 * @property {HTMLButtonElement} unmute
 * @property {import('./dom.js').MessageBox} commandMessage
 * @property {HTMLElement} commands
 * @property {HTMLButtonElement} share
 * @property {HTMLButtonElement} remove
 * @property {HTMLElement} shareSlot
 * @property {LiveView} [live]
 */

/**
 * The cameras view. Made once per viewer page; `build()` makes its elements afresh each time
 * the person enters, while the cameras, their cards and the presence heard stay.
 */
export class CamerasView {
  /** @param {ViewerApp} app */
  constructor(app) {
    this.app = app;
    /** @type {Map<string, Camera>} */
    this.cameras = new Map();
    /** @type {Map<string, CameraCard>} */
    this.cards = new Map();
    // Presence heard over the WebSocket, by device: it may arrive while a camera list is
    // being fetched, and is newer than what that list says.
    /** @type {Map<string, { status: string, at: number }>} */
    this.presence = new Map();
    /** @type {Set<string> | undefined} the person's devices that are not cameras */
    this.otherDevices = undefined;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.refreshSoon = null;
  }

  /** `/pair?code=` and `/invite?code=`: the code is filled in for the person to confirm. */
  applyLinkParams() {
    const link = linkCode(location.pathname, location.search);
    if (link?.link === 'pair') {
      this.claimInput.value = link.code;
      this.claimMessage.show('Check the code matches the one on the camera, then choose Add camera.');
      this.claimButton.focus();
    }
    if (link?.link === 'invite') this.showInviteAccept(link.code);
  }

  /**
   * The view's elements, made afresh.
   * @returns {HTMLElement}
   */
  build() {
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
        h('h2', { id: 'add-title', text: 'Add a camera' }), form, this.claimMessage.el, this.cameraLink()),
      useAsCamera);
  }

  /**
   * How a spare phone gets to camera mode: a QR code of its URL, on the server's HTTPS LAN
   * address when it has one (phones give the camera only to secure pages).
   * @returns {HTMLElement}
   */
  cameraLink() {
    const slot = h('div', { class: 'add-camera-link', 'data-testid': 'add-camera' });
    tlsInfo().then((tls) => {
      const url = cameraModeUrl(tls, location.origin);
      const notes = [];
      if (onlyHere(url)) {
        notes.push('This address is this computer’s own, which a phone cannot open: on the phone, use this computer’s address on your network instead (the same port).');
      } else if (!url.startsWith('https:')) {
        notes.push('This server has HTTPS off, and phones give the camera only to secure pages: camera mode will not start on them until it is on.');
      }
      clear(slot,
        h('h3', { text: 'Set up a spare phone' }),
        h('p', {}, 'On the spare phone: scan, ', h('a', { href: '/trust', 'data-link': '', 'data-testid': 'add-camera-trust', text: 'trust this server' }),
          ' once, and it shows its pairing code.'),
        h('div', { class: 'qr-box', 'data-testid': 'add-camera-qr', 'data-url': url }, qrSvg(url, `QR code of camera mode, ${url}`)),
        h('p', { class: 'camera-url' }, h('a', { href: url, class: 'invite-link', 'data-testid': 'add-camera-url', text: url })),
        ...notes.map((text) => h('p', { class: 'hint', text })));
    });
    return slot;
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
        method: 'POST', token: this.app.userToken(), body: { code, viewer_device_id: this.app.deviceId },
      });
      this.claimInput.value = '';
      this.claimMessage.ok(`“${device.name}” is now one of your cameras.`);
      if (location.pathname === '/pair') this.app.navigate('/app', true);
      await this.refresh();
    } catch (err) {
      const text = err.code === 'pairing_code_not_found' ? 'No camera is waiting with that code. Check it against the camera screen.'
        : err.code === 'pairing_code_gone' ? 'That code has expired or was used. The camera shows a new one.'
          : describeError(err);
      this.claimMessage.error(text);
    }
  }

  /**
   * @param {HTMLButtonElement} button
   * @param {HTMLFormElement} form
   */
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
        this.claimInput.value = scannedCode(text);
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
  async refresh() {
    if (!this.app.session) return;
    const asked = performance.now();
    try {
      const [devices, links] = await Promise.all([
        listAll('/api/v1/devices', this.app.userToken()),
        listAll('/api/v1/device-links', this.app.userToken()).catch(() => []),
      ]);
      const cameras = devices.filter((d) => d.is_camera || d.role === 'camera').map((d) => ({ ...d, own: true }));
      this.otherDevices = new Set(devices.filter((d) => !(d.is_camera || d.role === 'camera')).map((d) => d.id));
      const known = new Set(cameras.map((c) => c.id));
      const shared = [];
      for (const link of links) {
        if (link.status !== 'active' || link.client_device_id !== this.app.deviceId || known.has(link.camera_device_id)) continue;
        known.add(link.camera_device_id);
        shared.push(link.camera_device_id);
      }
      // A shared camera's name and state come from GET /devices/{id}, which answers for
      // cameras linked to this person's devices.
      const details = await Promise.all(shared.map((id) =>
        api(`/api/v1/devices/${id}`, { token: this.app.userToken() }).catch(() => null)));
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

  /** @param {Camera[]} cameras */
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
    this.app.timeline?.renderNames();
    this.app.settingsView?.camerasChanged();
  }

  /**
   * @param {string} id
   * @returns {string}
   */
  cameraName(id) {
    return this.cameras.get(id)?.name || 'Camera';
  }

  /** @param {{ device_id: string, status: string }} presence a `presence` frame */
  onPresence({ device_id: id, status }) {
    this.presence.set(id, { status, at: performance.now() });
    const camera = this.cameras.get(id);
    if (!camera) {
      // A camera paired from another browser (or shared) since the list was fetched; the
      // viewer's own devices are in that list too and need no refresh.
      if (id !== this.app.deviceId && !this.otherDevices?.has(id) && !this.refreshSoon) {
        this.refreshSoon = setTimeout(() => { this.refreshSoon = null; this.refresh(); }, 500);
      }
      return;
    }
    camera.status = status;
    if (status === 'online') camera.last_seen_at = new Date().toISOString();
    this.updateCard(this.cards.get(id), camera);
  }

  /**
   * @param {Camera} camera
   * @returns {CameraCard}
   */
  cameraCard(camera) {
    const card = /** @type {CameraCard} */ ({ id: camera.id });
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

  /**
   * @param {CameraCard | undefined} card
   * @param {Camera} camera
   */
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

  /** @param {CameraCard} card */
  startLive(card) {
    if (card.live && !card.live.stopped) return;
    const view = new LiveView({
      camera: this.cameras.get(card.id),
      video: card.video,
      requesterId: () => this.app.deviceId,
      token: this.app.userToken,
    });
    card.live = view;
    this.app.liveViews.add(view);
    this.app.lastLive = view;
    card.video.hidden = false;
    card.watch.hidden = true;
    card.stop.hidden = false;
    card.unmute.hidden = false;
    view.addEventListener('status', (/** @type {CustomEvent<{ text: string, kind: string }>} */ e) => {
      card.liveStatus.textContent = e.detail.text;
      card.liveStatus.className = `live-status ${e.detail.kind}`;
      card.liveStatus.dataset.kind = e.detail.kind;
    });
    view.addEventListener('ended', () => {
      this.app.liveViews.delete(view);
      card.video.hidden = true;
      card.watch.hidden = false;
      card.stop.hidden = true;
      card.unmute.hidden = true;
      card.watch.textContent = 'Watch live';
    });
    view.start();
  }

  /**
   * @param {CameraCard} card
   * @param {string} type
   * @param {object} payload
   */
  async sendCommand(card, type, payload) {
    const label = COMMAND_LABELS[type] || type;
    card.commandMessage.show(`${label}: sending…`);
    let command;
    try {
      ({ command } = await api(`/api/v1/devices/${card.id}/commands`, {
        method: 'POST', token: this.app.userToken(), body: { command_type: type, payload, source_device_id: this.app.deviceId },
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
    this.app.commandWatchers.set(command.id, (c) => { done = show(c) || done; if (done) this.app.commandWatchers.delete(command.id); });
    // The WebSocket usually answers first; polling covers a dropped connection.
    for (const wait of [3000, 7000, 20000, 35000]) {
      await new Promise((r) => setTimeout(r, wait));
      if (done) return;
      try {
        const latest = await api(`/api/v1/commands/${command.id}`, { token: this.app.userToken() });
        if (show(latest)) { done = true; this.app.commandWatchers.delete(command.id); return; }
      } catch {
        // Keep waiting for the WebSocket.
      }
    }
  }

  /** @param {CameraCard} card */
  async share(card) {
    try {
      const invite = await api('/api/v1/device-links/invites', { method: 'POST', token: this.app.userToken(), body: { camera_device_id: card.id } });
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

  /** @param {string} code */
  showInviteAccept(code) {
    const message = messageBox('invite-message');
    const accept = h('button', { type: 'button', class: 'primary', 'data-testid': 'invite-accept', text: 'Accept invitation' });
    const dismiss = h('button', { type: 'button', class: 'secondary', text: 'Not now' });
    const box = h('section', { class: 'card highlight', 'aria-labelledby': 'invite-title' },
      h('h2', { id: 'invite-title', text: 'You were invited to watch a camera' }),
      h('p', { text: 'Accepting lets this browser watch the camera live, see its events and play its clips.' }),
      h('div', { class: 'button-row' }, accept, dismiss), message.el);
    dismiss.addEventListener('click', () => { box.remove(); this.app.navigate('/app', true); });
    accept.addEventListener('click', () => busy(accept, async () => {
      try {
        await api('/api/v1/device-links/invites/accept', { method: 'POST', token: this.app.userToken(), body: { code, client_device_id: this.app.deviceId } });
        message.ok('Invitation accepted: the camera is in your list.');
        accept.remove();
        this.app.navigate('/app', true);
        await this.refresh();
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

  /** @param {CameraCard} card */
  async removeCamera(card) {
    const name = this.cameraName(card.id);
    if (!window.confirm(`Remove “${name}”? It stops being a camera of your account, and its events stay in the list.`)) return;
    try {
      await api(`/api/v1/devices/${card.id}`, { method: 'DELETE', token: this.app.userToken() });
      await this.refresh();
    } catch (err) {
      card.commandMessage.error(`Could not remove the camera: ${describeError(err)}`);
    }
  }
}
