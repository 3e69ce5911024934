// The app's URLs: web/js/routes.js (used by web/js/main.js, viewer.js and cameras.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  appPage, homeTarget, isCurrentLink, launchTarget, linkCode, scannedCode, signInIntro, trimPath, viewerRoute,
} from '../../web/js/routes.js';

test('trailing slashes do not count', () => {
  assert.equal(trimPath('/app/events///', '/'), '/app/events');
  assert.equal(trimPath('/', '/'), '/');
  assert.equal(trimPath('///', '/app'), '/app');
});

test('each path goes to its page', () => {
  assert.deepEqual(appPage('/'), { page: 'home' });
  assert.deepEqual(appPage('//'), { page: 'home' });
  assert.deepEqual(appPage('/camera'), { page: 'camera' });
  assert.deepEqual(appPage('/camera/'), { page: 'camera' });
  assert.deepEqual(appPage('/reset-password'), { page: 'reset' });
  assert.deepEqual(appPage('/trust'), { page: 'trust' });
  assert.deepEqual(appPage('/trust/'), { page: 'trust' });
  assert.deepEqual(appPage('/app'), { page: 'viewer', rememberViewer: true });
  assert.deepEqual(appPage('/app/events/123'), { page: 'viewer', rememberViewer: true });
  // Links into the viewer that a device without an account may open: not remembered.
  assert.deepEqual(appPage('/pair'), { page: 'viewer', rememberViewer: false });
  assert.deepEqual(appPage('/invite'), { page: 'viewer', rememberViewer: false });
  assert.deepEqual(appPage('/nowhere'), { page: 'viewer', rememberViewer: false });
  assert.deepEqual(appPage('/api'), { page: 'viewer', rememberViewer: false });
});

test('a push notification’s deep link is redirected under /app', () => {
  assert.deepEqual(appPage('/events/0b1c-22'), { page: 'redirect', to: '/app/events/0b1c-22' });
  assert.deepEqual(appPage('/events/0b1c-22/'), { page: 'redirect', to: '/app/events/0b1c-22' });
  assert.deepEqual(appPage('/events/a/b'), { page: 'viewer', rememberViewer: false });
  assert.deepEqual(appPage('/events/'), { page: 'viewer', rememberViewer: false });
});

test('/ goes to the remembered mode, or to the choice', () => {
  assert.equal(homeTarget('camera', false), '/camera');
  assert.equal(homeTarget('viewer', false), '/app');
  assert.equal(homeTarget(null, false), null);
  assert.equal(homeTarget('camera', true), null);
  assert.equal(homeTarget('viewer', true), null);
});

test('the installed app opens camera mode on a phone that is a camera', () => {
  assert.equal(launchTarget('/app', true, 'camera'), '/camera');
  assert.equal(launchTarget('/app/', true, 'camera'), '/camera');
  assert.equal(launchTarget('/app', true, 'viewer'), null);
  assert.equal(launchTarget('/app', true, null), null);
  // A link into the viewer, or a browser tab, is followed as it is.
  assert.equal(launchTarget('/app', false, 'camera'), null);
  assert.equal(launchTarget('/app/events', true, 'camera'), null);
  assert.equal(launchTarget('/camera', true, 'camera'), null);
});

test('the viewer shows the view of its path', () => {
  assert.deepEqual(viewerRoute('/app'), { path: '/app', name: 'cameras', eventId: null });
  assert.deepEqual(viewerRoute('/app/'), { path: '/app', name: 'cameras', eventId: null });
  assert.deepEqual(viewerRoute('/'), { path: '/app', name: 'cameras', eventId: null });
  assert.deepEqual(viewerRoute('/app/events'), { path: '/app/events', name: 'events', eventId: null });
  assert.deepEqual(viewerRoute('/app/recordings/'), { path: '/app/recordings', name: 'recordings', eventId: null });
  assert.deepEqual(viewerRoute('/app/settings'), { path: '/app/settings', name: 'settings', eventId: null });
  const id = '0190F0A2-7C1d-7b3e-9a1f-5c2d3e4f5a6b';
  assert.deepEqual(viewerRoute(`/app/events/${id}`), { path: `/app/events/${id}`, name: 'event', eventId: id });
  // Only ids (hex and dashes) are events; the rest, like /pair and /invite, show the cameras.
  assert.equal(viewerRoute('/app/events/not-an-id!').name, 'cameras');
  assert.equal(viewerRoute('/pair').name, 'cameras');
  assert.equal(viewerRoute('/invite').name, 'cameras');
  assert.equal(viewerRoute('/app/whatever').name, 'cameras');
});

test('the navigation marks the current page, and Events for an event', () => {
  const event = viewerRoute('/app/events/abc123');
  assert.equal(isCurrentLink('/app/events', event), true);
  assert.equal(isCurrentLink('/app', event), false);
  assert.equal(isCurrentLink('/app', viewerRoute('/app/')), true);
  assert.equal(isCurrentLink('/app/settings', viewerRoute('/app/settings')), true);
  assert.equal(isCurrentLink('/app/settings', viewerRoute('/app/recordings')), false);
  assert.equal(isCurrentLink(null, viewerRoute('/app')), false);
});

test('pair and invite links explain why to sign in, and carry their code', () => {
  assert.equal(signInIntro('/pair'), 'Sign in (or create an account) to add this camera.');
  assert.equal(signInIntro('/invite'), 'Sign in (or create an account) to accept this invitation.');
  assert.equal(signInIntro('/app'), null);
  assert.deepEqual(linkCode('/pair', '?code=ABCD-EFGH'), { link: 'pair', code: 'ABCD-EFGH' });
  assert.deepEqual(linkCode('/invite', '?code=inv%201&x=2'), { link: 'invite', code: 'inv 1' });
  assert.equal(linkCode('/pair', ''), null);
  assert.equal(linkCode('/pair', '?code='), null);
  assert.equal(linkCode('/app', '?code=ABCD-EFGH'), null);
});

test('a scanned QR code gives its pairing code', () => {
  assert.equal(scannedCode('https://cams.example/pair?code=ABCD-EFGH'), 'ABCD-EFGH');
  assert.equal(scannedCode('ABCD-EFGH'), 'ABCD-EFGH');
  assert.equal(scannedCode('https://cams.example/pair'), 'https://cams.example/pair');
});
