// The passphrase worker: runs one Argon2id wrap or unwrap of a passphrase keyring
// off the page's thread (FORMAT.md 2.4), with its own copy of the wasm module.
// One job per worker; the page terminates it after the answer.
//
// Messages in:
//   { unwrap: { passphrase, params, wrappedKeys, context } }  -> { dataKey } or { error }
//   { wrap: { passphrase, params, dataKey, context } }         -> { wrapped } or { error }
//
// The wasm module is imported dynamically, after `onmessage` is set: a static import
// of wasm.js (which loads the module with a top-level await) would delay the
// handler, and a message arriving before it would be lost.
const wasm = import('./wasm.js');

const fail = (e) => ({ error: { name: e?.name ?? 'Error', code: e?.code, message: String(e?.message ?? e) } });

globalThis.onmessage = async (event) => {
  const { unwrap, wrap } = event.data ?? {};
  let answer;
  let keyring;
  try {
    const { Keyring } = await wasm;
    if (unwrap) {
      keyring = Keyring.fromPassphrase(unwrap.passphrase, unwrap.params);
      answer = { dataKey: keyring.unwrap(unwrap.wrappedKeys, unwrap.context) };
    } else if (wrap) {
      keyring = Keyring.fromPassphrase(wrap.passphrase, wrap.params);
      answer = { wrapped: keyring.wrap(wrap.dataKey, wrap.context) };
      wrap.dataKey.fill(0);
    } else {
      answer = fail(new Error('unknown request'));
    }
  } catch (e) {
    answer = fail(e);
  } finally {
    keyring?.free();
  }
  globalThis.postMessage(answer, answer.dataKey ? [answer.dataKey.buffer] : []);
};
