// @ts-check
// The device's signalling WebSocket. Browsers cannot send an Authorization header on a
// WebSocket, so every (re)connection first buys a single-use ticket with the device token.
// The connection is kept up for as long as the page wants it: drops are retried with
// backoff, a new ticket each time.

import { api, ApiError } from './api.js';
import { jitteredBackoff } from './backoff.js';

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30000;
const REQUEST_TIMEOUT_MS = 10000;
/** Close code the server uses when a newer connection of this device replaced this one. */
const REPLACED = 4001;

/**
 * `idle`, `connecting`, `open`, `reconnecting`, `replaced` (another tab is this device now) or
 * `unauthorized` (the device token no longer works).
 * @typedef {'idle' | 'connecting' | 'open' | 'reconnecting' | 'replaced' | 'unauthorized'} ConnectionState
 */

/**
 * The detail of a `state` event.
 * @typedef {object} StateDetail
 * @property {ConnectionState} state
 * @property {any} [hello] the server's `hello` frame, on `open`
 * @property {unknown} [error] why the last attempt failed
 * @property {number} [retryInMs]
 * @property {boolean} [offline]
 */

/**
 * Dispatches `state` (detail: StateDetail), `message` (detail: any frame) and one event named
 * after each frame's `type` (detail: the frame).
 */

export class Signalling extends EventTarget {
  /**
   * @param {() => string} deviceToken the device token, read at every connect
   */
  constructor(deviceToken) {
    super();
    this.deviceToken = deviceToken;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.wanted = false;
    /** @type {ConnectionState} */
    this.state = 'idle';
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.heartbeat = null;
    this.heartbeatMs = 15000;
    /** @type {Map<string, { resolve: (frame: any) => void, reject: (err: Error) => void, timer: ReturnType<typeof setTimeout> }>} */
    this.pending = new Map();
    this.refCounter = 0;
    this.hello = null;
    /** What the page adds to its heartbeat `ping` (the camera: its battery). */
    this.extraPing = /** @type {() => object | Promise<object>} */ (() => ({}));
    this.onOnline = () => { if (this.wanted && this.state !== 'open') this.connectNow(); };
    this.onOffline = () => {
      // A dead network rarely closes the socket by itself for a long time; say so now.
      if (this.socket) this.socket.close(4000, 'offline');
    };
  }

  start() {
    if (this.wanted) return;
    this.wanted = true;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.connectNow();
  }

  stop() {
    this.wanted = false;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    clearTimeout(this.timer);
    this.stopHeartbeat();
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000, 'bye');
    }
    this.setState('idle');
    this.failPending('the connection was closed');
  }

  get isOpen() {
    return this.socket && this.socket.readyState === WebSocket.OPEN && this.state === 'open';
  }

  /**
   * @param {ConnectionState} state
   * @param {Omit<StateDetail, 'state'>} [detail]
   */
  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...detail } }));
  }

  connectNow() {
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  async connect() {
    if (!this.wanted) return;
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    if (!navigator.onLine) {
      // Nothing to try until the browser says the network is back (the `online` listener).
      this.setState('reconnecting', { offline: true });
      return;
    }
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ticket;
    try {
      ({ ticket } = await api('/api/v1/ws-tickets', { method: 'POST', token: this.deviceToken() }));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        this.wanted = false;
        this.setState('unauthorized', { error: err });
        return;
      }
      this.scheduleReconnect(err);
      return;
    }
    if (!this.wanted) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    socket.addEventListener('message', (e) => this.onMessage(e));
    socket.addEventListener('close', (e) => this.onClose(socket, e));
    // `error` is always followed by `close`; that is where the reconnect happens.
  }

  /** @param {unknown} error */
  scheduleReconnect(error) {
    if (!this.wanted) return;
    // Jitter, so a server restart is not met by every camera in the same millisecond.
    const delay = jitteredBackoff(this.attempt, { minMs: MIN_BACKOFF_MS, maxMs: MAX_BACKOFF_MS });
    this.attempt += 1;
    this.setState('reconnecting', { error, retryInMs: delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /**
   * @param {WebSocket} socket
   * @param {CloseEvent} event
   */
  onClose(socket, event) {
    if (this.socket !== socket) return;
    this.socket = null;
    this.stopHeartbeat();
    this.failPending('the connection dropped');
    if (!this.wanted) return;
    if (event.code === REPLACED) {
      // Another tab or window is this device now; fighting over the one connection would
      // make both flap.
      this.wanted = false;
      this.setState('replaced');
      return;
    }
    this.scheduleReconnect(new Error(event.reason || `connection closed (${event.code})`));
  }

  /** @param {MessageEvent} event */
  onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === 'hello') {
      this.attempt = 0;
      this.hello = message;
      this.heartbeatMs = message.heartbeat_interval_ms || this.heartbeatMs;
      this.startHeartbeat();
      this.setState('open', { hello: message });
    }
    if (message.ref !== undefined && this.pending.has(message.ref)) {
      const { resolve, reject, timer } = this.pending.get(message.ref);
      this.pending.delete(message.ref);
      clearTimeout(timer);
      if (message.type === 'error') reject(new Error(message.message || message.code));
      else resolve(message);
    }
    this.dispatchEvent(new CustomEvent('message', { detail: message }));
    this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
  }

  startHeartbeat() {
    this.stopHeartbeat();
    // Our own ping carries what the server cannot see (battery); the WebSocket-level pings
    // of the server keep the presence alive either way.
    const beat = async () => {
      const extra = await Promise.resolve(this.extraPing()).catch(() => ({}));
      this.send({ type: 'ping', ...extra });
    };
    beat();
    this.heartbeat = setInterval(beat, this.heartbeatMs);
  }

  stopHeartbeat() {
    clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /**
   * Sends a frame; false when the connection is not open.
   * @param {object} message
   * @returns {boolean}
   */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /**
   * Sends a frame with a fresh `ref` and resolves with the frame that echoes it.
   * @param {object} message
   * @param {number} [timeoutMs]
   * @returns {Promise<any>}
   */
  request(message, timeoutMs = REQUEST_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const ref = `r${Date.now().toString(36)}${(this.refCounter += 1)}`;
      if (!this.send({ ...message, ref })) {
        reject(new Error('not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error('the server did not answer in time'));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
    });
  }

  /** @param {string} reason */
  failPending(reason) {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new Error(reason));
    }
    this.pending.clear();
  }
}
