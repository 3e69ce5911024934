// @ts-check
// Scanning a camera's pairing QR code with this device's camera, where the browser has a
// built-in barcode detector (Chrome on Android, Safari 17+); elsewhere the code is typed.

/**
 * The Barcode Detection API (not in TypeScript's DOM types).
 * @typedef {{ detect: (source: HTMLVideoElement) => Promise<{ rawValue: string }[]> }} BarcodeDetector
 * @typedef {{ new (options: { formats: string[] }): BarcodeDetector, getSupportedFormats?: () => Promise<string[]> }} BarcodeDetectorClass
 * @typedef {Window & { BarcodeDetector?: BarcodeDetectorClass }} WindowWithBarcodes
 */

export class Scanner {
  static supported() {
    return 'BarcodeDetector' in window && Boolean(navigator.mediaDevices?.getUserMedia);
  }

  constructor() {
    /** @type {MediaStream | null} */
    this.stream = null;
    this.stopped = false;
    /** @type {(() => void) | null} */
    this.cancel = null;
  }

  /**
   * Resolves with the first QR code's text, or null when stopped.
   * @param {HTMLVideoElement} video where the camera's picture is shown while scanning
   * @returns {Promise<string | null>}
   */
  async scan(video) {
    const Detector = /** @type {WindowWithBarcodes} */ (window).BarcodeDetector;
    const formats = await Detector.getSupportedFormats?.() || ['qr_code'];
    if (!formats.includes('qr_code')) throw new Error('this browser cannot read QR codes');
    const detector = new Detector({ formats: ['qr_code'] });
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } } });
    video.srcObject = this.stream;
    await video.play().catch(() => {});
    try {
      return await new Promise((resolve, reject) => {
        this.cancel = () => resolve(null);
        const tick = async () => {
          if (this.stopped) return resolve(null);
          try {
            const codes = video.readyState >= 2 ? await detector.detect(video) : [];
            if (codes.length) return resolve(codes[0].rawValue);
          } catch (err) {
            return reject(err);
          }
          setTimeout(tick, 250);
        };
        tick();
      });
    } finally {
      this.release(video);
    }
  }

  stop() {
    this.stopped = true;
    this.cancel?.();
  }

  /** @param {HTMLVideoElement} video */
  release(video) {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    video.srcObject = null;
  }
}
