// @ts-check
// The camera's events: `event.start` when motion is first seen (over the WebSocket, or the
// REST API while it is down), `event.end` once nothing moved for QUIET_MS.

import { api, describeError } from './api.js';

/** An event ends when nothing moved for this long. */
const QUIET_MS = 5000;

/** @typedef {import('./camera.js').CameraApp} CameraApp */

export class MotionEvents {
  /** @param {CameraApp} camera */
  constructor(camera) {
    this.camera = camera;
    /** @type {{ id: string } | null} the event going on */
    this.event = null;
    /** @type {Promise<void> | null} */
    this.starting = null;
    this.lastMotionAt = 0;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.quietTimer = null;
  }

  /**
   * Motion now: starts an event unless one is going on, and keeps it going.
   * @param {'motion' | 'manual'} trigger
   */
  async seen(trigger) {
    const camera = this.camera;
    this.lastMotionAt = Date.now();
    if (!this.quietTimer) {
      this.quietTimer = setInterval(() => {
        if (this.event && Date.now() - this.lastMotionAt >= QUIET_MS) this.end();
      }, 1000);
    }
    if (this.event || this.starting || !camera.creds) return;
    this.starting = (async () => {
      const title = trigger === 'manual' ? 'Simulated motion' : 'Motion';
      try {
        let event;
        if (camera.ws?.isOpen) {
          ({ event } = await camera.ws.request({ type: 'event.start', triggered_by: trigger, title }));
        } else {
          ({ event } = await api('/api/v1/events', { method: 'POST', token: camera.creds.device_token, body: { triggered_by: trigger, title } }));
        }
        this.event = event;
        // The clock starts when the event exists: a slow answer must not end it at once.
        this.lastMotionAt = Math.max(this.lastMotionAt, Date.now() - 1000);
      } catch (err) {
        camera.message.error(`Could not report motion: ${describeError(err)}`);
      } finally {
        this.starting = null;
        camera.refreshStatus();
      }
    })();
  }

  async end() {
    const camera = this.camera;
    const event = this.event;
    this.event = null;
    camera.refreshStatus();
    if (!event) return;
    const ended_at = new Date().toISOString();
    if (camera.ws?.send({ type: 'event.end', event_id: event.id, ended_at })) return;
    try {
      await api(`/api/v1/events/${event.id}/end`, { method: 'POST', token: camera.creds.device_token, body: { ended_at } });
    } catch (err) {
      camera.message.error(`Could not report the end of an event: ${describeError(err)}`);
    }
  }

  /** Disarmed: the event going on ends now, and nothing is timed any more. */
  stop() {
    if (this.event) this.end();
    clearInterval(this.quietTimer);
    this.quietTimer = null;
  }
}
