// Motion detection: the maths of web/js/motion.js, and MotionDetector.sample() on made-up
// frames (a stand-in canvas, since Node has none).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  changedFraction, clampSensitivity, FRAMES_FOR_MOTION, lumaOf, motionSettingsError, MotionDetector,
  nextHits, PIXEL_DELTA, thresholdFor,
} from '../../web/js/motion.js';

const close = (actual, expected) => assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} ≠ ${expected}`);

test('sensitivity 1 needs 30 % of the picture to change, 100 only 0.2 %', () => {
  close(thresholdFor(1), 0.3);
  close(thresholdFor(100), 0.002);
  // Logarithmic: halfway up the scale is the geometric mean.
  close(thresholdFor(50.5), Math.sqrt(0.3 * 0.002));
  for (let s = 1; s < 100; s += 1) assert.ok(thresholdFor(s + 1) < thresholdFor(s), `at ${s}`);
});

test('a sensitivity out of range is clamped, and nonsense means 50', () => {
  assert.equal(thresholdFor(500), thresholdFor(100));
  assert.equal(thresholdFor(-3), thresholdFor(1));
  assert.equal(thresholdFor('abc'), thresholdFor(50));
  assert.equal(thresholdFor(undefined), thresholdFor(50));
  assert.equal(thresholdFor('80'), thresholdFor(80));
  assert.equal(clampSensitivity(0), 1);
  assert.equal(clampSensitivity(250), 100);
  assert.equal(clampSensitivity(42.6), 43);
});

test('set_motion_detection payloads are checked', () => {
  assert.equal(motionSettingsError({}), null);
  assert.equal(motionSettingsError({ enabled: false, sensitivity: 30 }), null);
  assert.equal(motionSettingsError({ sensitivity: 1 }), null);
  assert.equal(motionSettingsError({ sensitivity: 100 }), null);
  assert.equal(motionSettingsError({ enabled: 'yes' }), 'enabled must be true or false');
  assert.equal(motionSettingsError({ sensitivity: 0 }), 'sensitivity must be 1 to 100');
  assert.equal(motionSettingsError({ sensitivity: 101 }), 'sensitivity must be 1 to 100');
  assert.equal(motionSettingsError({ sensitivity: 'lots' }), 'sensitivity must be 1 to 100');
});

test('brightness weighs green most and blue least', () => {
  const rgba = [255, 255, 255, 255, 0, 0, 0, 255, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255];
  assert.deepEqual([...lumaOf(rgba, 5)], [255, 0, 76, 149, 28]);
  // Only the first `pixels` pixels are read.
  assert.deepEqual([...lumaOf(rgba, 2)], [255, 0]);
});

test('a pixel changed when its brightness moved by more than 25', () => {
  assert.equal(PIXEL_DELTA, 25);
  const previous = Uint8Array.from([100, 100, 100, 100]);
  assert.equal(changedFraction(Uint8Array.from([100, 125, 126, 0]), previous), 0.5);
  assert.equal(changedFraction(Uint8Array.from([100, 75, 74, 100]), previous), 0.25);
  assert.equal(changedFraction(previous, previous), 0);
  assert.equal(changedFraction(Uint8Array.from([100, 105, 110, 100]), previous, 5), 0.25);
});

test('motion takes two frames over the threshold in a row', () => {
  assert.equal(FRAMES_FOR_MOTION, 2);
  const level = thresholdFor(50);
  assert.equal(nextHits(0, level, 50), 1);
  assert.equal(nextHits(1, level * 2, 50), 2);
  assert.equal(nextHits(2, level / 2, 50), 0);
  assert.equal(nextHits(0, 0.01, 100), 1);
  assert.equal(nextHits(0, 0.01, 1), 0);
});

/** A MotionDetector on a stand-in canvas that hands out `frames` (each one grey level). */
function detectorOn(frames) {
  const previousDocument = globalThis.document;
  const ctx = {
    drawImage() {},
    getImageData(x, y, width, height) {
      const grey = frames.shift();
      return { data: new Uint8ClampedArray(width * height * 4).fill(grey) };
    },
  };
  globalThis.document = { createElement: () => ({ getContext: () => ctx }) };
  try {
    const video = { readyState: 4 };
    const detector = new MotionDetector(video);
    const levels = [];
    let motions = 0;
    detector.addEventListener('level', (e) => levels.push(e.detail));
    detector.addEventListener('motion', () => { motions += 1; });
    return { detector, video, levels, motions: () => motions };
  } finally {
    globalThis.document = previousDocument;
  }
}

test('the detector compares each frame with the one before', () => {
  const { detector, levels, motions } = detectorOn([10, 10, 200, 10, 10, 200, 10, 200]);
  detector.sample(); // the first frame: nothing to compare with
  assert.deepEqual(levels, []);
  detector.sample(); // the same picture
  detector.sample(); // everything changed: one frame is a flicker, not motion
  assert.deepEqual(levels, [0, 1]);
  assert.equal(motions(), 0);
  detector.sample(); // changed again: motion
  assert.equal(motions(), 1);
  detector.sample(); // still: the run ends
  detector.sample(); // one flicker again
  assert.equal(motions(), 1);
  detector.sample();
  detector.sample();
  assert.equal(motions(), 3);
  assert.deepEqual(levels, [0, 1, 1, 0, 1, 1, 1]);
});

test('a disabled detector, or a video with no picture yet, starts over', () => {
  const { detector, video, levels, motions } = detectorOn([10, 200, 10, 200, 10, 200]);
  detector.sample();
  detector.configure({ enabled: false });
  detector.sample(); // disabled: no frame read
  detector.configure({ enabled: true, sensitivity: 250 });
  assert.equal(detector.sensitivity, 100);
  detector.sample(); // no previous frame after configure
  assert.deepEqual(levels, []);
  video.readyState = 1;
  detector.sample();
  video.readyState = 4;
  detector.sample(); // the picture is back: again nothing to compare with
  detector.sample();
  detector.sample();
  assert.deepEqual(levels, [1, 1]);
  assert.equal(motions(), 1);
});
