// @ts-check
// The owner's commands to the camera, as they arrive over the WebSocket: each is carried out
// and acknowledged (`command.ack` with `acknowledged` and a result, or `failed` and why). A
// command the server delivers again (our ack was lost) gets the same answer again.

import { describeError } from './api.js';
import { motionSettingsError } from './motion.js';
import { save } from './store.js';

/** Commands whose answers are remembered for a redelivery. */
const REMEMBERED = 200;

/**
 * @typedef {object} Command
 * @property {string} id
 * @property {string} command_type
 * @property {any} [payload]
 */

/**
 * @typedef {{ status: 'acknowledged', result: any, error?: undefined }
 *   | { status: 'failed', error: string, result?: undefined }} Outcome
 */

/** @typedef {import('./camera.js').CameraApp} CameraApp */

/**
 * The video of the camera facing `facing` (`front`, `back`; null or anything else: the back
 * one if there is one).
 * @param {unknown} facing
 * @returns {MediaTrackConstraints}
 */
export function videoConstraints(facing) {
  return {
    facingMode: facing === 'front' ? { exact: 'user' } : facing === 'back' ? { exact: 'environment' } : { ideal: 'environment' },
    // 720p is the most the relay's H.264 level (3.1) carries.
    width: { ideal: 1280, max: 1280 },
    height: { ideal: 720, max: 720 },
    frameRate: { ideal: 30, max: 30 },
  };
}

/**
 * The frame that answers a command.
 * @param {Command} command
 * @param {Outcome} outcome
 * @returns {{ type: 'command.ack', command_id: string, status: string, error?: string, result?: any }}
 */
export function ackFrame(command, { status, error, result }) {
  /** @type {{ type: 'command.ack', command_id: string, status: string, error?: string, result?: any }} */
  const frame = { type: 'command.ack', command_id: command.id, status };
  if (error) frame.error = error;
  if (result !== undefined) frame.result = result;
  return frame;
}

export class Commands {
  /** @param {CameraApp} camera */
  constructor(camera) {
    this.camera = camera;
    /** @type {Map<string, Promise<Outcome>>} */
    this.handled = new Map();
  }

  /**
   * A `command` frame's command: carried out once, acknowledged every time it arrives.
   * @param {Command} command
   */
  async onCommand(command) {
    // A command retried by the server (our ack was lost) gets the same answer again.
    let outcome = this.handled.get(command.id);
    if (!outcome) {
      outcome = this.execute(command).then(
        (result) => /** @type {Outcome} */ ({ status: 'acknowledged', result }),
        (err) => /** @type {Outcome} */ ({ status: 'failed', error: describeError(err) }),
      );
      this.handled.set(command.id, outcome);
      if (this.handled.size > REMEMBERED) this.handled.delete(this.handled.keys().next().value);
    }
    const answer = await outcome;
    // A failure may be the network's (a WHIP POST while offline): a redelivered command is
    // tried again rather than refused from memory.
    if (answer.status === 'failed') this.handled.delete(command.id);
    this.camera.ws?.send(ackFrame(command, answer));
  }

  /**
   * Carries out a command; resolves with its result, throws why it cannot.
   * @param {Command} command
   * @returns {Promise<any>}
   */
  async execute(command) {
    const camera = this.camera;
    const payload = command.payload || {};
    switch (command.command_type) {
      case 'start_stream': return startStream(camera, payload);
      case 'stop_stream': return stopStream(camera);
      case 'set_motion_detection': {
        const { enabled, sensitivity } = payload;
        const problem = motionSettingsError({ enabled, sensitivity });
        if (problem) throw new Error(problem);
        camera.motion.set({ enabled, sensitivity });
        return { enabled: camera.settings.motionEnabled, sensitivity: camera.settings.sensitivity };
      }
      case 'switch_camera': return switchCamera(camera, payload.facing);
      case 'set_torch': return setTorch(camera, Boolean(payload.on));
      case 'play_siren': return camera.siren.play(payload.seconds);
      case 'take_snapshot': return snapshot(camera.preview);
      case 'ping': return { battery: camera.battery.payload().battery || null };
      case 'start_recording':
      case 'stop_recording':
        throw new Error('this web camera does not record on the device; the server records its stream');
      default:
        throw new Error(`this camera does not support “${command.command_type}”`);
    }
  }
}

/**
 * `start_stream`: publish the session over WHIP (once; a repeat is answered as such).
 * @param {CameraApp} camera
 * @param {import('./camera-publisher.js').StartStream} payload
 */
async function startStream(camera, payload) {
  if (!payload.publish_endpoint || !payload.publish_token) throw new Error('start_stream without publish_endpoint or publish_token');
  if (camera.publishing.isPublishing(payload.stream_session_id)) {
    return { already_publishing: true };
  }
  await camera.publishing.publish(payload);
  return { publishing: true };
}

/** @param {CameraApp} camera */
async function stopStream(camera) {
  await camera.publishing.stop();
  return { publishing: false };
}

/**
 * `switch_camera`: the device's front or back camera, on the preview and the published leg.
 * @param {CameraApp} camera
 * @param {unknown} facing
 */
async function switchCamera(camera, facing) {
  if (facing !== 'front' && facing !== 'back') throw new Error('facing must be “front” or “back”');
  if (!camera.stream) throw new Error('the camera is not running');
  let fresh;
  try {
    fresh = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(facing) });
  } catch (err) {
    if (err.name === 'OverconstrainedError' || err.name === 'NotFoundError') throw new Error(`this device has no ${facing} camera`);
    throw err;
  }
  const track = fresh.getVideoTracks()[0];
  const old = camera.stream.getVideoTracks()[0];
  if (old) {
    camera.stream.removeTrack(old);
    old.stop();
  }
  camera.stream.addTrack(track);
  await camera.publishing.replaceVideo(track);
  camera.preview.srcObject = camera.stream;
  camera.settings.facing = facing;
  save('camera.settings', camera.settings);
  return { facing };
}

/**
 * The torch is not in TypeScript's DOM types (it is in Chromium on Android).
 * @typedef {MediaTrackCapabilities & { torch?: boolean }} TorchCapabilities
 * @typedef {MediaTrackConstraintSet & { torch?: boolean }} TorchConstraints
 */

/**
 * `set_torch`: the flashlight by the camera on or off, where the browser can.
 * @param {CameraApp} camera
 * @param {boolean} on
 */
async function setTorch(camera, on) {
  const track = camera.stream?.getVideoTracks()[0];
  if (!track) throw new Error('the camera is not running');
  /** @type {TorchCapabilities} */
  const caps = track.getCapabilities ? track.getCapabilities() : {};
  if (!caps.torch) throw new Error('this camera has no torch (flashlight) the browser can control');
  /** @type {TorchConstraints} */
  const torch = { torch: on };
  await track.applyConstraints({ advanced: [torch] });
  return { on };
}

/**
 * `take_snapshot`. There is no snapshot upload in the API yet: the camera confirms it could
 * take one.
 * @param {HTMLVideoElement | undefined} video the preview
 */
function snapshot(video) {
  if (!video || video.readyState < 2) throw new Error('the camera has no picture yet');
  return { width: video.videoWidth, height: video.videoHeight, taken_at: new Date().toISOString() };
}
