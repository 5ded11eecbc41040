// File names, sealed in the browser with the user's name keys (AES-256-GCM through
// WebCrypto) and stored as opaque S3 metadata, and the base64 forms the API uses.

/** Stored name of the objects that hold a user's name keys (base64url of "cipherdrop-name-key"). */
export const NAME_KEY_MARKER = 'Y2lwaGVyZHJvcC1uYW1lLWtleQ';
// Sealed name = base64url(version ‖ 12-byte IV ‖ AES-256-GCM(plaintext, AAD)), the
// plaintext {"n": name, "s": plaintext size}. Version 3 binds the name to its object:
// AAD = "cipherdrop-name-v3" ‖ 0x00 ‖ owner ‖ 0x00 ‖ object id (the owner id and the
// object id are 32 lowercase hex characters each, so the AAD is unambiguous), so a
// name copied onto another object's metadata (by anyone who can write the bucket)
// fails to open there and is shown as no name. Versions 1 and 2 (not bound to an
// object) are no longer read: no such names were ever stored in production.
const NAME_VERSION = 3;
const nameAad = (owner, objectId) => new TextEncoder().encode(`cipherdrop-name-v3\0${owner}\0${objectId}`);
export const b64decode = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
export function b64encode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
export const toUrl = (b) => b64encode(b).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
export const fromUrl = (s) => b64decode(s.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (s.length % 4)) % 4));

/** Seals `name` (and the plaintext `size`) for object `objectId` of `owner`. */
export async function sealName(name, size, key, owner, objectId) {
  if (!owner || !objectId) throw new TypeError('a name is sealed for one object: give its owner and object id');
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const text = JSON.stringify({ n: name, s: size });
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: nameAad(owner, objectId) }, key, new TextEncoder().encode(text)));
  const out = new Uint8Array(13 + ct.length);
  out[0] = NAME_VERSION;
  out.set(iv, 1);
  out.set(ct, 13);
  return toUrl(out);
}

/**
 * Opens the sealed name of object `objectId` of `owner`: `{ name, size }`, or `null`
 * when there is none or it does not open (another object's name, another key, an
 * older version, damage).
 */
export async function openName(sealed, keys, owner, objectId) {
  if (!sealed || sealed === NAME_KEY_MARKER || !owner || !objectId) return null;
  let bytes;
  try {
    bytes = fromUrl(sealed);
  } catch {
    return null;
  }
  if (bytes.length < 13 + 16 || bytes[0] !== NAME_VERSION) return null;
  const additionalData = nameAad(owner, objectId);
  for (const key of keys) {
    let text;
    try {
      const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(1, 13), additionalData }, key, bytes.subarray(13));
      text = new TextDecoder().decode(pt);
    } catch {
      continue; // another key
    }
    try {
      const meta = JSON.parse(text);
      if (typeof meta?.n !== 'string') return null;
      return { name: meta.n, size: Number.isSafeInteger(meta.s) && meta.s >= 0 ? meta.s : null };
    } catch {
      return null;
    }
  }
  return null;
}
