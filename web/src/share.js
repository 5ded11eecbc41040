//! The recipient's page of a share link, `/s/<share_id>#<secret>`: no account. The
//! secret after # never leaves this tab (browsers do not send it, and this page
//! neither logs nor sends it anywhere); the package derives the link's keys from it,
//! asks the server whether a password is needed, opens the file's name and size, and
//! downloads the file decrypted and verified here, written to disk the same ways as
//! the owner's download (downloads.js).
import './style.css';
import { openShareLink, shareLinkInfo } from 'cipherdrop';
import { $ } from './dom.js';
import { describe, wrongPassword } from './errors.js';
import { formatBytes, dateFormat } from './format.js';
import { saveDownload, showSaveNote, downloading } from './downloads.js';

/** What the heading says for each way a link can fail. */
const TITLES = {
  LINK_UNAVAILABLE: 'This link cannot be used any more',
  LINK_CHANGED: 'This link was changed',
  INVALID_LINK: 'This link is incomplete',
};

const root = $('share');
let shared = null; // the opened SharedFile

function setState(state) {
  root.dataset.state = state;
  root.setAttribute('aria-busy', String(state === 'loading'));
  $('share-loading').hidden = state !== 'loading';
  $('share-password').hidden = state !== 'password';
  $('share-file').hidden = state !== 'file';
  $('share-error').hidden = state !== 'error';
}

/** The link cannot be used: a heading and a sentence saying what to do. */
function fail(e) {
  const code = e?.code ?? '';
  root.dataset.code = code;
  $('share-title').textContent = TITLES[code] ?? 'This link could not be opened';
  document.title = `${$('share-title').textContent} — CipherDrop`;
  setState('error');
  $('share-error-text').textContent = describe(e);
  $('main').focus();
}

function showFile(file) {
  shared = file;
  const name = file.name ?? 'Shared file (its name could not be read)';
  $('share-title').textContent = 'A file was shared with you';
  $('share-name').textContent = name;
  $('share-size').textContent = file.size === null ? 'Unknown' : `${formatBytes(file.size)} (${file.size.toLocaleString()} bytes)`;
  const expires = new Date(file.expiresAt * 1000);
  $('share-expires').dateTime = expires.toISOString();
  $('share-expires').textContent = dateFormat.format(expires);
  showLeft(file.downloadsLeft);
  $('share-download').setAttribute('aria-label', `Download ${name}`);
  document.title = `${name} — shared with you — CipherDrop`;
  setState('file');
  showSaveNote($('save-note'));
}

function showLeft(left) {
  $('share-left').textContent = left === null || left === undefined ? 'No limit' : String(left);
}

async function open(password) {
  try {
    showFile(await openShareLink(location.href, password === undefined ? {} : { password }));
    return true;
  } catch (e) {
    if (e?.code === 'PASSWORD_REQUIRED') {
      askPassword();
      return false;
    }
    if (e?.code === 'WRONG_PASSWORD') {
      $('share-password-error').textContent = wrongPassword(e.attemptsLeft);
      $('share-password-input').setAttribute('aria-invalid', 'true');
      $('share-password-input').select();
      $('share-password-input').focus();
      if (e.attemptsLeft === 0) fail({ code: 'LINK_UNAVAILABLE' });
      return false;
    }
    fail(e);
    return false;
  }
}

function askPassword() {
  setState('password');
  $('share-password-input').focus();
}

$('share-password').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('share-password-input');
  if (!input.value) {
    $('share-password-error').textContent = 'Type the password the person who sent the link gave you.';
    input.focus();
    return;
  }
  const button = $('share-password-submit');
  button.disabled = true;
  $('share-password-error').textContent = '';
  input.removeAttribute('aria-invalid');
  button.textContent = 'Checking…';
  try {
    await open(input.value);
  } finally {
    button.disabled = false;
    button.textContent = 'Open';
  }
});

$('share-download').addEventListener('click', async () => {
  if (!shared) return;
  const status = $('share-status');
  const saved = await saveDownload({
    open: (onProgress) => shared.download({ onProgress }),
    name: shared.name ?? `shared-file-${shared.shareId.slice(0, 8)}`,
    size: shared.size,
    setStatus: (text, kind = '') => {
      status.className = `share-status ${kind}`;
      status.textContent = text;
    },
    button: $('share-download'),
    mark: root,
  });
  if (Number.isInteger(shared.downloadsLeft)) {
    // The server counted this download (the package keeps its latest count).
    showLeft(shared.downloadsLeft);
    if (saved && shared.downloadsLeft === 0) status.textContent += '. That was the last download this link allows.';
  }
});

window.addEventListener('beforeunload', (ev) => {
  if (downloading()) ev.preventDefault();
});

async function start() {
  setState('loading');
  if (!window.isSecureContext || !globalThis.crypto?.subtle) {
    fail({ code: 'NO_WEBCRYPTO', name: 'CipherDropError', message: '' });
    $('share-error-text').textContent = 'This browser cannot decrypt here: open the link over https.';
    return;
  }
  let info;
  try {
    info = await shareLinkInfo(location.href);
  } catch (e) {
    fail(e);
    return;
  }
  if (info.passwordRequired) askPassword();
  else await open();
}

start();
