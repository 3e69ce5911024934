// @ts-check
// Motion detection in the page: the local video drawn small a few times a second, each
// frame's brightness compared with the previous one. Small frames make it cheap enough for
// an old phone and blur away sensor noise. The maths are pure functions (and nothing touches
// the DOM at import time), tested in Node: tests/web/motion.test.mjs.

const WIDTH = 64;
const HEIGHT = 48;
const INTERVAL_MS = 200;
/** A pixel "changed" when its brightness moved by more than this (0..255). */
export const PIXEL_DELTA = 25;
/** Changed fraction of the frame that counts as motion at sensitivity 1 and at 100. */
const LEAST_SENSITIVE = 0.3;
const MOST_SENSITIVE = 0.002;
/** Frames in a row over the threshold that make motion: one flicker (auto-exposure, a passing headlight) is not. */
export const FRAMES_FOR_MOTION = 2;

/**
 * Sensitivity 1..100 → the fraction of changed pixels that triggers; higher = smaller change.
 * @param {unknown} sensitivity
 * @returns {number}
 */
export function thresholdFor(sensitivity) {
  const s = Math.min(100, Math.max(1, Number(sensitivity) || 50));
  // Logarithmic: each step matters as much at the quiet end as at the busy end.
  return LEAST_SENSITIVE * (MOST_SENSITIVE / LEAST_SENSITIVE) ** ((s - 1) / 99);
}

/**
 * A sensitivity as the camera keeps it: a whole number from 1 to 100.
 * @param {number} sensitivity
 * @returns {number}
 */
export function clampSensitivity(sensitivity) {
  return Math.min(100, Math.max(1, Math.round(sensitivity)));
}

/**
 * What is wrong with the payload of a `set_motion_detection` command, or null when nothing is.
 * @param {{ enabled?: unknown, sensitivity?: any }} settings
 * @returns {string | null}
 */
export function motionSettingsError({ enabled, sensitivity }) {
  if (enabled !== undefined && typeof enabled !== 'boolean') return 'enabled must be true or false';
  if (sensitivity !== undefined && !(sensitivity >= 1 && sensitivity <= 100)) return 'sensitivity must be 1 to 100';
  return null;
}

/**
 * The brightness (0..255) of each of the first `pixels` pixels of an RGBA image.
 * @param {ArrayLike<number>} rgba
 * @param {number} pixels
 * @returns {Uint8Array}
 */
export function lumaOf(rgba, pixels) {
  const luma = new Uint8Array(pixels);
  for (let i = 0; i < luma.length; i += 1) {
    luma[i] = (rgba[i * 4] * 77 + rgba[i * 4 + 1] * 150 + rgba[i * 4 + 2] * 29) >> 8;
  }
  return luma;
}

/**
 * The fraction of pixels whose brightness moved by more than `pixelDelta` between two frames.
 * @param {Uint8Array} luma
 * @param {Uint8Array} previous
 * @param {number} [pixelDelta]
 * @returns {number} 0..1
 */
export function changedFraction(luma, previous, pixelDelta = PIXEL_DELTA) {
  let changed = 0;
  for (let i = 0; i < luma.length; i += 1) {
    if (Math.abs(luma[i] - previous[i]) > pixelDelta) changed += 1;
  }
  return changed / luma.length;
}

/**
 * Frames in a row over the threshold of `sensitivity`, after one more frame whose changed
 * fraction is `level`; motion once it reaches FRAMES_FOR_MOTION.
 * @param {number} hits
 * @param {number} level
 * @param {number} sensitivity
 * @returns {number}
 */
export function nextHits(hits, level, sensitivity) {
  return level >= thresholdFor(sensitivity) ? hits + 1 : 0;
}

/**
 * Samples a video element; dispatches `level` (CustomEvent, detail: the changed fraction) on
 * every compared frame and `motion` (detail: the same) while motion lasts.
 */
export class MotionDetector extends EventTarget {
  /** @param {HTMLVideoElement} video */
  constructor(video) {
    super();
    this.video = video;
    this.enabled = true;
    this.sensitivity = 50;
    this.canvas = document.createElement('canvas');
    this.canvas.width = WIDTH;
    this.canvas.height = HEIGHT;
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    /** @type {Uint8Array | null} */
    this.previous = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    this.level = 0;
    this.hits = 0;
  }

  /** @param {{ enabled?: boolean, sensitivity?: number }} settings */
  configure({ enabled, sensitivity }) {
    if (typeof enabled === 'boolean') this.enabled = enabled;
    if (sensitivity !== undefined) this.sensitivity = clampSensitivity(sensitivity);
    this.previous = null;
    this.hits = 0;
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.sample(), INTERVAL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.previous = null;
  }

  sample() {
    const video = this.video;
    if (!this.enabled || video.readyState < 2) {
      this.previous = null;
      return;
    }
    this.ctx.drawImage(video, 0, 0, WIDTH, HEIGHT);
    const { data } = this.ctx.getImageData(0, 0, WIDTH, HEIGHT);
    const luma = lumaOf(data, WIDTH * HEIGHT);
    const previous = this.previous;
    this.previous = luma;
    if (!previous) return;
    this.level = changedFraction(luma, previous);
    this.dispatchEvent(new CustomEvent('level', { detail: this.level }));
    this.hits = nextHits(this.hits, this.level, this.sensitivity);
    if (this.hits >= FRAMES_FOR_MOTION) {
      this.dispatchEvent(new CustomEvent('motion', { detail: this.level }));
    }
  }
}
