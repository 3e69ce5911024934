// @ts-check
// The camera's WHIP publishing: a Publisher is the publishing side of one stream session (its
// WHIP leg, and the leg's recovery after a network drop); Publishing is the camera's one
// current publisher, which `start_stream` publishes (or re-publishes for a new session) and
// `stop_stream` or disarming stops.

import { ApiError, describeError } from './api.js';
import { doubled } from './backoff.js';
import { sleep } from './dom.js';
import { MediaLeg } from './webrtc.js';

/** A publishing leg that stays `disconnected` this long is treated as lost. */
const DISCONNECTED_GRACE_MS = 3000;
/** Waits between attempts to re-publish after a drop: doubling from the first to the most. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 10000;

/**
 * The payload of a `start_stream` command.
 * @typedef {object} StartStream
 * @property {string} stream_session_id
 * @property {string} publish_endpoint the relay's WHIP endpoint
 * @property {string} publish_token
 * @property {{ urls: string | string[], username?: string, credential?: string }[]} [ice_servers]
 */

/**
 * A publisher's state: `starting`, `live`, `reconnecting`, `expired` (the publish token no
 * longer works) or `stopped`.
 * @typedef {'starting' | 'live' | 'reconnecting' | 'expired' | 'stopped'} PublisherState
 */

/**
 * The publishing side of one stream session: the WHIP leg and its recovery. Dispatches
 * `state` (CustomEvent, detail: {state, error}).
 */
export class Publisher extends EventTarget {
  /**
   * @param {() => MediaStream | null} stream the camera's stream, read for every new leg
   * @param {StartStream} payload
   */
  constructor(stream, payload) {
    super();
    this.stream = stream;
    this.sessionId = payload.stream_session_id;
    this.endpoint = payload.publish_endpoint;
    this.token = payload.publish_token;
    this.iceServers = payload.ice_servers || [];
    /** @type {MediaLeg | null} */
    this.leg = null;
    /** @type {PublisherState} */
    this.state = 'starting';
    this.stopped = false;
    this.recovering = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.graceTimer = null;
  }

  /**
   * @param {PublisherState} state
   * @param {unknown} [error]
   */
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
      stream: this.stream(),
    });
    leg.addEventListener('state', (/** @type {CustomEvent<RTCPeerConnectionState>} */ e) => this.onLegState(leg, e.detail));
    return leg;
  }

  async start() {
    this.leg = this.newLeg();
    await this.leg.connect();
    if (this.leg.pc?.connectionState === 'connected') this.setState('live');
  }

  /**
   * @param {MediaLeg} leg
   * @param {RTCPeerConnectionState} state
   */
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
    let delay = RETRY_FIRST_MS;
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
        delay = doubled(delay, RETRY_MAX_MS);
      }
    } finally {
      this.recovering = false;
    }
  }

  /** @param {MediaStreamTrack} track */
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

/**
 * Resolves true once `pc` is connected, false when it fails, closes, or `ms` pass first.
 * @param {RTCPeerConnection | null} pc
 * @param {number} ms
 * @returns {Promise<boolean>}
 */
export function connectedWithin(pc, ms) {
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

/**
 * What publishing needs of the camera page.
 * @typedef {object} PublishingCamera
 * @property {() => MediaStream | null} stream the camera and microphone, null while closed
 * @property {() => Promise<void>} openCamera
 * @property {() => void} changed called whenever the publisher's state may have changed
 */

/** The camera's one current publisher, if any. */
export class Publishing {
  /** @param {PublishingCamera} camera */
  constructor(camera) {
    this.camera = camera;
    /** @type {Publisher | null} */
    this.publisher = null;
  }

  /** The current publisher's state; undefined when there is none. */
  get state() {
    return this.publisher?.state;
  }

  /**
   * Whether this session is being published already (a repeated `start_stream`).
   * @param {string} sessionId
   */
  isPublishing(sessionId) {
    return Boolean(this.publisher && !this.publisher.stopped && this.publisher.sessionId === sessionId);
  }

  /**
   * Publishes a stream session, in place of the one published before (if any); throws
   * `could not publish: …` when the WHIP leg cannot be set up.
   * @param {StartStream} payload
   */
  async publish(payload) {
    if (!this.camera.stream()) await this.camera.openCamera();
    if (this.publisher) await this.publisher.stop();
    const publisher = new Publisher(this.camera.stream, payload);
    this.publisher = publisher;
    publisher.addEventListener('state', (/** @type {CustomEvent<{ state: PublisherState }>} */ e) => {
      if (e.detail.state === 'expired' && this.publisher === publisher) {
        this.publisher = null;
        publisher.stop();
      }
      this.camera.changed();
    });
    this.camera.changed();
    try {
      await publisher.start();
    } catch (err) {
      if (this.publisher === publisher) this.publisher = null;
      this.camera.changed();
      throw new Error(`could not publish: ${describeError(err)}`);
    }
  }

  /** Stops publishing (`stop_stream`) and waits for the leg to hang up. */
  async stop() {
    if (this.publisher) {
      const publisher = this.publisher;
      this.publisher = null;
      await publisher.stop();
    }
    this.camera.changed();
  }

  /** Stops publishing without waiting (the camera is being disarmed). */
  drop() {
    if (this.publisher) this.publisher.stop();
    this.publisher = null;
  }

  /**
   * The camera's new video track (another camera of the device) on the published leg.
   * @param {MediaStreamTrack} track
   */
  async replaceVideo(track) {
    if (this.publisher) await this.publisher.replaceVideo(track);
  }
}
