// @ts-check
// What this browser remembers between visits. Tokens live in localStorage because a camera
// phone must come back armed after a reload or a reboot without anyone typing anything.

const PREFIX = 'securecam.';

/**
 * @param {string} key
 * @param {any} [fallback] what a key never saved (or unreadable) gives
 * @returns {any}
 */
export function load(key, fallback = null) {
  try {
    const text = localStorage.getItem(PREFIX + key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

/**
 * Remembers `value` as JSON; null or undefined forgets the key.
 * @param {string} key
 * @param {unknown} value
 */
export function save(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Private mode or a full quota: the app still works until the page is closed.
  }
}

/** @param {string} key */
export const forget = (key) => save(key, null);

/**
 * "Chrome on Android", for device names a person recognises in a list.
 * @param {string} [ua] a User-Agent, this browser's by default
 * @returns {string}
 */
export function browserName(ua = navigator.userAgent) {
  const browser = /Edg\//.test(ua) ? 'Edge'
    : /OPR\//.test(ua) ? 'Opera'
      : /Firefox\//.test(ua) ? 'Firefox'
        : /Chrome\/|Chromium\//.test(ua) ? 'Chrome'
          : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android'
    : /iPhone|iPad|iPod/.test(ua) ? 'iOS'
      : /Mac OS X/.test(ua) ? 'macOS'
        : /Windows/.test(ua) ? 'Windows'
          : /CrOS/.test(ua) ? 'ChromeOS'
            : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}
