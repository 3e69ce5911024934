// The SecureCam web app, end to end in Chromium: a person signs up, pairs a second browser as a
// camera, watches it live, and plays the clip of a motion event; the app is installable and
// its "Add a camera" shows the QR code of camera mode.
//
//   BASE_URL=http://127.0.0.1:18080 ARTIFACTS_DIR=/tmp/story node story.mjs
//
// Environment: BASE_URL (the server), ARTIFACTS_DIR (screenshots and logs), CHROMIUM (the
// browser binary, default /usr/bin/chromium), HEADED=1 to watch it happen.
// Over HTTPS, as a phone would, trusting the server's local CA and nothing else (no
// ignoreHTTPSErrors, no --ignore-certificate-errors):
//   CA_PEM           the CA certificate (PEM). Chromium on Linux trusts what the NSS database
//                    in $HOME/.pki/nssdb trusts, so the story makes a HOME of its own with one
//                    that trusts this CA (`certutil`, Debian's libnss3-tools) and runs Chromium
//                    in it.
//   HOST_RESOLVER_RULES  for Chromium's --host-resolver-rules, e.g.
//                    `MAP camera.home.arpa 127.0.0.1, MAP wrong.home.arpa 127.0.0.1`, so BASE_URL
//                    can use a name the certificate has (https://camera.home.arpa:PORT).
//   WRONG_NAME_URL   a URL of the same server under a name its certificate lacks: loading it
//                    must fail with a certificate error.
// Exit code 0 when the whole story works; otherwise 1 and a message saying which step failed.

import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const ARTIFACTS_DIR = path.resolve(process.env.ARTIFACTS_DIR || 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CA_PEM = process.env.CA_PEM ? path.resolve(process.env.CA_PEM) : null;
const HOST_RESOLVER_RULES = process.env.HOST_RESOLVER_RULES || null;
const WRONG_NAME_URL = process.env.WRONG_NAME_URL || null;

class StoryFailure extends Error {}

const problems = [];
const logs = [];
let shotNumber = 0;

function watch(page, label) {
  page.on('console', (message) => {
    const where = message.location();
    const at = where?.url ? ` (${where.url}${where.lineNumber ? `:${where.lineNumber}` : ''})` : '';
    const line = `[${label}] console.${message.type()}: ${message.text()}${at}`;
    logs.push(line);
    if (message.type() === 'error') problems.push(line);
  });
  page.on('pageerror', (error) => {
    const line = `[${label}] uncaught error: ${error.message}`;
    logs.push(line);
    problems.push(line);
  });
}

async function shot(page, name) {
  shotNumber += 1;
  const file = path.join(ARTIFACTS_DIR, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`   screenshot ${path.basename(file)}`);
}

/** Polls `probe` until it returns something truthy; fails with `what` after `timeoutMs`. */
async function waitUntil(what, probe, timeoutMs, detail = null, intervalMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      if (err instanceof StoryFailure) throw err;
      last = err.message;
    }
    if (Date.now() > deadline) {
      if (detail) last = await detail().catch((err) => err.message);
      throw new StoryFailure(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (last seen: ${String(last).slice(0, 300)})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function visible(locator, what, timeoutMs = 15000) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    throw new StoryFailure(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
  }
  return locator.first();
}

async function step(name, work) {
  const started = Date.now();
  console.log(`-> ${name}`);
  try {
    await work();
  } catch (err) {
    const detail = err instanceof StoryFailure ? err.message : (err.message || String(err)).split('\n')[0];
    throw new StoryFailure(`step “${name}”: ${detail}`);
  }
  console.log(`   ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

const testid = (page, id) => page.locator(`[data-testid="${id}"]`);

/**
 * A HOME whose NSS database trusts CA_PEM for websites: what Chromium on Linux consults for
 * certificate authorities besides its built-in ones.
 */
async function trustingHome(scratch) {
  const home = path.join(scratch, 'home');
  const db = path.join(home, '.pki', 'nssdb');
  await mkdir(db, { recursive: true });
  try {
    execFileSync('certutil', ['-d', `sql:${db}`, '-N', '--empty-password'], { stdio: 'pipe' });
    execFileSync('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'securecam-test', '-i', CA_PEM], { stdio: 'pipe' });
  } catch (err) {
    const why = err.code === 'ENOENT' ? 'certutil is missing (apt-get install libnss3-tools)' : `${err.message}\n${err.stderr || ''}`;
    throw new StoryFailure(`could not make an NSS database trusting ${CA_PEM}: ${why}`);
  }
  return home;
}

async function main() {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'securecam-story-'));
  const env = CA_PEM ? { ...process.env, HOME: await trustingHome(scratch) } : process.env;
  const launch = {
    executablePath: CHROMIUM,
    headless: !process.env.HEADED,
    env,
    args: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      // Tests send traffic to 127.0.0.0/8 only, and the relay under test offers loopback
      // candidates alone: Chromium gathers on the loopback interface only when told to.
      '--allow-loopback-in-peer-connection',
      '--no-sandbox',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-dev-shm-usage',
      ...(HOST_RESOLVER_RULES ? [`--host-resolver-rules=${HOST_RESOLVER_RULES}`] : []),
    ],
  };
  const browser = await chromium.launch(launch);
  let viewer;
  let camera;
  try {
    if (CA_PEM) console.log(`   HTTPS: Chromium trusts ${CA_PEM} through an NSS database in ${env.HOME}`);
    const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // The camera is a phone-sized screen, as it mostly will be.
    const cameraContext = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true });
    await cameraContext.grantPermissions(['camera', 'microphone'], { origin: BASE_URL });
    viewer = await viewerContext.newPage();
    camera = await cameraContext.newPage();
    watch(viewer, 'viewer');
    watch(camera, 'camera');

    const email = `story-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    let cameraId;
    let code;

    await step(`sign up a new user (${email})`, async () => {
      await viewer.goto(`${BASE_URL}/app`);
      await (await visible(testid(viewer, 'tab-sign-up'), 'the Create account tab')).click();
      await testid(viewer, 'signup-name').fill('Story Tester');
      await testid(viewer, 'signup-email').fill(email);
      await testid(viewer, 'signup-password').fill('correct horse battery');
      await testid(viewer, 'signup-submit').click();
      await visible(testid(viewer, 'claim-code'), 'the cameras page after signing up (the pairing code field)');
      await shot(viewer, 'signed-up');
    });

    if (WRONG_NAME_URL) {
      await step(`a name the certificate lacks is refused (${WRONG_NAME_URL})`, async () => {
        const page = await viewerContext.newPage();
        try {
          await page.goto(WRONG_NAME_URL);
          throw new StoryFailure(`Chromium loaded ${WRONG_NAME_URL}, whose name the server's certificate does not have`);
        } catch (err) {
          if (err instanceof StoryFailure) throw err;
          const message = (err.message || String(err)).split('\n')[0];
          if (!/ERR_CERT/.test(message)) throw new StoryFailure(`expected a certificate error, got: ${message}`);
          console.log(`   refused: ${message}`);
        } finally {
          await page.close();
        }
      });
    }

    await step('“Add a camera” shows the QR code and URL of camera mode', async () => {
      const qr = await visible(testid(viewer, 'add-camera-qr').locator('svg'), 'the QR code of camera mode');
      const url = (await testid(viewer, 'add-camera-url').textContent())?.trim() || '';
      if (!/^https?:\/\/[^/]+\/camera$/.test(url)) throw new StoryFailure(`the camera-mode URL is “${url}”`);
      if (BASE_URL.startsWith('https:') && !url.startsWith('https:')) throw new StoryFailure(`the server offers HTTPS, but the camera-mode URL is “${url}”`);
      if ((await qr.getAttribute('aria-label'))?.includes(url) !== true) throw new StoryFailure('the QR code is not of that URL');
      console.log(`   camera mode: ${url}`);
    });

    await step('the service worker is ready and the app is installable', async () => {
      // The viewer's own page registered the worker on load.
      const worker = await viewer.evaluate(() => Promise.race([
        navigator.serviceWorker.ready.then((reg) => reg.active?.scriptURL || 'no active worker'),
        new Promise((resolve) => { setTimeout(() => resolve(null), 20000); }),
      ]));
      if (!worker) throw new StoryFailure('no service worker became ready on the viewer page within 20 s');
      console.log(`   service worker ${worker}`);
      // Playwright's contexts are off the record, where Chromium answers `in-incognito` and
      // nothing else: a profile of its own, as a person's browser has, for the real answer.
      const profile = await chromium.launchPersistentContext(path.join(scratch, 'profile'), { ...launch, viewport: { width: 1280, height: 900 } });
      try {
        const page = profile.pages()[0] || await profile.newPage();
        watch(page, 'install');
        await page.goto(`${BASE_URL}/app`);
        await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
        const cdp = await profile.newCDPSession(page);
        const manifest = await cdp.send('Page.getAppManifest');
        for (const error of manifest.errors || []) console.log(`   manifest ${error.critical ? 'error' : 'warning'}: ${error.message}`);
        if (!manifest.url) throw new StoryFailure('the page links no manifest');
        const { installabilityErrors: errors } = await cdp.send('Page.getInstallabilityErrors');
        if (errors.length) {
          const list = errors.map((e) => `${e.errorId}${e.errorArguments?.length ? ` (${e.errorArguments.map((a) => `${a.name}=${a.value}`).join(', ')})` : ''}`);
          throw new StoryFailure(`Chromium would not install the app: ${list.join('; ')}`);
        }
        console.log(`   installable, manifest ${manifest.url}`);
      } finally {
        await profile.close();
      }
    });

    await step('the API reference works from the server alone (no CDN) under the app\'s CSP', async () => {
      const page = await viewerContext.newPage();
      watch(page, 'docs');
      const outside = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(BASE_URL) && !request.url().startsWith('data:')) outside.push(request.url());
      });
      try {
        await page.goto(`${BASE_URL}/docs`);
        await visible(page.locator('.opblock'), 'the operations of the API reference', 20000);
        const operations = await page.locator('.opblock').count();
        if (operations < 20) throw new StoryFailure(`the reference shows ${operations} operations`);
        if (outside.length) throw new StoryFailure(`the reference fetched from elsewhere: ${outside.join(', ')}`);
        console.log(`   ${operations} operations`);
      } finally {
        await page.close();
      }
    });

    await step('open /camera on a second browser and read its pairing code', async () => {
      await camera.goto(`${BASE_URL}/camera`);
      code = await waitUntil('a pairing code (ABCD-EFGH) on the camera page', async () => {
        const text = (await testid(camera, 'pairing-code').textContent())?.trim();
        return /^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(text || '') ? text : null;
      }, 20000);
      console.log(`   pairing code ${code}`);
      await shot(camera, 'camera-pairing');
    });

    await step('the camera page is a secure context', async () => {
      const { secure, protocol } = await camera.evaluate(() => ({ secure: window.isSecureContext, protocol: location.protocol }));
      if (secure !== true) throw new StoryFailure(`window.isSecureContext is ${secure} on ${protocol} (the camera cannot start)`);
      if (CA_PEM && protocol !== 'https:') throw new StoryFailure(`the camera page is on ${protocol}, not HTTPS`);
    });

    await step('claim the code in the viewer', async () => {
      await testid(viewer, 'claim-code').fill(code);
      await testid(viewer, 'claim-submit').click();
      const item = await visible(testid(viewer, 'camera-item'), 'the claimed camera in the viewer’s list');
      cameraId = await item.getAttribute('data-camera-id');
      await shot(viewer, 'camera-claimed');
    });

    await step('the camera notices it was paired and arms', async () => {
      await waitUntil('the camera page to say it is armed', async () => {
        const state = await testid(camera, 'camera-status').getAttribute('data-state');
        return ['armed', 'armedNoMotion', 'live', 'motion'].includes(state) ? state : null;
      }, 30000, () => testid(camera, 'camera-status').textContent());
      // Chromium's fake camera is an animation that changes 5-10 % of the picture five times
      // a second, which is "motion" all the time: an event would never end and its clip never
      // finish. Real detection is switched off so the event below is exactly the button's.
      const enabled = testid(camera, 'motion-enabled');
      if (await enabled.isChecked()) await enabled.uncheck();
      await shot(camera, 'camera-armed');
    });

    const card = viewer.locator(`[data-testid="camera-item"][data-camera-id="${cameraId}"]`);

    await step('the viewer sees the camera online', async () => {
      await waitUntil('the camera to show as online in the viewer', async () => (await card.getAttribute('data-status')) === 'online', 30000,
        async () => `data-status=${await card.getAttribute('data-status')}`);
      await shot(viewer, 'camera-online');
    });

    await step('start live view and see decoded video frames', async () => {
      await card.locator('[data-testid="live-start"]').click();
      await visible(card.locator('[data-testid="live-video"]'), 'the live video element');
      const framesDecoded = () => viewer.evaluate(async () => {
        const pc = window.securecam?.viewerPc?.();
        if (!pc) return -1;
        const report = await pc.getStats();
        for (const stat of report.values()) {
          if (stat.type === 'inbound-rtp' && stat.kind === 'video') return stat.framesDecoded || 0;
        }
        return 0;
      });
      const liveStatus = () => card.locator('[data-testid="live-status"]').textContent();
      const first = await waitUntil('the first decoded video frame (inbound-rtp framesDecoded > 0)', async () => {
        const frames = await framesDecoded();
        return frames > 0 ? frames : null;
      }, 30000, async () => `framesDecoded ${await framesDecoded()}, live status “${await liveStatus()}”`);
      const later = await waitUntil('framesDecoded to keep growing', async () => {
        const frames = await framesDecoded();
        return frames > first + 10 ? frames : null;
      }, 15000);
      console.log(`   framesDecoded ${first} -> ${later}`);
      await shot(viewer, 'live-view');
    });

    await step('trigger motion on the camera', async () => {
      // A motion event the fake camera may have started before detection was switched off
      // ends 5 s after; the button's event must be a new one, not an extension of that.
      await waitUntil('an earlier motion event to end', async () => (await testid(camera, 'camera-status').getAttribute('data-state')) !== 'motion', 20000);
      await testid(camera, 'simulate-motion').click();
      await waitUntil('the camera to report motion', async () => (await testid(camera, 'camera-status').getAttribute('data-state')) === 'motion', 10000,
        async () => `${await testid(camera, 'camera-status').textContent()} / ${await testid(camera, 'camera-message').textContent()}`);
      await shot(camera, 'camera-motion');
    });

    let eventItem;
    let eventId;
    await step('the event appears in the viewer’s events list', async () => {
      await testid(viewer, 'nav-events').click();
      eventItem = viewer.locator('[data-testid="event-item"][data-trigger="manual"]').first();
      await visible(eventItem, 'the simulated motion event in the events list', 15000);
      eventId = await eventItem.getAttribute('data-event-id');
      await shot(viewer, 'event-listed');
    });

    await step('open the event and play its clip', async () => {
      await eventItem.locator('a').click();
      // The clip is finished a post-roll after the event ends (5 s after the last motion).
      const clip = await visible(testid(viewer, 'clip-video'), 'the event’s clip (it is ready a post-roll after the event ends)', 90000);
      await clip.evaluate((video) => { video.muted = true; return video.play().catch(() => {}); });
      const clipState = () => clip.evaluate((video) => ({
        readyState: video.readyState, currentTime: video.currentTime, duration: video.duration,
        error: video.error ? video.error.message || `code ${video.error.code}` : null,
      }));
      const loaded = await waitUntil('the clip to load (readyState >= 2)', async () => {
        const state = await clipState();
        if (state.error) throw new StoryFailure(`the clip cannot be played: ${state.error}`);
        return state.readyState >= 2 ? state : null;
      }, 30000, async () => JSON.stringify(await clipState()));
      // Playing is the real proof; a clip whose length is known is the fallback on a machine
      // too busy to play it within the wait.
      let played = await waitUntil('the clip’s currentTime to advance', async () => {
        const state = await clipState();
        return state.currentTime > loaded.currentTime + 0.5 ? state : null;
      }, 10000).catch(() => null);
      if (!played) {
        played = await clipState();
        if (!(Number.isFinite(played.duration) && played.duration > 0)) {
          throw new StoryFailure(`the clip neither plays nor has a duration: ${JSON.stringify(played)}`);
        }
      }
      console.log(`   clip readyState ${played.readyState}, currentTime ${played.currentTime.toFixed(2)} s, duration ${played.duration}`);
      await shot(viewer, 'clip-playing');
    });

    // For whoever runs the story to check against the server (tests/tests/e2e/browser.rs reads it).
    const userToken = await viewer.evaluate(() => JSON.parse(localStorage.getItem('securecam.user') || 'null')?.token);
    const recordingId = await testid(viewer, 'clip-video').first().getAttribute('data-recording-id');
    await writeFile(path.join(ARTIFACTS_DIR, 'result.json'), `${JSON.stringify({
      email, user_token: userToken, camera_device_id: cameraId, event_id: eventId, recording_id: recordingId,
    }, null, 2)}\n`);

    if (problems.length) {
      throw new StoryFailure(`the pages logged ${problems.length} error(s):\n  ${problems.join('\n  ')}`);
    }
    console.log('STORY PASSED');
  } catch (err) {
    for (const [page, name] of [[viewer, 'failure-viewer'], [camera, 'failure-camera']]) {
      if (page) await shot(page, name).catch(() => {});
    }
    throw err;
  } finally {
    await writeFile(path.join(ARTIFACTS_DIR, 'console.log'), `${logs.join('\n')}\n`).catch(() => {});
    await browser.close();
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`STORY FAILED: ${err instanceof StoryFailure ? err.message : err.stack || err}`);
    if (problems.length && !(err.message || '').includes('logged')) {
      console.error(`Errors the pages logged:\n  ${problems.join('\n  ')}`);
    }
    process.exit(1);
  },
);
