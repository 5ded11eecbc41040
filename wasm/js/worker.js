// The upload worker: reads the file, seals its chunks with WebCrypto AES-256-GCM and
// sends each sealed part to its presigned URL, all off the main thread. It needs no
// wasm: the content key arrives as a non-extractable CryptoKey and every nonce is
// computed by crypto-core on the main thread.
//
// Messages in (one `job` = one part, or a whole single-PUT file):
//   { job, seal: { key, run, blob?, size, chunkSize, nonces (12 bytes per chunk), header?, length, last } }
//       read the next `size` bytes of run `run` (a run is one read of consecutive
//       parts: `blob`, given with the run's first job, is the file from that part's
//       offset to the end of this worker's share), seal them, keep the sealed part;
//       answers { job, sealed: bytes } as chunks are sealed, then { job, ready: size } (or
//       { job, error }); `last`: the worker seals no more parts (it ends the read)
//   { job, send: { method, url, headers } }   send the kept part; answers
//       { job, sent: delta } as bytes go out, then { job, etag } or { job, status }
//       (0 = no answer); the part is kept until `drop`, so a retry resends the
//       same ciphertext and never re-seals
//   { job, abort: true }   abort the job's request (answers { job, aborted: true })
//   { job, drop: true }    forget the part
//
// What each step costs, and why it is done this way (bench/web/pieces.sh measures the
// pieces, bench/web/run.sh the whole; docs/BENCHMARKS.md "Web page"):
// - The file is read as one stream across the worker's consecutive parts (a stream
//   per part cost Chromium a new data pipe each time, about 1 CPU-second more per
//   GiB), chunk by chunk into one chunk-sized buffer: WebCrypto copies its input when
//   called, so the next chunk is read while earlier ones are sealed. Each part is
//   then checked by reading its last byte afresh, which fails when the file changed
//   on disk (see verify).
// - The sealed chunks become the part's Blob, which XHR sends. Copying them into one
//   buffer sent as a Uint8Array cost about as much CPU (measured against this, same
//   session: within the noise), but XHR keeps a copy of such a body in this process
//   until the worker collects garbage: the renderer grew by 70 MiB more on a 2 GiB
//   upload (and one worker for a whole upload grew to 3.6 GiB). A Blob's bytes live
//   in the browser's blob store until the Blob is collected or the worker ends.
// Memory: one chunk of plaintext, and the sealed parts held (the client bounds those
// with `partsInFlight`); the client terminates a worker after a few parts
// (parts.js PARTS_PER_WORKER), which frees everything it held at once.
import { StorageError, send } from './send.js';

const subtle = globalThis.crypto?.subtle;
const IN_FLIGHT = 4;
const TAG = 16; // bytes of an AES-GCM tag: a sealed chunk is its plaintext plus this
let plainBuf = new ArrayBuffer(0);
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
  r.pos += size;
  return buffer;
}

/**
 * An open read goes on with whatever the file holds now, so each part is checked
 * against a fresh read of its last byte (`last`, as the run read it): the browser
 * refuses that read when the file was modified since it was chosen (Chromium and
 * WebKit compare its modification time), and a different byte means a change all
 * the same.
 */
async function verify(r, last) {
  if (r.pos === 0) return;
  const again = new Uint8Array(await r.blob.slice(r.pos - 1, r.pos).arrayBuffer());
  if (again.length !== 1 || again[0] !== last) throw fileChanged();
}

/** Frees an ArrayBuffer's memory now (its bytes were copied). */
const release = (buffer) => {
  if (typeof buffer.transfer === 'function') buffer.transfer(0);
};


function forget(job) {
  parts.delete(job);
}

async function seal(job, { key, run: id, blob, size, chunkSize, nonces, header, length, last }) {
  if (!subtle) throw new Error('crypto.subtle is not available in this worker');
  let pieces = [];
  try {
    const count = nonces.length / 12;
    const total = (header?.length ?? 0) + size + TAG * count;
    if (count !== Math.max(1, Math.ceil(size / chunkSize)) || total !== length) {
      const e = new Error(`a part does not match the server plan (${total} bytes to seal, ${length} planned)`);
      e.name = 'LengthMismatch';
      throw e;
    }
    pieces = new Array(count);
    if (plainBuf.byteLength < chunkSize) plainBuf = new ArrayBuffer(chunkSize);
    // Chunk by chunk: read one into the plaintext buffer, hand it to WebCrypto (which
    // copies its input when called, so the buffer is refilled at once) and read the
    // next while a few are sealed on WebCrypto's threads.
    const pending = [];
    let lastByte = 0;
    let sealedBytes = 0;
    let reported = 0;
    try {
      const r = openRun(id, blob);
      for (let i = 0; i < count; i++) {
        const n = Math.min(chunkSize, size - i * chunkSize);
        plainBuf = await readNext(r, plainBuf, n);
        const chunk = new Uint8Array(plainBuf, 0, n);
        if (n > 0) lastByte = chunk[n - 1];
        const iv = nonces.subarray(12 * i, 12 * i + 12);
        pending.push(
          subtle.encrypt({ name: 'AES-GCM', iv }, key, chunk).then((sealed) => {
            if (sealed.byteLength !== n + TAG) throw new Error('WebCrypto sealed a chunk to an unexpected length');
            pieces[i] = sealed;
            sealedBytes += n;
            // Progress at most every 1 MiB sealed (a message per chunk cost the
            // page's thread about 0.5 CPU-second per GiB).
            if (sealedBytes - reported >= 1 << 20 || sealedBytes === size) {
              globalThis.postMessage({ job, sealed: sealedBytes - reported });
              reported = sealedBytes;
            }
          }),
        );
        if (pending.length >= IN_FLIGHT) await pending.shift();
      }
      await Promise.all(pending);
      if (size > 0) await verify(r, lastByte);
    } catch (e) {
      await Promise.allSettled(pending);
      closeRun();
      if (e?.name === 'LengthMismatch') throw e;
      // A file's stream fails with a bare "network error" when the file was moved,
      // deleted or changed on disk since it was chosen: say so.
      const err = new Error(`the file could not be read: it was moved or changed since it was chosen (${e?.message ?? e})`);
      err.name = 'NotReadableError';
      throw err;
    }
    const body = new Blob(header ? [header, ...pieces] : pieces);
    parts.set(job, { body, abort: null });
    return total;
  } finally {
    // The Blob copied the sealed chunks: free them now, not at the next collection.
    for (const p of pieces) if (p instanceof ArrayBuffer) release(p);
    if (plainBuf.byteLength > 0) new Uint8Array(plainBuf).fill(0); // (0: taken by a failed read)
    if (last) {
      // This worker's share is sealed: free the read while its parts are still sent.
      closeRun();
    }
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
