// Motion detection in the page: the local video drawn small a few times a second, each
// frame's brightness compared with the previous one. Small frames make it cheap enough for
// an old phone and blur away sensor noise.

const WIDTH = 64;
const HEIGHT = 48;
const INTERVAL_MS = 200;
/** A pixel "changed" when its brightness moved by more than this (0..255). */
const PIXEL_DELTA = 25;
/** Changed fraction of the frame that counts as motion at sensitivity 1 and at 100. */
const LEAST_SENSITIVE = 0.3;
const MOST_SENSITIVE = 0.002;

/** Sensitivity 1..100 → the fraction of changed pixels that triggers; higher = smaller change. */
export function thresholdFor(sensitivity) {
  const s = Math.min(100, Math.max(1, Number(sensitivity) || 50));
  // Logarithmic: each step matters as much at the quiet end as at the busy end.
  return LEAST_SENSITIVE * (MOST_SENSITIVE / LEAST_SENSITIVE) ** ((s - 1) / 99);
}

export class MotionDetector extends EventTarget {
  constructor(video) {
    super();
    this.video = video;
    this.enabled = true;
    this.sensitivity = 50;
    this.canvas = document.createElement('canvas');
    this.canvas.width = WIDTH;
    this.canvas.height = HEIGHT;
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    this.previous = null;
    this.timer = null;
    this.level = 0;
    this.hits = 0;
  }

  configure({ enabled, sensitivity }) {
    if (typeof enabled === 'boolean') this.enabled = enabled;
    if (sensitivity !== undefined) this.sensitivity = Math.min(100, Math.max(1, Math.round(sensitivity)));
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
    const luma = new Uint8Array(WIDTH * HEIGHT);
    for (let i = 0; i < luma.length; i += 1) {
      luma[i] = (data[i * 4] * 77 + data[i * 4 + 1] * 150 + data[i * 4 + 2] * 29) >> 8;
    }
    const previous = this.previous;
    this.previous = luma;
    if (!previous) return;
    let changed = 0;
    for (let i = 0; i < luma.length; i += 1) {
      if (Math.abs(luma[i] - previous[i]) > PIXEL_DELTA) changed += 1;
    }
    this.level = changed / luma.length;
    this.dispatchEvent(new CustomEvent('level', { detail: this.level }));
    // Two frames in a row: one flicker (auto-exposure, a passing headlight) is not motion.
    this.hits = this.level >= thresholdFor(this.sensitivity) ? this.hits + 1 : 0;
    if (this.hits >= 2) {
      this.dispatchEvent(new CustomEvent('motion', { detail: this.level }));
    }
  }
}
