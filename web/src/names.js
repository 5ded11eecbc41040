// File names are encrypted in the browser before they reach the backend.
//
// The backend stores a name as opaque base64 given when an upload *starts*, before
// the page has that file's data key, so names are sealed with a per-user *name
// key* instead: 32 random bytes kept in the bucket as an ordinary CipherDrop object
// (encrypted with a data key from the key service, like any file) whose stored name
// is the marker below. Sealed name = base64url(0x01 ‖ 12-byte IV ‖ AES-256-GCM(name)).
// TODO: move into the package's CipherDropClient (issue 4) so every client reads the
// same names.
import { b64encode, b64decode, uploadFile, downloadStream, readAll } from './transfer.js';

/** The stored name of name-key objects (base64 of "cipherdrop-name-key"; never shown). */
export const NAME_KEY_MARKER = 'Y2lwaGVyZHJvcC1uYW1lLWtleQ';
const VERSION = 1;
const AAD = new TextEncoder().encode('cipherdrop-name-v1');

const toUrl = (b) => b64encode(b).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
const fromUrl = (s) => b64decode(s.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (s.length % 4)) % 4));

async function importKey(raw) {
  return crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** The user's name keys: the first seals new names; all are tried to open one. */
export class NameKeys {
  constructor(keys) {
    this.keys = keys;
  }

  /** Loads the name keys among `objects` (creating one when there is none). */
  static async load(api, owner, objects) {
    let keyObjects = objects.filter((o) => o.name === NAME_KEY_MARKER);
    if (keyObjects.length === 0) {
      const raw = crypto.getRandomValues(new Uint8Array(32));
      await uploadFile(api, new Blob([raw]), {
        name: NAME_KEY_MARKER,
        signal: new AbortController().signal,
        onProgress: () => {},
      });
      // Another tab may have made one at the same time: everyone uses the lowest id.
      keyObjects = (await api.listAll()).filter((o) => o.name === NAME_KEY_MARKER);
    }
    keyObjects.sort((a, b) => (a.object_id < b.object_id ? -1 : 1));
    const keys = [];
    for (const o of keyObjects) {
      const { stream } = await downloadStream(api, o.object_id, owner);
      const raw = await readAll(stream);
      if (raw.length === 32) keys.push(await importKey(raw));
    }
    if (keys.length === 0) throw new Error('no usable name key');
    return new NameKeys(keys);
  }

  async seal(name) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: AAD }, this.keys[0], new TextEncoder().encode(name)),
    );
    const out = new Uint8Array(1 + 12 + ct.length);
    out[0] = VERSION;
    out.set(iv, 1);
    out.set(ct, 13);
    return toUrl(out);
  }

  /** The plaintext name, or null when it cannot be opened. */
  async open(sealed) {
    if (!sealed) return null;
    let bytes;
    try {
      bytes = fromUrl(sealed);
    } catch {
      return null;
    }
    if (bytes.length < 13 + 16 || bytes[0] !== VERSION) return null;
    for (const key of this.keys) {
      try {
        const pt = await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: bytes.subarray(1, 13), additionalData: AAD }, key, bytes.subarray(13),
        );
        return new TextDecoder().decode(pt);
      } catch {
        // try the next key
      }
    }
    return null;
  }
}
