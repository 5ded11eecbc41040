// Argon2id off the page's thread (FORMAT.md 2.4). A passphrase keyring's wrap and
// unwrap cost up to a second of CPU (64 MiB, 3 passes by default): in a browser the
// asynchronous APIs (`decrypt`, `DecryptStream`, `decryptRange`, `encrypt`,
// `createEncryptorAsync`) run them in a module worker (keyring-worker.js) so the page
// keeps drawing and answering. Where no Web Worker can start (Node, a CSP without
// `worker-src 'self'`) they run on the calling thread, as the synchronous APIs
// (`Encryptor.withKeyring`, `Decryptor.withKeyring`, `Keyring#wrap/unwrap`,
// `new EncryptStream({ keyring })`) always do.
import { Keyring, argon2id } from './wasm.js';
import { cipherDropError } from './errors.js';

// The passphrase and costs of each keyring made by Keyring.fromPassphrase, for the
// worker (a wasm object cannot be sent to another thread). Held only as long as the
// keyring object itself.
const passphrases = new WeakMap();

const nativeFromPassphrase = Keyring.fromPassphrase;
Keyring.fromPassphrase = function fromPassphrase(passphrase, params) {
  const keyring = nativeFromPassphrase.call(Keyring, passphrase, params);
  passphrases.set(keyring, { passphrase, params: params == null ? undefined : { ...params } });
  return keyring;
};

const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** True when `keyring` is a passphrase keyring whose Argon2id can run in a worker here. */
export const offThread = (keyring) => !inNode && typeof Worker !== 'undefined' && passphrases.has(keyring);

function run(request) {
  return new Promise((resolve, reject) => {
    let worker;
    try {
      worker = new Worker(new URL('./keyring-worker.js', import.meta.url), { type: 'module' });
    } catch {
      resolve(null); // CSP or no module workers: the caller runs it on this thread
      return;
    }
    worker.onmessage = (event) => {
      worker.terminate();
      const { error } = event.data ?? {};
      // A CipherDrop error (wrong passphrase, ...) is the answer; anything else (the
      // worker could not load the wasm module) means: run it on this thread.
      if (error?.code) reject(cipherDropError(error.code, error.message));
      else resolve(error ? null : event.data);
    };
    worker.onerror = (event) => {
      worker.terminate();
      event.preventDefault?.();
      resolve(null); // the worker could not load (CSP, a bundler without it): run here
    };
    worker.postMessage(request);
  });
}

/**
 * Unwraps a data key with a passphrase `keyring` in a worker: the data key, or
 * `null` when no worker could run it (then the caller does it on its own thread).
 */
export async function unwrapOffThread(keyring, wrappedKeys, context) {
  const { passphrase, params } = passphrases.get(keyring);
  const answer = await run({ unwrap: { passphrase, params, wrappedKeys, context } });
  return answer ? answer.dataKey : null;
}

/** Wraps `dataKey` with a passphrase `keyring` in a worker: the wrapped key, or `null` as above. */
export async function wrapOffThread(keyring, dataKey, context) {
  const { passphrase, params } = passphrases.get(keyring);
  const answer = await run({ wrap: { passphrase, params, dataKey: dataKey.slice(), context } });
  return answer ? answer.wrapped : null;
}

/**
 * Raw Argon2id (32 bytes) of `password` with a 16-byte `salt` and `params`
 * ({ memoryKib, iterations, parallelism }, capped by the wasm module as FORMAT.md
 * 2.4's), in a worker where one can start, else on this thread. A sharing link's
 * password (shares.js).
 */
export async function argon2idAsync(password, salt, params) {
  if (!inNode && typeof Worker !== 'undefined') {
    const answer = await run({ argon2id: { password, salt, params } });
    if (answer) return answer.key;
  }
  return argon2id(password, salt, params);
}

export { Keyring };
