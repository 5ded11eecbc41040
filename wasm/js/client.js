// The high-level client of the CipherDrop backend (docs/API.md): encrypted uploads
// (file slices sealed in a Web Worker, multipart parts in parallel with retries and
// re-signed URLs), verified streaming downloads, listing with decrypted names.
import { Encryptor, Keyring } from './wasm.js';
import { createChunkAead, hasWebCrypto } from './aead.js';
import { DecryptStream, collect } from './streams.js';
import { cipherDropError } from './errors.js';
import { StorageError, abortError, isAbort, send } from './send.js';

export { StorageError };

/** An error answer of the backend API: HTTP `status` and its stable `code`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}


/** Stored name of the objects that hold a user's name keys (base64url of "cipherdrop-name-key"). */
export const NAME_KEY_MARKER = 'Y2lwaGVyZHJvcC1uYW1lLWtleQ';
// Sealed name = base64url(version ‖ 12-byte IV ‖ AES-256-GCM(plaintext, AAD)):
// version 1 seals the name alone; version 2 (written now) seals
// {"n": name, "s": plaintext size}, so a listing shows plaintext sizes.
const NAME_VERSION = 2;
const NAME_AAD = new TextEncoder().encode('cipherdrop-name-v1');
const SIGN_BATCH = 100;

const b64decode = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
function b64encode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
const toUrl = (b) => b64encode(b).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
const fromUrl = (s) => b64decode(s.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (s.length % 4)) % 4));

const toWrappedKeys = (list) =>
  list.map((k) => ({ providerId: k.provider_id, providerInfo: b64decode(k.provider_info), blob: b64decode(k.blob) }));
const fromWrappedKeys = (list) =>
  list.map((k) => ({
    provider_id: k.providerId,
    provider_info: b64encode(typeof k.providerInfo === 'string' ? new TextEncoder().encode(k.providerInfo) : k.providerInfo),
    blob: b64encode(k.blob),
  }));


function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retryable: no answer, 403 from storage (expired link, re-signed first), 408/429/5xx. */
function retryable(e) {
  if (e instanceof StorageError) return true;
  if (e instanceof ApiError) return e.status === 408 || e.status === 429 || e.status >= 500;
  return e instanceof TypeError; // fetch's network failure
}


/** At most `n` holders at once. */
class Gate {
  constructor(n) {
    this.free = n;
    this.waiting = [];
  }

  /** Resolves when a place is free; rejects with the signal's reason if it is aborted first. */
  acquire(signal) {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      const waiter = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release() {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** An upload worker's error, as the page would have met it on its own thread. */
function workerError({ name, message }) {
  if (name === 'LengthMismatch') return cipherDropError('LENGTH_MISMATCH', message);
  // The file could not be read (moved, deleted, no permission): keep the DOMException's name.
  if (name === 'NotReadableError' || name === 'NotFoundError') return new DOMException(message, name);
  return new Error(`the encryption worker failed: ${message}`);
}

/** A sealed part kept in an upload worker (sent from there, by `job`). */
class WorkerPart {
  constructor(job, size) {
    this.job = job;
    this.size = size;
  }
}

/**
 * Parts one upload worker seals before it is retired. A sealed part is a Blob, and
 * a Blob's bytes stay in the browser's blob store (and in the worker) until the
 * object is garbage-collected, which a worker with a tiny heap does rarely: parts
 * piled up to a gigabyte on a 2 GiB upload. A retired worker is terminated once its
 * last part is sent, which frees everything it held at once.
 */
const PARTS_PER_WORKER = 4;

/**
 * Seals parts and sends them. In Web Workers (WebCrypto) where it can: a worker
 * reads the slice, seals it into a Blob, keeps it, and sends it with the presigned
 * request it is given (again on retry: the same ciphertext, never re-sealed), so the
 * page's thread never holds a part. Without workers (CSP, no module workers, no
 * WebCrypto in workers), parts are sealed here into Blobs and sent from here.
 */
class PartUploader {
  constructor(enc, useWorker) {
    this.enc = enc;
    this.current = null; // the worker that seals the next parts
    this.workers = new Set();
    this.jobs = new Map();
    this.nextJob = 0;
    this.useWorker = useWorker && typeof Worker !== 'undefined' && hasWebCrypto();
  }

  async init() {
    if (!this.useWorker) return;
    this.key = await crypto.subtle.importKey('raw', this.enc.contentKey(), { name: 'AES-GCM' }, false, ['encrypt']);
    this.current = this.spawn();
  }

  /** A new upload worker (null when workers cannot start here). */
  spawn() {
    let worker;
    try {
      worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    } catch {
      this.useWorker = false; // CSP or no module workers: seal on this thread
      return null;
    }
    const entry = { worker, left: PARTS_PER_WORKER, live: 0, retired: false };
    worker.onmessage = (ev) => this.onMessage(entry, ev.data);
    worker.onerror = (ev) => {
      ev.preventDefault?.();
      const error = new Error(`the encryption worker failed: ${ev.message}`);
      for (const job of this.jobs.values()) if (job.entry === entry) job.pending?.reject(error);
    };
    this.workers.add(entry);
    return entry;
  }

  /** The worker for the next part: a fresh one when the current one has sealed its share. */
  take() {
    if (this.current && this.current.left === 0) {
      this.current.retired = true;
      this.settle(this.current);
      this.current = this.spawn();
    }
    const entry = this.current;
    if (entry) {
      entry.left--;
      entry.live++;
    }
    return entry;
  }

  /** Terminates a retired worker that holds no part. */
  settle(entry) {
    if (entry.retired && entry.live === 0) {
      entry.worker.terminate();
      this.workers.delete(entry);
    }
  }

  onMessage(entry, m) {
    const job = this.jobs.get(m.job);
    if (!job) {
      // A part sealed after its upload was given up: let the worker forget it.
      if (m.ready !== undefined) entry.worker.postMessage({ job: m.job, drop: true });
      return;
    }
    if (m.sealed !== undefined) return job.onSealed(m.sealed);
    if (m.sent !== undefined) return job.onSent?.(m.sent);
    const pending = job.pending;
    job.pending = null;
    if (!pending) return;
    if (m.ready !== undefined) pending.resolve(m.ready);
    else if (m.etag !== undefined) pending.resolve(m.etag);
    else if (m.status !== undefined) pending.reject(new StorageError(m.status));
    else if (m.aborted) pending.reject(abortError(job.signal));
    else if (m.error) pending.reject(workerError(m.error));
  }

  /** Posts `message` for `job` and waits for its answer (abortable). */
  call(job, message, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const onAbort = () => {
        job.entry.worker.postMessage({ job: job.id, abort: true });
        job.pending = null;
        reject(abortError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      job.signal = signal;
      job.pending = {
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      job.entry.worker.postMessage({ job: job.id, ...message });
    });
  }

  /**
   * Seals chunks [first, end) read from `blob` (the part's plaintext); part 1 starts
   * with the header; `length` is the sealed size the plan expects. Resolves with the
   * sealed part: a handle to it in the worker, or a Blob.
   */
  async seal(blob, first, end, withHeader, length, onSealed, signal) {
    const nonces = new Uint8Array(12 * (end - first));
    for (let i = first; i < end; i++) nonces.set(this.enc.chunkNonce(i), 12 * (i - first));
    const header = withHeader ? this.enc.header : undefined;
    const entry = this.useWorker ? this.take() : null;
    if (entry) {
      const job = { id: this.nextJob++, entry, onSealed, onSent: null, pending: null, signal };
      this.jobs.set(job.id, job);
      try {
        const size = await this.call(job, { seal: { key: this.key, blob, chunkSize: this.enc.chunkSize, nonces, header, length } }, signal);
        return new WorkerPart(job.id, size);
      } catch (e) {
        this.drop(new WorkerPart(job.id, 0));
        throw e;
      }
    }
    if (!this.aead) this.aead = await createChunkAead(this.enc.contentKey());
    const cs = this.enc.chunkSize;
    const plain = new Uint8Array(await blob.arrayBuffer());
    const pieces = header ? [header] : [];
    for (let i = first; i < end; i++) {
      const chunk = plain.subarray((i - first) * cs, Math.min(plain.length, (i - first + 1) * cs));
      pieces.push(await this.aead.seal(i, this.enc.isFinal(i), chunk));
      onSealed(chunk.length);
    }
    plain.fill(0);
    const body = new Blob(pieces);
    if (body.size !== length) throw cipherDropError('LENGTH_MISMATCH', 'a part does not match the server plan');
    return body;
  }

  /** Sends a sealed part with a presigned request; resolves with the ETag. */
  send(request, body, signal, onSent) {
    if (!(body instanceof WorkerPart)) return send(request, body, signal, onSent);
    const job = this.jobs.get(body.job);
    job.onSent = onSent;
    return this.call(job, { send: { method: request.method, url: request.url, headers: request.headers } }, signal);
  }

  /** Forgets a sealed part (sent, or given up). */
  drop(body) {
    if (!(body instanceof WorkerPart)) return;
    const job = this.jobs.get(body.job);
    if (!job) return;
    this.jobs.delete(body.job);
    job.entry.worker.postMessage({ job: body.job, drop: true });
    job.entry.live--;
    this.settle(job.entry);
  }

  close() {
    for (const entry of this.workers) entry.worker.terminate();
    this.workers.clear();
    this.aead?.free();
  }
}

/**
 * The client of a CipherDrop backend. Files are encrypted before they leave the
 * browser; the backend only hands out data keys and presigned storage URLs.
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
      throw new ApiError(res.status, err.code ?? 'http_error', err.message ?? `the server answered ${res.status}`);
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
    return Promise.all(files.map(async (o) => this.describe(o, keys)));
  }

  /** One object (name decrypted). */
  async get(id, { signal } = {}) {
    const o = await this.retry(signal, () => this.api('GET', `/api/objects/${encodeURIComponent(id)}`, undefined, signal));
    const keys = o.name ? await this.loadNameKeys(undefined, false, signal) : [];
    return this.describe(o, keys);
  }

  async describe(o, keys) {
    const meta = await openName(o.name, keys);
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
   */
  async upload(file, { name, onProgress = () => {}, signal, concurrency = 4, chunkSize, multipart, onRetry } = {}) {
    const plainName = name ?? (typeof File !== 'undefined' && file instanceof File ? file.name : undefined);
    let sealedName;
    if (plainName) {
      const keys = await this.loadNameKeys(undefined, true, signal);
      sealedName = await sealName(plainName, file.size, keys[0]);
    }
    const o = await this.uploadSealed(file, sealedName, { onProgress, signal, concurrency, chunkSize, multipart, onRetry });
    return { ...o, name: plainName ?? null, plaintextSize: file.size };
  }

  async uploadSealed(file, sealedName, { onProgress = () => {}, signal, concurrency = 4, chunkSize, multipart, onRetry } = {}) {
    if (signal?.aborted) throw abortError(signal);
    const req = { size: file.size };
    if (sealedName) req.name = sealedName;
    if (chunkSize) req.chunk_size = chunkSize;
    if (multipart !== undefined) req.multipart = multipart;
    const start = await this.retry(signal, () => this.api('POST', '/api/uploads', req, signal));
    const id = start.object_id;
    const token = start.upload_token;
    const progress = { phase: 'encrypting', encrypted: 0, sent: 0, total: start.ciphertext_length, plaintextTotal: file.size };
    const report = () => onProgress({ ...progress });
    let sealer;
    try {
      const dataKey = b64decode(start.data_key);
      const enc = new Encryptor(dataKey, toWrappedKeys(start.wrapped_keys), start.encryption_context, start.chunk_size, file.size);
      dataKey.fill(0);
      if (enc.ciphertextLength !== start.ciphertext_length || enc.headerLength !== start.header_length) {
        throw cipherDropError('LENGTH_MISMATCH', 'the server and this client disagree on the encrypted size');
      }
      const parts =
        start.upload.kind === 'single'
          ? [{ part_number: 1, first_chunk: 0, chunk_count: enc.chunkCount, plaintext_offset: 0, plaintext_length: file.size, length: start.ciphertext_length, request: start.upload.request }]
          : start.upload.parts;
      const single = start.upload.kind === 'single';
      const width = Math.max(1, Math.min(concurrency, parts.length));
      sealer = new PartUploader(enc, this.useWorker);
      await sealer.init();
      const requests = new Map(parts.filter((p) => p.request).map((p) => [p.part_number, p.request]));
      const sign = async (numbers, stop) => {
        const res = await this.retry(stop, () => this.api('POST', `/api/uploads/${id}/parts`, { upload_token: token, part_numbers: numbers }, stop));
        for (const p of res.parts) requests.set(p.part_number, p.request);
      };
      const etags = new Array(parts.length);
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
          etags[part.part_number - 1] = await this.retry(
            stop,
            async (attempt) => {
              if (!single && (!requests.has(part.part_number) || attempt > 0)) {
                // Sign this part and the next unsigned ones in one request.
                const batch = [part.part_number];
                for (const p of parts) if (batch.length < SIGN_BATCH && p.part_number > part.part_number && !requests.has(p.part_number)) batch.push(p.part_number);
                await sign(batch, stop);
              }
              return sealer.send(requests.get(part.part_number), body, stop, onSent);
            },
            (e, attempt) => onRetry?.({ part: part.part_number, attempt: attempt + 1, error: e }),
          );
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
        for (const part of parts) {
          try {
            await this.partsHeld.acquire(stop);
          } catch (e) {
            fail(e);
            break;
          }
          const slice = file.slice(part.plaintext_offset, part.plaintext_offset + part.plaintext_length);
          let body;
          try {
            body = await sealer.seal(slice, part.first_chunk, part.first_chunk + part.chunk_count, part.part_number === 1, part.length, onSealed, stop);
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
      const done = await this.retry(signal, () =>
        this.api('POST', `/api/uploads/${id}/complete`, { upload_token: token, parts: single ? [] : etags.map((etag, i) => ({ part_number: i + 1, etag })) }, signal),
      );
      progress.phase = 'done';
      report();
      return { id: done.object_id, size: done.size, lastModified: done.last_modified, name: null, plaintextSize: file.size };
    } catch (e) {
      // Leave nothing half-uploaded behind (best effort).
      this.api('POST', `/api/uploads/${id}/abort`, { upload_token: token }).catch(() => {});
      throw signal?.aborted ? abortError(signal) : e;
    } finally {
      sealer?.close();
    }
  }

  /**
   * Downloads object `id` as a stream of verified plaintext: each chunk is released
   * only after it verifies, and the stream errors (with a `code`) on any damage or
   * truncation. Progress: `{ received, total }` in ciphertext bytes.
   */
  async download(id, { onProgress = () => {}, signal } = {}) {
    const { owner } = await this.whoami(signal);
    const res = await this.retry(signal, async () => {
      const dl = await this.api('GET', `/api/objects/${encodeURIComponent(id)}/download`, undefined, signal);
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
      context: { object: id, owner },
      dataKey: async (header) => {
        const k = await this.retry(signal, () =>
          this.api('POST', `/api/objects/${encodeURIComponent(id)}/data-key`, { wrapped_keys: fromWrappedKeys(header.wrappedKeys) }, signal),
        );
        return b64decode(k.data_key);
      },
    });
    return res.body.pipeThrough(counter).pipeThrough(decrypt);
  }
}

async function sealName(name, size, key) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const text = JSON.stringify({ n: name, s: size });
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: NAME_AAD }, key, new TextEncoder().encode(text)));
  const out = new Uint8Array(13 + ct.length);
  out[0] = NAME_VERSION;
  out.set(iv, 1);
  out.set(ct, 13);
  return toUrl(out);
}

async function openName(sealed, keys) {
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

export { Keyring };
