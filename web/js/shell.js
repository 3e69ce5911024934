// @ts-check
// Around every page of the app: its service worker (Web Push, installing, opening offline;
// web/sw.js) and the banner that says plainly when the server cannot be reached, instead of
// a page that silently shows nothing new.

import { api, server } from './api.js';
import { busy, fmtShort, h } from './dom.js';

/** How often the banner asks again on its own while the server is out of reach. */
const PROBE_MS = 20000;

/**
 * What the banner knows besides api.js's `server`: a worker that could not register over
 * HTTPS because this browser refuses the server's certificate (Chromium says so in the error;
 * the person clicked through a warning to get here).
 */
const state = { untrusted: false, update: () => {} };

/**
 * Registers the service worker once the page has loaded (Chromium's install prompt needs a
 * registered worker; push needs it; it keeps the app shell for offline starts). Browsers
 * only run workers on secure pages: elsewhere there is nothing to do.
 */
export function registerWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  const register = () => {
    // The worker lives at the site root so its scope covers every page of the app.
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((err) => {
      if (location.protocol === 'https:' && /certificate|SSL/i.test(err.message || '')) {
        state.untrusted = true;
        state.update();
      }
      // A warning, not an error: the app works without it (no alerts, installing, offline).
      console.warn(`SecureCam: the service worker did not register: ${err.message}`);
    });
  };
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register, { once: true });
}

/** Asks the server whether it is there (api.js's `server` hears the answer, or the failure). */
async function probe() {
  try {
    await api('/healthz');
  } catch {
    // `server` has noted it.
  }
}

/**
 * The banner above every page: this device offline, the server out of reach (with a retry
 * that loads the page afresh once the server answers), or a certificate this browser does not
 * trust yet (with the way to trust it).
 * @param {HTMLElement} before the element the banner goes before
 */
export function mountBanner(before) {
  const text = h('span', { class: 'banner-text', 'data-testid': 'server-banner-text' });
  const retry = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'server-retry', text: 'Try again' });
  const trust = h('a', { href: '/trust', 'data-link': '', class: 'button small', 'data-testid': 'banner-trust', text: 'Trust this server' });
  const banner = h('div', { class: 'banner', role: 'alert', 'data-testid': 'server-banner', hidden: true }, text, retry, trust);
  before.before(banner);
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;

  const update = () => {
    const offline = navigator.onLine === false;
    const down = !server.reachable;
    banner.hidden = !offline && !down && !state.untrusted;
    banner.dataset.state = offline ? 'offline' : down ? 'unreachable' : state.untrusted ? 'untrusted' : 'ok';
    retry.hidden = !offline && !down;
    trust.hidden = offline || down || !state.untrusted;
    if (offline) {
      text.textContent = 'This device is offline. Nothing shown here is live until it is back on the network; SecureCam reconnects by itself.';
    } else if (down) {
      text.textContent = 'The SecureCam server cannot be reached from this device. Nothing shown here is live until it answers again.';
    } else if (state.untrusted) {
      text.textContent = 'This browser does not trust this server’s certificate yet, so alerts, installing the app and opening it offline are off.';
    }
    // Asks again now and then, so the banner goes away by itself when the server is back.
    if (down && !offline && !timer) {
      timer = setTimeout(async () => {
        timer = null;
        await probe();
        update();
      }, PROBE_MS);
    }
  };
  state.update = update;
  server.addEventListener('change', update);
  window.addEventListener('online', () => { update(); probe(); });
  window.addEventListener('offline', update);
  retry.addEventListener('click', () => busy(retry, async () => {
    await probe();
    // What failed while the server was away (a sign-in, a list, registering this browser)
    // is simplest to redo by loading the page again.
    if (server.reachable && navigator.onLine !== false) location.reload();
    else text.textContent = `Still cannot reach the SecureCam server (tried at ${fmtShort(new Date().toISOString())}).`;
  }));
  update();
  // A page the worker answered from its copy may have done so because the server is away.
  if (navigator.serviceWorker?.controller) probe();
}
