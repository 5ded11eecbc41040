//! The message at the top of the page: errors and notices, and the error path that
//! signs the person out when their session has ended.
import { $ } from './dom.js';
import { describe, needsSignIn } from './errors.js';
import { signOut } from './session.js';

export function showAlert(text, kind = 'error') {
  $('alert-text').textContent = text;
  $('alert').classList.toggle('info', kind === 'info');
  $('alert').hidden = false;
}

export const hideAlert = () => {
  $('alert').hidden = true;
};

export function handleError(e, prefix = '') {
  if (needsSignIn(e)) {
    signOut();
    showAlert(describe(e));
    return;
  }
  showAlert(prefix + describe(e));
}

$('alert-close').addEventListener('click', hideAlert);
