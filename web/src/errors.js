// Failures in words a person understands. Codes: the backend's (docs/API.md) and the
// package's CipherDropError codes.
import { isCipherDropError, ApiError, StorageError } from 'cipherdrop';

const CHANGED = 'This file was changed after it was encrypted, so it cannot be trusted.';
const LINK_UNAVAILABLE =
  'This link cannot be used any more: it has expired, all its downloads were used, or the person who shared it withdrew it or deleted the file. Ask them for a new link.';
const LINK_CHANGED =
  'This link is not the one that was shared: the part after # was changed or cut short. Ask the person who sent it to copy the whole link again.';

const PACKAGE = {
  DECRYPTION_FAILED: CHANGED,
  HEADER_AUTH_FAILED: CHANGED,
  COMMITMENT_MISMATCH: CHANGED,
  MALFORMED_HEADER: CHANGED,
  NOT_CIPHERDROP: CHANGED,
  TRAILING_DATA: CHANGED,
  TRUNCATED: 'This file is incomplete: it was cut short after it was encrypted.',
  CONTEXT_MISMATCH: 'This file was swapped for another one after it was encrypted.',
  UNSUPPORTED_VERSION: 'This file was made by a newer version of CipherDrop.',
  UNSUPPORTED_SUITE: 'This file was made by a newer version of CipherDrop.',
  LENGTH_MISMATCH: 'This file changed while it was being encrypted. Please try again.',
  WRONG_KEY: 'The key that protects your file names could not be read.',
  DIFFERENT_FILE:
    'That is not the file that was being uploaded (its size, date or first bytes differ). Nothing was sent: choose the same file again.',
  FILE_NEEDED: 'Choose the same file again to continue.',
  UPLOAD_UNKNOWN: 'This upload can no longer be resumed from this browser. Start it again.',
  NO_WEBCRYPTO: 'This browser cannot encrypt here: open the page over https or on localhost.',
  // Share links (the recipient's page).
  INVALID_LINK: 'This is not a complete CipherDrop link. Ask the person who sent it to copy the whole link again, including the part after #.',
  LINK_UNAVAILABLE: LINK_UNAVAILABLE,
  LINK_CHANGED: LINK_CHANGED,
  PASSWORD_REQUIRED: 'This link needs its password.',
};

const API = {
  not_found: 'You are not allowed to open this file, or it no longer exists.',
  key_access_denied: 'You are not allowed to open this file.',
  key_disabled: 'The key for this file is disabled.',
  key_not_found: 'The key for this file no longer exists.',
  unauthorized: 'Your session has ended. Please sign in again.',
  too_large: 'This file is bigger than the server accepts.',
  upload_not_found: 'This upload expired. Please start it again.',
  dev_login_disabled: 'Sign-in without a password is turned off on this server.',
  invalid_user: 'Use 1–64 letters, digits, dots, dashes, underscores or @ for your name.',
  network: 'Could not reach the CipherDrop server. Check your connection and try again.',
  link_unavailable: LINK_UNAVAILABLE,
  link_changed: LINK_CHANGED,
  invalid_grantee: 'That is not a user name you can share with (it is empty, too long, or your own).',
};

/** What the page says of a failure it has no words for; the error itself goes to the console. */
export const UNEXPECTED = 'Something went wrong in this browser. Details are in the browser console.';

/**
 * A sentence for the person in front of the page. Failures it does not know (a
 * browser's own `TypeError`, an engine message such as "undefined is not a function")
 * are never shown raw: they are logged with console.error and the page says
 * {@link UNEXPECTED}.
 */
export function describe(e) {
  if (e?.name === 'AbortError') return 'Cancelled.';
  if (e?.code === 'WRONG_PASSWORD' || e?.code === 'wrong_password') return wrongPassword(e.attemptsLeft);
  // The share link's codes, whichever error class carries them.
  if (['INVALID_LINK', 'LINK_UNAVAILABLE', 'LINK_CHANGED', 'PASSWORD_REQUIRED'].includes(e?.code)) return PACKAGE[e.code];
  if (isCipherDropError(e)) {
    if (PACKAGE[e.code]) return PACKAGE[e.code];
    // The package words what the caller asked wrongly (a name too long for a link, say).
    if (e.code === 'INVALID_ARGUMENT' && e.message) return e.message.charAt(0).toUpperCase() + e.message.slice(1).replace(/\.?$/, '.');
    console.error('CipherDrop:', e);
    return `Could not process this file (${e.code}). Details are in the browser console.`;
  }
  if (e instanceof ApiError) {
    if (API[e.code]) return API[e.code];
    if (e.status >= 500) return 'The server is having trouble right now. Please try again in a moment.';
    return e.message.charAt(0).toUpperCase() + e.message.slice(1) + '.';
  }
  if (e instanceof StorageError) {
    if (e.status === 403) return 'The storage refused the link (it may have expired). Please try again.';
    if (e.status === 404) return 'This file is no longer in storage.';
    return 'Could not reach the storage. Check your connection and try again.';
  }
  if (e?.name === 'NotReadableError') return 'The browser could not read this file (was it moved or changed?).';
  if (e?.name === 'NotAllowedError') return 'The browser did not allow saving the file.';
  if (e?.name === 'QuotaExceededError') return 'There is not enough space to save this file.';
  console.error('CipherDrop:', e);
  return UNEXPECTED;
}

/** The wrong-password sentence, with the attempts left when known. */
export function wrongPassword(left) {
  if (!Number.isInteger(left)) return 'That password is not right. Check it with the person who sent the link.';
  if (left <= 0) return 'That password is not right, and it was the last attempt: the link is now closed. Ask the person who sent it for a new link.';
  return `That password is not right. ${left} ${left === 1 ? 'attempt' : 'attempts'} left before the link closes.`;
}

/** True when signing in again is the fix. */
export const needsSignIn = (e) => e instanceof ApiError && e.status === 401;
