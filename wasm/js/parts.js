// Sealed parts of an upload and the workers that seal and send them: the part
// pipeline behind CipherDropClient's uploads (and resumed uploads), and the gate that
// bounds how many sealed parts all uploads hold at once.
import { createChunkAead, hasWebCrypto } from './aead.js';
import { cipherDropError } from './errors.js';
import { StorageError, abortError, send } from './send.js';

/** At most `n` holders at once. */
export class Gate {
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
 * Parts one upload worker seals before it is retired. A sealed part is a Blob, and a
 * Blob's bytes stay in the browser's blob store (and in the worker) until the object
 * is garbage-collected, which a worker with a tiny heap does rarely: parts piled up
 * to a gigabyte on a 2 GiB upload. A retired worker is terminated once its last part
 * is sent, which frees everything it held at once. Its parts are read as one stream.
 */
const PARTS_PER_WORKER = 4;

/**
 * Seals parts and sends them. In Web Workers (WebCrypto) where it can: a worker
 * reads its parts of the file (one read across consecutive parts), seals each into a
 * Blob it keeps, and sends it with the presigned request it is given (again on
 * retry: the same ciphertext, never re-sealed), so the page's thread never holds a
 * part. Without workers (CSP, no module workers, no WebCrypto in workers), parts are
 * sealed here into Blobs and sent from here.
 */
export class PartUploader {
  constructor(enc, useWorker) {
    this.enc = enc;
    this.current = null; // the worker that seals the next parts
    this.workers = new Set();
    this.jobs = new Map();
    this.nextJob = 0;
    this.runs = 0; // reads of the file started in workers
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
    // runEnd: the file offset this worker's current read has reached.
    const entry = { worker, left: PARTS_PER_WORKER, live: 0, retired: false, runEnd: -1 };
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
   * Seals chunks [first, end) of `file`, whose plaintext is `size` bytes from
   * `offset`; part 1 starts with the header; `length` is the sealed size the plan
   * expects. Resolves with the sealed part: a handle to it in the worker, or a Blob.
   * Parts are sealed one after another; consecutive ones share one read of the file.
   */
  async seal(file, offset, size, first, end, withHeader, length, onSealed, signal) {
    const nonces = new Uint8Array(12 * (end - first));
    for (let i = first; i < end; i++) nonces.set(this.enc.chunkNonce(i), 12 * (i - first));
    const header = withHeader ? this.enc.header : undefined;
    const entry = this.useWorker ? this.take() : null;
    if (entry) {
      const job = { id: this.nextJob++, entry, onSealed, onSent: null, pending: null, signal };
      this.jobs.set(job.id, job);
      // A new read of the file when this part does not follow the last one this
      // worker read: to the end of its share of parts (or of the file).
      let blob;
      if (offset !== entry.runEnd) {
        this.runs++;
        blob = file.slice(offset, Math.min(file.size, offset + size * (entry.left + 1)));
      }
      entry.runEnd = offset + size;
      try {
        const sealed = await this.call(job, { seal: { key: this.key, run: this.runs, blob, size, chunkSize: this.enc.chunkSize, nonces, header, length, last: entry.left === 0 } }, signal);
        return new WorkerPart(job.id, sealed);
      } catch (e) {
        entry.runEnd = -1; // the read may have stopped anywhere
        this.drop(new WorkerPart(job.id, 0));
        throw e;
      }
    }
    if (!this.aead) this.aead = await createChunkAead(this.enc.contentKey());
    const cs = this.enc.chunkSize;
    const plain = new Uint8Array(await file.slice(offset, offset + size).arrayBuffer());
    if (plain.length !== size) throw cipherDropError('LENGTH_MISMATCH', 'the file changed while it was read');
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


/** Bytes of an AES-GCM tag: every sealed chunk is its plaintext plus this. */
const TAG = 16;

const planMismatch = () => cipherDropError('LENGTH_MISMATCH', 'the server and this client disagree on how the file is cut into parts');

/**
 * Every part of a multipart upload, computed from the compact plan of a start or
 * resume answer (docs/API.md "Uploads"): part n (from 1) holds chunks
 * `(n-1)·k .. min(n·k, chunkCount)` with k = `chunks_per_part`, part 1 starts with
 * the header. Each part is `{ part_number, offset, length, first_chunk, chunk_count,
 * plaintext_offset, plaintext_length }` (the fields the server signs parts with);
 * the plan must cover exactly this file (`enc`'s layout), else LENGTH_MISMATCH.
 */
export function multipartPlan(upload, enc) {
  const { part_count: count, chunks_per_part: k, part_size: partSize } = upload;
  const C = enc.chunkSize;
  const H = enc.headerLength;
  const L = enc.plaintextLength;
  const N = enc.chunkCount;
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(k) || k < 1 || count < 1 || count !== Math.ceil(N / k) || partSize !== k * C) {
    throw planMismatch();
  }
  const parts = new Array(count);
  for (let n = 1; n <= count; n++) {
    const first = (n - 1) * k;
    const end = Math.min(n * k, N);
    const plainStart = first * C;
    const plainEnd = Math.min(end * C, L);
    const offset = n === 1 ? 0 : H + first * (C + TAG);
    const stop = H + plainEnd + TAG * end;
    parts[n - 1] = {
      part_number: n,
      offset,
      length: stop - offset,
      first_chunk: first,
      chunk_count: end - first,
      plaintext_offset: plainStart,
      plaintext_length: plainEnd - plainStart,
      multipart: true,
    };
  }
  if (parts[count - 1].offset + parts[count - 1].length !== enc.ciphertextLength) throw planMismatch();
  return parts;
}

const PART_FIELDS = ['offset', 'length', 'first_chunk', 'chunk_count', 'plaintext_offset', 'plaintext_length'];

/**
 * Sets the presigned `request` of a part the server signed on the computed part
 * it names, after checking the server cut that part as this client did.
 */
export function takeSignedPart(parts, signed) {
  const part = parts[signed.part_number - 1];
  if (!part || !signed.request || PART_FIELDS.some((f) => part[f] !== signed[f])) throw planMismatch();
  part.request = signed.request;
  return part;
}
