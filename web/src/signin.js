//! Signing in and out: the sign-in card (development login, OIDC, or a pasted token),
//! the session token kept in sessionStorage (so a reload stays signed in), and the
//! account bar.
import { CipherDropClient } from 'cipherdrop';
import { $ } from './dom.js';
import { authConfig, devLogin } from './api.js';
import { startSignIn, finishSignIn, SignInError } from './oidc.js';
import { describe } from './errors.js';
import { showAlert, hideAlert } from './alerts.js';
import { setClient, onSignOut, signOut } from './session.js';
import { refreshFiles } from './files.js';
import { showSaveNote } from './downloads.js';
import { refreshUnfinished } from './unfinished.js';
import { refreshShared } from './shared.js';

const TOKEN_KEY = 'cipherdrop.token';

async function showSignIn() {
  $('app').hidden = true;
  $('account').hidden = true;
  $('signin').hidden = false;
  let config = { dev_login: false, oidc: null };
  try {
    config = await authConfig();
  } catch (e) {
    showAlert(describe(e));
  }
  authOidc = config.oidc;
  $('dev-login').hidden = !config.dev_login;
  // The server turned the password-less sign-in on where others can reach it.
  const warning = config.dev_login ? config.dev_login_warning : null;
  $('signin-hint').hidden = !config.dev_login || Boolean(warning);
  $('dev-login-warning').hidden = !warning;
  $('dev-login-warning').textContent = warning ?? '';
  $('oidc-login').hidden = !config.oidc;
  // Pasting a token is the way in only when there is nothing else.
  $('token-login-box').hidden = config.dev_login;
  $('token-login-box').open = !config.dev_login && !config.oidc;
  (config.dev_login ? $('user') : config.oidc ? $('oidc-start') : $('token')).focus();
}
let authOidc = null;

$('oidc-start').addEventListener('click', async (ev) => {
  const button = ev.currentTarget;
  button.disabled = true;
  try {
    await startSignIn(authOidc);
  } catch (e) {
    showAlert(e instanceof SignInError ? `Could not sign in: ${e.message}.` : describe(e));
    button.disabled = false;
  }
});

async function signIn(token) {
  const candidate = new CipherDropClient({ token });
  const me = await candidate.whoami();
  setClient(candidate);
  sessionStorage.setItem(TOKEN_KEY, token);
  $('account-name').textContent = me.user;
  $('account').hidden = false;
  $('signin').hidden = true;
  $('app').hidden = false;
  hideAlert();
  showSaveNote();
  refreshUnfinished();
  refreshShared();
  await refreshFiles();
}

onSignOut(() => {
  sessionStorage.removeItem(TOKEN_KEY);
  setClient(null);
  showSignIn();
});

$('dev-login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const button = ev.submitter;
  button.disabled = true;
  try {
    const res = await devLogin($('user').value.trim());
    await signIn(res.token);
    $('main').focus();
  } catch (e) {
    showAlert(describe(e));
  } finally {
    button.disabled = false;
  }
});
$('token-login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await signIn($('token').value.trim());
  } catch (e) {
    showAlert(describe(e));
  }
});
$('sign-out').addEventListener('click', signOut);

/** Signs in at page load: back from the OIDC issuer, with the saved token, or not at all. */
export async function start() {
  // Back from the OIDC issuer with a code: exchange it and sign in.
  try {
    const token = await finishSignIn();
    if (token) {
      await signIn(token);
      return;
    }
  } catch (e) {
    await showSignIn();
    showAlert(e instanceof SignInError ? `Could not sign in: ${e.message}.` : describe(e));
    return;
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    try {
      await signIn(saved);
      return;
    } catch {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }
  await showSignIn();
}
