// @ts-check
// How long to wait before trying again, as pure functions (no DOM, nothing at import time), so
// the reconnect schedules of the WebSocket, the WHIP publisher and the pairing poll can be
// unit-tested in Node (tests/web/backoff.test.mjs).

/**
 * The signalling WebSocket's wait before reconnecting after `attempt` failures in a row (0 for
 * the first retry): `minMs` doubling per attempt up to `maxMs`, then a random point in the
 * upper half of that, so a server restart is not met by every camera in the same millisecond.
 * @param {number} attempt failures so far
 * @param {{ minMs: number, maxMs: number }} limits
 * @param {() => number} [random] a number in [0, 1), Math.random by default
 * @returns {number} milliseconds
 */
export function jitteredBackoff(attempt, { minMs, maxMs }, random = Math.random) {
  const base = Math.min(maxMs, minMs * 2 ** attempt);
  return base / 2 + random() * base / 2;
}

/**
 * The next wait of a doubling backoff: twice `delayMs`, at most `maxMs`.
 * @param {number} delayMs the wait just used
 * @param {number} maxMs
 * @returns {number}
 */
export function doubled(delayMs, maxMs) {
  return Math.min(delayMs * 2, maxMs);
}

/**
 * The wait after a refused request: the server's Retry-After (seconds, as ApiError keeps it)
 * when it sent one, `fallbackMs` otherwise.
 * @param {{ retryAfter?: number | null }} err
 * @param {number} fallbackMs
 * @returns {number} milliseconds
 */
export function retryAfterMs(err, fallbackMs) {
  return err.retryAfter ? err.retryAfter * 1000 : fallbackMs;
}
