// Camera mode: this browser pairs as a camera, stays connected, publishes over WHIP when
// someone watches or an event is recorded, detects motion, and obeys the owner's commands.

import { api, ApiError, describeError, reachable } from './api.js';
import { busy, clear, field, fmtShort, h, messageBox, sleep } from './dom.js';
import { MotionDetector } from './motion.js';
import { qrSvg } from './qr.js';
import { browserName, forget, load, save } from './store.js';
import { hasH264, MediaLeg } from './webrtc.js';
import { Signalling } from './ws.js';

const POLL_MS = 2000;
/** An event ends when nothing moved for this long. */
const QUIET_MS = 5000;
/** A publishing leg that stays `disconnected` this long is treated as lost. */
const DISCONNECTED_GRACE_MS = 3000;
const SIREN_MAX_S = 60;

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

function videoConstraints(facing) {
  return {
    facingMode: facing === 'front' ? { exact: 'user' } : facing === 'back' ? { exact: 'environment' } : { ideal: 'environment' },
    // 720p is the most the relay's H.264 level (3.1) carries.
    width: { ideal: 1280, max: 1280 },
    height: { ideal: 720, max: 720 },
    frameRate: { ideal: 30, max: 30 },
  };
}

/** The publishing side of one stream session: the WHIP leg and its recovery. */
class Publisher extends EventTarget {
  constructor(camera, payload) {
    super();
    this.camera = camera;
    this.sessionId = payload.stream_session_id;
    this.endpoint = payload.publish_endpoint;
    this.token = payload.publish_token;
    this.iceServers = payload.ice_servers || [];
    this.leg = null;
    this.state = 'starting';
    this.stopped = false;
    this.recovering = false;
    this.graceTimer = null;
  }

  setState(state, error) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, error } }));
  }

  newLeg() {
    const leg = new MediaLeg({
      kind: 'publish',
      endpoint: this.endpoint,
      token: this.token,
      iceServers: this.iceServers,
      stream: this.camera.stream,
    });
    leg.addEventListener('state', (e) => this.onLegState(leg, e.detail));
    return leg;
  }

  async start() {
    this.leg = this.newLeg();
    await this.leg.connect();
    if (this.leg.pc?.connectionState === 'connected') this.setState('live');
  }

  onLegState(leg, state) {
    if (leg !== this.leg || this.stopped) return;
    clearTimeout(this.graceTimer);
    if (state === 'connected') {
      this.setState('live');
    } else if (state === 'failed') {
      this.recover();
    } else if (state === 'disconnected') {
      // Often a moment's loss (Wi-Fi roaming); ICE recovers by itself within seconds.
      this.graceTimer = setTimeout(() => this.recover(), DISCONNECTED_GRACE_MS);
    }
  }

  /** After a network drop: an ICE restart on the same leg, else a new WHIP leg. */
  async recover() {
    if (this.recovering || this.stopped) return;
    this.recovering = true;
    this.setState('reconnecting');
    let delay = 1000;
    try {
      while (!this.stopped) {
        if (!navigator.onLine) {
          await sleep(1000);
          continue;
        }
        try {
          await this.leg.restartIce();
          if (await connectedWithin(this.leg.pc, 6000)) return;
        } catch {
          // The relay lost the leg (or never had it): publish anew below.
        }
        if (this.stopped) return;
        try {
          await this.leg.hangUp();
          this.leg = this.newLeg();
          await this.leg.connect();
          if (await connectedWithin(this.leg.pc, 8000)) return;
        } catch (err) {
          if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
            // The publish token is short-lived; after a long outage the server ends the
            // stream's sessions, and the next viewer gets the camera a fresh start_stream.
            this.setState('expired', err);
            return;
          }
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 10000);
      }
    } finally {
      this.recovering = false;
    }
  }

  async replaceVideo(track) {
    if (this.leg) await this.leg.replaceTrack('video', track);
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.graceTimer);
    if (this.leg) await this.leg.hangUp();
    this.setState('stopped');
  }
}

function connectedWithin(pc, ms) {
  return new Promise((resolve) => {
    if (!pc) return resolve(false);
    if (pc.connectionState === 'connected') return resolve(true);
    const timer = setTimeout(() => { pc.removeEventListener('connectionstatechange', on); resolve(false); }, ms);
    const on = () => {
      if (pc.connectionState === 'connected') {
        clearTimeout(timer);
        pc.removeEventListener('connectionstatechange', on);
        resolve(true);
      } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        clearTimeout(timer);
        pc.removeEventListener('connectionstatechange', on);
        resolve(false);
      }
    };
    pc.addEventListener('connectionstatechange', on);
  });
}

export class CameraApp {
  constructor(root) {
    this.root = root;
    this.creds = load('camera');
    this.settings = load('camera.settings', { motionEnabled: true, sensitivity: 50, facing: null });
    this.stream = null;
    this.ws = null;
    this.publisher = null;
    this.event = null;
    this.eventStarting = null;
    this.lastMotionAt = 0;
    this.quietTimer = null;
    this.armed = false;
    this.paused = false;
    this.wakeLock = null;
    this.battery = null;
    this.audio = null;
    this.siren = null;
    this.handled = new Map();
    this.pairingRun = 0;
    this.fatal = null;
    this.build();
    this.onVisibility = () => {
      if (document.visibilityState === 'visible' && this.armed && !this.wakeLock) this.acquireWakeLock();
    };
    document.addEventListener('visibilitychange', this.onVisibility);
    // Browsers only let a page make sound after a tap; any tap on the camera page counts.
    this.unlockAudio = () => this.audioContext(true);
    root.addEventListener('pointerdown', this.unlockAudio);
    root.addEventListener('keydown', this.unlockAudio);
    this.onUnauthorized = (e) => {
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
    if (!hasH264()) {
      this.message.error('This browser cannot send H.264 video, which SecureCam needs for live view and clips. Try Chrome, Edge or Safari.');
    }
    if (this.creds) this.arm();
    else this.pair();
  }

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
    if (this.publisher?.state === 'reconnecting') return this.setStatus('reconnecting', 'Reconnecting the video stream…');
    if (this.event) return this.setStatus('motion');
    if (this.publisher?.state === 'live') return this.setStatus('live');
    if (this.publisher?.state === 'starting') return this.setStatus('live', 'Starting the video stream…');
    return this.setStatus(this.settings.motionEnabled ? 'armed' : 'armedNoMotion');
  }

  // ---- pairing -------------------------------------------------------------------------

  async pair(note) {
    const run = (this.pairingRun += 1);
    this.setStatus('pairing');
    if (note) this.message.show(note);
    const name = field('Camera name', { value: load('camera.name', `Camera (${browserName()})`), maxlength: 200, 'data-testid': 'camera-name', autocomplete: 'off' },
      'Shown to the owner in their camera list.');
    const codeEl = h('p', { class: 'pairing-code', 'data-testid': 'pairing-code', 'aria-live': 'polite', text: '…' });
    const qrBox = h('div', { class: 'qr-box' });
    const expiry = h('p', { class: 'hint' });
    const renew = h('button', { type: 'button', class: 'secondary', text: 'Get a new code' });
    const panelMessage = messageBox('pairing-message');
    renew.addEventListener('click', () => busy(renew, async () => {
      save('camera.name', name.input.value.trim() || `Camera (${browserName()})`);
      forget('camera.pairing');
      this.pair();
    }));
    clear(this.body, h('section', { class: 'card pairing', 'aria-labelledby': 'pair-title' },
      h('h2', { id: 'pair-title', text: 'Pair this device as a camera' }),
      h('p', {}, 'On a phone or computer signed in to SecureCam, choose ', h('strong', { text: 'Add a camera' }),
        ' and enter this code, or scan the QR code. No password is needed on this device.'),
      codeEl, qrBox, expiry, panelMessage.el,
      h('details', {}, h('summary', { text: 'Name and new code' }), name.field, renew)));

    let delay = POLL_MS;
    while (run === this.pairingRun) {
      let pairing = load('camera.pairing');
      if (!pairing || new Date(pairing.expires_at).getTime() < Date.now() + 5000) {
        try {
          const chosen = name.input.value.trim() || `Camera (${browserName()})`;
          pairing = await api('/api/v1/pairing-codes', { method: 'POST', body: { name: chosen, platform: 'web' } });
          save('camera.pairing', pairing);
        } catch (err) {
          panelMessage.error(`Could not get a pairing code: ${describeError(err)}`);
          await sleep(err.retryAfter ? err.retryAfter * 1000 : 5000);
          continue;
        }
      }
      if (codeEl.textContent !== pairing.code) {
        codeEl.textContent = pairing.code;
        clear(qrBox, qrSvg(reachable(pairing.pair_url), `QR code to pair this camera, code ${pairing.code}`));
        expiry.textContent = `The code works once, until ${fmtShort(pairing.expires_at)}.`;
      }
      await sleep(delay);
      if (run !== this.pairingRun) return;
      try {
        const answer = await api('/api/v1/pairing-codes/poll', { method: 'POST', body: { poll_token: pairing.poll_token } });
        panelMessage.hide();
        delay = POLL_MS;
        if (answer && answer.status === 'claimed') {
          this.creds = { device_id: answer.device.id, device_token: answer.device_token, name: answer.device.name };
          save('camera', this.creds);
          forget('camera.pairing');
          this.message.ok(`Paired as “${answer.device.name}”.`);
          this.arm();
          return;
        }
      } catch (err) {
        if (err instanceof ApiError && err.status === 410) {
          // Expired or used: a fresh code keeps the screen useful for whoever comes along.
          forget('camera.pairing');
          continue;
        }
        panelMessage.error(`Waiting for the server: ${describeError(err)}`);
        delay = Math.min(delay * 2, 15000);
      }
    }
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
    this.acquireWakeLock();
    this.initBattery();
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
    this.motion?.stop();
    this.motion = new MotionDetector(this.preview);
    this.motion.configure({ enabled: this.settings.motionEnabled, sensitivity: this.settings.sensitivity });
    const meter = h('meter', { min: 0, max: 0.3, value: 0, class: 'motion-meter', 'aria-label': 'Amount of change between frames' });
    this.motion.addEventListener('level', (e) => { meter.value = Math.min(0.3, e.detail); });
    this.motion.addEventListener('motion', () => this.motionSeen('motion'));

    const enabled = h('input', { type: 'checkbox', id: 'motion-enabled', checked: this.settings.motionEnabled, 'data-testid': 'motion-enabled' });
    enabled.addEventListener('change', () => this.setMotion({ enabled: enabled.checked }));
    const sensitivity = h('input', { type: 'range', id: 'motion-sensitivity', min: 1, max: 100, value: this.settings.sensitivity, 'data-testid': 'motion-sensitivity' });
    const sensitivityValue = h('output', { for: 'motion-sensitivity', text: String(this.settings.sensitivity) });
    sensitivity.addEventListener('input', () => { sensitivityValue.textContent = sensitivity.value; });
    sensitivity.addEventListener('change', () => this.setMotion({ sensitivity: Number(sensitivity.value) }));
    this.motionControls = { enabled, sensitivity, sensitivityValue };

    const simulate = h('button', { type: 'button', class: 'primary', 'data-testid': 'simulate-motion', text: 'Simulate motion' });
    simulate.addEventListener('click', () => this.motionSeen('manual'));
    const pause = h('button', { type: 'button', class: 'secondary', 'data-testid': 'camera-pause', text: 'Pause camera' });
    pause.addEventListener('click', () => {
      if (this.paused) { this.arm(); return; }
      this.disarm();
      this.paused = true;
      this.refreshStatus();
      pause.textContent = 'Resume camera';
    });
    this.stopSirenButton = h('button', { type: 'button', class: 'danger', text: 'Stop siren', hidden: true });
    this.stopSirenButton.addEventListener('click', () => this.stopSiren());
    this.batteryEl = h('p', { class: 'hint', 'data-testid': 'camera-battery' });
    this.wakeEl = h('p', { class: 'hint' });
    this.controls = h('div', { class: 'button-row' }, simulate, pause, this.stopSirenButton);

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
      if (!window.confirm('Remove this camera from its account? It will need a new pairing code.')) return;
      try {
        await api(`/api/v1/devices/${this.creds.device_id}`, { method: 'DELETE', token: this.creds.device_token });
      } catch {
        // Forgetting the credential here is what matters to this device.
      }
      this.removedFromAccount();
    }));
    this.nameEl = h('h2', { text: name });
    clear(this.body,
      h('section', { class: 'card camera-live', 'aria-label': 'Camera' },
        this.nameEl,
        h('div', { class: 'preview-box' }, this.preview),
        this.controls,
        h('div', { class: 'motion-settings' },
          h('div', { class: 'check' }, enabled, h('label', { for: 'motion-enabled', text: 'Motion detection' })),
          h('div', { class: 'field inline' }, h('label', { for: 'motion-sensitivity', text: 'Sensitivity' }), sensitivity, sensitivityValue),
          h('div', { class: 'field inline' }, h('span', { text: 'Activity' }), meter)),
        this.batteryEl, this.wakeEl),
      h('details', { class: 'card' }, h('summary', { text: 'Camera settings' }),
        rename.field, h('div', { class: 'button-row' }, renameButton, unpair), settingsMessage.el));
  }

  setMotion({ enabled, sensitivity }) {
    if (typeof enabled === 'boolean') this.settings.motionEnabled = enabled;
    if (sensitivity !== undefined) this.settings.sensitivity = Math.min(100, Math.max(1, Math.round(sensitivity)));
    save('camera.settings', this.settings);
    this.motion?.configure({ enabled: this.settings.motionEnabled, sensitivity: this.settings.sensitivity });
    if (this.motionControls) {
      this.motionControls.enabled.checked = this.settings.motionEnabled;
      this.motionControls.sensitivity.value = this.settings.sensitivity;
      this.motionControls.sensitivityValue.textContent = String(this.settings.sensitivity);
    }
    this.refreshStatus();
  }

  disarm() {
    this.armed = false;
    this.motion?.stop();
    this.ws?.stop();
    this.ws = null;
    if (this.publisher) this.publisher.stop();
    this.publisher = null;
    if (this.event) this.endEvent();
    clearInterval(this.quietTimer);
    this.quietTimer = null;
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    if (this.preview) this.preview.srcObject = null;
    this.wakeLock?.release().catch(() => {});
    this.wakeLock = null;
    this.stopSiren();
  }

  connect() {
    this.ws?.stop();
    const ws = new Signalling(() => this.creds.device_token);
    this.ws = ws;
    ws.extraPing = () => this.batteryPayload();
    ws.addEventListener('state', (e) => {
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
    ws.addEventListener('command', (e) => this.onCommand(e.detail.command));
    ws.addEventListener('error', (e) => {
      this.message.error(`The server refused a message: ${e.detail.message || e.detail.code}`);
    });
    ws.start();
  }

  offerReconnect() {
    const button = h('button', { type: 'button', class: 'primary', text: 'Use this tab as the camera' });
    button.addEventListener('click', () => { button.remove(); this.connect(); });
    this.controls.prepend(button);
  }

  // ---- commands ------------------------------------------------------------------------

  ack(command, status, error, result) {
    const frame = { type: 'command.ack', command_id: command.id, status };
    if (error) frame.error = error;
    if (result !== undefined) frame.result = result;
    this.ws?.send(frame);
  }

  async onCommand(command) {
    // A command retried by the server (our ack was lost) gets the same answer again.
    let outcome = this.handled.get(command.id);
    if (!outcome) {
      outcome = this.execute(command).then(
        (result) => ({ status: 'acknowledged', result }),
        (err) => ({ status: 'failed', error: describeError(err) }),
      );
      this.handled.set(command.id, outcome);
      if (this.handled.size > 200) this.handled.delete(this.handled.keys().next().value);
    }
    const { status, error, result } = await outcome;
    // A failure may be the network's (a WHIP POST while offline): a redelivered command is
    // tried again rather than refused from memory.
    if (status === 'failed') this.handled.delete(command.id);
    this.ack(command, status, error, result);
  }

  async execute(command) {
    const payload = command.payload || {};
    switch (command.command_type) {
      case 'start_stream': return this.startStream(payload);
      case 'stop_stream': return this.stopStream(payload);
      case 'set_motion_detection': {
        const { enabled, sensitivity } = payload;
        if (enabled !== undefined && typeof enabled !== 'boolean') throw new Error('enabled must be true or false');
        if (sensitivity !== undefined && !(sensitivity >= 1 && sensitivity <= 100)) throw new Error('sensitivity must be 1 to 100');
        this.setMotion({ enabled, sensitivity });
        return { enabled: this.settings.motionEnabled, sensitivity: this.settings.sensitivity };
      }
      case 'switch_camera': return this.switchCamera(payload.facing);
      case 'set_torch': return this.setTorch(Boolean(payload.on));
      case 'play_siren': return this.playSiren(payload.seconds);
      case 'take_snapshot': return this.snapshot();
      case 'ping': return { battery: this.batteryPayload().battery || null };
      case 'start_recording':
      case 'stop_recording':
        throw new Error('this web camera does not record on the device; the server records its stream');
      default:
        throw new Error(`this camera does not support “${command.command_type}”`);
    }
  }

  async startStream(payload) {
    if (!payload.publish_endpoint || !payload.publish_token) throw new Error('start_stream without publish_endpoint or publish_token');
    if (this.publisher && !this.publisher.stopped && this.publisher.sessionId === payload.stream_session_id) {
      return { already_publishing: true };
    }
    if (!this.stream) await this.openCamera();
    if (this.publisher) await this.publisher.stop();
    const publisher = new Publisher(this, payload);
    this.publisher = publisher;
    publisher.addEventListener('state', (e) => {
      if (e.detail.state === 'expired' && this.publisher === publisher) {
        this.publisher = null;
        publisher.stop();
      }
      this.refreshStatus();
    });
    this.refreshStatus();
    try {
      await publisher.start();
    } catch (err) {
      if (this.publisher === publisher) this.publisher = null;
      this.refreshStatus();
      throw new Error(`could not publish: ${describeError(err)}`);
    }
    return { publishing: true };
  }

  async stopStream() {
    if (this.publisher) {
      const publisher = this.publisher;
      this.publisher = null;
      await publisher.stop();
    }
    this.refreshStatus();
    return { publishing: false };
  }

  async switchCamera(facing) {
    if (facing !== 'front' && facing !== 'back') throw new Error('facing must be “front” or “back”');
    if (!this.stream) throw new Error('the camera is not running');
    let fresh;
    try {
      fresh = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(facing) });
    } catch (err) {
      if (err.name === 'OverconstrainedError' || err.name === 'NotFoundError') throw new Error(`this device has no ${facing} camera`);
      throw err;
    }
    const track = fresh.getVideoTracks()[0];
    const old = this.stream.getVideoTracks()[0];
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    if (this.publisher) await this.publisher.replaceVideo(track);
    this.preview.srcObject = this.stream;
    this.settings.facing = facing;
    save('camera.settings', this.settings);
    return { facing };
  }

  async setTorch(on) {
    const track = this.stream?.getVideoTracks()[0];
    if (!track) throw new Error('the camera is not running');
    const caps = track.getCapabilities ? track.getCapabilities() : {};
    if (!caps.torch) throw new Error('this camera has no torch (flashlight) the browser can control');
    await track.applyConstraints({ advanced: [{ torch: on }] });
    return { on };
  }

  audioContext(fromGesture) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!this.audio) {
      // Made only from a tap (or for a siren): one made earlier would start out blocked.
      if (!fromGesture && !this.sirenWanted) return null;
      this.audio = new Ctx();
    }
    if (this.audio.state === 'suspended') this.audio.resume().catch(() => {});
    return this.audio;
  }

  async playSiren(seconds = 10) {
    const duration = Math.min(SIREN_MAX_S, Math.max(1, Number(seconds) || 10));
    this.sirenWanted = true;
    const ctx = this.audioContext(false);
    if (!ctx) throw new Error('this browser cannot play sound');
    if (ctx.state !== 'running') {
      await Promise.race([ctx.resume(), sleep(500)]).catch(() => {});
    }
    if (ctx.state !== 'running') {
      throw new Error('the browser blocked sound on this camera: tap the camera screen once so it may play the siren');
    }
    this.stopSiren();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sawtooth';
    const start = ctx.currentTime;
    // A two-tone wail: up and down between 600 and 1400 Hz every second.
    for (let t = 0; t < duration; t += 1) {
      osc.frequency.setValueAtTime(600, start + t);
      osc.frequency.linearRampToValueAtTime(1400, start + t + 0.5);
      osc.frequency.linearRampToValueAtTime(600, start + t + 1);
    }
    gain.gain.value = 0.6;
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + duration);
    this.siren = osc;
    this.stopSirenButton.hidden = false;
    osc.addEventListener('ended', () => {
      if (this.siren === osc) { this.siren = null; this.stopSirenButton.hidden = true; }
    });
    return { seconds: duration };
  }

  stopSiren() {
    if (this.siren) {
      try { this.siren.stop(); } catch { /* already stopped */ }
      this.siren = null;
    }
    if (this.stopSirenButton) this.stopSirenButton.hidden = true;
  }

  snapshot() {
    const video = this.preview;
    if (!video || video.readyState < 2) throw new Error('the camera has no picture yet');
    // There is no snapshot upload in the API yet: the camera confirms it could take one.
    return { width: video.videoWidth, height: video.videoHeight, taken_at: new Date().toISOString() };
  }

  // ---- events --------------------------------------------------------------------------

  async motionSeen(trigger) {
    this.lastMotionAt = Date.now();
    if (!this.quietTimer) {
      this.quietTimer = setInterval(() => {
        if (this.event && Date.now() - this.lastMotionAt >= QUIET_MS) this.endEvent();
      }, 1000);
    }
    if (this.event || this.eventStarting || !this.creds) return;
    this.eventStarting = (async () => {
      const title = trigger === 'manual' ? 'Simulated motion' : 'Motion';
      try {
        let event;
        if (this.ws?.isOpen) {
          ({ event } = await this.ws.request({ type: 'event.start', triggered_by: trigger, title }));
        } else {
          ({ event } = await api('/api/v1/events', { method: 'POST', token: this.creds.device_token, body: { triggered_by: trigger, title } }));
        }
        this.event = event;
        // The clock starts when the event exists: a slow answer must not end it at once.
        this.lastMotionAt = Math.max(this.lastMotionAt, Date.now() - 1000);
      } catch (err) {
        this.message.error(`Could not report motion: ${describeError(err)}`);
      } finally {
        this.eventStarting = null;
        this.refreshStatus();
      }
    })();
  }

  async endEvent() {
    const event = this.event;
    this.event = null;
    this.refreshStatus();
    if (!event) return;
    const ended_at = new Date().toISOString();
    if (this.ws?.send({ type: 'event.end', event_id: event.id, ended_at })) return;
    try {
      await api(`/api/v1/events/${event.id}/end`, { method: 'POST', token: this.creds.device_token, body: { ended_at } });
    } catch (err) {
      this.message.error(`Could not report the end of an event: ${describeError(err)}`);
    }
  }

  // ---- device state --------------------------------------------------------------------

  async initBattery() {
    if (this.battery || !navigator.getBattery) {
      if (!navigator.getBattery) this.batteryEl.textContent = 'Battery level: not available in this browser.';
      return;
    }
    try {
      this.battery = await navigator.getBattery();
    } catch {
      return;
    }
    const show = () => {
      const { level, charging } = this.battery;
      this.batteryEl.textContent = `Battery ${Math.round(level * 100)}%${charging ? ', charging' : ''}`;
    };
    this.battery.addEventListener('levelchange', show);
    this.battery.addEventListener('chargingchange', show);
    show();
  }

  batteryPayload() {
    if (!this.battery) return {};
    return { battery: { level: Math.round(this.battery.level * 100) / 100, charging: Boolean(this.battery.charging) } };
  }

  async acquireWakeLock() {
    if (!('wakeLock' in navigator)) {
      this.wakeEl.textContent = 'Keep this screen on: this browser cannot stop it from sleeping.';
      return;
    }
    if (document.visibilityState !== 'visible') return;
    try {
      const lock = await navigator.wakeLock.request('screen');
      this.wakeLock = lock;
      this.wakeEl.textContent = 'The screen stays on while the camera is armed.';
      lock.addEventListener('release', () => {
        if (this.wakeLock === lock) this.wakeLock = null;
      });
    } catch {
      this.wakeEl.textContent = 'The screen may turn off and stop the camera; keep it on in the device settings.';
    }
  }
}

CameraApp.prototype.destroy = function destroy() {
  this.disarm();
  this.pairingRun += 1;
  document.removeEventListener('visibilitychange', this.onVisibility);
  this.root.removeEventListener('pointerdown', this.unlockAudio);
  this.root.removeEventListener('keydown', this.unlockAudio);
  window.removeEventListener('securecam:unauthorized', this.onUnauthorized);
  this.audio?.close().catch(() => {});
};

export function mountCamera(root) {
  const app = new CameraApp(root);
  app.start();
  return app;
}
