// The REST client (web/js/api.js): errors a person can read, problem documents, paginated
// lists, the unauthorized signal, and URLs that work from another device on the LAN.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { ApiError, describeError, listAll, problemOf, reachable, request } from '../../web/js/api.js';

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
  delete globalThis.window;
});

test('an ApiError says what the server said, or its status', () => {
  const err = new ApiError(404, { detail: 'No such device.', title: 'Not found', code: 'device_not_found' });
  assert.equal(err.message, 'No such device.');
  assert.equal(err.code, 'device_not_found');
  assert.equal(err.status, 404);
  assert.equal(err.name, 'ApiError');
  assert.equal(new ApiError(403, { title: 'Forbidden' }).message, 'Forbidden');
  assert.equal(new ApiError(500).message, 'The server answered 500.');
  assert.equal(new ApiError(500).code, 'http_500');
  assert.equal(new ApiError(0).code, 'network');
});

test('errors are described for a person', () => {
  assert.equal(describeError(null), 'Something went wrong.');
  assert.equal(describeError(new ApiError(429, { detail: 'Too many sign-ins.' }, 7)), 'Too many sign-ins. Try again in 7 s.');
  assert.equal(describeError(new ApiError(429, {})), 'Too many attempts. Try again shortly.');
  assert.equal(describeError(new ApiError(409, { detail: 'Taken.' })), 'Taken.');
  const named = (name) => Object.assign(new Error('x'), { name });
  assert.match(describeError(named('NotAllowedError')), /^Permission was refused/);
  assert.equal(describeError(named('NotFoundError')), 'No camera or microphone was found on this device.');
  assert.equal(describeError(named('NotReadableError')), 'The camera is in use by another app or could not be started.');
  assert.equal(describeError(named('OverconstrainedError')), 'This device has no camera matching that request.');
  assert.equal(describeError(new Error('boom')), 'boom');
  assert.equal(describeError('plain'), 'plain');
});

test('a failed response becomes an ApiError, whatever its body', async () => {
  const json = await problemOf(new Response(JSON.stringify({ detail: 'Bad code.', code: 'invalid_code' }), {
    status: 400, headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '3' },
  }));
  assert.deepEqual([json.status, json.code, json.message, json.retryAfter], [400, 'invalid_code', 'Bad code.', 3]);
  const text = await problemOf(new Response(`  ${'x'.repeat(400)}  `, { status: 502, headers: { 'Content-Type': 'text/plain' } }));
  assert.equal(text.detail, 'x'.repeat(300));
  const broken = await problemOf(new Response('{not json', { status: 503, headers: { 'Content-Type': 'application/json', 'Retry-After': 'soon' } }));
  assert.deepEqual([broken.message, broken.code, broken.retryAfter], ['The server answered 503.', 'http_503', null]);
});

test('request sends JSON with the bearer token and reads JSON back', async () => {
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push([url, init]);
    return new Response(JSON.stringify({ ok: true }), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  assert.deepEqual(await request('/api/v1/things', { method: 'POST', token: 'tok', body: { a: 1 } }), { ok: true });
  const [url, init] = calls[0];
  assert.equal(url, '/api/v1/things');
  assert.equal(init.method, 'POST');
  assert.equal(init.headers.Authorization, 'Bearer tok');
  assert.equal(init.headers['Content-Type'], 'application/json');
  assert.equal(init.body, '{"a":1}');
  globalThis.fetch = async () => new Response(null, { status: 204 });
  assert.equal(await request('/x'), null);
  globalThis.fetch = async () => { throw new TypeError('Failed to fetch'); };
  await assert.rejects(request('/x'), (err) => err instanceof ApiError && err.code === 'network' && err.status === 0);
});

test('a 401 on a token tells the page, so the holder forgets it', async () => {
  globalThis.window = new EventTarget();
  const heard = [];
  globalThis.window.addEventListener('securecam:unauthorized', (e) => heard.push(e.detail.token));
  globalThis.fetch = async () => new Response(JSON.stringify({ detail: 'Session ended.' }), { status: 401, headers: { 'Content-Type': 'application/json' } });
  await assert.rejects(request('/x', { token: 'old' }), (err) => err.status === 401 && err.message === 'Session ended.');
  await assert.rejects(request('/x'), (err) => err.status === 401);
  assert.deepEqual(heard, ['old']);
});

test('listAll follows the cursors, up to its maximum', async () => {
  const urls = [];
  globalThis.fetch = async (url) => {
    urls.push(url);
    const cursor = new URL(url, 'http://x').searchParams.get('cursor');
    const page = cursor === null ? { items: [1, 2], next_cursor: 'a b' } : cursor === 'a b' ? { items: [3], next_cursor: 'c' } : { items: [4], next_cursor: null };
    return new Response(JSON.stringify(page), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  assert.deepEqual(await listAll('/api/v1/devices', 'tok'), [1, 2, 3, 4]);
  assert.deepEqual(urls, ['/api/v1/devices?limit=200', '/api/v1/devices?limit=200&cursor=a%20b', '/api/v1/devices?limit=200&cursor=c']);
  urls.length = 0;
  assert.deepEqual(await listAll('/api/v1/events?status=active', 'tok', 2), [1, 2]);
  assert.deepEqual(urls, ['/api/v1/events?status=active&limit=200']);
});

test('a server URL on localhost is reached at the address of the page', () => {
  const lan = { href: 'http://192.168.1.5:8080/camera', hostname: '192.168.1.5' };
  assert.equal(reachable('http://localhost:8080/whip/s1', lan), 'http://192.168.1.5:8080/whip/s1');
  // The URL's own port stays: it may be a separate relay's.
  assert.equal(reachable('http://127.0.0.1:8443/whep/s1', lan), 'http://192.168.1.5:8443/whep/s1');
  assert.equal(reachable('https://cams.example/pair?code=X', lan), 'https://cams.example/pair?code=X');
  assert.equal(reachable('/assets/clip.mp4', lan), 'http://192.168.1.5:8080/assets/clip.mp4');
  const local = { href: 'http://localhost:8080/app', hostname: 'localhost' };
  assert.equal(reachable('http://localhost:8080/whip/s1', local), 'http://localhost:8080/whip/s1');
  assert.equal(reachable('', lan), '');
  assert.equal(reachable(null, lan), null);
});
