// Small DOM helpers. The page's Content-Security-Policy forbids inline styles and scripts,
// so everything is built with DOM calls and classes, never style attributes or innerHTML.

/**
 * h('button', {class: 'primary', onclick, 'data-testid': 'x'}, 'Text', child)
 * Attributes starting with `on` become listeners; `text` sets textContent; false/null skip.
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag === 'svg' || attrs.svg
    ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
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

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** A message area: role=status for news, role=alert for failures, so screen readers hear both. */
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

export function fmtTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
}

export function fmtShort(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : shortTime.format(date);
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const s = Math.round(Number(seconds));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

export function fmtBytes(bytes) {
  if (!bytes && bytes !== 0) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Disables a button while `work` runs, so a double click does not do it twice. */
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

/** A label + input pair; returns {field, input}. */
export function field(label, inputAttrs, hint) {
  const id = inputAttrs.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  const input = h(inputAttrs.tag || 'input', { ...inputAttrs, tag: undefined, id });
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  const wrapper = h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hintEl);
  return { field: wrapper, input };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
