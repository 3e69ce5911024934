// @ts-check
// Watching one camera live over WHEP. Each view is a stream session of its own, so any
// number of viewers (and tabs) can watch one camera at once.

import { api, ApiError, describeError } from './api.js';
import { sleep } from './dom.js';
import { MediaLeg } from './webrtc.js';

/** How long the camera gets to start publishing (the server fails the session after 20 s). */
const LIVE_WAIT_MS = 25000;
/** WHEP retries while the relay says the camera is not publishing yet. */
const WHEP_RETRY_MS = 1000;
const WHEP_RETRY_FOR_MS = 20000;
const AUTO_RESTARTS = 3;

const ENDED_REASONS = {
  camera_disconnected: 'The camera went offline.',
  camera_refused: 'The camera could not start its video.',
  access_revoked: 'You may no longer watch this camera.',
  publish_timeout: 'The camera did not start its video in time.',
  ended_by_viewer: 'Live view stopped.',
  viewer_left: 'Live view stopped.',
};

/**
 * A stream session as the API answers it (POST/GET /stream-sessions, `stream.updated`).
 * @typedef {object} StreamSession
 * @property {string} id
 * @property {string} status `pending`, `live`, `ended` or `failed`
 * @property {string} [end_reason]
 * @property {string} [subscribe_endpoint] the relay's WHEP endpoint
 * @property {string} [subscribe_token]
 * @property {import('./webrtc.js').IceServer[]} [ice_servers]
 */

/**
 * One viewer's live view of one camera. Dispatches `status` (CustomEvent, detail: {text,
 * kind}), `session` (detail: the StreamSession), `live` and `ended`.
 */
export class LiveView extends EventTarget {
  /**
   * @param {object} view
   * @param {{ id: string }} view.camera
   * @param {HTMLVideoElement} view.video where the video plays
   * @param {() => string} view.requesterId this browser's viewer device
   * @param {() => string} view.token the user's token
   */
  constructor({ camera, video, requesterId, token }) {
    super();
    this.camera = camera;
    this.video = video;
    this.requesterId = requesterId;
    this.token = token;
    /** @type {StreamSession | null} */
    this.session = null;
    /** @type {MediaLeg | null} */
    this.leg = null;
    this.stopped = true;
    this.restarts = 0;
    /** @type {((session: StreamSession) => void)[]} */
    this.sessionWaiters = [];
    this.run = 0;
  }

  get pc() {
    return this.leg?.pc || null;
  }

  /**
   * @param {string} text
   * @param {'info' | 'ok' | 'error'} [kind]
   */
  status(text, kind = 'info') {
    this.dispatchEvent(new CustomEvent('status', { detail: { text, kind } }));
  }

  async start() {
    const run = (this.run += 1);
    this.stopped = false;
    this.status('Asking the camera to start its video…');
    try {
      const session = await api('/api/v1/stream-sessions', {
        method: 'POST',
        token: this.token(),
        body: { camera_device_id: this.camera.id, requester_device_id: this.requesterId(), reason: 'live_view' },
      });
      if (run !== this.run) return;
      this.session = session;
      this.dispatchEvent(new CustomEvent('session', { detail: session }));
      if (session.status !== 'live') {
        this.status('Waiting for the camera…');
        await this.waitLive(session.id, run);
      }
      if (run !== this.run) return;
      this.status('Connecting to the video…');
      await this.subscribe(session, run);
    } catch (err) {
      if (run !== this.run) return;
      this.status(describeError(err), 'error');
      this.end();
    }
  }

  /**
   * `stream.updated` from the WebSocket, passed on by the app.
   * @param {StreamSession} session
   */
  onSessionUpdate(session) {
    if (!this.session || session.id !== this.session.id) return;
    this.session = { ...this.session, ...session };
    for (const waiter of this.sessionWaiters.splice(0)) waiter(session);
    if ((session.status === 'ended' || session.status === 'failed') && !this.stopped && this.leg) {
      const reason = session.end_reason;
      if (reason === 'camera_disconnected' && this.restarts < AUTO_RESTARTS) {
        // The camera dropped off the network; a new session tells it to start again once it
        // is back (its old publish token may have expired by then).
        this.restarts += 1;
        this.status('The camera dropped off; reconnecting…');
        this.leg.hangUp(false);
        this.leg = null;
        this.session = null;
        sleep(2000).then(() => { if (!this.stopped) this.start(); });
        return;
      }
      this.status(ENDED_REASONS[reason] || 'The live view ended.', session.status === 'failed' ? 'error' : 'info');
      this.end();
    }
  }

  /**
   * Until the session is `live`: the WebSocket says so at once, polling covers a missed frame.
   * @param {string} id
   * @param {number} run
   */
  async waitLive(id, run) {
    const deadline = Date.now() + LIVE_WAIT_MS;
    while (Date.now() < deadline && run === this.run) {
      const next = new Promise((resolve) => this.sessionWaiters.push(resolve));
      const update = await Promise.race([next, sleep(2000).then(() => null)]);
      const session = update || await api(`/api/v1/stream-sessions/${id}`, { token: this.token() });
      if (session.status === 'live') return;
      if (session.status === 'ended' || session.status === 'failed') {
        const reason = session.end_reason;
        throw new Error(ENDED_REASONS[reason] || 'The camera did not start its video.');
      }
    }
    if (run === this.run) throw new Error('The camera did not start its video in time. Is it online and armed?');
  }

  /**
   * @param {StreamSession} session
   * @param {number} run
   */
  async subscribe(session, run) {
    const deadline = Date.now() + WHEP_RETRY_FOR_MS;
    for (;;) {
      const leg = new MediaLeg({
        kind: 'watch',
        endpoint: session.subscribe_endpoint,
        token: session.subscribe_token,
        iceServers: session.ice_servers,
      });
      leg.addEventListener('track', (/** @type {CustomEvent<RTCTrackEvent>} */ e) => this.onTrack(e.detail));
      leg.addEventListener('state', (/** @type {CustomEvent<RTCPeerConnectionState>} */ e) => this.onLegState(leg, e.detail));
      this.leg = leg;
      try {
        await leg.connect();
        if (run !== this.run) { leg.hangUp(); return; }
        this.status('Live', 'ok');
        this.dispatchEvent(new CustomEvent('live'));
        return;
      } catch (err) {
        this.leg = null;
        const notYet = err instanceof ApiError && err.code === 'not_publishing';
        if (!notYet || Date.now() > deadline || run !== this.run) throw err;
        await sleep(Math.max(WHEP_RETRY_MS, (err.retryAfter || 0) * 1000 / 2));
      }
    }
  }

  /** @param {RTCTrackEvent} event */
  onTrack(event) {
    const stream = this.video.srcObject instanceof MediaStream ? this.video.srcObject : new MediaStream();
    if (!stream.getTracks().includes(event.track)) stream.addTrack(event.track);
    if (this.video.srcObject !== stream) this.video.srcObject = stream;
    // Muted playback starts without a tap; the viewer can unmute.
    this.video.play().catch(() => {});
  }

  /**
   * @param {MediaLeg} leg
   * @param {RTCPeerConnectionState} state
   */
  onLegState(leg, state) {
    if (leg !== this.leg || this.stopped) return;
    if (state === 'connected') this.status('Live', 'ok');
    if (state === 'disconnected') this.status('Connection unstable…');
    if (state === 'failed') this.recover(leg);
  }

  /** @param {MediaLeg} leg */
  async recover(leg) {
    this.status('Reconnecting the video…');
    try {
      await leg.restartIce();
      return;
    } catch {
      // The relay forgot the leg; a fresh session below.
    }
    if (this.stopped || leg !== this.leg) return;
    await this.teardown();
    if (!this.stopped) this.start();
  }

  async teardown() {
    const leg = this.leg;
    const session = this.session;
    this.leg = null;
    this.session = null;
    const over = session && (session.status === 'ended' || session.status === 'failed');
    if (leg) await leg.hangUp(!over);
    if (session && !over) {
      await api(`/api/v1/stream-sessions/${session.id}`, { method: 'DELETE', token: this.token() }).catch(() => {});
    }
  }

  end() {
    this.stopped = true;
    this.run += 1;
    this.teardown();
    this.video.srcObject = null;
    this.dispatchEvent(new CustomEvent('ended'));
  }

  async stop() {
    this.stopped = true;
    this.run += 1;
    await this.teardown();
    this.video.srcObject = null;
    this.status('Live view stopped.');
    this.dispatchEvent(new CustomEvent('ended'));
  }

  /** Inbound video statistics, for the page and for tests. */
  async videoStats() {
    if (!this.pc) return null;
    const report = await this.pc.getStats();
    for (const stat of report.values()) {
      if (stat.type === 'inbound-rtp' && (stat.kind === 'video' || stat.mediaType === 'video')) return stat;
    }
    return null;
  }
}
