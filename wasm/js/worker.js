// The upload worker: reads the file, seals its chunks with WebCrypto AES-256-GCM and
// sends each sealed part to its presigned URL, all off the main thread. It needs no
// wasm: the content key arrives as a non-extractable CryptoKey and every nonce is
// computed by crypto-core on the main thread.
//
// Messages in (one `job` = one part, or a whole single-PUT file):
//   { job, seal: { key, run, blob?, size, chunkSize, nonces (12 bytes per chunk), header?, length } }
//       read the next `size` bytes of run `run` (a run is one read of consecutive
//       parts: `blob`, given with the run's first job, is the file from that part's
//       offset to its end), seal them, keep the sealed part; answers
//       { job, sealed: bytes } per chunk, then { job, ready: size } (or { job, error })
//   { job, send: { method, url, headers } }   send the kept part; answers
//       { job, sent: delta } as bytes go out, then { job, etag } or { job, status }
//       (0 = no answer); the part is kept until `drop`, so a retry resends the
//       same ciphertext and never re-seals
//   { job, abort: true }   abort the job's request (answers { job, aborted: true })
//   { job, drop: true }    forget the part
//
// What each step costs, and why it is done this way (bench/web/pieces.sh measures it;
// docs/BENCHMARKS.md "Web page"):
// - The file is read as one stream across consecutive parts, into one plaintext buffer
//   reused for every part. A stream per part cost Chromium a new data pipe each time
//   (about 1 CPU-second more per GiB). Each part is then checked by reading its last
//   byte afresh, which fails when the file changed on disk (see readNext).
// - The sealed chunks are copied into a part buffer and sent as a Uint8Array. XHR
//   copies such a body when send() is called, and the buffer is reused for a later
//   part once this one is dropped. A Blob body instead went through the browser's blob
//   store (about 2 CPU-seconds more per GiB, and the store kept each part until the
//   Blob was collected, 1.1 GiB on a 2 GiB upload).
// Memory: one plaintext buffer, and one sealed buffer per part held (the client bounds
// those with `partsInFlight`); nothing grows with the file.
import { StorageError, send } from './send.js';

const subtle = globalThis.crypto?.subtle;
const IN_FLIGHT = 4;
let plainBuf = new ArrayBuffer(0);
const spare = []; // sealed-part buffers no longer held by a part, reused
const SPARE_MAX = 2;
let sealing = Promise.resolve();
let run = null; // { id, blob, pos, reader, byob, rest (default reader: unread bytes of its last chunk) }
const parts = new Map(); // job -> { body: Uint8Array, abort: AbortController of its request }

const fileChanged = () => {
  const e = new Error('the file changed while it was read');
  e.name = 'LengthMismatch';
  return e;
};

/** The run `id`: the current one, or a new read of `blob`. */
function openRun(id, blob) {
  if (run?.id === id) return run;
  if (!blob) throw new Error('the file read for this part is gone');
  closeRun();
  const stream = blob.stream();
  let reader = null;
  try {
    reader = stream.getReader({ mode: 'byob' }); // a byte stream: read in place
  } catch {
    reader = null;
  }
  run = { id, blob, pos: 0, reader: reader ?? stream.getReader(), byob: !!reader, rest: null };
  return run;
}

function closeRun() {
  run?.reader.cancel().catch(() => {});
  run = null;
}

/** Reads the run's next `size` bytes into `buffer` from 0; returns the buffer (a BYOB read moves it). */
async function readNext(r, buffer, size) {
  let off = 0;
  if (r.byob) {
    while (off < size) {
      const { done, value } = await r.reader.read(new Uint8Array(buffer, off, size - off));
      if (value) buffer = value.buffer; // a read transfers the buffer: this is its new handle
      if (done) break;
      off += value.length;
    }
  } else {
    const bytes = new Uint8Array(buffer, 0, size);
    while (off < size) {
      if (!r.rest?.length) {
        const { done, value } = await r.reader.read();
        if (done) break;
        r.rest = value;
      }
      const n = Math.min(r.rest.length, size - off);
      bytes.set(r.rest.subarray(0, n), off);
      r.rest = r.rest.subarray(n);
      off += n;
    }
  }
  if (off !== size) throw fileChanged();
  // An open read goes on with whatever the file holds now, so each part is checked
  // against a fresh read of its last byte: the browser refuses that read when the
  // file was modified since it was chosen (Chromium and WebKit compare its
  // modification time), and a different byte means a change all the same.
  r.pos += size;
  if (size > 0) {
    const last = new Uint8Array(await r.blob.slice(r.pos - 1, r.pos).arrayBuffer());
    if (last.length !== 1 || last[0] !== new Uint8Array(buffer)[size - 1]) throw fileChanged();
  }
  return buffer;
}

/** Frees an ArrayBuffer's memory now (its bytes were copied). */
const release = (buffer) => {
  if (typeof buffer.transfer === 'function') buffer.transfer(0);
};

/** A buffer of at least `size` bytes for a sealed part: a spare one, or a new one. */
function partBuffer(size) {
  const i = spare.findIndex((b) => b.byteLength >= size);
  return i >= 0 ? spare.splice(i, 1)[0] : new ArrayBuffer(size);
}

function forget(job) {
  const part = parts.get(job);
  if (!part) return;
  parts.delete(job);
  const buffer = part.body.buffer;
  if (spare.length < SPARE_MAX) spare.push(buffer);
}

async function seal(job, { key, run: id, blob, size, chunkSize, nonces, header, length }) {
  if (!subtle) throw new Error('crypto.subtle is not available in this worker');
  let plain;
  const pieces = [];
  try {
    if (plainBuf.byteLength < size) plainBuf = new ArrayBuffer(size);
    try {
      plainBuf = await readNext(openRun(id, blob), plainBuf, size);
    } catch (e) {
      closeRun();
      if (e?.name === 'LengthMismatch') throw e;
      // A file's stream fails with a bare "network error" when the file was moved,
      // deleted or changed on disk since it was chosen: say so.
      plainBuf = new ArrayBuffer(0);
      const err = new Error(`the file could not be read: it was moved or changed since it was chosen (${e?.message ?? e})`);
      err.name = 'NotReadableError';
      throw err;
    }
    plain = new Uint8Array(plainBuf, 0, size);
    const count = nonces.length / 12;
    // Keep a few chunks in flight: WebCrypto runs them on its own threads.
    const pending = [];
    for (let i = 0; i < count; i++) {
      const chunk = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
      const iv = nonces.subarray(12 * i, 12 * i + 12);
      pending.push(
        subtle.encrypt({ name: 'AES-GCM', iv }, key, chunk).then((sealed) => {
          pieces[i] = sealed;
          globalThis.postMessage({ job, sealed: chunk.length });
        }),
      );
      if (pending.length >= IN_FLIGHT) await pending.shift();
    }
    await Promise.all(pending);
    const total = (header?.length ?? 0) + pieces.reduce((n, p) => n + p.byteLength, 0);
    if (total !== length) {
      const e = new Error(`a part does not match the server plan (${total} bytes sealed, ${length} planned)`);
      e.name = 'LengthMismatch';
      throw e;
    }
    const body = new Uint8Array(partBuffer(total), 0, total);
    let at = 0;
    if (header) {
      body.set(header, 0);
      at = header.length;
    }
    for (const p of pieces) {
      body.set(new Uint8Array(p), at);
      at += p.byteLength;
    }
    parts.set(job, { body, abort: null });
    return total;
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
      forget(job); // sent: nothing to resend
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
    // One part at a time (one plaintext buffer, one read); sending overlaps with the next seal.
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
    forget(job);
  }
};
