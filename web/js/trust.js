// @ts-check
// `/trust`: how a phone or computer comes to trust this server's HTTPS. Browsers give the
// camera, push alerts and installing only to secure pages; a SecureCam server that makes its
// own certificates (mode `self-signed`) signs them with a local certificate authority (CA)
// that each device has to trust once. This page shows that CA's fingerprint to compare, the
// certificate to download, each platform's steps, and the addresses to open afterwards.

import { busy, clear, h } from './dom.js';
import { fingerprintLines, secureUrl, tlsInfo, trustPlatform } from './tls.js';

/** @typedef {import('./tls.js').TlsInfo} TlsInfo */
/** @typedef {import('./tls.js').TrustPlatform} TrustPlatform */

/** The certificate as a link (DER: what phones and desktops install). */
const crtLink = (text = 'Download the certificate (ca.crt)') => h('a', { href: '/ca.crt', text });

/**
 * Each platform's steps, in the order the page lists them.
 * @type {{ id: TrustPlatform, title: string, steps: () => import('./dom.js').Child[] }[]}
 */
const PLATFORMS = [
  {
    id: 'android',
    title: 'Android',
    steps: () => [
      h('li', {}, crtLink(), '.'),
      h('li', { text: 'Open Settings → Security (on some phones Security & privacy → More security settings) → Encryption & credentials → Install a certificate → CA certificate.' }),
      h('li', { text: 'Tap Install anyway and choose the downloaded file (in Downloads). Android asks for the screen lock; it needs one to keep certificates.' }),
      h('li', { text: 'Open the HTTPS address below in Chrome. (Firefox for Android uses such certificates only once “Use third party CA certificates” is on in its settings.)' }),
    ],
  },
  {
    id: 'ios',
    title: 'iPhone and iPad',
    steps: () => [
      h('li', {}, 'Open this page in Safari (other browsers cannot install profiles), tap ', crtLink(), ' and allow the download of the configuration profile.'),
      h('li', { text: 'Open Settings → Profile Downloaded (near the top; or General → VPN & Device Management), tap Install, enter the passcode and Install again.' }),
      h('li', { text: 'Then Settings → General → About → Certificate Trust Settings, and switch on full trust for the SecureCam certificate. Without this step Safari still refuses the server.' }),
      h('li', { text: 'Open the HTTPS address below.' }),
    ],
  },
  {
    id: 'chrome',
    title: 'Chrome and Edge on a computer',
    steps: () => [
      h('li', { text: 'On Windows and macOS they use the system’s certificates: follow the Windows or macOS steps. On Linux and ChromeOS:' }),
      h('li', {}, crtLink(), '.'),
      h('li', {}, 'Open ', h('code', { text: 'chrome://settings/certificates' }), ' → Authorities → Import (in newer versions ', h('code', { text: 'chrome://certificate-manager' }),
        ' → Local certificates → Installed by you → Trusted certificates → Import).'),
      h('li', { text: 'Choose the downloaded file and tick “Trust this certificate for identifying websites”.' }),
      h('li', { text: 'Open the HTTPS address below (restart the browser if it still warns).' }),
    ],
  },
  {
    id: 'firefox',
    title: 'Firefox on a computer',
    steps: () => [
      h('li', {}, crtLink(), '. Firefox may offer to trust it at once: tick “Trust this CA to identify websites” and you are done.'),
      h('li', { text: 'Otherwise open Settings → Privacy & Security → Certificates → View Certificates… → Authorities → Import…' }),
      h('li', { text: 'Choose the downloaded file and tick “Trust this CA to identify websites”.' }),
    ],
  },
  {
    id: 'macos',
    title: 'macOS (Safari, Chrome, Edge)',
    steps: () => [
      h('li', {}, crtLink(), ' and open it: Keychain Access adds it to the login keychain.'),
      h('li', { text: 'In Keychain Access, double-click the SecureCam certificate, open Trust, and set “When using this certificate” to Always Trust. Close the window and confirm with your password.' }),
      h('li', { text: 'Open the HTTPS address below. Firefox keeps its own list: see Firefox.' }),
    ],
  },
  {
    id: 'windows',
    title: 'Windows (Chrome, Edge)',
    steps: () => [
      h('li', {}, crtLink(), ', open it and choose Install Certificate…'),
      h('li', { text: 'Choose Current User, then “Place all certificates in the following store” → Browse → Trusted Root Certification Authorities → Next → Finish.' }),
      h('li', { text: 'Confirm the security warning with Yes. (Windows shows a SHA-1 thumbprint there, not the SHA-256 fingerprint above: see how to check it above.)' }),
      h('li', { text: 'Open the HTTPS address below (restart the browser if it still warns). Firefox keeps its own list: see Firefox.' }),
    ],
  },
];

/**
 * Renders the page into `main`.
 * @param {HTMLElement} main
 */
export async function renderTrust(main) {
  document.title = 'Trust this server · SecureCam';
  const body = h('div', { 'data-testid': 'trust-body' }, h('p', { text: 'Asking the server about its certificate…' }));
  clear(main,
    h('h1', { text: 'Trust this server' }),
    h('p', { class: 'lead', text: 'Browsers let a page use the camera and microphone, show alerts and be installed as an app only over a secure (HTTPS) connection that they trust.' }),
    connectionNote(),
    body);
  await fill(body);
}

/** What this page's own connection says. */
function connectionNote() {
  if (location.protocol === 'https:') {
    return h('p', { class: 'message ok', 'data-testid': 'trust-connection', 'data-secure': 'true',
      text: 'This page came over HTTPS. If the browser warned about the certificate first, or marks the address as not secure, this device does not trust the server yet: follow the steps below.' });
  }
  return h('p', { class: 'message info', 'data-testid': 'trust-connection', 'data-secure': String(window.isSecureContext),
    text: window.isSecureContext
      ? 'This page came over plain HTTP from this same machine, which browsers accept. Other devices need HTTPS.'
      : 'This page came over plain HTTP: the camera, alerts and installing do not work here.' });
}

/** @param {HTMLElement} body */
async function fill(body) {
  const tls = await tlsInfo();
  if (!tls) {
    const retry = h('button', { type: 'button', class: 'secondary', text: 'Try again' });
    retry.addEventListener('click', () => busy(retry, () => fill(body)));
    clear(body, h('p', { class: 'message error', role: 'alert', 'data-testid': 'trust-error',
      text: 'The server did not say how it offers HTTPS (it may be out of reach, or older than this page). The certificate may still be at /ca.crt.' }), retry);
    return;
  }
  if (tls.mode === 'off') {
    clear(body, h('section', { class: 'card', 'data-testid': 'trust-off' },
      h('h2', { text: 'HTTPS is off on this server' }),
      h('p', { text: 'Camera mode works only on the server’s own machine (as localhost) until whoever runs it switches HTTPS on (SECURECAM_TLS__MODE, default self-signed).' })));
    return;
  }
  const parts = [];
  if (tls.ca_sha256) {
    parts.push(certificateCard(tls.ca_sha256), platformsCard());
  } else {
    parts.push(h('section', { class: 'card', 'data-testid': 'trust-public' },
      h('h2', { text: 'Nothing to install' }),
      h('p', { text: tls.mode === 'acme'
        ? 'This server uses a certificate from a public certificate authority (ACME), which browsers already trust.'
        : 'This server uses a certificate its operator provided. Devices that trust its issuer need nothing more; otherwise ask the operator for the authority to install.' })));
  }
  parts.push(addressesCard(tls));
  clear(body, ...parts);
}

/** @param {string} fingerprint */
function certificateCard(fingerprint) {
  return h('section', { class: 'card', 'aria-labelledby': 'trust-cert-title' },
    h('h2', { id: 'trust-cert-title', text: '1. Check and download the certificate' }),
    h('p', { text: 'This server signs its own HTTPS certificate with a certificate authority of its own. Its fingerprint (SHA-256):' }),
    h('p', { class: 'fingerprint', 'data-testid': 'ca-fingerprint', 'data-fingerprint': fingerprint },
      ...fingerprintLines(fingerprint).flatMap((line, i) => [i ? h('br') : null, h('code', { text: line })])),
    h('p', { text: 'The fingerprint your device shows for the certificate must be exactly this. Compare it with this page as a device that already trusts the server shows it: over plain HTTP on a shared network, someone could swap both the page and the certificate.' }),
    h('div', { class: 'button-row' },
      h('a', { href: '/ca.crt', class: 'button primary', 'data-testid': 'ca-download-crt', text: 'Download ca.crt' }),
      h('a', { href: '/ca.pem', class: 'button', 'data-testid': 'ca-download-pem', text: 'Download ca.pem' })),
    h('p', { class: 'hint' }, 'ca.crt suits phones, Windows and macOS; ca.pem is the same certificate as text. On a computer, ',
      h('code', { text: 'openssl x509 -in ca.pem -noout -fingerprint -sha256' }), ' or (Windows) ', h('code', { text: 'certutil -hashfile ca.crt SHA256' }),
      ' prints the fingerprint (the second without colons).'),
    h('p', { class: 'hint', text: 'A certificate authority a device trusts can vouch for any website, so install only this server’s, keep its data folder private (the authority’s key stays there), and remove the certificate from the device if you stop using SecureCam.' }));
}

function platformsCard() {
  const mine = trustPlatform(navigator.userAgent);
  // This device's steps first and open; the others folded below.
  const ordered = [...PLATFORMS.filter((p) => p.id === mine), ...PLATFORMS.filter((p) => p.id !== mine)];
  return h('section', { class: 'card', 'aria-labelledby': 'trust-steps-title' },
    h('h2', { id: 'trust-steps-title', text: '2. Trust it on this device' }),
    ...ordered.map((platform) => h('details', { class: 'platform', 'data-platform': platform.id, 'data-testid': `trust-${platform.id}`, open: platform.id === mine },
      h('summary', { text: platform.title }),
      h('ol', {}, ...platform.steps()))));
}

/** @param {TlsInfo} tls */
function addressesCard(tls) {
  const camera = secureUrl(tls, location.hostname, '/camera');
  return h('section', { class: 'card', 'aria-labelledby': 'trust-open-title' },
    h('h2', { id: 'trust-open-title', text: tls.ca_sha256 ? '3. Open SecureCam over HTTPS' : 'Open SecureCam over HTTPS' }),
    h('ul', { class: 'https-urls' }, ...tls.https_urls.map((url) => h('li', {},
      h('a', { href: `${url.replace(/\/+$/, '')}/`, 'data-testid': 'https-url', text: url })))),
    camera ? h('p', {}, 'A spare phone as a camera: ', h('a', { href: camera, 'data-testid': 'trust-camera-url', text: camera })) : null,
    h('p', { class: 'hint', text: 'Use an address your device can reach: on the home network, usually the first.' }));
}

