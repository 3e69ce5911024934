// @ts-check
// What the camera senses and keeps up besides its video: its battery (shown on the page and
// sent with every heartbeat), the screen wake lock while armed, and motion detection wired to
// its settings and controls.

import { h } from './dom.js';
import { clampSensitivity, MotionDetector } from './motion.js';
import { save } from './store.js';

/**
 * The Battery Status API (Chromium; not in TypeScript's DOM types).
 * @typedef {EventTarget & { level: number, charging: boolean }} BatteryManager
 * @typedef {Navigator & { getBattery?: () => Promise<BatteryManager> }} NavigatorWithBattery
 */

/**
 * What the camera keeps in `camera.settings`.
 * @typedef {object} CameraSettings
 * @property {boolean} motionEnabled
 * @property {number} sensitivity 1..100
 * @property {'front' | 'back' | null} facing
 */

/** The device's battery, where the browser tells. */
export class Battery {
  constructor() {
    /** @type {BatteryManager | null} */
    this.manager = null;
    /** @type {HTMLElement | null} the page's battery line */
    this.el = null;
  }

  async init() {
    const nav = /** @type {NavigatorWithBattery} */ (navigator);
    if (this.manager || !nav.getBattery) {
      if (!nav.getBattery) this.el.textContent = 'Battery level: not available in this browser.';
      return;
    }
    try {
      this.manager = await nav.getBattery();
    } catch {
      return;
    }
    const show = () => {
      const { level, charging } = this.manager;
      this.el.textContent = `Battery ${Math.round(level * 100)}%${charging ? ', charging' : ''}`;
    };
    this.manager.addEventListener('levelchange', show);
    this.manager.addEventListener('chargingchange', show);
    show();
  }

  /**
   * What a heartbeat carries: `{battery: {level 0..1, charging}}`, or nothing unknown.
   * @returns {{ battery?: { level: number, charging: boolean } }}
   */
  payload() {
    if (!this.manager) return {};
    return { battery: { level: Math.round(this.manager.level * 100) / 100, charging: Boolean(this.manager.charging) } };
  }
}

/** Keeps the screen on while the camera is armed, where the browser can. */
export class ScreenWakeLock {
  constructor() {
    /** @type {WakeLockSentinel | null} */
    this.lock = null;
    /** @type {HTMLElement | null} the page's line about it */
    this.el = null;
  }

  async acquire() {
    if (!('wakeLock' in navigator)) {
      this.el.textContent = 'Keep this screen on: this browser cannot stop it from sleeping.';
      return;
    }
    if (document.visibilityState !== 'visible') return;
    try {
      const lock = await navigator.wakeLock.request('screen');
      this.lock = lock;
      this.el.textContent = 'The screen stays on while the camera is armed.';
      lock.addEventListener('release', () => {
        if (this.lock === lock) this.lock = null;
      });
    } catch {
      this.el.textContent = 'The screen may turn off and stop the camera; keep it on in the device settings.';
    }
  }

  release() {
    this.lock?.release().catch(() => {});
    this.lock = null;
  }
}

/**
 * @typedef {object} MotionSensorHooks
 * @property {(trigger: 'motion') => void} seen motion was detected
 * @property {() => void} changed the settings changed (the status line says whether detection is on)
 */

/** Motion detection on the camera's preview, wired to the camera's settings and their controls. */
export class MotionSensor {
  /**
   * @param {CameraSettings} settings the camera's settings, saved on every change
   * @param {MotionSensorHooks} hooks
   */
  constructor(settings, hooks) {
    this.settings = settings;
    this.hooks = hooks;
    /** @type {MotionDetector | null} */
    this.detector = null;
    /** @type {{ enabled: HTMLInputElement, sensitivity: HTMLInputElement, sensitivityValue: HTMLOutputElement } | null} */
    this.controls = null;
  }

  /**
   * A new detector on `preview`, and the controls of the armed page.
   * @param {HTMLVideoElement} preview
   * @returns {HTMLElement} the motion settings: on/off, sensitivity, activity meter
   */
  build(preview) {
    this.detector?.stop();
    this.detector = new MotionDetector(preview);
    this.detector.configure({ enabled: this.settings.motionEnabled, sensitivity: this.settings.sensitivity });
    const meter = h('meter', { min: 0, max: 0.3, value: 0, class: 'motion-meter', 'aria-label': 'Amount of change between frames' });
    this.detector.addEventListener('level', (/** @type {CustomEvent<number>} */ e) => { meter.value = Math.min(0.3, e.detail); });
    this.detector.addEventListener('motion', () => this.hooks.seen('motion'));

    const enabled = h('input', { type: 'checkbox', id: 'motion-enabled', checked: this.settings.motionEnabled, 'data-testid': 'motion-enabled' });
    enabled.addEventListener('change', () => this.set({ enabled: enabled.checked }));
    const sensitivity = h('input', { type: 'range', id: 'motion-sensitivity', min: 1, max: 100, value: this.settings.sensitivity, 'data-testid': 'motion-sensitivity' });
    const sensitivityValue = h('output', { for: 'motion-sensitivity', text: String(this.settings.sensitivity) });
    sensitivity.addEventListener('input', () => { sensitivityValue.textContent = sensitivity.value; });
    sensitivity.addEventListener('change', () => this.set({ sensitivity: Number(sensitivity.value) }));
    this.controls = { enabled, sensitivity, sensitivityValue };

    return h('div', { class: 'motion-settings' },
      h('div', { class: 'check' }, enabled, h('label', { for: 'motion-enabled', text: 'Motion detection' })),
      h('div', { class: 'field inline' }, h('label', { for: 'motion-sensitivity', text: 'Sensitivity' }), sensitivity, sensitivityValue),
      h('div', { class: 'field inline' }, h('span', { text: 'Activity' }), meter));
  }

  /**
   * Changes the settings (the page's controls or `set_motion_detection`), saves them and
   * applies them.
   * @param {{ enabled?: boolean, sensitivity?: number }} change
   */
  set({ enabled, sensitivity }) {
    if (typeof enabled === 'boolean') this.settings.motionEnabled = enabled;
    if (sensitivity !== undefined) this.settings.sensitivity = clampSensitivity(sensitivity);
    save('camera.settings', this.settings);
    this.detector?.configure({ enabled: this.settings.motionEnabled, sensitivity: this.settings.sensitivity });
    if (this.controls) {
      this.controls.enabled.checked = this.settings.motionEnabled;
      this.controls.sensitivity.value = String(this.settings.sensitivity);
      this.controls.sensitivityValue.textContent = String(this.settings.sensitivity);
    }
    this.hooks.changed();
  }

  start() {
    this.detector.start();
  }

  stop() {
    this.detector?.stop();
  }
}
