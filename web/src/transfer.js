// Page-level glue over the `cipherdrop` package and the backend API: encrypt a File
// chunk by chunk and send it (one presigned PUT, or multipart parts in parallel),
// and fetch + verify + decrypt an object as a stream.
// TODO: replace with the package's CipherDropClient once it ships (issue 4).
import { Encryptor, createChunkAead, DecryptStream } from 'cipherdrop';
import { ApiError } from './api.js';

const PART_CONCURRENCY = 3;
const MAX_ATTEMPTS = 4;
const SIGN_BATCH = 100;

export const b64decode = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
export function b64encode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const toWrappedKeys = (list) =>
  list.map((k) => ({ providerId: k.provider_id, providerInfo: b64decode(k.provider_info), blob: b64decode(k.blob) }));
export const fromWrappedKeys = (list) =>
  list.map((k) => ({
    provider_id: k.providerId,
    provider_info: b64encode(typeof k.providerInfo === 'string' ? new TextEncoder().encode(k.providerInfo) : k.providerInfo),
    blob: b64encode(k.blob),
  }));

/** A presigned S3 request failed with this HTTP status. */
export class StorageError extends Error {
  constructor(status) {
    super(status === 403 ? 'the upload link expired or was refused' : `storage answered ${status || 'nothing'}`);
    this.name = 'StorageError';
    this.status = status;
  }
}

/** Sends `body` with a presigned request; reports bytes sent; resolves with the ETag. */
function send(request, body, signal, onSent) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException('cancelled', 'AbortError'));
    const xhr = new XMLHttpRequest();
    xhr.open(request.method, request.url);
    for (const [k, v] of Object.entries(request.headers ?? {})) {
      if (k.toLowerCase() !== 'content-length' && k.toLowerCase() !== 'host') xhr.setRequestHeader(k, v);
    }
    let last = 0;
    xhr.upload.onprogress = (e) => {
      onSent(e.loaded - last);
      last = e.loaded;
    };
    const onAbort = () => xhr.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    xhr.onload = () => {
      signal.removeEventListener('abort', onAbort);
      if (xhr.status >= 200 && xhr.status < 300) {
        onSent(body.size - last);
        resolve(xhr.getResponseHeader('etag'));
      } else {
        onSent(-last);
        reject(new StorageError(xhr.status));
      }
    };
    xhr.onerror = () => {
      signal.removeEventListener('abort', onAbort);
      onSent(-last);
      reject(new StorageError(0));
    };
    xhr.onabort = () => {
      onSent(-last);
      reject(new DOMException('cancelled', 'AbortError'));
    };
    xhr.send(body);
  });
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('cancelled', 'AbortError'));
    }, { once: true });
  });

/** Seals plaintext chunks [first, first+count) read from `file` at `offset`; returns the sealed pieces. */
async function sealRange(file, enc, aead, firstChunk, chunkCount, offset, length, onEncrypted) {
  const cs = enc.chunkSize;
  const plain = new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
  const pieces = [];
  for (let i = 0; i < chunkCount; i++) {
    const index = firstChunk + i;
    const chunk = plain.subarray(i * cs, Math.min((i + 1) * cs, plain.length));
    pieces.push(await aead.seal(index, enc.isFinal(index), chunk));
    onEncrypted(chunk.length);
  }
  return pieces;
}

/**
 * Encrypts and uploads `file`.
 * @param {import('./api.js').Api} api
 * @param {Blob} file
 * @param {{ name?: string, signal: AbortSignal, onProgress: (p: object) => void, onNotice?: (msg: string) => void }} opts
 */
export async function uploadFile(api, file, { name, signal, onProgress, onNotice = () => {} }) {
  const start = await api.startUpload({ size: file.size, ...(name ? { name } : {}) }, signal);
  const id = start.object_id;
  const progress = { phase: 'encrypting', encrypted: 0, sent: 0, total: start.ciphertext_length, plaintext: file.size };
  const report = () => onProgress({ ...progress });
  let aead;
  try {
    const enc = new Encryptor(
      b64decode(start.data_key),
      toWrappedKeys(start.wrapped_keys),
      start.encryption_context,
      start.chunk_size,
      file.size,
    );
    if (enc.ciphertextLength !== start.ciphertext_length) throw new Error('the server and this page disagree on the file size');
    aead = await createChunkAead(enc.contentKey());
    const onEncrypted = (n) => {
      progress.encrypted += n;
      report();
    };
    const onSent = (n) => {
      progress.sent += n;
      report();
    };
    report();

    if (start.upload.kind === 'single') {
      const pieces = await sealRange(file, enc, aead, 0, enc.chunkCount, 0, file.size, onEncrypted);
      const body = new Blob([enc.header, ...pieces]);
      progress.phase = 'uploading';
      report();
      await withRetries(signal, onNotice, async (attempt) => {
        // A single PUT's URL cannot be re-signed without a new upload: retry as is.
        void attempt;
        await send(start.upload.request, body, signal, onSent);
      });
      progress.phase = 'finishing';
      report();
      return await api.complete(id, start.upload_token, [], signal);
    }

    const parts = start.upload.parts;
    const requests = new Map(parts.filter((p) => p.request).map((p) => [p.part_number, p.request]));
    const etags = new Array(parts.length);
    let next = 0;
    let encrypting = 0;
    const resign = async (numbers) => {
      for (let i = 0; i < numbers.length; i += SIGN_BATCH) {
        const res = await api.signParts(id, start.upload_token, numbers.slice(i, i + SIGN_BATCH), signal);
        for (const p of res.parts) requests.set(p.part_number, p.request);
      }
    };
    const worker = async () => {
      while (next < parts.length) {
        const part = parts[next++];
        encrypting++;
        progress.phase = 'encrypting';
        report();
        const pieces = await sealRange(
          file, enc, aead, part.first_chunk, part.chunk_count, part.plaintext_offset, part.plaintext_length, onEncrypted,
        );
        encrypting--;
        if (encrypting === 0) progress.phase = 'uploading';
        const body = new Blob(part.part_number === 1 ? [enc.header, ...pieces] : pieces);
        if (body.size !== part.length) throw new Error('part length differs from the server plan');
        etags[part.part_number - 1] = await withRetries(signal, onNotice, async (attempt) => {
          if (!requests.has(part.part_number) || attempt > 0) await resign([part.part_number]);
          return send(requests.get(part.part_number), body, signal, onSent);
        });
      }
    };
    const workers = [];
    for (let w = 0; w < Math.min(PART_CONCURRENCY, parts.length); w++) workers.push(worker());
    const results = await Promise.allSettled(workers);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    progress.phase = 'finishing';
    report();
    return await api.complete(
      id,
      start.upload_token,
      etags.map((etag, i) => ({ part_number: i + 1, etag })),
      signal,
    );
  } catch (e) {
    // Leave nothing half-uploaded behind (best effort: the token may have expired).
    api.abort(id, start.upload_token).catch(() => {});
    throw e;
  } finally {
    aead?.free();
  }
}

/** Runs `fn(attempt)`, retrying storage failures with backoff; never retries a cancel. */
async function withRetries(signal, onNotice, fn) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (e?.name === 'AbortError' || !(e instanceof StorageError) || attempt + 1 >= MAX_ATTEMPTS) throw e;
      onNotice(e.status === 403 ? 'The upload link expired — retrying' : 'The connection to storage failed — retrying');
      await sleep(500 * 2 ** attempt, signal);
    }
  }
}

/**
 * Fetches object `id` and returns a stream of its verified plaintext: each chunk is
 * released only after its tag verifies; damage errors the stream.
 * @param {import('./api.js').Api} api
 * @param {string} id
 * @param {string} owner the signed-in user's owner id (the file must name it)
 */
export async function downloadStream(api, id, owner, { signal, onProgress = () => {} } = {}) {
  const dl = await api.downloadRequest(id, signal);
  let res;
  try {
    res = await fetch(dl.request.url, { method: dl.request.method, headers: dl.request.headers, signal, cache: 'no-store' });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new StorageError(0);
  }
  if (!res.ok) throw new StorageError(res.status);
  const total = dl.object.size;
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
      const k = await api.dataKey(id, fromWrappedKeys(header.wrappedKeys), signal);
      return b64decode(k.data_key);
    },
  });
  return { stream: res.body.pipeThrough(counter).pipeThrough(decrypt), header: decrypt.header, object: dl.object };
}

/** Reads a whole (small) stream into one Uint8Array. */
export async function readAll(stream) {
  const parts = [];
  let n = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
