// @ts-check
// Accounts: sign up, sign in, sign out, password reset. The user token is kept so the
// viewer opens signed in next time; it is dropped the moment the server stops honouring it.

import { api, describeError } from './api.js';
import { busy, clear, field, h, messageBox } from './dom.js';
import { forget, load, save } from './store.js';

/** @typedef {import('./viewer.js').Session} Session */

/** @returns {Session | null} the session this browser keeps */
export function currentSession() {
  return load('user');
}

/** @param {Session} session */
export function setSession(session) {
  save('user', session);
}

export async function signOut() {
  const session = currentSession();
  forget('user');
  if (session) {
    await api('/api/v1/auth/sign-out', { method: 'POST', token: session.token }).catch(() => {});
  }
}

/**
 * Checks a stored session with the server; null when it no longer works.
 * @returns {Promise<Session | null>}
 */
export async function verifySession() {
  const session = currentSession();
  if (!session) return null;
  try {
    const current = await api('/api/v1/auth/session', { token: session.token });
    const fresh = { ...session, user: current.user };
    setSession(fresh);
    return fresh;
  } catch (err) {
    if (err.status === 401) {
      forget('user');
      return null;
    }
    // Offline or a server hiccup: carry on with what we know and let later calls tell.
    return session;
  }
}

/**
 * The sign-in / sign-up screen; resolves `onSignedIn(session)` once one succeeds.
 * @param {HTMLElement} root
 * @param {(session: Session) => void} onSignedIn
 * @param {string | null} [intro] said above the forms
 */
export function renderAuth(root, onSignedIn, intro) {
  const signIn = signInForm(onSignedIn);
  const signUp = signUpForm(onSignedIn);
  const reset = resetRequestForm();
  const tabs = [
    { id: 'sign-in', label: 'Sign in', panel: signIn },
    { id: 'sign-up', label: 'Create account', panel: signUp },
    { id: 'forgot', label: 'Forgot password', panel: reset },
  ];
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Account' });
  const select = (id, focus) => {
    for (const tab of tabs) {
      const on = tab.id === id;
      tab.button.setAttribute('aria-selected', String(on));
      tab.button.tabIndex = on ? 0 : -1;
      tab.panel.hidden = !on;
      if (on && focus) tab.button.focus();
    }
  };
  tabs.forEach((tab, i) => {
    tab.button = h('button', {
      type: 'button', role: 'tab', id: `tab-${tab.id}`, 'aria-controls': `panel-${tab.id}`,
      'data-testid': `tab-${tab.id}`, text: tab.label,
    });
    tab.button.addEventListener('click', () => select(tab.id, false));
    // Arrow keys move between tabs, as a tab list does everywhere else.
    tab.button.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (step) select(tabs[(i + step + tabs.length) % tabs.length].id, true);
    });
    tab.panel.id = `panel-${tab.id}`;
    tab.panel.setAttribute('role', 'tabpanel');
    tab.panel.setAttribute('aria-labelledby', `tab-${tab.id}`);
    tablist.append(tab.button);
  });
  clear(root, h('section', { class: 'card auth' },
    h('h1', { text: 'Watch your cameras' }),
    intro ? h('p', { class: 'message info', text: intro }) : null,
    tablist, ...tabs.map((t) => t.panel),
    h('p', { class: 'hint' }, 'Setting up phones as cameras, or installing the app? Each device first needs to ',
      h('a', { href: '/trust', 'data-link': '', 'data-testid': 'auth-trust-link', text: 'trust this server' }), '.')));
  select(load('hasAccount') ? 'sign-in' : 'sign-up', false);
}

/** @param {(session: Session) => void} onSignedIn */
function signInForm(onSignedIn) {
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'username', required: true, 'data-testid': 'signin-email' });
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'signin-password' });
  const message = messageBox('signin-message');
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'signin-submit', text: 'Sign in' });
  const form = h('form', { class: 'stack', novalidate: true }, email.field, password.field, message.el, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      message.hide();
      if (!email.input.value.trim() || !password.input.value) {
        message.error('Enter your email and password.');
        return;
      }
      try {
        const answer = await api('/api/v1/auth/sign-in', { method: 'POST', body: { email: email.input.value.trim(), password: password.input.value } });
        startSession(answer, onSignedIn);
      } catch (err) {
        message.error(err.code === 'invalid_credentials' ? 'That email and password do not match an account.' : describeError(err));
      }
    });
  });
  return form;
}

/**
 * Keeps the session a sign-in or sign-up answered with, and goes on signed in.
 * @param {{ session: { token: string, expires_at: string }, user: Session['user'] }} answer
 * @param {(session: Session) => void} onSignedIn
 */
function startSession(answer, onSignedIn) {
  const session = { token: answer.session.token, expires_at: answer.session.expires_at, user: answer.user };
  setSession(session);
  save('hasAccount', true);
  onSignedIn(session);
}

/** @param {(session: Session) => void} onSignedIn */
function signUpForm(onSignedIn) {
  const name = field('Your name', { name: 'name', autocomplete: 'name', required: true, maxlength: 200, 'data-testid': 'signup-name' });
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'email', required: true, 'data-testid': 'signup-email' });
  const password = field('Password', { type: 'password', name: 'new-password', autocomplete: 'new-password', required: true, minlength: 8, 'data-testid': 'signup-password' },
    'At least 8 characters.');
  const message = messageBox('signup-message');
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'signup-submit', text: 'Create account' });
  const form = h('form', { class: 'stack', novalidate: true }, name.field, email.field, password.field, message.el, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      message.hide();
      if (password.input.value.length < 8) {
        message.error('Choose a password of at least 8 characters.');
        password.input.focus();
        return;
      }
      try {
        const answer = await api('/api/v1/auth/sign-up', {
          method: 'POST',
          body: { name: name.input.value.trim(), email: email.input.value.trim(), password: password.input.value },
        });
        startSession(answer, onSignedIn);
      } catch (err) {
        message.error(err.code === 'email_taken' ? 'An account with this email exists already. Sign in instead.' : describeError(err));
      }
    });
  });
  return form;
}

function resetRequestForm() {
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const message = messageBox();
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Send reset link' });
  const form = h('form', { class: 'stack', novalidate: true },
    h('p', { text: 'We will email you a link to choose a new password.' }), email.field, message.el, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      try {
        await api('/api/v1/auth/password-reset/request', { method: 'POST', body: { email: email.input.value.trim() } });
        message.ok('If an account uses this email, a reset link is on its way. Check your inbox.');
      } catch (err) {
        message.error(describeError(err));
      }
    });
  });
  return form;
}

/**
 * `/reset-password?token=…`: the page the reset mail links to.
 * @param {HTMLElement} root
 */
export function renderResetPassword(root) {
  const token = new URLSearchParams(location.search).get('token') || '';
  const password = field('New password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8, 'data-testid': 'reset-password' }, 'At least 8 characters.');
  const confirm = field('Repeat the new password', { type: 'password', autocomplete: 'new-password', required: true, 'data-testid': 'reset-password-confirm' });
  const message = messageBox('reset-message');
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'reset-submit', text: 'Set new password' });
  const form = h('form', { class: 'stack', novalidate: true }, password.field, confirm.field, message.el, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      if (password.input.value.length < 8) return message.error('Choose a password of at least 8 characters.');
      if (password.input.value !== confirm.input.value) return message.error('The two passwords differ.');
      try {
        await api('/api/v1/auth/password-reset', { method: 'POST', body: { token, new_password: password.input.value } });
        forget('user');
        message.ok('Your password is changed, and every device was signed out.');
        clear(form, message.el, h('a', { href: '/app', class: 'button primary', text: 'Sign in' }));
      } catch (err) {
        message.error(err.code === 'invalid_reset_token'
          ? 'This reset link has expired or was used already. Ask for a new one from the sign-in page.'
          : describeError(err));
      }
    });
  });
  clear(root, h('section', { class: 'card auth' },
    h('h1', { text: 'Choose a new password' }),
    token ? form : h('p', { class: 'message error', role: 'alert', text: 'This link has no reset token. Open the link from the email again, or ask for a new one.' }),
    h('p', {}, h('a', { href: '/app', text: 'Back to sign in' }))));
}
