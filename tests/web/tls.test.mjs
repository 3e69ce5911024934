// HTTPS as the server offers it (web/js/tls.js): the camera-mode URL for a spare phone, the
// HTTPS twin of a page, the fingerprint to compare, and whose steps a device sees first.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { cameraModeUrl, fingerprintLines, onlyHere, secureUrl, tlsInfo, trustPlatform } from '../../web/js/tls.js';

const TLS = {
  mode: 'self-signed',
  https_urls: ['https://192.168.1.5:8443', 'https://laptop.local:8443/', 'https://localhost:8443'],
  ca_sha256: 'AB:CD',
};
const OFF = { mode: 'off', https_urls: [], ca_sha256: null };

const realFetch = globalThis.fetch;
afterEach(() => { globalThis.fetch = realFetch; });

test('a spare phone opens camera mode on the first HTTPS address, else on this page’s', () => {
  assert.equal(cameraModeUrl(TLS, 'http://192.168.1.5:8080'), 'https://192.168.1.5:8443/camera');
  assert.equal(cameraModeUrl(OFF, 'http://192.168.1.5:8080'), 'http://192.168.1.5:8080/camera');
  assert.equal(cameraModeUrl(null, 'https://cams.example'), 'https://cams.example/camera');
});

test('a page’s HTTPS twin keeps the host name the person used', () => {
  assert.equal(secureUrl(TLS, 'laptop.local', '/camera'), 'https://laptop.local:8443/camera');
  assert.equal(secureUrl(TLS, '192.168.1.5', '/trust'), 'https://192.168.1.5:8443/trust');
  assert.equal(secureUrl(TLS, 'other.example', '/camera'), 'https://192.168.1.5:8443/camera');
  assert.equal(secureUrl({ ...TLS, https_urls: ['not a url', 'https://a.example'] }, 'a.example', '/x'), 'https://a.example/x');
  assert.equal(secureUrl(OFF, 'laptop.local', '/camera'), null);
  assert.equal(secureUrl(null, 'laptop.local', '/camera'), null);
});

test('a loopback URL only works on the server itself', () => {
  assert.equal(onlyHere('http://localhost:8080/camera'), true);
  assert.equal(onlyHere('http://127.0.0.1:8080/camera'), true);
  assert.equal(onlyHere('http://[::1]:8080/camera'), true);
  assert.equal(onlyHere('https://192.168.1.5:8443/camera'), false);
  assert.equal(onlyHere('nonsense'), false);
});

test('a fingerprint reads in lines of eight bytes', () => {
  const fp = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0')).join(':');
  const lines = fingerprintLines(fp);
  assert.equal(lines.length, 4);
  assert.equal(lines[0], '00:01:02:03:04:05:06:07');
  assert.equal(lines[3], '18:19:1A:1B:1C:1D:1E:1F');
  assert.deepEqual(fingerprintLines('AB:CD:EF', 2), ['AB:CD', 'EF']);
  assert.deepEqual(fingerprintLines(''), []);
});

test('each device sees its own platform’s steps first', () => {
  const ua = {
    iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
    android: 'Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36',
    androidFirefox: 'Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0',
    firefox: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
    mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0',
    linux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  };
  assert.equal(trustPlatform(ua.iphone), 'ios');
  assert.equal(trustPlatform(ua.android), 'android');
  assert.equal(trustPlatform(ua.androidFirefox), 'android');
  assert.equal(trustPlatform(ua.firefox), 'firefox');
  assert.equal(trustPlatform(ua.mac), 'macos');
  assert.equal(trustPlatform(ua.edge), 'windows');
  assert.equal(trustPlatform(ua.linux), 'chrome');
});

test('the server is asked once per page, and again after a failure', async () => {
  let calls = 0;
  let up = false;
  globalThis.fetch = async (url) => {
    calls += 1;
    assert.equal(url, '/api/v1/tls');
    if (!up) throw new TypeError('Failed to fetch');
    return new Response(JSON.stringify(TLS), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  assert.equal(await tlsInfo(), null);
  // Let the failure be forgotten before asking again.
  await new Promise((resolve) => setImmediate(resolve));
  up = true;
  assert.deepEqual(await tlsInfo(), TLS);
  assert.deepEqual(await tlsInfo(), TLS);
  assert.equal(calls, 2);
});
