// The camera's commands (web/js/camera-commands.js) on a stand-in camera page: what each
// command does and answers, and that a redelivered command gets the same answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ackFrame, Commands, videoConstraints } from '../../web/js/camera-commands.js';
import { sirenSeconds } from '../../web/js/camera-siren.js';

/** The parts of CameraApp that commands use, recording what is done to them. */
function fakeCamera() {
  const camera = {
    sent: [],
    done: [],
    publishingSession: null,
    failPublish: false,
    ws: { send: (frame) => { camera.sent.push(frame); return true; } },
    settings: { motionEnabled: true, sensitivity: 50, facing: null },
    motion: {
      set({ enabled, sensitivity }) {
        camera.done.push(['motion', { enabled, sensitivity }]);
        if (typeof enabled === 'boolean') camera.settings.motionEnabled = enabled;
        if (sensitivity !== undefined) camera.settings.sensitivity = Math.round(sensitivity);
      },
    },
    publishing: {
      isPublishing: (id) => id === camera.publishingSession,
      async publish(payload) {
        camera.done.push(['publish', payload.stream_session_id]);
        if (camera.failPublish) throw new Error('could not publish: the relay is unreachable');
        camera.publishingSession = payload.stream_session_id;
      },
      async stop() {
        camera.done.push(['stop']);
        camera.publishingSession = null;
      },
    },
    siren: { play: async (seconds) => { camera.done.push(['siren', seconds]); return { seconds: 10 }; } },
    battery: { payload: () => ({ battery: { level: 0.42, charging: true } }) },
    preview: { readyState: 4, videoWidth: 1280, videoHeight: 720 },
    stream: null,
  };
  return camera;
}

const START = { publish_endpoint: 'https://relay.example/whip/s1', publish_token: 't', stream_session_id: 's1' };

/** Sends one command and returns the ack it got. */
async function send(commands, camera, id, type, payload) {
  const before = camera.sent.length;
  await commands.onCommand({ id, command_type: type, payload });
  assert.equal(camera.sent.length, before + 1, 'exactly one ack');
  return camera.sent.at(-1);
}

test('start_stream publishes, and says so', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  const ack = await send(commands, camera, 'c1', 'start_stream', START);
  assert.deepEqual(ack, { type: 'command.ack', command_id: 'c1', status: 'acknowledged', result: { publishing: true } });
  assert.deepEqual(camera.done, [['publish', 's1']]);
  // Another command for the same session: already publishing, nothing done again.
  const again = await send(commands, camera, 'c2', 'start_stream', START);
  assert.deepEqual(again.result, { already_publishing: true });
  assert.deepEqual(camera.done, [['publish', 's1']]);
});

test('start_stream without its endpoint or token fails', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  const ack = await send(commands, camera, 'c1', 'start_stream', { stream_session_id: 's1', publish_token: 't' });
  assert.deepEqual(ack, { type: 'command.ack', command_id: 'c1', status: 'failed', error: 'start_stream without publish_endpoint or publish_token' });
  assert.deepEqual(camera.done, []);
});

test('a redelivered command is answered the same without being done twice', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  const first = await send(commands, camera, 'c1', 'play_siren', { seconds: 5 });
  const second = await send(commands, camera, 'c1', 'play_siren', { seconds: 5 });
  assert.deepEqual(second, first);
  assert.deepEqual(camera.done, [['siren', 5]]);
});

test('a failed command is tried again when it is delivered again', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  camera.failPublish = true;
  const failed = await send(commands, camera, 'c1', 'start_stream', START);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error, 'could not publish: the relay is unreachable');
  camera.failPublish = false;
  const retried = await send(commands, camera, 'c1', 'start_stream', START);
  assert.equal(retried.status, 'acknowledged');
  assert.deepEqual(camera.done, [['publish', 's1'], ['publish', 's1']]);
});

test('the answers of the last 200 commands are remembered', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  for (let i = 0; i < 201; i += 1) await commands.onCommand({ id: `c${i}`, command_type: 'ping' });
  assert.equal(commands.handled.size, 200);
  assert.ok(!commands.handled.has('c0'));
  assert.ok(commands.handled.has('c200'));
});

test('stop_stream stops publishing', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  const ack = await send(commands, camera, 'c1', 'stop_stream', {});
  assert.deepEqual(ack.result, { publishing: false });
  assert.deepEqual(camera.done, [['stop']]);
});

test('set_motion_detection changes the settings and answers them', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  const ack = await send(commands, camera, 'c1', 'set_motion_detection', { enabled: false, sensitivity: 30 });
  assert.deepEqual(ack.result, { enabled: false, sensitivity: 30 });
  const only = await send(commands, camera, 'c2', 'set_motion_detection', { enabled: true });
  assert.deepEqual(only.result, { enabled: true, sensitivity: 30 });
  assert.deepEqual(camera.done, [['motion', { enabled: false, sensitivity: 30 }], ['motion', { enabled: true, sensitivity: undefined }]]);
  const bad = await send(commands, camera, 'c3', 'set_motion_detection', { sensitivity: 0 });
  assert.deepEqual([bad.status, bad.error], ['failed', 'sensitivity must be 1 to 100']);
  const worse = await send(commands, camera, 'c4', 'set_motion_detection', { enabled: 'on' });
  assert.deepEqual([worse.status, worse.error], ['failed', 'enabled must be true or false']);
  assert.equal(camera.done.length, 2);
});

test('ping answers the battery, or null where the browser does not tell', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  assert.deepEqual((await send(commands, camera, 'c1', 'ping')).result, { battery: { level: 0.42, charging: true } });
  camera.battery.payload = () => ({});
  assert.deepEqual((await send(commands, camera, 'c2', 'ping')).result, { battery: null });
});

test('take_snapshot needs a picture', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  const ack = await send(commands, camera, 'c1', 'take_snapshot');
  assert.equal(ack.result.width, 1280);
  assert.equal(ack.result.height, 720);
  assert.ok(!Number.isNaN(Date.parse(ack.result.taken_at)));
  camera.preview.readyState = 1;
  const none = await send(commands, camera, 'c2', 'take_snapshot');
  assert.deepEqual([none.status, none.error], ['failed', 'the camera has no picture yet']);
});

test('switch_camera and set_torch refuse what they cannot do', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  assert.equal((await send(commands, camera, 'c1', 'switch_camera', { facing: 'sideways' })).error, 'facing must be “front” or “back”');
  assert.equal((await send(commands, camera, 'c2', 'switch_camera', { facing: 'front' })).error, 'the camera is not running');
  assert.equal((await send(commands, camera, 'c3', 'set_torch', { on: true })).error, 'the camera is not running');
  camera.stream = { getVideoTracks: () => [{ getCapabilities: () => ({}) }] };
  assert.equal((await send(commands, camera, 'c4', 'set_torch', { on: true })).error, 'this camera has no torch (flashlight) the browser can control');
  const applied = [];
  camera.stream = { getVideoTracks: () => [{ getCapabilities: () => ({ torch: true }), applyConstraints: async (c) => { applied.push(c); } }] };
  assert.deepEqual((await send(commands, camera, 'c5', 'set_torch', { on: 1 })).result, { on: true });
  assert.deepEqual(applied, [{ advanced: [{ torch: true }] }]);
});

test('recording on the device and unknown commands are refused', async () => {
  const camera = fakeCamera();
  const commands = new Commands(camera);
  for (const type of ['start_recording', 'stop_recording']) {
    const ack = await send(commands, camera, type, type);
    assert.deepEqual([ack.status, ack.error], ['failed', 'this web camera does not record on the device; the server records its stream']);
  }
  const ack = await send(commands, camera, 'c9', 'reboot');
  assert.deepEqual([ack.status, ack.error], ['failed', 'this camera does not support “reboot”']);
});

test('without a connection the ack is dropped quietly', async () => {
  const camera = fakeCamera();
  camera.ws = null;
  await new Commands(camera).onCommand({ id: 'c1', command_type: 'ping' });
});

test('an ack carries an error or a result only when there is one', () => {
  const command = { id: 'c1', command_type: 'ping' };
  assert.deepEqual(ackFrame(command, { status: 'acknowledged', result: undefined }), { type: 'command.ack', command_id: 'c1', status: 'acknowledged' });
  assert.deepEqual(ackFrame(command, { status: 'acknowledged', result: null }), { type: 'command.ack', command_id: 'c1', status: 'acknowledged', result: null });
  assert.deepEqual(ackFrame(command, { status: 'failed', error: 'no' }), { type: 'command.ack', command_id: 'c1', status: 'failed', error: 'no' });
});

test('the camera asks for the facing camera at 720p at most', () => {
  assert.deepEqual(videoConstraints('front').facingMode, { exact: 'user' });
  assert.deepEqual(videoConstraints('back').facingMode, { exact: 'environment' });
  assert.deepEqual(videoConstraints(null).facingMode, { ideal: 'environment' });
  assert.deepEqual(videoConstraints(null).width, { ideal: 1280, max: 1280 });
  assert.deepEqual(videoConstraints(null).height, { ideal: 720, max: 720 });
  assert.deepEqual(videoConstraints(null).frameRate, { ideal: 30, max: 30 });
});

test('the siren sounds 10 s unless told, from 1 to 60 s', () => {
  assert.equal(sirenSeconds(undefined), 10);
  assert.equal(sirenSeconds(0), 10);
  assert.equal(sirenSeconds('loud'), 10);
  assert.equal(sirenSeconds(0.5), 1);
  assert.equal(sirenSeconds(5), 5);
  assert.equal(sirenSeconds('20'), 20);
  assert.equal(sirenSeconds(600), 60);
});
