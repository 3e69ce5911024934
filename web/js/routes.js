// @ts-check
// The app's URLs as pure functions (no DOM, nothing at import time; tests/web/routes.test.mjs):
// which page serves a path, which view of the viewer, and the codes that links carry.

/**
 * A path without its trailing slashes; `empty` when nothing is left.
 * @param {string} pathname
 * @param {string} empty
 * @returns {string}
 */
export function trimPath(pathname, empty) {
  return pathname.replace(/\/+$/, '') || empty;
}

/**
 * @typedef {{ page: 'redirect', to: string }
 *   | { page: 'home' }
 *   | { page: 'reset' }
 *   | { page: 'trust' }
 *   | { page: 'camera' }
 *   | { page: 'viewer', rememberViewer: boolean }} AppPage
 */

/**
 * Which page of the app serves a path (the server answers every app path with the same page).
 * `rememberViewer`: the path is the viewer's own (`/app…`), so this device is a viewer from now.
 * @param {string} pathname
 * @returns {AppPage}
 */
export function appPage(pathname) {
  const path = trimPath(pathname, '/');
  // Push alerts link to `/events/<id>`; the app's event pages live under /app.
  if (/^\/events\/[^/]+$/.test(path)) return { page: 'redirect', to: `/app${path}` };
  if (path === '/') return { page: 'home' };
  if (path === '/reset-password') return { page: 'reset' };
  // How to trust this server's certificate authority, for any device (camera or viewer).
  if (path === '/trust') return { page: 'trust' };
  if (path === '/camera') return { page: 'camera' };
  // /app…, /pair, /invite and anything else: the viewer.
  return { page: 'viewer', rememberViewer: path.startsWith('/app') };
}

/**
 * Where `/` goes: the mode this device remembers, or null for the landing page (no mode yet,
 * or `?choose` asked for the choice again).
 * @param {unknown} mode the remembered mode, `camera` or `viewer`
 * @param {boolean} choosing
 * @returns {string | null}
 */
export function homeTarget(mode, choosing) {
  if (choosing || !mode) return null;
  return mode === 'camera' ? '/camera' : '/app';
}

/**
 * Where the installed app opens. Its manifest starts it at `/app`, the viewer; a spare phone
 * that was installed as a camera (it remembers camera mode) opens camera mode instead, or the
 * camera would become a sign-in page the first time it is launched from its home screen.
 * Only the first page of a launch (standalone display) counts, never a link followed later.
 * @param {string} pathname
 * @param {boolean} launched the page's first render, in the installed app's window
 * @param {unknown} mode the remembered mode
 * @returns {string | null} the path to go to instead, or null
 */
export function launchTarget(pathname, launched, mode) {
  return launched && mode === 'camera' && trimPath(pathname, '/') === '/app' ? '/camera' : null;
}

/** @typedef {'cameras' | 'event' | 'events' | 'recordings' | 'settings'} ViewName */

/**
 * @typedef {object} ViewerRoute
 * @property {string} path the path without trailing slashes (`/app` for an empty one)
 * @property {ViewName} name
 * @property {string | null} eventId the event of `/app/events/<id>`
 */

/**
 * The viewer's view for a path: `/app/events`, `/app/events/<id>`, `/app/recordings`,
 * `/app/settings`; the cameras for `/app` and anything else (`/pair`, `/invite`).
 * @param {string} pathname
 * @returns {ViewerRoute}
 */
export function viewerRoute(pathname) {
  const path = trimPath(pathname, '/app');
  /** @type {ViewName} */
  let name = 'cameras';
  let eventId = null;
  const match = /^\/app\/events\/([0-9a-f-]+)$/i.exec(path);
  if (match) {
    name = 'event';
    eventId = match[1];
  } else if (path === '/app/events') name = 'events';
  else if (path === '/app/recordings') name = 'recordings';
  else if (path === '/app/settings') name = 'settings';
  return { path, name, eventId };
}

/**
 * Whether the navigation link to `href` is the current page (an event is under Events).
 * @param {string | null} href
 * @param {ViewerRoute} route
 * @returns {boolean}
 */
export function isCurrentLink(href, route) {
  return href === route.path || (href === '/app/events' && route.name === 'event');
}

/**
 * What the sign-in page says first on a link that needs an account, or null.
 * @param {string} pathname
 * @returns {string | null}
 */
export function signInIntro(pathname) {
  if (pathname === '/pair') return 'Sign in (or create an account) to add this camera.';
  if (pathname === '/invite') return 'Sign in (or create an account) to accept this invitation.';
  return null;
}

/**
 * The code a `/pair?code=` or `/invite?code=` link carries, for the person to confirm.
 * @param {string} pathname
 * @param {string} search
 * @returns {{ link: 'pair' | 'invite', code: string } | null}
 */
export function linkCode(pathname, search) {
  const code = new URLSearchParams(search).get('code');
  if (!code) return null;
  if (pathname === '/pair') return { link: 'pair', code };
  if (pathname === '/invite') return { link: 'invite', code };
  return null;
}

/**
 * The pairing code in a scanned QR code: the `code` of the camera's pair URL, or the text
 * itself when it is a bare code.
 * @param {string} text
 * @returns {string}
 */
export function scannedCode(text) {
  try {
    return new URL(text).searchParams.get('code') || text;
  } catch {
    return text;
  }
}
