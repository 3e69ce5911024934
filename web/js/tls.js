// @ts-check
// HTTPS as this server offers it (GET /api/v1/tls): its HTTPS addresses, the fingerprint of its
// local certificate authority, and which device's steps to show first. Pure functions beside
// one fetch kept for the page's life (tests/web/tls.test.mjs).

import { api, isLoopback } from './api.js';

/**
 * What GET /api/v1/tls answers.
 * @typedef {object} TlsInfo
 * @property {'self-signed' | 'files' | 'acme' | 'off'} mode
 * @property {string[]} https_urls where the app is on HTTPS, LAN addresses first; empty when off
 * @property {string | null} ca_sha256 the local CA certificate's SHA-256 (`AB:CD:…`), or null
 */

/** @type {Promise<TlsInfo | null> | null} */
let asked = null;

/**
 * The server's HTTPS facts, asked once per page; null when it cannot say (unreachable, or a
 * server older than HTTPS), and then asked again next time.
 * @returns {Promise<TlsInfo | null>}
 */
export function tlsInfo() {
  if (!asked) {
    asked = api('/api/v1/tls').then((info) => info || null, () => null);
    asked.then((info) => { if (!info) asked = null; });
  }
  return asked;
}

/** @param {string} url */
const trimmed = (url) => url.replace(/\/+$/, '');

/**
 * The camera-mode URL for another device to open: on the server's first HTTPS address (a LAN
 * one when there is one), else on this page's origin.
 * @param {TlsInfo | null} tls
 * @param {string} origin this page's origin
 * @returns {string}
 */
export function cameraModeUrl(tls, origin) {
  return `${trimmed(tls?.https_urls?.[0] || origin)}/camera`;
}

/**
 * Where `path` is on HTTPS: the HTTPS address with this page's own host name when the server
 * has one (the name the person typed), else its first; null when HTTPS is off.
 * @param {TlsInfo | null} tls
 * @param {string} hostname this page's host name
 * @param {string} path
 * @returns {string | null}
 */
export function secureUrl(tls, hostname, path) {
  const urls = tls?.https_urls || [];
  if (!urls.length) return null;
  const same = urls.find((url) => {
    try {
      return new URL(url).hostname === hostname;
    } catch {
      return false;
    }
  });
  return `${trimmed(same || urls[0])}${path}`;
}

/**
 * Whether a URL only works on the server itself (`localhost`, 127.0.0.1, ::1).
 * @param {string} url
 * @returns {boolean}
 */
export function onlyHere(url) {
  try {
    return isLoopback(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * A fingerprint in lines of `perLine` bytes, easier to compare by eye than 95 characters.
 * @param {string} fingerprint `AB:CD:…`
 * @param {number} [perLine]
 * @returns {string[]}
 */
export function fingerprintLines(fingerprint, perLine = 8) {
  const bytes = fingerprint.trim().toUpperCase().split(':').filter(Boolean);
  const lines = [];
  for (let i = 0; i < bytes.length; i += perLine) lines.push(bytes.slice(i, i + perLine).join(':'));
  return lines;
}

/** @typedef {'android' | 'ios' | 'firefox' | 'macos' | 'windows' | 'chrome'} TrustPlatform */

/**
 * Whose steps this device follows to trust a certificate authority: the phone's system, else
 * Firefox (which keeps its own list), else the desktop's system; `chrome` for Chrome and Edge
 * elsewhere (Linux, ChromeOS). iPadOS that says it is a Mac gets the macOS steps first; the
 * page shows every platform's steps anyway.
 * @param {string} ua a User-Agent
 * @returns {TrustPlatform}
 */
export function trustPlatform(ua) {
  if (/iPhone|iPad|iPod/.test(ua)) return 'ios';
  if (/Android/.test(ua)) return 'android';
  if (/Firefox\//.test(ua)) return 'firefox';
  if (/Mac OS X/.test(ua)) return 'macos';
  if (/Windows/.test(ua)) return 'windows';
  return 'chrome';
}
