// File names, sealed in the browser with the user's name keys (AES-256-GCM through
// WebCrypto) and stored as opaque S3 metadata, and the base64 forms the API uses.

/** Stored name of the objects that hold a user's name keys (base64url of "cipherdrop-name-key"). */
export const NAME_KEY_MARKER = 'Y2lwaGVyZHJvcC1uYW1lLWtleQ';
// Sealed name = base64url(version ‖ 12-byte IV ‖ AES-256-GCM(plaintext, AAD)):
// version 1 seals the name alone; version 2 (written now) seals
// {"n": name, "s": plaintext size}, so a listing shows plaintext sizes.
const NAME_VERSION = 2;
const NAME_AAD = new TextEncoder().encode('cipherdrop-name-v1');
export const b64decode = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
export function b64encode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
export const toUrl = (b) => b64encode(b).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
export const fromUrl = (s) => b64decode(s.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (s.length % 4)) % 4));

export async function sealName(name, size, key) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const text = JSON.stringify({ n: name, s: size });
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: NAME_AAD }, key, new TextEncoder().encode(text)));
  const out = new Uint8Array(13 + ct.length);
  out[0] = NAME_VERSION;
  out.set(iv, 1);
  out.set(ct, 13);
  return toUrl(out);
}

export async function openName(sealed, keys) {
  if (!sealed || sealed === NAME_KEY_MARKER) return null;
  let bytes;
  try {
    bytes = fromUrl(sealed);
  } catch {
    return null;
  }
  if (bytes.length < 13 + 16 || (bytes[0] !== 1 && bytes[0] !== 2)) return null;
  for (const key of keys) {
    let text;
    try {
      const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(1, 13), additionalData: NAME_AAD }, key, bytes.subarray(13));
      text = new TextDecoder().decode(pt);
    } catch {
      continue; // another key
    }
    if (bytes[0] === 1) return { name: text, size: null };
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

