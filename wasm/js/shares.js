// Sharing a file: links anyone can open without an account (docs/API.md "Sharing
// links"), and grants to another user of the same server (sealed_meta).
//
// A link is `<page>/s/<share_id>#<secret>`. The secret (32 random bytes) is made
// here and lives only in the fragment: it, the password and everything derived from
// them stay in this browser. Sent are `verifier = SHA-256(auth)` at creation and
// `auth` when opening; the server keeps `sealed` (the object's content and header
// keys, its name and plaintext size, sealed under a key derived from the secret)
// and `owner_sealed` (the secret sealed under the owner's name key, so the owner's
// browser can show the link again).
//
// owner_sealed (this package's own format; only the owner's browsers read it):
//   0x01 ‖ iv (12) ‖ AES-256-GCM(name key, iv, secret (32 bytes),
//     AAD = "CipherDrop v1 share owner" ‖ 00 ‖ share_id ‖ 00 ‖ owner ‖ 00 ‖ object_id)
// sealed with the owner's first name key (names.js; every name key is tried when
// opening). The AAD binds it to its link, owner and file: an owner_sealed copied
// onto another link record does not open there (the link shows no URL).
import { headerLength, readHeader, Decryptor } from './wasm.js';
import { DecryptStream } from './streams.js';
import { ApiError, cipherDropError } from './errors.js';
import { StorageError, abortError, isAbort, sleep } from './send.js';
import { b64decode, b64encode, toUrl, fromUrl, openName } from './names.js';
import { argon2idAsync } from './passphrase.js';

const te = new TextEncoder();
const HEX32 = /^[0-9a-f]{32}$/;
/** The Argon2id costs of a new link's password (docs/API.md): 64 MiB, 3 passes, 1 lane. */
const LINK_ARGON2ID = { m: 65536, t: 3, p: 1 };
const MAX_SEALED = 4096; // bytes, decoded (the server's limit)
const MAX_SEALED_META = 2048; // characters (the server's limit)
const OWNER_SEALED_VERSION = 1;

const shareAad = (shareId, owner, objectId) => te.encode(`CipherDrop v1 share\0${shareId}\0${owner}\0${objectId}`);
const ownerAad = (shareId, owner, objectId) => te.encode(`CipherDrop v1 share owner\0${shareId}\0${owner}\0${objectId}`);
const grantAad = (owner, objectId) => te.encode(`CipherDrop v1 grant\0${owner}\0${objectId}`);

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const fromHex = (s) => Uint8Array.from(s.match(/../g), (h) => parseInt(h, 16));
const enc = encodeURIComponent;

function checkId(id, what = 'object id') {
  if (typeof id !== 'string' || !HEX32.test(id)) throw cipherDropError('INVALID_ARGUMENT', `not a valid ${what} (32 lowercase hex characters)`);
}

/** Standard base64 that must decode to exactly `n` bytes, else null. */
function bytesOf(b64, n) {
  if (typeof b64 !== 'string') return null;
  try {
    const b = b64decode(b64);
    return b.length === n ? b : null;
  } catch {
    return null;
  }
}

// --- the errors of a link, with the words the person who meets them needs ---

const LINK_MESSAGES = {
  INVALID_LINK: 'This is not a complete sharing link: it should look like https://…/s/<32 characters>#<43 characters>. Copy the whole link again from the message you received.',
  PASSWORD_REQUIRED: 'This link is protected by a password: enter the password its owner gave you.',
  LINK_CHANGED: 'This link is incomplete or was changed: the part after # is not the one its owner shared. Copy the whole link again from the message you received.',
  LINK_UNAVAILABLE: 'This link cannot be used any more: it has expired, all its downloads were used, or its owner withdrew it or deleted the file. Ask the person who sent it for a new link.',
};

function linkError(code, message, cause) {
  return cipherDropError(code, message ?? LINK_MESSAGES[code], cause);
}

function wrongPassword(apiError) {
  // The server answers `attempts_left` (0 once the link is closed); an older server
  // only says "N attempts left" in its message.
  const m = /(\d+) attempts? left/.exec(apiError.message ?? '');
  const attemptsLeft = apiError.attemptsLeft ?? (m ? Number(m[1]) : 0);
  const e = linkError(
    'WRONG_PASSWORD',
    attemptsLeft > 0
      ? `The password is not right. ${attemptsLeft} ${attemptsLeft === 1 ? 'attempt' : 'attempts'} left before the link closes.`
      : 'The password is not right, and this link is now closed after too many wrong passwords. Ask the person who sent it for a new link.',
  );
  e.attemptsLeft = attemptsLeft;
  return e;
}

/** An ApiError of the public share routes as the link's error code. */
function mapShareError(e) {
  if (!(e instanceof ApiError)) return e;
  switch (e.code) {
    case 'link_unavailable':
      return linkError('LINK_UNAVAILABLE', undefined, e);
    case 'link_changed':
    case 'invalid_auth':
      return linkError('LINK_CHANGED', undefined, e);
    case 'wrong_password':
      return wrongPassword(e);
    case 'invalid_share_id':
      return linkError('INVALID_LINK', undefined, e);
    default:
      return e;
  }
}

// --- small helpers ---

/** Runs `fn` over `items`, at most `width` at once; results in order. */
async function mapLimit(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return out;
}

async function aesKey(raw) {
  return crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** nonce (12 random bytes) ‖ AES-256-GCM(key, nonce, plain, aad). */
async function aesSeal(key, plain, additionalData) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData }, key, plain));
  const out = new Uint8Array(12 + ct.length);
  out.set(iv);
  out.set(ct, 12);
  return out;
}

/** Opens `nonce ‖ ciphertext`; rejects (an OperationError) unless it verifies. */
async function aesOpen(key, sealed, additionalData) {
  if (sealed.length < 12 + 16) throw new Error('too short');
  return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.subarray(0, 12), additionalData }, key, sealed.subarray(12)));
}

/**
 * The link's keys (docs/API.md): PRK = HKDF-Extract(SHA-256, salt = the share id's
 * 16 bytes, IKM = secret ‖ pw); seal_key and auth are HKDF-Expand(PRK, info, 32).
 * WebCrypto's HKDF does Extract then Expand, so each derivation below is one of them.
 */
async function deriveLinkKeys(shareId, secret, pw) {
  const ikm = new Uint8Array(secret.length + (pw ? pw.length : 0));
  ikm.set(secret);
  if (pw) ikm.set(pw, secret.length);
  try {
    const base = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveKey', 'deriveBits']);
    const salt = fromHex(shareId);
    const sealKey = await crypto.subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt, info: te.encode('CipherDrop v1 share seal') },
      base,
      { name: 'AES-GCM', length: 256 },
      false,
      ['encrypt', 'decrypt'],
    );
    const auth = new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: te.encode('CipherDrop v1 share auth') }, base, 256));
    return { sealKey, auth };
  } finally {
    ikm.fill(0);
  }
}

/** grant_key = HKDF-SHA-256(IKM = header_key, salt = empty, info = "CipherDrop v1 grant meta"), as an AES-GCM key. */
async function grantKey(headerKey) {
  const base = await crypto.subtle.importKey('raw', headerKey, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: te.encode('CipherDrop v1 grant meta') },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Reads `want` bytes from the start of a stored object (one ranged GET); fewer if it is shorter. */
async function readPrefix(fetchImpl, request, want, signal) {
  let res;
  try {
    res = await fetchImpl(request.url, {
      method: request.method,
      headers: { ...request.headers, range: `bytes=0-${want - 1}` },
      signal,
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    throw isAbort(e) ? e : new StorageError(0);
  }
  if (!res.ok) throw new StorageError(res.status);
  // A store that ignores Range answers 200 with the whole object: read what is needed.
  const out = new Uint8Array(want);
  let n = 0;
  const reader = res.body.getReader();
  try {
    while (n < want) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, want - n);
      out.set(value.subarray(0, take), n);
      n += take;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return out.subarray(0, n);
}

/** The header of a stored object (its first `header_length` bytes, FORMAT.md 2), by ranged GETs. */
async function readHeaderBytes(fetchImpl, request, size, signal) {
  const first = await readPrefix(fetchImpl, request, Math.max(15, Math.min(4096, size ?? 4096)), signal);
  const hl = headerLength(first);
  if (first.length >= hl) return first.slice(0, hl);
  const all = await readPrefix(fetchImpl, request, hl, signal);
  if (all.length < hl) headerLength(all.subarray(0, 15)); // throws for a short object
  return all.slice(0, hl);
}

/**
 * One object's keys, as its downloader gets them: the header (ranged GET of the
 * download URL) is sent to `keysPath` and the answer checked against it here
 * (context and tag, wasm Decryptor.withObjectKeys).
 */
async function objectKeysFor(client, downloadPath, keysPath, context, signal) {
  const dl = await client.retry(signal, () => client.api('GET', downloadPath, undefined, signal));
  const header = await client.retry(signal, () => readHeaderBytes(client.fetch, dl.request, dl.object?.size, signal));
  const k = await client.retry(signal, () => client.api('POST', keysPath, { header: b64encode(header) }, signal));
  const contentKey = bytesOf(k.object_keys?.content_key, 32);
  const headerKey = bytesOf(k.object_keys?.header_key, 32);
  if (!contentKey || !headerKey) throw cipherDropError('WRONG_KEY', 'the server answered keys that are not 32 bytes each');
  const dec = Decryptor.withObjectKeys(header, contentKey, headerKey, context);
  try {
    return { header, contentKey, headerKey, answer: k.object_keys, plaintextLength: dec.plaintextLength ?? readHeader(header).plaintextLength ?? null };
  } finally {
    dec.free();
  }
}

const pageBaseOf = (client, pageUrl) => {
  const base = pageUrl ?? (client.baseUrl || globalThis.location?.origin);
  if (!base) throw cipherDropError('INVALID_ARGUMENT', 'give pageUrl: the origin (and path) the link opens at, e.g. "https://drop.example.com"');
  return String(base).replace(/\/+$/, '');
};

const linkUrl = (base, shareId, secret) => `${base}/s/${shareId}#${toUrl(secret)}`;

function toShareLink(l, url) {
  return {
    shareId: l.share_id,
    objectId: l.object_id,
    url,
    createdAt: l.created_at,
    expiresAt: l.expires_at,
    expired: Boolean(l.expired),
    maxDownloads: l.max_downloads ?? null,
    downloads: l.downloads ?? 0,
    downloadsLeft: l.downloads_left ?? null,
    password: Boolean(l.password),
  };
}

async function sealForOwner(nameKey, secret, shareId, owner, objectId) {
  const sealed = await aesSeal(nameKey, secret, ownerAad(shareId, owner, objectId));
  const out = new Uint8Array(1 + sealed.length);
  out[0] = OWNER_SEALED_VERSION;
  out.set(sealed, 1);
  return out;
}

/** The secret of one of the owner's links, or null when it does not open with these name keys. */
async function openForOwner(ownerSealed, nameKeys, shareId, owner, objectId) {
  let bytes;
  try {
    bytes = b64decode(ownerSealed);
  } catch {
    return null;
  }
  if (bytes[0] !== OWNER_SEALED_VERSION) return null;
  for (const key of nameKeys) {
    try {
      const secret = await aesOpen(key, bytes.subarray(1), ownerAad(shareId, owner, objectId));
      if (secret.length === 32) return secret;
    } catch {
      // another key
    }
  }
  return null;
}

// --- the owner's side of links ---

/** client.createShareLink: see index.d.ts. */
export async function createShareLink(client, objectId, { expiresIn, maxDownloads, password, pageUrl, signal } = {}) {
  checkId(objectId);
  const base = pageBaseOf(client, pageUrl);
  const { owner } = await client.whoami(signal);
  const o = await client.retry(signal, () => client.api('GET', `/api/objects/${enc(objectId)}`, undefined, signal));
  const nameKeys = await client.loadNameKeys(undefined, true, signal);
  const meta = await openName(o.name, nameKeys, owner, objectId);
  const keys = await objectKeysFor(client, `/api/objects/${enc(objectId)}/download`, `/api/objects/${enc(objectId)}/keys`, { object: objectId, owner }, signal);
  keys.contentKey.fill(0);
  keys.headerKey.fill(0);

  const shareId = hex(crypto.getRandomValues(new Uint8Array(16)));
  const secret = crypto.getRandomValues(new Uint8Array(32));
  let pw = null;
  let auth;
  try {
    const body = { share_id: shareId };
    if (password) {
      const salt = crypto.getRandomValues(new Uint8Array(16));
      const { m, t, p } = LINK_ARGON2ID;
      pw = await argon2idAsync(password, salt, { memoryKib: m, iterations: t, parallelism: p });
      body.password = { salt: b64encode(salt), m, t, p };
    }
    const derived = await deriveLinkKeys(shareId, secret, pw);
    auth = derived.auth;
    const payload = te.encode(
      JSON.stringify({ content_key: keys.answer.content_key, header_key: keys.answer.header_key, name: meta?.name ?? null, size: keys.plaintextLength ?? meta?.size ?? null }),
    );
    if (payload.length + 28 > MAX_SEALED) throw cipherDropError('INVALID_ARGUMENT', 'this file name is too long to be shared in a link; rename the file and try again');
    const sealed = await aesSeal(derived.sealKey, payload, shareAad(shareId, owner, objectId));
    payload.fill(0);
    body.verifier = b64encode(new Uint8Array(await crypto.subtle.digest('SHA-256', auth)));
    body.sealed = b64encode(sealed);
    body.owner_sealed = b64encode(await sealForOwner(nameKeys[0], secret, shareId, owner, objectId));
    if (expiresIn !== undefined && expiresIn !== null) body.expires_in = expiresIn;
    if (maxDownloads !== undefined && maxDownloads !== null) body.max_downloads = maxDownloads;
    const path = `/api/objects/${enc(objectId)}/shares`;
    const link = await client.retry(signal, async (attempt) => {
      try {
        return await client.api('POST', path, body, signal);
      } catch (e) {
        // A retry after a lost answer: the first attempt made the link.
        if (attempt > 0 && e instanceof ApiError && e.code === 'share_id_taken') {
          const mine = (await client.api('GET', path, undefined, signal)).shares?.find((s) => s.share_id === shareId);
          if (mine) return mine;
        }
        throw e;
      }
    });
    return toShareLink(link, linkUrl(base, shareId, secret));
  } finally {
    secret.fill(0);
    pw?.fill(0);
    auth?.fill(0);
  }
}

/** client.listShareLinks: see index.d.ts. */
export async function listShareLinks(client, objectId, { signal, pageUrl } = {}) {
  checkId(objectId);
  const res = await client.retry(signal, () => client.api('GET', `/api/objects/${enc(objectId)}/shares`, undefined, signal));
  const shares = res.shares ?? [];
  if (shares.length === 0) return [];
  const base = (() => {
    try {
      return pageBaseOf(client, pageUrl);
    } catch {
      return null;
    }
  })();
  const { owner } = await client.whoami(signal);
  const nameKeys = await client.loadNameKeys(undefined, false, signal);
  return Promise.all(
    shares.map(async (l) => {
      const secret = base && HEX32.test(l.share_id ?? '') ? await openForOwner(l.owner_sealed, nameKeys, l.share_id, owner, objectId) : null;
      const url = secret ? linkUrl(base, l.share_id, secret) : null;
      secret?.fill(0);
      return toShareLink(l, url);
    }),
  );
}

/** client.revokeShareLink: see index.d.ts. */
export async function revokeShareLink(client, shareId, { signal } = {}) {
  checkId(shareId, 'share id');
  await client.retry(signal, () => client.api('DELETE', `/api/shares/${enc(shareId)}`, undefined, signal));
}

// --- the recipient's side of links (no account) ---

/**
 * `…/s/<share_id>#<secret>` → { shareId, secret, apiBase }. The API base is
 * `baseUrl`, else the link's origin and any path before `/s/`.
 */
function parseLink(link, baseUrl) {
  let u;
  try {
    u = new URL(String(link), globalThis.location?.href);
  } catch (e) {
    throw linkError('INVALID_LINK', undefined, e);
  }
  const m = /^(.*)\/s\/([0-9a-fA-F]{32})\/?$/.exec(u.pathname);
  if (!m) throw linkError('INVALID_LINK');
  const frag = u.hash.replace(/^#/, '');
  if (!/^[A-Za-z0-9_-]{43}$/.test(frag)) throw linkError('INVALID_LINK');
  const secret = fromUrl(frag);
  // The last character carries 4 bits: one whose spare bits are set was changed.
  if (secret.length !== 32 || toUrl(secret) !== frag) throw linkError('INVALID_LINK');
  const apiBase = String(baseUrl ?? `${u.origin}${m[1]}`).replace(/\/+$/, '');
  return { shareId: m[2].toLowerCase(), secret, apiBase };
}

/** A call of a public share route (no token): the answer's JSON, or its error as a link error. */
async function publicCall(fetchImpl, method, url, body, signal, { retries = 3 } = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      let res;
      try {
        res = await fetchImpl(url, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
          cache: 'no-store',
          credentials: 'omit',
          referrerPolicy: 'no-referrer',
        });
      } catch (e) {
        throw isAbort(e) || signal?.aborted ? abortError(signal) : e;
      }
      const text = await res.text();
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (!res.ok) {
        const err = json?.error ?? {};
        throw new ApiError(res.status, err.code ?? 'http_error', err.message ?? `the server answered ${res.status}`);
      }
      return json;
    } catch (e) {
      const again =
        !signal?.aborted &&
        attempt < retries &&
        (e instanceof TypeError || (e instanceof ApiError && (e.status === 429 || e.status === 408 || e.status >= 500)));
      if (!again) throw mapShareError(e);
      await sleep(Math.min(4000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2), signal);
    }
  }
}

/** shareLinkInfo: see index.d.ts. */
export async function shareLinkInfo(link, { baseUrl, fetch: fetchImpl, signal } = {}) {
  const { shareId, secret, apiBase } = parseLink(link, baseUrl);
  secret.fill(0);
  const f = fetchImpl ?? globalThis.fetch.bind(globalThis);
  const info = await publicCall(f, 'GET', `${apiBase}/api/shares/${shareId}`, undefined, signal);
  return { shareId, passwordRequired: Boolean(info?.password) };
}

function progressStream(total, onProgress) {
  let received = 0;
  return new TransformStream({
    transform(chunk, controller) {
      received += chunk.length;
      onProgress?.({ received, total });
      controller.enqueue(chunk);
    },
  });
}

/** openShareLink: see index.d.ts. */
export async function openShareLink(link, { password, baseUrl, fetch: fetchImpl, signal } = {}) {
  const { shareId, secret, apiBase } = parseLink(link, baseUrl);
  const f = fetchImpl ?? globalThis.fetch.bind(globalThis);
  let pw = null;
  let auth;
  let sealKey;
  try {
    const info = await publicCall(f, 'GET', `${apiBase}/api/shares/${shareId}`, undefined, signal);
    if (info?.password) {
      if (!password) throw linkError('PASSWORD_REQUIRED');
      const salt = bytesOf(info.password.salt, 16);
      if (!salt) throw linkError('LINK_CHANGED', 'The server described this link\'s password with a salt that is not 16 bytes; the link cannot be opened here.');
      // The costs come from the server: the wasm module refuses any above
      // FORMAT.md 2.4's caps (LIMIT_EXCEEDED) before allocating anything.
      pw = await argon2idAsync(password, salt, { memoryKib: info.password.m, iterations: info.password.t, parallelism: info.password.p });
    }
    ({ sealKey, auth } = await deriveLinkKeys(shareId, secret, pw));
  } finally {
    secret.fill(0);
    pw?.fill(0);
  }
  const authB64 = b64encode(auth);
  auth.fill(0);
  const opened = await publicCall(f, 'POST', `${apiBase}/api/shares/${shareId}/open`, { auth: authB64 }, signal);
  const { owner, object_id: objectId } = opened ?? {};
  if (!HEX32.test(owner ?? '') || !HEX32.test(objectId ?? '')) throw linkError('LINK_CHANGED', 'The server\'s answer for this link is not what a link holds; it cannot be opened here.');
  let payload;
  try {
    const plain = await aesOpen(sealKey, b64decode(opened.sealed), shareAad(shareId, owner, objectId));
    payload = JSON.parse(new TextDecoder().decode(plain));
    plain.fill(0);
  } catch (e) {
    // Another secret or password would not have got past the server's verifier: what
    // does not open here was sealed for another link or file, or changed.
    throw linkError('LINK_CHANGED', undefined, e);
  }
  const contentKey = bytesOf(payload?.content_key, 32);
  const headerKey = bytesOf(payload?.header_key, 32);
  if (!contentKey || !headerKey) throw linkError('LINK_CHANGED');
  const name = typeof payload.name === 'string' ? payload.name : null;
  const size = Number.isSafeInteger(payload.size) && payload.size >= 0 ? payload.size : null;
  const context = { object: objectId, owner };
  const file = {
    shareId,
    name,
    size,
    expiresAt: opened.expires_at,
    downloadsLeft: opened.downloads_left ?? null,
    /** Verified plaintext (counts one download when the link has a limit). */
    async download({ onProgress, signal: dlSignal } = {}) {
      const dl = await publicCall(f, 'POST', `${apiBase}/api/shares/${shareId}/download`, { auth: authB64 }, dlSignal, { retries: 0 });
      file.downloadsLeft = dl.downloads_left ?? null;
      let res;
      try {
        res = await f(dl.request.url, { method: dl.request.method, headers: dl.request.headers, signal: dlSignal, cache: 'no-store', referrerPolicy: 'no-referrer' });
      } catch (e) {
        throw isAbort(e) ? e : new StorageError(0);
      }
      if (!res.ok) throw new StorageError(res.status);
      const decrypt = new DecryptStream({
        context,
        // Copies: DecryptStream wipes the keys a function hands it once used.
        objectKeys: async () => ({ contentKey: contentKey.slice(), headerKey: headerKey.slice() }),
      });
      return res.body.pipeThrough(progressStream(opened.size, onProgress)).pipeThrough(decrypt);
    },
  };
  return file;
}

// --- grants to another user of the same server ---

const toGrant = (g) => ({ grantee: g.grantee, granteeId: g.grantee_id, objectId: g.object_id, createdAt: g.created_at });

/** client.grant: see index.d.ts. */
export async function grant(client, objectId, grantee, { signal } = {}) {
  checkId(objectId);
  if (typeof grantee !== 'string' || !grantee.trim()) throw cipherDropError('INVALID_ARGUMENT', 'say whom to share with: their user name or e-mail address');
  const { owner } = await client.whoami(signal);
  const o = await client.retry(signal, () => client.api('GET', `/api/objects/${enc(objectId)}`, undefined, signal));
  const nameKeys = o.name ? await client.loadNameKeys(undefined, false, signal) : [];
  const meta = await openName(o.name, nameKeys, owner, objectId);
  const keys = await objectKeysFor(client, `/api/objects/${enc(objectId)}/download`, `/api/objects/${enc(objectId)}/keys`, { object: objectId, owner }, signal);
  keys.contentKey.fill(0);
  let sealedMeta;
  try {
    const gk = await grantKey(keys.headerKey);
    const size = keys.plaintextLength ?? meta?.size ?? null;
    const seal = async (n) => toUrl(await aesSeal(gk, te.encode(JSON.stringify({ n, s: size })), grantAad(owner, objectId)));
    sealedMeta = await seal(meta?.name ?? null);
    // A name too long for the server's limit is left out (the grantee sees no name).
    if (sealedMeta.length > MAX_SEALED_META) sealedMeta = await seal(null);
  } finally {
    keys.headerKey.fill(0);
  }
  const g = await client.retry(signal, () => client.api('POST', `/api/objects/${enc(objectId)}/grants`, { grantee: grantee.trim(), sealed_meta: sealedMeta }, signal));
  return toGrant(g);
}

/** client.listGrants: see index.d.ts. */
export async function listGrants(client, objectId, { signal } = {}) {
  checkId(objectId);
  const res = await client.retry(signal, () => client.api('GET', `/api/objects/${enc(objectId)}/grants`, undefined, signal));
  return (res.grants ?? []).map(toGrant);
}

/** client.revokeGrant: see index.d.ts. */
export async function revokeGrant(client, objectId, granteeId, { signal } = {}) {
  checkId(objectId);
  checkId(granteeId, 'grantee id');
  await client.retry(signal, () => client.api('DELETE', `/api/objects/${enc(objectId)}/grants/${enc(granteeId)}`, undefined, signal));
}

/** Opens a grant's sealed_meta with the object's header key: { name, size } or null. */
async function openGrantMeta(sealedMeta, headerKey, owner, objectId) {
  try {
    const gk = await grantKey(headerKey);
    const plain = await aesOpen(gk, fromUrl(sealedMeta), grantAad(owner, objectId));
    const meta = JSON.parse(new TextDecoder().decode(plain));
    return {
      name: typeof meta?.n === 'string' ? meta.n : null,
      size: Number.isSafeInteger(meta?.s) && meta.s >= 0 ? meta.s : null,
    };
  } catch {
    return null;
  }
}

/** The names of shared files are opened this many at a time (each costs three requests). */
const SHARED_NAMES_AT_ONCE = 4;

/** client.sharedWithMe: see index.d.ts. */
export async function sharedWithMe(client, { signal } = {}) {
  const res = await client.retry(signal, () => client.api('GET', '/api/shared-with-me', undefined, signal));
  return mapLimit(res.grants ?? [], SHARED_NAMES_AT_ONCE, async (g) => {
    const item = {
      owner: g.owner,
      from: g.from ?? null,
      objectId: g.object_id,
      size: g.size,
      lastModified: g.last_modified,
      grantedAt: g.granted_at,
      name: null,
      plaintextSize: null,
    };
    if (!g.sealed_meta || !HEX32.test(g.owner ?? '') || !HEX32.test(g.object_id ?? '')) return item;
    try {
      const base = `/api/shared/${enc(g.owner)}/${enc(g.object_id)}`;
      const keys = await objectKeysFor(client, `${base}/download`, `${base}/keys`, { object: g.object_id, owner: g.owner }, signal);
      keys.contentKey.fill(0);
      const meta = await openGrantMeta(g.sealed_meta, keys.headerKey, g.owner, g.object_id);
      keys.headerKey.fill(0);
      item.name = meta?.name ?? null;
      item.plaintextSize = keys.plaintextLength ?? meta?.size ?? null;
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      // One file whose keys or name cannot be had is shown without a name.
    }
    return item;
  });
}

/** client.downloadShared: see index.d.ts. */
export function downloadShared(client, owner, objectId, options = {}) {
  checkId(owner, 'owner id');
  checkId(objectId);
  const base = `/api/shared/${enc(owner)}/${enc(objectId)}`;
  return client.downloadVia(`${base}/download`, `${base}/keys`, { object: objectId, owner }, options);
}
