// Errors with a stable `code`, the same shape as those thrown by the wasm module.

/** The `name` of every error this package throws. */
export const ERROR_NAME = 'CipherDropError';

/**
 * Makes an `Error` named `CipherDropError` with a stable `code`.
 * @param {string} code
 * @param {string} message
 * @param {unknown} [cause]
 */
export function cipherDropError(code, message, cause) {
  const e = new Error(message, cause === undefined ? undefined : { cause });
  e.name = ERROR_NAME;
  e.code = code;
  return e;
}

/** True for errors thrown by this package (wasm or JavaScript). */
export function isCipherDropError(e) {
  return e instanceof Error && e.name === ERROR_NAME && typeof e.code === 'string';
}

/** Human messages for codes raised on the JavaScript side (the core's own are in its errors). */
export const MESSAGES = {
  DECRYPTION_FAILED: 'the file was changed after it was encrypted (a chunk failed to verify)',
  TRUNCATED: 'the file is truncated: it ends before its final chunk',
  TRAILING_DATA: 'the file has extra bytes after its final chunk',
  ABORTED: 'the operation was aborted',
  NO_WEBCRYPTO: 'WebCrypto (crypto.subtle) is not available here (it needs a secure context: https or localhost)',
};

/** An error for one of the codes in MESSAGES. */
export function errorFor(code, cause) {
  return cipherDropError(code, MESSAGES[code] ?? code, cause);
}

/** An error answer of the backend API: HTTP `status` and its stable `code`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}
