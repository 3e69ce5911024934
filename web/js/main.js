// Entry point: picks the mode from the path (the server answers every app path with this
// page) and routes in-app links through the History API.

import { renderResetPassword } from './auth.js';
import { mountCamera } from './camera.js';
import { clear, h } from './dom.js';
import { load, save } from './store.js';
import { mountViewer } from './viewer.js';

const root = document.getElementById('app');
let mounted = null; // { mode, app }

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
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const params = new URLSearchParams(location.search);
  if (/^\/events\/[^/]+$/.test(path)) {
    // Push alerts link to `/events/<id>`; the app's event pages live under /app.
    navigate(`/app${path}`, true);
    return;
  }
  if (path === '/') {
    const mode = load('mode');
    if (params.has('choose') || !mode) {
      if (mounted?.mode !== 'landing') teardown();
      landing();
      return;
    }
    navigate(mode === 'camera' ? '/camera' : '/app', true);
    return;
  }
  if (path === '/reset-password') {
    teardown();
    mounted = { mode: 'reset' };
    clear(root, h('header', { class: 'topbar' }, h('a', { href: '/app', class: 'brand', text: 'SecureCam' })),
      h('main', { id: 'main', class: 'page', tabindex: '-1' }));
    renderResetPassword(root.querySelector('main'));
    return;
  }
  if (path === '/camera') {
    save('mode', 'camera');
    if (mounted?.mode !== 'camera') {
      teardown();
      mounted = { mode: 'camera', app: mountCamera(root) };
    }
    return;
  }
  // /app…, /pair, /invite and anything else: the viewer.
  if (path.startsWith('/app')) save('mode', 'viewer');
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
  const link = event.target.closest('a');
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
render();
