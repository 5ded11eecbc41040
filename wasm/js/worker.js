// The upload worker: reads a slice of the file, seals its chunks with WebCrypto
// AES-256-GCM and sends the sealed part to its presigned URL, all off the main
// thread. It needs no wasm: the content key arrives as a non-extractable CryptoKey
// and every nonce is computed by crypto-core on the main thread.
//
// Messages in (one `job` = one part, or a whole single-PUT file):
//   { job, seal: { key, blob, chunkSize, nonces (12 bytes per chunk), header?, length } }
//       read `blob`, seal it, keep the sealed part; answers { job, sealed: bytes } per
//       chunk, then { job, ready: size } (or { job, error })
//   { job, send: { method, url, headers } }   send the kept part; answers
//       { job, sent: delta } as bytes go out, then { job, etag } or { job, status }
//       (0 = no answer); the part is kept until `drop`, so a retry resends the
//       same ciphertext and never re-seals
//   { job, abort: true }   abort the job's request (answers { job, aborted: true })
//   { job, drop: true }    forget the part
//
// Why the send is here: the sealed part is a Blob (Chromium uploads a Blob body
// quickly and an ArrayBuffer body far more slowly), and a Blob's bytes stay in the
// browser's blob store until the last JavaScript object naming it is collected. The
// main thread allocates little and collects rarely, so Blobs handed to it piled up
// (1.1 GiB in the browser process on a 2 GiB upload); here, the only object naming
// the part lives in this worker, which the client terminates after a few parts,
// freeing them all at once.
//
// Memory: the plaintext is read into one buffer, reused for every part (parts are
// sealed one at a time: WebCrypto runs a few chunks in parallel on its own threads);
// the sealed chunks go straight into the Blob and are then detached, so their memory
// is returned at once instead of waiting for a collection.
import { StorageError, send } from './send.js';

const subtle = globalThis.crypto?.subtle;
const IN_FLIGHT = 4;
let plainBuf = new ArrayBuffer(0);
let sealing = Promise.resolve();
const parts = new Map(); // job -> { body: Blob, abort: AbortController of its request }

const fileChanged = () => {
  const e = new Error('the file changed while it was read');
  e.name = 'LengthMismatch';
  return e;
};

/** Reads all of `blob` into `buffer` at `offset`; returns the buffer (a BYOB read moves it). */
async function readInto(blob, buffer, offset) {
  const size = blob.size;
  const stream = blob.stream();
  let reader = null;
  try {
    reader = stream.getReader({ mode: 'byob' }); // a byte stream: read in place
  } catch {
    reader = null;
  }
  let off = 0;
  if (reader) {
    while (off < size) {
      const { done, value } = await reader.read(new Uint8Array(buffer, offset + off, size - off));
      if (value) buffer = value.buffer; // a read transfers the buffer: this is its new handle
      if (done) break;
      off += value.length;
    }
    reader.releaseLock();
  } else {
    const r = stream.getReader();
    const bytes = new Uint8Array(buffer, offset, size);
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      if (off + value.length > size) throw fileChanged();
      bytes.set(value, off);
      off += value.length;
    }
  }
  if (off !== size) throw fileChanged();
  return buffer;
}

/** Frees an ArrayBuffer's memory now (its bytes were copied into a Blob). */
const release = (buffer) => {
  if (typeof buffer.transfer === 'function') buffer.transfer(0);
};

async function seal(job, { key, blob, chunkSize, nonces, header, length }) {
  if (!subtle) throw new Error('crypto.subtle is not available in this worker');
  let plain;
  const pieces = [];
  try {
    if (plainBuf.byteLength < blob.size) plainBuf = new ArrayBuffer(blob.size);
    try {
      plainBuf = await readInto(blob, plainBuf, 0);
    } catch (e) {
      if (e?.name === 'LengthMismatch') throw e;
      // A file's stream fails with a bare "network error" when the file was moved,
      // deleted or changed on disk since it was chosen: say so.
      plainBuf = new ArrayBuffer(0);
      const err = new Error(`the file could not be read: it was moved or changed since it was chosen (${e?.message ?? e})`);
      err.name = 'NotReadableError';
      throw err;
    }
    plain = new Uint8Array(plainBuf, 0, blob.size);
    const count = nonces.length / 12;
    if (header) pieces.push(header);
    const first = pieces.length;
    // Keep a few chunks in flight: WebCrypto runs them on its own threads.
    const pending = [];
    for (let i = 0; i < count; i++) {
      const chunk = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
      const iv = nonces.subarray(12 * i, 12 * i + 12);
      pending.push(
        subtle.encrypt({ name: 'AES-GCM', iv }, key, chunk).then((sealed) => {
          pieces[first + i] = sealed;
          globalThis.postMessage({ job, sealed: chunk.length });
        }),
      );
      if (pending.length >= IN_FLIGHT) await pending.shift();
    }
    await Promise.all(pending);
    const body = new Blob(pieces);
    if (body.size !== length) {
      const e = new Error(`a part does not match the server plan (${body.size} bytes sealed, ${length} planned)`);
      e.name = 'LengthMismatch';
      throw e;
    }
    parts.set(job, { body, abort: null });
    return body.size;
  } finally {
    plain?.fill(0);
    for (const p of pieces) if (p instanceof ArrayBuffer) release(p);
  }
}

function sendPart(job, request) {
  const part = parts.get(job);
  if (!part) {
    globalThis.postMessage({ job, error: { name: 'Error', message: 'the sealed part is gone' } });
    return;
  }
  const abort = new AbortController();
  part.abort = abort;
  const sent = (n) => {
    if (n) globalThis.postMessage({ job, sent: n });
  };
  send(request, part.body, abort.signal, sent).then(
    (etag) => {
      parts.delete(job); // sent: nothing to resend
      globalThis.postMessage({ job, etag });
    },
    (e) => {
      part.abort = null;
      globalThis.postMessage(e instanceof StorageError ? { job, status: e.status } : { job, aborted: true });
    },
  );
}

globalThis.onmessage = (event) => {
  const { job } = event.data;
  if (event.data.seal) {
    // One part at a time (one plaintext buffer); sending overlaps with the next seal.
    sealing = sealing.then(() =>
      seal(job, event.data.seal).then(
        (size) => globalThis.postMessage({ job, ready: size }),
        (e) => globalThis.postMessage({ job, error: { name: e?.name ?? 'Error', message: String(e?.message ?? e) } }),
      ),
    );
  } else if (event.data.send) {
    sendPart(job, event.data.send);
  } else if (event.data.abort) {
    const part = parts.get(job);
    if (part?.abort) part.abort.abort();
    else globalThis.postMessage({ job, aborted: true });
  } else if (event.data.drop) {
    parts.get(job)?.abort?.abort();
    parts.delete(job);
  }
};
