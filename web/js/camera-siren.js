// @ts-check
// The camera's siren (`play_siren`): a two-tone wail made with Web Audio. Browsers only let a
// page make sound after a tap, so the camera page hands every tap to `audioContext(true)`.

import { sleep } from './dom.js';

const SIREN_MAX_S = 60;

/**
 * How long a siren asked to sound for `seconds` plays: 10 s unless said, 1 to 60 s.
 * @param {unknown} seconds
 * @returns {number}
 */
export function sirenSeconds(seconds) {
  return Math.min(SIREN_MAX_S, Math.max(1, Number(seconds) || 10));
}

/** @typedef {typeof AudioContext} AudioContextClass */

export class Siren {
  constructor() {
    /** @type {AudioContext | null} */
    this.audio = null;
    /** Set once a siren was asked for: an audio context may then be made without a tap. */
    this.wanted = false;
    /** @type {OscillatorNode | null} the sounding siren */
    this.sound = null;
    /** @type {HTMLButtonElement | null} the page's “Stop siren” button, shown while it sounds */
    this.button = null;
  }

  /**
   * The page's audio context, resumed; null where the browser has no Web Audio.
   * @param {boolean} fromGesture called from a tap or a key press
   * @returns {AudioContext | null}
   */
  audioContext(fromGesture) {
    const Ctx = window.AudioContext
      || /** @type {Window & { webkitAudioContext?: AudioContextClass }} */ (window).webkitAudioContext;
    if (!Ctx) return null;
    if (!this.audio) {
      // Made only from a tap (or for a siren): one made earlier would start out blocked.
      if (!fromGesture && !this.wanted) return null;
      this.audio = new Ctx();
    }
    if (this.audio.state === 'suspended') this.audio.resume().catch(() => {});
    return this.audio;
  }

  /**
   * Sounds the siren for `seconds` (see sirenSeconds); throws when the browser will not.
   * @param {unknown} [seconds]
   * @returns {Promise<{ seconds: number }>}
   */
  async play(seconds = 10) {
    const duration = sirenSeconds(seconds);
    this.wanted = true;
    const ctx = this.audioContext(false);
    if (!ctx) throw new Error('this browser cannot play sound');
    if (ctx.state !== 'running') {
      await Promise.race([ctx.resume(), sleep(500)]).catch(() => {});
    }
    if (ctx.state !== 'running') {
      throw new Error('the browser blocked sound on this camera: tap the camera screen once so it may play the siren');
    }
    this.stop();
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
    this.sound = osc;
    this.button.hidden = false;
    osc.addEventListener('ended', () => {
      if (this.sound === osc) { this.sound = null; this.button.hidden = true; }
    });
    return { seconds: duration };
  }

  stop() {
    if (this.sound) {
      try { this.sound.stop(); } catch { /* already stopped */ }
      this.sound = null;
    }
    if (this.button) this.button.hidden = true;
  }

  /** The page is going away. */
  close() {
    this.audio?.close().catch(() => {});
  }
}
