// The SecureCam web app, end to end in Chromium: a person signs up, pairs a second browser as a
// camera, watches it live, and plays the clip of a motion event.
//
//   BASE_URL=http://127.0.0.1:18080 ARTIFACTS_DIR=/tmp/story node story.mjs
//
// Environment: BASE_URL (the server), ARTIFACTS_DIR (screenshots and logs), CHROMIUM (the
// browser binary, default /usr/bin/chromium), HEADED=1 to watch it happen.
// Exit code 0 when the whole story works; otherwise 1 and a message saying which step failed.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const ARTIFACTS_DIR = path.resolve(process.env.ARTIFACTS_DIR || 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

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

async function main() {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: !process.env.HEADED,
    args: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      // Tests send traffic to 127.0.0.0/8 only, and the relay under test offers loopback
      // candidates alone: Chromium gathers on the loopback interface only when told to.
      '--allow-loopback-in-peer-connection',
      '--no-sandbox',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-dev-shm-usage',
    ],
  });
  let viewer;
  let camera;
  try {
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

    await step('open /camera on a second browser and read its pairing code', async () => {
      await camera.goto(`${BASE_URL}/camera`);
      code = await waitUntil('a pairing code (ABCD-EFGH) on the camera page', async () => {
        const text = (await testid(camera, 'pairing-code').textContent())?.trim();
        return /^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(text || '') ? text : null;
      }, 20000);
      console.log(`   pairing code ${code}`);
      await shot(camera, 'camera-pairing');
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
