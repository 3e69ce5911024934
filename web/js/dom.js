// @ts-check
// Small DOM helpers. The page's Content-Security-Policy forbids inline styles and scripts,
// so everything is built with DOM calls and classes, never style attributes or innerHTML.

/**
 * What `h` appends: nodes, text (anything else becomes its string), nested arrays; null,
 * undefined and false are skipped.
 * @typedef {Node | string | number | boolean | null | undefined | any[]} Child
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @overload
 * @param {K} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
/**
 * @overload
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
/**
 * h('button', {class: 'primary', onclick, 'data-testid': 'x'}, 'Text', child)
 * Attributes starting with `on` become listeners; `text` sets textContent; false/null skip.
 * Typed by its tag (`h('video')` is an HTMLVideoElement).
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = /** @type {HTMLElement} */ (tag === 'svg' || attrs.svg
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag));
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false || key === 'svg') continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'text') {
      el.textContent = value;
    } else if (key === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (key === 'value' && 'value' in el) {
      el.value = value;
    } else if (key === 'checked' || key === 'disabled' || key === 'muted' || key === 'autoplay' || key === 'hidden') {
      el[key] = Boolean(value);
      if (key !== 'muted') el.toggleAttribute(key, Boolean(value));
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces the children of `el`.
 * @template {Element} E
 * @param {E} el
 * @param {...Child} children
 * @returns {E}
 */
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * @param {string} selector
 * @param {ParentNode} [root]
 */
export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * @typedef {object} MessageBox
 * @property {HTMLElement} el
 * @property {(text: string, kind?: string) => void} show
 * @property {(text: string) => void} error
 * @property {(text: string) => void} ok
 * @property {() => void} hide
 */

/**
 * A message area: role=status for news, role=alert for failures, so screen readers hear both.
 * @param {string} [testid]
 * @returns {MessageBox}
 */
export function messageBox(testid) {
  const el = h('p', { class: 'message', 'aria-live': 'polite', 'data-testid': testid, hidden: true });
  return {
    el,
    show(text, kind = 'info') {
      el.hidden = false;
      el.textContent = text;
      el.className = `message ${kind}`;
      el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    },
    error(text) { this.show(text, 'error'); },
    ok(text) { this.show(text, 'ok'); },
    hide() { el.hidden = true; el.textContent = ''; },
  };
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const shortTime = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/**
 * A date and time to read, in this browser's language; text that is no date stays as it is.
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function fmtTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
}

/**
 * The time of day only.
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function fmtShort(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : shortTime.format(date);
}

/**
 * `42 s`, `2 min 5 s`; empty when unknown.
 * @param {number | string | null | undefined} seconds
 * @returns {string}
 */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const s = Math.round(Number(seconds));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/**
 * `512 B`, `3 KB`, `1.5 MB`; empty when unknown.
 * @param {number | null | undefined} bytes
 * @returns {string}
 */
export function fmtBytes(bytes) {
  if (!bytes && bytes !== 0) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Disables a button while `work` runs, so a double click does not do it twice.
 * @template T
 * @param {HTMLButtonElement} button
 * @param {() => T | Promise<T>} work
 * @returns {Promise<T | undefined>}
 */
export async function busy(button, work) {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/**
 * A label + input pair; returns {field, input}. `inputAttrs.tag` makes another control than an
 * input (a select, a textarea).
 * @param {string} label
 * @param {Record<string, any>} inputAttrs
 * @param {string} [hint]
 * @returns {{ field: HTMLElement, input: HTMLInputElement }}
 */
export function field(label, inputAttrs, hint) {
  const id = inputAttrs.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  const input = /** @type {HTMLInputElement} */ (h(inputAttrs.tag || 'input', { ...inputAttrs, tag: undefined, id }));
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  const wrapper = h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hintEl);
  return { field: wrapper, input };
}

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
