// Types of the part of qrcode.js (qrcode-generator 2.0.4) that js/qr.js uses, so the type check
// of the app (tests/web/tsconfig.json) reads these instead of checking the vendored code.

export interface QRCode {
  addData(data: string, mode?: 'Numeric' | 'Alphanumeric' | 'Byte' | 'Kanji'): void;
  make(): void;
  getModuleCount(): number;
  isDark(row: number, col: number): boolean;
}

/**
 * @param typeNumber 1..40, or 0 for the smallest that fits
 * @param errorCorrectionLevel L, M, Q or H
 */
declare function qrcode(typeNumber: number, errorCorrectionLevel: 'L' | 'M' | 'Q' | 'H'): QRCode;

export { qrcode };
export default qrcode;
export declare const stringToBytes: (s: string) => number[];
