// The passphrase worker: runs one Argon2id wrap or unwrap of a passphrase keyring
// off the page's thread (FORMAT.md 2.4), with its own copy of the wasm module.
// One job per worker; the page terminates it after the answer.
//
// Messages in:
//   { unwrap: { passphrase, params, wrappedKeys, context } }  -> { dataKey } or { error }
//   { wrap: { passphrase, params, dataKey, context } }         -> { wrapped } or { error }
//   { argon2id: { password, salt, params } }                   -> { key } or { error }
//     (raw Argon2id, 32 bytes: a sharing link's password, shares.js)
//
// The wasm module is loaded when the message arrives, not with a top-level await
// (as wasm.js does): that would delay setting `onmessage`, and a message arriving
// before it would be lost. The glue is imported statically (bundlers emit this
// worker as one file, and the .wasm as an asset from the `new URL` below).
import init, { Keyring, argon2id as rawArgon2id } from './cipherdrop_wasm.js';

let ready;
const load = () => {
  ready ??= init({ module_or_path: new URL('./cipherdrop_wasm_bg.wasm', import.meta.url) });
  return ready;
};

const fail = (e) => ({ error: { name: e?.name ?? 'Error', code: e?.code, message: String(e?.message ?? e) } });

globalThis.onmessage = async (event) => {
  const { unwrap, wrap, argon2id } = event.data ?? {};
  let answer;
  let keyring;
  try {
    await load();
    if (unwrap) {
      keyring = Keyring.fromPassphrase(unwrap.passphrase, unwrap.params);
      answer = { dataKey: keyring.unwrap(unwrap.wrappedKeys, unwrap.context) };
    } else if (wrap) {
      keyring = Keyring.fromPassphrase(wrap.passphrase, wrap.params);
      answer = { wrapped: keyring.wrap(wrap.dataKey, wrap.context) };
      wrap.dataKey.fill(0);
    } else if (argon2id) {
      answer = { key: rawArgon2id(argon2id.password, argon2id.salt, argon2id.params) };
    } else {
      answer = fail(new Error('unknown request'));
    }
  } catch (e) {
    answer = fail(e);
  } finally {
    keyring?.free();
  }
  const secret = answer.dataKey ?? answer.key;
  globalThis.postMessage(answer, secret ? [secret.buffer] : []);
};
