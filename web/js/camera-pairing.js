// @ts-check
// The camera's pairing screen: a pairing code and its QR code, renewed when it expires, polled
// until the owner claims it; then the camera keeps its device credential and arms.

import { api, ApiError, describeError, reachable } from './api.js';
import { doubled, retryAfterMs } from './backoff.js';
import { busy, clear, field, fmtShort, h, messageBox, sleep } from './dom.js';
import { qrSvg } from './qr.js';
import { browserName, forget, load, save } from './store.js';

const POLL_MS = 2000;
const POLL_MAX_MS = 15000;
/** The wait after failing to get a code, when the server does not say how long. */
const RETRY_MS = 5000;

/** @typedef {import('./camera.js').CameraApp} CameraApp */

/**
 * Shows the pairing screen in the camera's page until the camera is claimed (then arms it) or
 * another pairing run starts (`camera.pairingRun` changes: arming, a new code, leaving).
 * @param {CameraApp} camera
 * @param {string} [note] why the camera is pairing (again)
 */
export async function showPairing(camera, note) {
  const run = (camera.pairingRun += 1);
  camera.setStatus('pairing');
  if (note) camera.message.show(note);
  const name = field('Camera name', { value: load('camera.name', `Camera (${browserName()})`), maxlength: 200, 'data-testid': 'camera-name', autocomplete: 'off' },
    'Shown to the owner in their camera list.');
  const codeEl = h('p', { class: 'pairing-code', 'data-testid': 'pairing-code', 'aria-live': 'polite', text: '…' });
  const qrBox = h('div', { class: 'qr-box' });
  const expiry = h('p', { class: 'hint' });
  const renew = h('button', { type: 'button', class: 'secondary', text: 'Get a new code' });
  const panelMessage = messageBox('pairing-message');
  renew.addEventListener('click', () => busy(renew, async () => {
    save('camera.name', name.input.value.trim() || `Camera (${browserName()})`);
    forget('camera.pairing');
    camera.pair();
  }));
  clear(camera.body, h('section', { class: 'card pairing', 'aria-labelledby': 'pair-title' },
    h('h2', { id: 'pair-title', text: 'Pair this device as a camera' }),
    h('p', {}, 'On a phone or computer signed in to SecureCam, choose ', h('strong', { text: 'Add a camera' }),
      ' and enter this code, or scan the QR code. No password is needed on this device.'),
    codeEl, qrBox, expiry, panelMessage.el,
    h('details', {}, h('summary', { text: 'Name and new code' }), name.field, renew),
    h('p', { class: 'hint' }, 'Did the browser warn about this server’s certificate on the way here? ',
      h('a', { href: '/trust', 'data-link': '', 'data-testid': 'pairing-trust-link', text: 'Trust this server' }), ' once on this device.')));

  let delay = POLL_MS;
  while (run === camera.pairingRun) {
    let pairing = load('camera.pairing');
    if (!pairing || new Date(pairing.expires_at).getTime() < Date.now() + 5000) {
      try {
        const chosen = name.input.value.trim() || `Camera (${browserName()})`;
        pairing = await api('/api/v1/pairing-codes', { method: 'POST', body: { name: chosen, platform: 'web' } });
        save('camera.pairing', pairing);
      } catch (err) {
        panelMessage.error(`Could not get a pairing code: ${describeError(err)}`);
        await sleep(retryAfterMs(err, RETRY_MS));
        continue;
      }
    }
    if (codeEl.textContent !== pairing.code) {
      codeEl.textContent = pairing.code;
      clear(qrBox, qrSvg(reachable(pairing.pair_url), `QR code to pair this camera, code ${pairing.code}`));
      expiry.textContent = `The code works once, until ${fmtShort(pairing.expires_at)}.`;
    }
    await sleep(delay);
    if (run !== camera.pairingRun) return;
    try {
      const answer = await api('/api/v1/pairing-codes/poll', { method: 'POST', body: { poll_token: pairing.poll_token } });
      panelMessage.hide();
      delay = POLL_MS;
      if (answer && answer.status === 'claimed') {
        camera.creds = { device_id: answer.device.id, device_token: answer.device_token, name: answer.device.name };
        save('camera', camera.creds);
        forget('camera.pairing');
        camera.message.ok(`Paired as “${answer.device.name}”.`);
        camera.arm();
        return;
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 410) {
        // Expired or used: a fresh code keeps the screen useful for whoever comes along.
        forget('camera.pairing');
        continue;
      }
      panelMessage.error(`Waiting for the server: ${describeError(err)}`);
      delay = doubled(delay, POLL_MAX_MS);
    }
  }
}
