// The high-level client of the CipherDrop backend (docs/API.md): encrypted uploads
// (parts sealed and sent by parts.js, resumable after a reload with resume.js),
// verified streaming downloads, listing with decrypted names (names.js).
import { Encryptor, Keyring } from './wasm.js';
import { createChunkAead } from './aead.js';
import { DecryptStream, collect } from './streams.js';
import { ApiError, cipherDropError } from './errors.js';
import { StorageError, abortError, isAbort, sleep } from './send.js';
import { Gate, PartUploader, multipartPlan, takeSignedPart } from './parts.js';
import { NAME_KEY_MARKER, b64decode, b64encode, openName, sealName } from './names.js';
import { ResumeStore, hasIndexedDb } from './resume.js';
import * as shares from './shares.js';

export { ApiError, StorageError, NAME_KEY_MARKER };


const SIGN_BATCH = 100;

/** A fresh random object id (128 bits, 32 lowercase hex characters), proposed at upload start. */
const newObjectId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * The wasm Encryptor for a header the backend built, with that object's keys
 * (`object_keys` of the start or resume answer). The header must name `context`
 * and its tag must verify; the key bytes are wiped here once the Encryptor has them.
 */
function encryptorFor(header, objectKeys, context) {
  const contentKey = b64decode(objectKeys.content_key);
  const headerKey = b64decode(objectKeys.header_key);
  try {
    return Encryptor.withObjectKeys(header, contentKey, headerKey, context);
  } finally {
    contentKey.fill(0);
    headerKey.fill(0);
  }
}


/** Retryable: no answer, 403 from storage (expired link, re-signed first), 408/429/5xx. */
function retryable(e) {
  if (e instanceof StorageError) return true;
  if (e instanceof ApiError) return e.status === 408 || e.status === 429 || e.status >= 500;
  return e instanceof TypeError; // fetch's network failure
}


/**
 * The client of a CipherDrop backend. Files are encrypted before they leave the
 * browser; the backend builds each file's header and hands out the keys of that
 * one object (never a data key) and presigned storage URLs.
 */
export class CipherDropClient {
  constructor({ baseUrl = '', token, fetch: fetchImpl, retries = 4, retryDelay = 250, useWorker = true, partsInFlight = 5 } = {}) {
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    // Sealed parts held at once (sealed and waiting, or being sent) by all uploads.
    this.partsHeld = new Gate(Math.max(1, partsInFlight));
    this.token = token;
    this.fetch = fetchImpl ?? globalThis.fetch.bind(globalThis);
    this.retries = retries;
    this.retryDelay = retryDelay;
    this.useWorker = useWorker;
    this.nameKeys = undefined;
    this.me = undefined;
  }

  async api(method, path, body, signal) {
    const headers = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
    if (res.status === 204) return undefined;
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = json?.error ?? {};
      const e = new ApiError(res.status, err.code ?? 'http_error', err.message ?? `the server answered ${res.status}`);
      if (Number.isSafeInteger(err.attempts_left) && err.attempts_left >= 0) e.attemptsLeft = err.attempts_left;
      throw e;
    }
    return json;
  }

  async retry(signal, fn, onRetry) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (e) {
        if (isAbort(e) || signal?.aborted || !retryable(e) || attempt >= this.retries) throw signal?.aborted ? abortError(signal) : e;
        onRetry?.(e, attempt);
        // Exponential backoff with jitter: 250 ms, 500 ms, 1 s, 2 s, ... (capped at 8 s).
        const base = Math.min(8000, this.retryDelay * 2 ** attempt);
        await sleep(base / 2 + Math.random() * (base / 2), signal);
      }
    }
  }

  /** The signed-in user: `{ user, owner }`. */
  async whoami(signal) {
    this.me ??= await this.api('GET', '/api/me', undefined, signal);
    return this.me;
  }

  /** Every object of the user (names decrypted; `null` when a name cannot be read). */
  async list({ signal } = {}) {
    const raw = [];
    let cursor = null;
    do {
      const q = new URLSearchParams({ limit: '1000' });
      if (cursor) q.set('cursor', cursor);
      const page = await this.retry(signal, () => this.api('GET', `/api/objects?${q}`, undefined, signal));
      raw.push(...page.objects);
      cursor = page.next_cursor;
    } while (cursor);
    const files = raw.filter((o) => o.name !== NAME_KEY_MARKER);
    const keys = files.some((o) => o.name) ? await this.loadNameKeys(raw, false, signal) : [];
    const { owner } = await this.whoami(signal);
    return Promise.all(files.map(async (o) => this.describe(o, keys, owner)));
  }

  /** One object (name decrypted). */
  async get(id, { signal } = {}) {
    const o = await this.retry(signal, () => this.api('GET', `/api/objects/${encodeURIComponent(id)}`, undefined, signal));
    const keys = o.name ? await this.loadNameKeys(undefined, false, signal) : [];
    const { owner } = await this.whoami(signal);
    return this.describe(o, keys, owner);
  }

  // A name sealed for another object (moved in the bucket's metadata) does not
  // open: it is shown as no name (`null`), never as this file's.
  async describe(o, keys, owner) {
    const meta = await openName(o.name, keys, owner, o.object_id);
    return {
      id: o.object_id,
      size: o.size,
      lastModified: o.last_modified,
      name: meta?.name ?? null,
      plaintextSize: meta?.size ?? null,
    };
  }

  /** Deletes an object. */
  async delete(id, { signal } = {}) {
    await this.retry(signal, () => this.api('DELETE', `/api/objects/${encodeURIComponent(id)}`, undefined, signal));
  }

  /**
   * The user's name keys: 32-byte AES keys stored as ordinary encrypted objects named
   * NAME_KEY_MARKER (the first, by id, seals new names). Made on first use.
   */
  loadNameKeys(objects, create, signal) {
    // One at a time: two uploads starting together must not each make a key.
    const run = () => this.loadNameKeysNow(objects, create, signal);
    this.nameKeysLock = (this.nameKeysLock ?? Promise.resolve()).then(run, run);
    return this.nameKeysLock;
  }

  async loadNameKeysNow(objects, create, signal) {
    if (this.nameKeys) return this.nameKeys;
    const all = objects ?? (await this.listRaw(signal));
    let keyObjects = all.filter((o) => o.name === NAME_KEY_MARKER);
    if (keyObjects.length === 0) {
      if (!create) return [];
      await this.uploadBytes(crypto.getRandomValues(new Uint8Array(32)), NAME_KEY_MARKER, signal);
      // Another tab may have made one at the same time: everyone uses the lowest id.
      keyObjects = (await this.listRaw(signal)).filter((o) => o.name === NAME_KEY_MARKER);
    }
    keyObjects.sort((a, b) => (a.object_id < b.object_id ? -1 : 1));
    const keys = [];
    for (const o of keyObjects) {
      const raw = await collect(await this.download(o.object_id, { signal }));
      if (raw.length === 32) keys.push(await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']));
    }
    if (keys.length === 0) throw cipherDropError('WRONG_KEY', 'none of the name keys could be read');
    this.nameKeys = keys;
    return keys;
  }

  async listRaw(signal) {
    const out = [];
    let cursor = null;
    do {
      const q = new URLSearchParams({ limit: '1000' });
      if (cursor) q.set('cursor', cursor);
      const page = await this.api('GET', `/api/objects?${q}`, undefined, signal);
      out.push(...page.objects);
      cursor = page.next_cursor;
    } while (cursor);
    return out;
  }

  async uploadBytes(bytes, sealedName, signal) {
    return this.uploadSealed(new Blob([bytes]), sealedName, { signal });
  }

  /**
   * Encrypts and uploads `file` (read in slices, never whole). Resolves with the
   * stored object `{ id, size, lastModified, name }`.
   *
   * Progress: `{ phase, encrypted, sent, total, plaintextTotal }` — plaintext bytes
   * sealed, ciphertext bytes sent, and the ciphertext total.
   *
   * With `resumable: true` (and IndexedDB) the upload is recorded so that
   * {@link resumeUpload} can finish it after a reload, a crash or a lost network;
   * an interrupted upload is then kept at the server instead of aborted.
   */
  async upload(file, { name, resumable = false, fileHandle, ...options } = {}) {
    const plainName = name ?? (typeof File !== 'undefined' && file instanceof File ? file.name : undefined);
    // The id is chosen here so that the name can be sealed bound to it (and to the
    // owner) before the upload starts; the backend refuses an id already in use.
    const objectId = newObjectId();
    let sealedName;
    if (plainName) {
      const keys = await this.loadNameKeys(undefined, true, options.signal);
      const { owner } = await this.whoami(options.signal);
      sealedName = await sealName(plainName, file.size, keys[0], owner, objectId);
    }
    const store = resumable ? await this.resumeStore(options.signal) : null;
    const o = await this.uploadSealed(file, sealedName, { ...options, objectId, store, fileHandle, plainName });
    return { ...o, name: plainName ?? null, plaintextSize: file.size };
  }

  async uploadSealed(file, sealedName, { signal, chunkSize, multipart, objectId, store, fileHandle, plainName, ...options } = {}) {
    if (signal?.aborted) throw abortError(signal);
    const { owner } = await this.whoami(signal);
    const req = { size: file.size, object_id: objectId ?? newObjectId() };
    if (sealedName) req.name = sealedName;
    if (chunkSize) req.chunk_size = chunkSize;
    if (multipart !== undefined) req.multipart = multipart;
    const start = await this.retry(signal, () => this.api('POST', '/api/uploads', req, signal));
    const upload = { id: start.object_id, token: start.upload_token, file, store: null };
    try {
      if (start.object_id !== req.object_id) throw cipherDropError('CONTEXT_MISMATCH', 'the server gave this upload another object id than the one asked for');
      // The header must name this object and this user: what the name was sealed to.
      const context = { object: req.object_id, owner };
      upload.enc = encryptorFor(b64decode(start.header), start.object_keys, context);
      if (upload.enc.ciphertextLength !== start.ciphertext_length || upload.enc.headerLength !== start.header_length || upload.enc.plaintextLength !== file.size) {
        throw cipherDropError('LENGTH_MISMATCH', 'the server and this client disagree on the encrypted size');
      }
      upload.parts = partsOf(start, upload.enc);
      upload.done = new Map();
      if (store) {
        const digest = await firstChunkDigest(upload.enc, file);
        await store.put({
          id: upload.id,
          token: upload.token,
          header: upload.enc.header,
          context,
          kind: start.upload.kind,
          partLengths: upload.parts.map((p) => p.length),
          ciphertextLength: start.ciphertext_length,
          done: {},
          name: plainName ?? null,
          file: { size: file.size, lastModified: file.lastModified ?? null, type: file.type ?? '' },
          digest,
          fileHandle: fileHandle ?? null,
          startedAt: Date.now(),
          expiresAt: start.upload_expires_at * 1000,
        });
        upload.store = store;
      }
    } catch (e) {
      upload.enc?.free();
      this.api('POST', `/api/uploads/${upload.id}/abort`, { upload_token: upload.token }).catch(() => {});
      throw signal?.aborted ? abortError(signal) : e;
    }
    return this.transfer(upload, { signal, ...options });
  }

  /**
   * The resumable uploads of the signed-in user that this browser has not finished
   * (most recent first). Records past their upload's lifetime are dropped.
   */
  async unfinishedUploads({ signal } = {}) {
    const store = await this.resumeStore(signal);
    if (!store) return [];
    const now = Date.now();
    const out = [];
    for (const r of await store.all()) {
      if (r.expiresAt <= now) {
        await this.forget(store, r, signal);
        continue;
      }
      const doneParts = Object.keys(r.done).map(Number);
      out.push({
        id: r.id,
        name: r.name,
        size: r.file.size,
        lastModified: r.file.lastModified,
        startedAt: r.startedAt,
        expiresAt: r.expiresAt,
        partsDone: doneParts.length,
        partsTotal: r.partLengths.length,
        sentBytes: doneParts.reduce((n, p) => n + r.partLengths[p - 1], 0),
        totalBytes: r.ciphertextLength,
        fileHandle: r.fileHandle ?? null,
      });
    }
    return out.sort((a, b) => b.startedAt - a.startedAt);
  }

  /**
   * Goes on with unfinished upload `id`: `fileOrHandle` is the same file picked
   * again (or a FileSystemFileHandle; omit it when the upload kept one). The file is
   * checked (size, last-modified, first sealed chunk) before anything is sent, and
   * only the parts the storage does not have are sealed and sent.
   */
  async resumeUpload(id, fileOrHandle, { signal, ...options } = {}) {
    const store = await this.resumeStore(signal);
    const record = store ? await store.get(id) : undefined;
    if (!record) throw cipherDropError('UPLOAD_UNKNOWN', 'this browser has no unfinished upload with that id');
    if (record.expiresAt <= Date.now()) {
      await this.forget(store, record);
      throw expired();
    }
    const source = fileOrHandle ?? record.fileHandle;
    if (!source) throw cipherDropError('FILE_NEEDED', 'choose the same file again to resume this upload');
    const file = typeof source.getFile === 'function' ? await source.getFile() : source;
    const sameFile = file.size === record.file.size && (record.file.lastModified == null || file.lastModified === record.file.lastModified);
    if (!sameFile) throw differentFile();
    let state;
    try {
      state = await this.retry(signal, () =>
        this.api('POST', `/api/uploads/${encodeURIComponent(id)}/resume`, { upload_token: record.token, header: b64encode(record.header) }, signal),
      );
    } catch (e) {
      if (e instanceof ApiError && e.code === 'upload_not_found') {
        await this.forget(store, record);
        throw expired(e);
      }
      throw e;
    }
    const enc = encryptorFor(record.header, state.object_keys, record.context);
    const upload = { id, token: record.token, file, enc, store };
    try {
      if ((await firstChunkDigest(enc, file)) !== record.digest) throw differentFile();
      upload.parts = partsOf(state, enc);
      // The storage's list of parts is the truth: a part whose answer was lost is
      // there, and one the record thinks done but the storage lacks is sent again.
      upload.done = new Map(Object.entries(state.parts_done ?? {}).map(([n, etag]) => [Number(n), etag]));
      if (state.kind === 'single' && state.uploaded) upload.done.set(1, null);
      await store.put({ ...record, done: Object.fromEntries(upload.done) });
    } catch (e) {
      enc.free();
      throw e;
    }
    const o = await this.transfer(upload, { signal, ...options });
    return { ...o, name: record.name, plaintextSize: file.size };
  }

  /** Gives up unfinished upload `id`: aborted at the server (best effort) and forgotten here. */
  async discardUpload(id, { signal } = {}) {
    const store = await this.resumeStore(signal);
    const record = store ? await store.get(id) : undefined;
    if (record) await this.forget(store, record, signal);
  }

  /**
   * Aborts an upload at the server (best effort: the server accepts the token of an
   * expired upload for this, so its parts do not wait for the bucket's lifecycle
   * rule) and drops its record.
   */
  async forget(store, record, signal) {
    await this.api('POST', `/api/uploads/${encodeURIComponent(record.id)}/abort`, { upload_token: record.token }, signal).catch(() => {});
    await store.delete(record.id);
  }

  /** This user's resume records in this browser, or null where IndexedDB is missing. */
  async resumeStore(signal) {
    if (!hasIndexedDb()) return null;
    const { owner } = await this.whoami(signal);
    const base = this.baseUrl || globalThis.location?.origin || '';
    if (this.resumeRecords?.scope !== `${base}|${owner}`) this.resumeRecords = new ResumeStore(`${base}|${owner}`);
    return this.resumeRecords;
  }

  /**
   * Seals and sends the parts of `upload` not yet done, then completes it. On
   * failure the upload is aborted at the server, unless it is resumable and was
   * interrupted (network, storage or server trouble): then it is kept for
   * {@link resumeUpload}, and the error says so (`resumable: true`).
   */
  async transfer(upload, { onProgress = () => {}, signal, concurrency = 4, onRetry } = {}) {
    const { id, token, enc, parts, done, file, store } = upload;
    const single = parts.length === 1 && !parts[0].multipart;
    const progress = { phase: 'encrypting', encrypted: 0, sent: 0, total: enc.ciphertextLength, plaintextTotal: file.size };
    for (const p of parts) {
      if (!done.has(p.part_number)) continue;
      progress.encrypted += p.plaintext_length;
      progress.sent += p.length;
    }
    const report = () => onProgress({ ...progress });
    const todo = parts.filter((p) => !done.has(p.part_number));
    let sealer;
    try {
      const width = Math.max(1, Math.min(concurrency, todo.length));
      sealer = new PartUploader(enc, this.useWorker);
      await sealer.init();
      // Parts are signed on demand (the start and resume answers sign the first
      // ones); each signed part is checked against the plan computed here.
      const requests = new Map(parts.filter((p) => p.request).map((p) => [p.part_number, p.request]));
      const sign = async (numbers, stop) => {
        const res = await this.retry(stop, () => this.api('POST', `/api/uploads/${id}/parts`, { upload_token: token, part_numbers: numbers }, stop));
        for (const p of res.parts) requests.set(p.part_number, single ? p.request : takeSignedPart(parts, p).request);
      };
      const etags = new Array(parts.length);
      for (const [n, etag] of done) etags[n - 1] = etag;
      const onSent = (n) => {
        progress.sent += n;
        report();
      };
      const onSealed = (n) => {
        progress.encrypted += n;
        report();
      };
      // The first failure stops the whole upload: the parts being sent are aborted,
      // no new part is sealed.
      const inner = new AbortController();
      const onAbort = () => inner.abort(abortError(signal));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      const stop = inner.signal;
      let failure = null;
      const fail = (e) => {
        if (failure) return;
        failure = e;
        inner.abort(e);
      };
      // Sealed parts wait for one of `width` places to be sent from; sealing runs ahead
      // as far as this client's `partsInFlight` allows (shared by all its uploads, so
      // several files at once hold no more parts than one).
      const sending = new Gate(width);
      const sendPart = async (part, body) => {
        let place = false;
        try {
          await sending.acquire(stop);
          place = true;
          // The same ciphertext is resent on retry (never re-sealed: a nonce must not
          // seal two different plaintexts). Expired or refused links are re-signed.
          const etag = await this.retry(
            stop,
            async (attempt) => {
              if (!requests.has(part.part_number) || attempt > 0) {
                // Sign this part and the next unsigned ones in one request.
                const batch = [part.part_number];
                for (const p of todo) if (batch.length < SIGN_BATCH && p.part_number > part.part_number && !requests.has(p.part_number)) batch.push(p.part_number);
                await sign(batch, stop);
              }
              try {
                return await sealer.send(requests.get(part.part_number), body, stop, onSent);
              } catch (e) {
                // A single PUT is signed with If-None-Match: *, so after a lost answer
                // (or before a resume) the retry is refused with 412: it had landed.
                if (single && e instanceof StorageError && e.status === 412) return null;
                throw e;
              }
            },
            (e, attempt) => onRetry?.({ part: part.part_number, attempt: attempt + 1, error: e }),
          );
          etags[part.part_number - 1] = etag;
          // Best effort: a record that misses a part only means it is resent.
          await store?.partDone(id, part.part_number, etag).catch(() => {});
        } catch (e) {
          fail(e);
        } finally {
          if (place) sending.release();
          sealer.drop(body);
          this.partsHeld.release();
        }
      };
      const sends = [];
      try {
        for (const part of todo) {
          try {
            await this.partsHeld.acquire(stop);
          } catch (e) {
            fail(e);
            break;
          }
          let body;
          try {
            body = await sealer.seal(file, part.plaintext_offset, part.plaintext_length, part.first_chunk, part.first_chunk + part.chunk_count, part.part_number === 1, part.length, onSealed, stop);
          } catch (e) {
            this.partsHeld.release();
            fail(e);
            break;
          }
          if (progress.phase === 'encrypting') progress.phase = 'uploading';
          sends.push(sendPart(part, body));
        }
        await Promise.all(sends);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      if (failure) throw failure;
      progress.phase = 'completing';
      report();
      const finished = await this.retry(signal, () =>
        this.api('POST', `/api/uploads/${id}/complete`, { upload_token: token, parts: single ? [] : etags.map((etag, i) => ({ part_number: i + 1, etag })) }, signal),
      );
      await store?.delete(id).catch(() => {});
      progress.phase = 'done';
      report();
      return { id: finished.object_id, size: finished.size, lastModified: finished.last_modified, name: null, plaintextSize: file.size };
    } catch (e) {
      const error = signal?.aborted ? abortError(signal) : e;
      if (store && !signal?.aborted && interrupted(e)) {
        // Kept for resumeUpload: the parts sent so far stay at the storage.
        try {
          error.resumable = true;
        } catch {
          // a frozen error: the record still says it can be resumed
        }
        throw error;
      }
      // Leave nothing half-uploaded behind (best effort).
      this.api('POST', `/api/uploads/${id}/abort`, { upload_token: token }).catch(() => {});
      await store?.delete(id).catch(() => {});
      throw error;
    } finally {
      sealer?.close();
      enc.free();
    }
  }

  /**
   * Downloads object `id` as a stream of verified plaintext: each chunk is released
   * only after it verifies, and the stream errors (with a `code`) on any damage or
   * truncation. Progress: `{ received, total }` in ciphertext bytes.
   */
  async download(id, options = {}) {
    const { owner } = await this.whoami(options.signal);
    const path = `/api/objects/${encodeURIComponent(id)}`;
    return this.downloadVia(`${path}/download`, `${path}/keys`, { object: id, owner }, options);
  }

  /**
   * A verified download through `downloadPath` (presigned GET) and `keysPath` (the
   * object's keys for its header), of the object whose header must name `context`:
   * the caller's own objects and those granted to them.
   */
  async downloadVia(downloadPath, keysPath, context, { onProgress = () => {}, signal } = {}) {
    const res = await this.retry(signal, async () => {
      const dl = await this.api('GET', downloadPath, undefined, signal);
      let r;
      try {
        r = await this.fetch(dl.request.url, { method: dl.request.method, headers: dl.request.headers, signal, cache: 'no-store' });
      } catch (e) {
        throw isAbort(e) ? e : new StorageError(0);
      }
      if (!r.ok) throw new StorageError(r.status);
      r.total = dl.object.size;
      return r;
    });
    const total = res.total;
    let received = 0;
    const counter = new TransformStream({
      transform(chunk, controller) {
        received += chunk.length;
        onProgress({ received, total });
        controller.enqueue(chunk);
      },
    });
    const decrypt = new DecryptStream({
      context,
      // The header as read is sent back: the backend checks it (context from the
      // caller and id, key commitment, tag) and answers the keys of this object only.
      // The Decryptor checks the context and the tag again with them.
      objectKeys: async (_info, headerBytes) => {
        const k = await this.retry(signal, () => this.api('POST', keysPath, { header: b64encode(headerBytes) }, signal));
        return { contentKey: b64decode(k.object_keys.content_key), headerKey: b64decode(k.object_keys.header_key) };
      },
    });
    return res.body.pipeThrough(counter).pipeThrough(decrypt);
  }

  // --- sharing (shares.js) ---

  /** Makes a sharing link to object `objectId` (see index.d.ts). */
  createShareLink(objectId, options) {
    return shares.createShareLink(this, objectId, options);
  }

  /** The links to object `objectId`, each with its URL when this browser can open it again. */
  listShareLinks(objectId, options) {
    return shares.listShareLinks(this, objectId, options);
  }

  /** Withdraws link `shareId`. */
  revokeShareLink(shareId, options) {
    return shares.revokeShareLink(this, shareId, options);
  }

  /** Gives `grantee` (a handle: user name or e-mail) access to object `objectId`. */
  grant(objectId, grantee, options) {
    return shares.grant(this, objectId, grantee, options);
  }

  /** The grants of object `objectId`, oldest first. */
  listGrants(objectId, options) {
    return shares.listGrants(this, objectId, options);
  }

  /** Withdraws the grant of object `objectId` to `granteeId`. */
  revokeGrant(objectId, granteeId, options) {
    return shares.revokeGrant(this, objectId, granteeId, options);
  }

  /** The files other users granted to this one, names opened. */
  sharedWithMe(options) {
    return shares.sharedWithMe(this, options);
  }

  /** Verified plaintext of a file `owner` granted to this user. */
  downloadShared(owner, objectId, options) {
    return shares.downloadShared(this, owner, objectId, options);
  }

  /** Opens a sharing link (no account needed): the standalone `openShareLink`. */
  static openShareLink(url, options) {
    return shares.openShareLink(url, options);
  }

  /** Whether a sharing link needs a password (no account needed): the standalone `shareLinkInfo`. */
  static shareLinkInfo(url, options) {
    return shares.shareLinkInfo(url, options);
  }
}

/**
 * The parts of an upload (start or resume answer): a single PUT is one part; a
 * multipart upload's parts are computed from its plan, the ones the answer signed
 * carry their `request`.
 */
function partsOf(answer, enc) {
  if (answer.upload.kind !== 'single') {
    const parts = multipartPlan(answer.upload, enc);
    for (const signed of answer.upload.parts) takeSignedPart(parts, signed);
    return parts;
  }
  const length = enc.ciphertextLength;
  return [{ part_number: 1, first_chunk: 0, chunk_count: enc.chunkCount, plaintext_offset: 0, plaintext_length: enc.plaintextLength, length, request: answer.upload.request }];
}

/**
 * Whether an upload stopped by `e` can still be resumed. Only what makes resuming
 * pointless ends it: the server refusing the upload itself (a 4xx answer: expired,
 * not found, bad parts) or a file that does not match its plan. Network, storage and
 * server trouble keep it, and so does anything else: a page being left aborts its
 * requests and ends its workers (AbortError, a worker failure) before the page goes,
 * and that must not cost the person the upload.
 */
function interrupted(e) {
  if (e instanceof ApiError) return e.status === 408 || e.status === 429 || e.status >= 500;
  return e?.code !== 'LENGTH_MISMATCH';
}

const differentFile = () =>
  cipherDropError('DIFFERENT_FILE', 'this is not the file that was being uploaded (its size, date or first bytes differ); nothing was sent');

const expired = (cause) => {
  const e = new ApiError(404, 'upload_not_found', 'This upload can no longer be resumed (it expired or was ended). Start it again.');
  if (cause) e.cause = cause;
  return e;
};

/**
 * SHA-256 (hex) of the file's first sealed chunk: tells a resumed file from another
 * of the same size and date. The sealed bytes are those part 1 begins with (same
 * key, nonce and plaintext); a different file's are hashed here and dropped, never sent.
 */
async function firstChunkDigest(enc, file) {
  const plain = new Uint8Array(await file.slice(0, Math.min(enc.chunkSize, file.size)).arrayBuffer());
  const aead = await createChunkAead(enc.contentKey());
  try {
    const sealed = await aead.seal(0, enc.isFinal(0), plain);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', sealed));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  } finally {
    plain.fill(0);
    aead.free();
  }
}

export { Keyring };
