// Small pure helpers: how durations, sizes and times read (web/js/dom.js), and what this
// browser remembers and calls itself (web/js/store.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fmtBytes, fmtDuration, fmtShort, fmtTime } from '../../web/js/dom.js';
import { browserName, forget, load, save } from '../../web/js/store.js';

test('durations read in seconds and minutes', () => {
  assert.equal(fmtDuration(null), '');
  assert.equal(fmtDuration(undefined), '');
  assert.equal(fmtDuration(0), '0 s');
  assert.equal(fmtDuration(5.4), '5 s');
  assert.equal(fmtDuration('42'), '42 s');
  assert.equal(fmtDuration(59.6), '1 min 0 s');
  assert.equal(fmtDuration(125), '2 min 5 s');
});

test('sizes read in B, KB and MB', () => {
  assert.equal(fmtBytes(undefined), '');
  assert.equal(fmtBytes(null), '');
  assert.equal(fmtBytes(0), '0 B');
  assert.equal(fmtBytes(1023), '1023 B');
  assert.equal(fmtBytes(2048), '2 KB');
  assert.equal(fmtBytes(1.5 * 1024 * 1024), '1.5 MB');
});

test('text that is no date is shown as it is', () => {
  assert.equal(fmtTime(''), '');
  assert.equal(fmtTime('soon'), 'soon');
  assert.equal(fmtShort(null), '');
  assert.equal(fmtShort('later'), 'later');
  assert.notEqual(fmtTime('2024-05-01T10:00:00Z'), '2024-05-01T10:00:00Z');
});

test('devices are named after the browser and the system', () => {
  const names = {
    'Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36': 'Chrome on Android',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1': 'Safari on iOS',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15': 'Safari on macOS',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0': 'Edge on Windows',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0': 'Opera on Windows',
    'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0': 'Firefox on Linux',
    'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36': 'Chrome on ChromeOS',
    'curl/8.5.0': 'Browser',
  };
  for (const [ua, name] of Object.entries(names)) assert.equal(browserName(ua), name, ua);
});

test('what is saved is loaded again, under the securecam. prefix', () => {
  const items = new Map();
  globalThis.localStorage = {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
  try {
    assert.equal(load('camera', 'none'), 'none');
    save('camera', { device_id: 'd1' });
    assert.equal(items.get('securecam.camera'), '{"device_id":"d1"}');
    assert.deepEqual(load('camera'), { device_id: 'd1' });
    forget('camera');
    assert.equal(items.has('securecam.camera'), false);
    assert.equal(load('camera'), null);
    items.set('securecam.broken', '{nope');
    assert.equal(load('broken', 7), 7);
  } finally {
    delete globalThis.localStorage;
  }
  // Without storage (private mode, a full quota) nothing throws.
  save('camera', { device_id: 'd1' });
  assert.equal(load('camera', 'none'), 'none');
});
