// @ts-check
// Entry point: picks the mode from the path (the server answers every app path with this
// page) and routes in-app links through the History API; registers the service worker and
// shows the banner for an unreachable server on every page (shell.js).

import { renderResetPassword } from './auth.js';
import { mountCamera } from './camera.js';
import { clear, h } from './dom.js';
import { appPage, homeTarget, launchTarget } from './routes.js';
import { mountBanner, registerWorker } from './shell.js';
import { load, save } from './store.js';
import { renderTrust } from './trust.js';
import { mountViewer } from './viewer.js';

const root = document.getElementById('app');
/**
 * What the page shows now.
 * @type {{ mode: 'landing' | 'reset' | 'trust', app?: undefined } | { mode: 'camera', app: import('./camera.js').CameraApp } | { mode: 'viewer', app: import('./viewer.js').ViewerApp } | null}
 */
let mounted = null;

/**
 * Goes to another path of the app without loading the page again.
 * @param {string} path
 * @param {boolean} [replace] in place of the current history entry
 */
function navigate(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function landing() {
  mounted = { mode: 'landing' };
  const camera = h('a', { href: '/camera', class: 'choice', 'data-mode': 'camera', 'data-testid': 'choose-camera' },
    h('span', { class: 'choice-title', text: 'Use this device as a camera' }),
    h('span', { class: 'choice-text', text: 'An old phone or laptop watches the room, streams live and records what moves.' }));
  const viewer = h('a', { href: '/app', class: 'choice', 'data-mode': 'viewer', 'data-testid': 'choose-viewer' },
    h('span', { class: 'choice-title', text: 'Watch my cameras' }),
    h('span', { class: 'choice-text', text: 'See your cameras live, get alerts and play back clips.' }));
  clear(root,
    h('header', { class: 'topbar' }, h('span', { class: 'brand', text: 'SecureCam' })),
    h('main', { id: 'main', class: 'page landing', tabindex: '-1' },
      h('h1', { text: 'Turn spare phones into security cameras' }),
      h('p', { class: 'lead', text: 'What should this device do?' }),
      h('div', { class: 'choices' }, camera, viewer),
      h('p', { class: 'hint', text: 'This device remembers your choice. Change it any time from the SecureCam link at the top.' })));
  document.title = 'SecureCam';
}

function render() {
  const page = appPage(location.pathname);
  if (page.page === 'redirect') {
    // Push alerts link to `/events/<id>`; the app's event pages live under /app.
    navigate(page.to, true);
    return;
  }
  if (page.page === 'home') {
    const target = homeTarget(load('mode'), new URLSearchParams(location.search).has('choose'));
    if (!target) {
      if (mounted?.mode !== 'landing') teardown();
      landing();
      return;
    }
    navigate(target, true);
    return;
  }
  if (page.page === 'reset') {
    teardown();
    mounted = { mode: 'reset' };
    clear(root, h('header', { class: 'topbar' }, h('a', { href: '/app', class: 'brand', text: 'SecureCam' })),
      h('main', { id: 'main', class: 'page', tabindex: '-1' }));
    renderResetPassword(root.querySelector('main'));
    return;
  }
  if (page.page === 'trust') {
    teardown();
    mounted = { mode: 'trust' };
    clear(root, h('header', { class: 'topbar' }, h('a', { href: '/', class: 'brand', text: 'SecureCam' })),
      h('main', { id: 'main', class: 'page trust-page', tabindex: '-1' }));
    renderTrust(root.querySelector('main'));
    return;
  }
  if (page.page === 'camera') {
    save('mode', 'camera');
    if (mounted?.mode !== 'camera') {
      teardown();
      mounted = { mode: 'camera', app: mountCamera(root) };
    }
    return;
  }
  // /app…, /pair, /invite and anything else: the viewer.
  if (page.rememberViewer) save('mode', 'viewer');
  if (mounted?.mode === 'viewer') {
    mounted.app.route();
    return;
  }
  teardown();
  mounted = { mode: 'viewer', app: mountViewer(root, navigate) };
}

function teardown() {
  if (!mounted?.app) return;
  if (mounted.mode === 'camera') mounted.app.destroy();
  if (mounted.mode === 'viewer') mounted.app.teardown();
  mounted = null;
}

document.addEventListener('click', (event) => {
  const link = /** @type {Element} */ (event.target).closest('a');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || link.target || link.hasAttribute('download')) return;
  if (link.dataset.mode) save('mode', link.dataset.mode);
  if (!link.hasAttribute('data-link') && !link.dataset.mode && url.pathname !== '/') return;
  event.preventDefault();
  navigate(url.pathname + url.search);
  // Moving focus to the new content tells keyboard and screen reader users the page changed.
  const main = document.getElementById('main');
  if (main && link.hasAttribute('data-link')) main.focus({ preventScroll: true });
});

window.addEventListener('popstate', render);
mountBanner(root);
registerWorker();
// The installed app starts at /app; a phone that is a camera opens camera mode instead.
const launched = window.matchMedia?.('(display-mode: standalone)').matches ?? false;
const launch = launchTarget(location.pathname, launched, load('mode'));
if (launch) history.replaceState(null, '', launch);
render();
