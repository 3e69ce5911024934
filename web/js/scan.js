// Scanning a camera's pairing QR code with this device's camera, where the browser has a
// built-in barcode detector (Chrome on Android, Safari 17+); elsewhere the code is typed.

export class Scanner {
  static supported() {
    return 'BarcodeDetector' in window && Boolean(navigator.mediaDevices?.getUserMedia);
  }

  constructor() {
    this.stream = null;
    this.stopped = false;
    this.cancel = null;
  }

  /** Resolves with the first QR code's text, or null when stopped. */
  async scan(video) {
    const formats = await window.BarcodeDetector.getSupportedFormats?.() || ['qr_code'];
    if (!formats.includes('qr_code')) throw new Error('this browser cannot read QR codes');
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
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

  release(video) {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    video.srcObject = null;
  }
}
