// The reconnect schedules: web/js/backoff.js, and the WebSocket's use of it (web/js/ws.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { doubled, jitteredBackoff, retryAfterMs } from '../../web/js/backoff.js';
import { Signalling } from '../../web/js/ws.js';

const WS = { minMs: 1000, maxMs: 30000 };

test('the WebSocket backoff doubles from 1 s and stops at 30 s', () => {
  const lowest = [0, 1, 2, 3, 4, 5, 6, 20].map((attempt) => jitteredBackoff(attempt, WS, () => 0));
  assert.deepEqual(lowest, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  const highest = [0, 1, 4, 5, 60].map((attempt) => jitteredBackoff(attempt, WS, () => 1));
  assert.deepEqual(highest, [1000, 2000, 16000, 30000, 30000]);
  // 2 ** 2000 is Infinity: still the cap.
  assert.equal(jitteredBackoff(2000, WS, () => 0.5), 22500);
});

test('the WebSocket backoff is jittered within the upper half of its step', () => {
  const seen = new Set();
  for (let i = 0; i < 200; i += 1) {
    const delay = jitteredBackoff(3, WS);
    assert.ok(delay >= 4000 && delay < 8000, `${delay}`);
    seen.add(Math.floor(delay / 100));
  }
  assert.ok(seen.size > 5, 'Math.random spreads the delays');
});

test('Signalling reconnects on that schedule and says when', () => {
  const ws = new Signalling(() => 'token');
  ws.wanted = true;
  const waits = [];
  ws.addEventListener('state', (e) => waits.push([e.detail.state, e.detail.retryInMs]));
  const random = Math.random;
  Math.random = () => 0;
  try {
    for (let i = 0; i < 7; i += 1) {
      ws.scheduleReconnect(new Error('dropped'));
      clearTimeout(ws.timer);
    }
  } finally {
    Math.random = random;
  }
  assert.deepEqual(waits.map(([, ms]) => ms), [500, 1000, 2000, 4000, 8000, 15000, 15000]);
  assert.ok(waits.every(([state]) => state === 'reconnecting'));
  assert.equal(ws.attempt, 7);
});

test('a Signalling nobody wants any more does not reconnect', () => {
  const ws = new Signalling(() => 'token');
  let events = 0;
  ws.addEventListener('state', () => { events += 1; });
  ws.scheduleReconnect(new Error('dropped'));
  assert.equal(events, 0);
  assert.equal(ws.timer, null);
});

test('the publisher and the pairing poll double their waits up to a cap', () => {
  const publisher = [1000];
  while (publisher.length < 6) publisher.push(doubled(publisher.at(-1), 10000));
  assert.deepEqual(publisher, [1000, 2000, 4000, 8000, 10000, 10000]);
  const pairing = [2000];
  while (pairing.length < 5) pairing.push(doubled(pairing.at(-1), 15000));
  assert.deepEqual(pairing, [2000, 4000, 8000, 15000, 15000]);
});

test('a Retry-After from the server wins over the usual wait', () => {
  assert.equal(retryAfterMs({ retryAfter: 7 }, 5000), 7000);
  assert.equal(retryAfterMs({ retryAfter: null }, 5000), 5000);
  assert.equal(retryAfterMs({ retryAfter: 0 }, 5000), 5000);
  assert.equal(retryAfterMs(new Error('network'), 5000), 5000);
});
