// @ts-check
// Camera mode: this browser pairs as a camera, stays connected, publishes over WHIP when
// someone watches or an event is recorded, detects motion, and obeys the owner's commands.
// This is the page, which wires together the pieces beside it: camera-pairing.js (the pairing
// screen), camera-publisher.js (WHIP), camera-commands.js (the owner's commands),
// camera-siren.js, camera-sensors.js (battery, wake lock, motion detection) and
// camera-events.js (event.start / event.end).

import { api, describeError } from './api.js';
import { Commands, videoConstraints } from './camera-commands.js';
import { MotionEvents } from './camera-events.js';
import { showPairing } from './camera-pairing.js';
import { Publishing } from './camera-publisher.js';
import { Battery, MotionSensor, ScreenWakeLock } from './camera-sensors.js';
import { Siren } from './camera-siren.js';
import { busy, clear, field, h, messageBox } from './dom.js';
import { forget, load, save } from './store.js';
import { secureUrl, tlsInfo } from './tls.js';
import { hasH264 } from './webrtc.js';
import { Signalling } from './ws.js';

const STATUS_TEXT = {
  pairing: 'Pairing: waiting for the owner to enter the code',
  connecting: 'Connecting to the server…',
  armed: 'Armed: watching for motion',
  armedNoMotion: 'Armed: motion detection is off',
  live: 'Live: sending video',
  motion: 'Motion detected: recording an event',
  reconnecting: 'Reconnecting…',
  paused: 'Paused: not watching',
  error: 'Something is wrong',
};

/** @typedef {keyof typeof STATUS_TEXT} CameraStatus */

/**
 * The camera's device credential, kept in `camera`.
 * @typedef {{ device_id: string, device_token: string, name: string }} CameraCreds
 */

export class CameraApp {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    /** @type {CameraCreds | null} */
    this.creds = load('camera');
    /** @type {import('./camera-sensors.js').CameraSettings} */
    this.settings = load('camera.settings', { motionEnabled: true, sensitivity: 50, facing: null });
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {Signalling | null} */
    this.ws = null;
    this.publishing = new Publishing({
      stream: () => this.stream,
      openCamera: () => this.openCamera(),
      changed: () => this.refreshStatus(),
    });
    this.events = new MotionEvents(this);
    this.motion = new MotionSensor(this.settings, {
      seen: (trigger) => this.events.seen(trigger),
      changed: () => this.refreshStatus(),
    });
    this.commands = new Commands(this);
    this.armed = false;
    this.paused = false;
    this.wakeLock = new ScreenWakeLock();
    this.battery = new Battery();
    this.siren = new Siren();
    this.pairingRun = 0;
    /** @type {string | null} */
    this.fatal = null;
    /** @type {HTMLVideoElement | undefined} */
    this.preview = undefined;
    /** @type {HTMLElement | undefined} */
    this.nameEl = undefined;
    /** @type {HTMLElement | undefined} */
    this.controls = undefined;
    this.build();
    this.onVisibility = () => {
      if (document.visibilityState === 'visible' && this.armed && !this.wakeLock.lock) this.wakeLock.acquire();
    };
    document.addEventListener('visibilitychange', this.onVisibility);
    // Browsers only let a page make sound after a tap; any tap on the camera page counts.
    this.unlockAudio = () => this.siren.audioContext(true);
    root.addEventListener('pointerdown', this.unlockAudio);
    root.addEventListener('keydown', this.unlockAudio);
    this.onUnauthorized = (/** @type {CustomEvent<{ token: string }>} */ e) => {
      if (this.creds && e.detail.token === this.creds.device_token) this.removedFromAccount();
    };
    window.addEventListener('securecam:unauthorized', this.onUnauthorized);
  }

  build() {
    this.statusEl = h('p', { class: 'status-line', role: 'status', 'aria-live': 'polite', 'data-testid': 'camera-status' });
    this.message = messageBox('camera-message');
    this.body = h('div', { class: 'camera-body' });
    clear(this.root,
      h('header', { class: 'topbar' },
        h('a', { href: '/?choose=1', class: 'brand', text: 'SecureCam' }),
        h('span', { class: 'mode-tag', text: 'Camera' })),
      h('main', { id: 'main', class: 'page camera-page', tabindex: '-1' },
        h('h1', { class: 'visually-hidden', text: 'SecureCam camera' }),
        this.statusEl, this.message.el, this.body));
  }

  start() {
    if (!window.isSecureContext) {
      this.insecure();
      return;
    }
    if (!hasH264()) {
      this.message.error('This browser cannot send H.264 video, which SecureCam needs for live view and clips. Try Chrome, Edge or Safari.');
    }
    if (this.creds) this.arm();
    else this.pair();
  }

  /**
   * Plain HTTP from another device: browsers give no camera to such a page, so pairing here
   * would only make a camera that can never send a picture (and whose credential the HTTPS
   * page, another origin, would not know). Sends the person to HTTPS instead.
   */
  async insecure() {
    this.setStatus('error', 'The camera cannot start here: this page is not on a secure (HTTPS) connection.');
    const where = h('p', { text: 'Looking for this server’s HTTPS address…' });
    clear(this.body, h('section', { class: 'card', 'data-testid': 'camera-insecure', 'aria-labelledby': 'insecure-title' },
      h('h2', { id: 'insecure-title', text: 'Open camera mode over HTTPS' }),
      h('p', { text: 'Browsers let a page use the camera and microphone only over a secure connection (HTTPS, or on the server’s own machine as localhost). This page came over plain HTTP.' }),
      where,
      h('p', {}, 'The first time, ', h('a', { href: '/trust', 'data-link': '', 'data-testid': 'camera-trust-link', text: 'trust this server' }),
        ' on this device, so that its browser accepts the server’s certificate.')));
    const url = secureUrl(await tlsInfo(), location.hostname, '/camera');
    clear(where, url
      ? h('a', { href: url, class: 'button primary', 'data-testid': 'camera-https-link', text: `Open ${url}` })
      : 'This server does not offer HTTPS (it is switched off, or the server could not be asked). Whoever runs it can switch it on (SECURECAM_TLS__MODE), or open camera mode on the server’s own machine as localhost.');
  }

  /**
   * @param {CameraStatus} kind
   * @param {string} [text] instead of the kind's usual text
   */
  setStatus(kind, text) {
    this.statusEl.dataset.state = kind;
    this.statusEl.className = `status-line ${kind}`;
    this.statusEl.textContent = text || STATUS_TEXT[kind];
  }

  refreshStatus() {
    if (!this.creds) return;
    if (this.fatal) return this.setStatus('error', this.fatal);
    if (this.paused) return this.setStatus('paused');
    const ws = this.ws?.state;
    if (ws === 'replaced') return this.setStatus('error', 'This camera is open in another tab or window. Close it there, or reconnect here.');
    if (ws === 'connecting' || !this.stream) return this.setStatus('connecting');
    if (ws === 'reconnecting') return this.setStatus('reconnecting', navigator.onLine ? 'Reconnecting to the server…' : 'Offline: reconnecting when the network is back…');
    if (this.publishing.state === 'reconnecting') return this.setStatus('reconnecting', 'Reconnecting the video stream…');
    if (this.events.event) return this.setStatus('motion');
    if (this.publishing.state === 'live') return this.setStatus('live');
    if (this.publishing.state === 'starting') return this.setStatus('live', 'Starting the video stream…');
    return this.setStatus(this.settings.motionEnabled ? 'armed' : 'armedNoMotion');
  }

  // ---- pairing -------------------------------------------------------------------------

  /** @param {string} [note] */
  async pair(note) {
    return showPairing(this, note);
  }

  removedFromAccount() {
    this.disarm();
    this.creds = null;
    forget('camera');
    this.pair('This camera was removed from its account (or its credential stopped working). Pair it again.');
  }

  // ---- armed ---------------------------------------------------------------------------

  async arm() {
    this.pairingRun += 1;
    this.paused = false;
    this.fatal = null;
    this.armed = true;
    this.buildArmed();
    this.refreshStatus();
    try {
      await this.openCamera();
    } catch (err) {
      this.fatal = `Camera not available: ${describeError(err)}`;
      this.refreshStatus();
      this.showRetry();
      return;
    }
    this.motion.start();
    this.wakeLock.acquire();
    this.battery.init();
    this.connect();
    this.refreshStatus();
  }

  showRetry() {
    const retry = h('button', { type: 'button', class: 'primary', text: 'Try again' });
    retry.addEventListener('click', () => this.arm());
    this.controls.prepend(retry);
    retry.focus();
  }

  async openCamera() {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error('This browser cannot use the camera here. Open the page over HTTPS (or on localhost).');
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(this.settings.facing), audio: true });
    } catch (err) {
      if (err.name === 'OverconstrainedError' && this.settings.facing) {
        this.settings.facing = null;
        save('camera.settings', this.settings);
        stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(null), audio: true });
      } else if (err.name === 'NotFoundError') {
        // No microphone still makes a useful camera.
        stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(this.settings.facing) });
      } else {
        throw err;
      }
    }
    this.stream = stream;
    this.preview.srcObject = stream;
    for (const track of stream.getTracks()) {
      track.addEventListener('ended', () => {
        if (this.armed && !this.paused && this.stream === stream) {
          this.fatal = 'The camera stopped (another app may have taken it).';
          this.refreshStatus();
        }
      });
    }
  }

  buildArmed() {
    const name = this.creds?.name || 'This camera';
    this.preview = h('video', { class: 'preview', muted: true, autoplay: true, playsinline: true, 'aria-label': 'What this camera sees', 'data-testid': 'camera-preview' });
    this.preview.muted = true;
    const motionSettings = this.motion.build(this.preview);

    const simulate = h('button', { type: 'button', class: 'primary', 'data-testid': 'simulate-motion', text: 'Simulate motion' });
    simulate.addEventListener('click', () => this.events.seen('manual'));
    const pause = h('button', { type: 'button', class: 'secondary', 'data-testid': 'camera-pause', text: 'Pause camera' });
    pause.addEventListener('click', () => {
      if (this.paused) { this.arm(); return; }
      this.disarm();
      this.paused = true;
      this.refreshStatus();
      pause.textContent = 'Resume camera';
    });
    const stopSiren = h('button', { type: 'button', class: 'danger', text: 'Stop siren', hidden: true });
    stopSiren.addEventListener('click', () => this.siren.stop());
    this.siren.button = stopSiren;
    this.battery.el = h('p', { class: 'hint', 'data-testid': 'camera-battery' });
    this.wakeLock.el = h('p', { class: 'hint' });
    this.controls = h('div', { class: 'button-row' }, simulate, pause, stopSiren);

    const rename = field('Camera name', { value: name, maxlength: 200, autocomplete: 'off' });
    const renameButton = h('button', { type: 'button', class: 'secondary', text: 'Rename' });
    const settingsMessage = messageBox();
    renameButton.addEventListener('click', () => busy(renameButton, async () => {
      try {
        const device = await api(`/api/v1/devices/${this.creds.device_id}`, { method: 'PATCH', token: this.creds.device_token, body: { name: rename.input.value.trim() } });
        this.creds.name = device.name;
        save('camera', this.creds);
        this.nameEl.textContent = device.name;
        settingsMessage.ok('Renamed.');
      } catch (err) {
        settingsMessage.error(describeError(err));
      }
    }));
    const unpair = h('button', { type: 'button', class: 'danger', text: 'Unpair this camera' });
    unpair.addEventListener('click', () => busy(unpair, async () => {
      if (!window.confirm('Unpair this phone? It forgets its camera credential and will need a new pairing code; the owner removes the camera from the account in the app.')) return;
      // A camera's token deletes nothing, itself included (a thief would unpair a camera to
      // hide it): this phone forgets its credential, the owner removes the device.
      this.removedFromAccount();
    }));
    this.nameEl = h('h2', { text: name });
    clear(this.body,
      h('section', { class: 'card camera-live', 'aria-label': 'Camera' },
        this.nameEl,
        h('div', { class: 'preview-box' }, this.preview),
        this.controls,
        motionSettings,
        this.battery.el, this.wakeLock.el),
      h('details', { class: 'card' }, h('summary', { text: 'Camera settings' }),
        rename.field, h('div', { class: 'button-row' }, renameButton, unpair), settingsMessage.el));
  }

  disarm() {
    this.armed = false;
    this.motion.stop();
    this.ws?.stop();
    this.ws = null;
    this.publishing.drop();
    this.events.stop();
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    if (this.preview) this.preview.srcObject = null;
    this.wakeLock.release();
    this.siren.stop();
  }

  connect() {
    this.ws?.stop();
    const ws = new Signalling(() => this.creds.device_token);
    this.ws = ws;
    ws.extraPing = () => this.battery.payload();
    ws.addEventListener('state', (/** @type {CustomEvent<import('./ws.js').StateDetail>} */ e) => {
      if (e.detail.state === 'unauthorized') {
        this.removedFromAccount();
        return;
      }
      if (e.detail.state === 'replaced') this.offerReconnect();
      if (e.detail.state === 'open' && e.detail.hello?.device?.name && this.nameEl) {
        this.creds.name = e.detail.hello.device.name;
        this.nameEl.textContent = this.creds.name;
        save('camera', this.creds);
      }
      this.refreshStatus();
    });
    ws.addEventListener('command', (/** @type {CustomEvent<{ command: import('./camera-commands.js').Command }>} */ e) => this.commands.onCommand(e.detail.command));
    ws.addEventListener('error', (/** @type {CustomEvent<{ message?: string, code?: string }>} */ e) => {
      this.message.error(`The server refused a message: ${e.detail.message || e.detail.code}`);
    });
    ws.start();
  }

  offerReconnect() {
    const button = h('button', { type: 'button', class: 'primary', text: 'Use this tab as the camera' });
    button.addEventListener('click', () => { button.remove(); this.connect(); });
    this.controls.prepend(button);
  }

  destroy() {
    this.disarm();
    this.pairingRun += 1;
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.root.removeEventListener('pointerdown', this.unlockAudio);
    this.root.removeEventListener('keydown', this.unlockAudio);
    window.removeEventListener('securecam:unauthorized', this.onUnauthorized);
    this.siren.close();
  }
}

/** @param {HTMLElement} root */
export function mountCamera(root) {
  const app = new CameraApp(root);
  app.start();
  return app;
}
