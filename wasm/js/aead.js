// The chunk AEAD: WebCrypto AES-256-GCM where `crypto.subtle` exists (hardware AES,
// about 6x the wasm speed), the wasm aes-gcm otherwise. Both use crypto-core's
// nonces, so they produce the same bytes.
import { ChunkCipher, chunkNonce } from './wasm.js';
import { errorFor, cipherDropError } from './errors.js';

/** True when WebCrypto AES-GCM can be used here. */
export function hasWebCrypto() {
  return typeof globalThis.crypto !== 'undefined' && typeof globalThis.crypto.subtle !== 'undefined';
}

/**
 * A chunk sealer/opener for one content key.
 * @param {Uint8Array} contentKey 32 bytes, from an Encryptor or a Decryptor.
 * @param {'auto'|'webcrypto'|'wasm'} [engine]
 */
export async function createChunkAead(contentKey, engine = 'auto') {
  if (engine !== 'wasm' && hasWebCrypto()) {
    const subtle = globalThis.crypto.subtle;
    const key = await subtle.importKey('raw', contentKey, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    return {
      engine: 'webcrypto',
      key,
      // WebCrypto copies `data` before returning, so callers may reuse their buffer.
      seal(index, isFinal, data) {
        return subtle
          .encrypt({ name: 'AES-GCM', iv: chunkNonce(index, isFinal) }, key, data)
          .then((b) => new Uint8Array(b));
      },
      open(index, isFinal, sealed) {
        return subtle.decrypt({ name: 'AES-GCM', iv: chunkNonce(index, isFinal) }, key, sealed).then(
          (b) => new Uint8Array(b),
          (e) => {
            throw sealed.length < 16 ? errorFor('TRUNCATED', e) : errorFor('DECRYPTION_FAILED', e);
          },
        );
      },
      free() {},
    };
  }
  if (engine === 'webcrypto') throw errorFor('NO_WEBCRYPTO');
  if (engine !== 'auto' && engine !== 'wasm') {
    throw cipherDropError('INVALID_ARGUMENT', `unknown engine ${String(engine)}: use "auto", "webcrypto" or "wasm"`);
  }
  const cipher = new ChunkCipher(contentKey);
  return {
    engine: 'wasm',
    key: undefined,
    // Synchronous inside: the input is copied into wasm memory before this returns.
    seal(index, isFinal, data) {
      try {
        return Promise.resolve(cipher.seal(index, isFinal, data));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    open(index, isFinal, sealed) {
      try {
        return Promise.resolve(cipher.open(index, isFinal, sealed));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    free() {
      cipher.free();
    },
  };
}
