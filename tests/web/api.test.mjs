// The REST client (web/js/api.js): errors a person can read, problem documents, paginated
// lists, the unauthorized signal, and URLs that work from another device on the LAN.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { ApiError, describeError, listAll, problemOf, reachable, request, server } from '../../web/js/api.js';

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

test('the page hears when the server stops answering, and when it answers again', async () => {
  const heard = [];
  server.reachable = true; // whatever the tests before left
  const listener = () => heard.push(server.reachable);
  server.addEventListener('change', listener);
  try {
    globalThis.fetch = async () => { throw new TypeError('Failed to fetch'); };
    await assert.rejects(request('/api/v1/x'), (err) => err.code === 'network');
    await assert.rejects(request('/api/v1/x'), (err) => err.code === 'network');
    // Another origin's URL says nothing about this server.
    globalThis.fetch = async () => new Response(null, { status: 204 });
    await request('https://storage.example/clip');
    assert.deepEqual(heard, [false]);
    // Any answer, even an error, means the server is there.
    globalThis.fetch = async () => new Response('no', { status: 500 });
    await assert.rejects(request('/api/v1/x'), (err) => err.status === 500);
    assert.deepEqual(heard, [false, true]);
    assert.equal(server.reachable, true);
  } finally {
    server.removeEventListener('change', listener);
  }
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

test('a server URL on localhost is reached at the origin of the page', () => {
  const lan = { href: 'http://192.168.1.5:8080/camera' };
  assert.equal(reachable('http://localhost:8080/whip/s1', lan), 'http://192.168.1.5:8080/whip/s1');
  // The page's whole origin, port included: this server answers all its paths there.
  assert.equal(reachable('http://127.0.0.1:8443/whep/s1?x=1', lan), 'http://192.168.1.5:8080/whep/s1?x=1');
  assert.equal(reachable('http://[::1]:8080/pair?code=X', lan), 'http://192.168.1.5:8080/pair?code=X');
  assert.equal(reachable('https://cams.example/pair?code=X', lan), 'https://cams.example/pair?code=X');
  assert.equal(reachable('/assets/clip.mp4', lan), 'http://192.168.1.5:8080/assets/clip.mp4');
  // On the server's own machine, over the same protocol, a loopback URL works as it is.
  const local = { href: 'http://localhost:8080/app' };
  assert.equal(reachable('http://localhost:8080/whip/s1', local), 'http://localhost:8080/whip/s1');
  assert.equal(reachable('http://127.0.0.1:9000/whip/s1', local), 'http://127.0.0.1:9000/whip/s1');
  assert.equal(reachable('', lan), '');
  assert.equal(reachable(null, lan), null);
});

test('a page on HTTPS never gets an http URL of its own server (mixed content)', () => {
  const lan = { href: 'https://192.168.1.5:8443/camera' };
  assert.equal(reachable('http://localhost:8080/media/whip/x', lan), 'https://192.168.1.5:8443/media/whip/x');
  assert.equal(reachable('http://192.168.1.5:8080/api/v1/recordings/r/media', lan), 'https://192.168.1.5:8443/api/v1/recordings/r/media');
  const named = { href: 'https://laptop.local:8443/app' };
  assert.equal(reachable('http://127.0.0.1:8080/invite?code=Y', named), 'https://laptop.local:8443/invite?code=Y');
  // Even on the server itself: an http URL cannot load in an HTTPS page.
  const local = { href: 'https://localhost:8443/app' };
  assert.equal(reachable('http://localhost:8080/whep/s1', local), 'https://localhost:8443/whep/s1');
  // Another host's URL is its own business.
  assert.equal(reachable('http://relay.example:8080/whep/s1', lan), 'http://relay.example:8080/whep/s1');
  assert.equal(reachable('https://localhost:8443/whep/s1', local), 'https://localhost:8443/whep/s1');
});
