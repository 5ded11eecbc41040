// The upload worker: reads a slice of the file and seals its chunks with WebCrypto
// AES-256-GCM, off the main thread. It needs no wasm: the content key arrives as a
// non-extractable CryptoKey and every nonce is computed by crypto-core on the main
// thread. One message = one part (or a whole single-PUT file):
//   { job, key, blob, chunkSize, nonces (12 bytes per chunk), header? }
// answered by { job, progress: bytes } per chunk and then { job, body: Blob } (the
// sealed part: header? ‖ sealed chunk ‖ ...) or { job, error: { name, message } }.
//
// Memory: the plaintext is read into one buffer per worker, reused for every part;
// the sealed chunks WebCrypto returns go straight into a Blob (whose bytes move to the
// browser's blob store), so no second copy of the part is made here and the main
// thread never touches the bytes. (Measured worse: sealing in place into one buffer
// per part and sending it as a Uint8Array — Chromium's XHR/fetch upload of an
// ArrayBuffer body is ~8x slower than of a Blob and holds more memory.)
const subtle = globalThis.crypto?.subtle;
const IN_FLIGHT = 4;
let plainBuf = new ArrayBuffer(0);

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
      if (off + value.length > size) throw new Error('the file changed while it was read');
      bytes.set(value, off);
      off += value.length;
    }
  }
  if (off !== size) throw new Error('the file changed while it was read');
  return buffer;
}

globalThis.onmessage = async (event) => {
  const { job, key, blob, chunkSize, nonces, header } = event.data;
  let plain;
  try {
    if (!subtle) throw new Error('crypto.subtle is not available in this worker');
    if (plainBuf.byteLength < blob.size) plainBuf = new ArrayBuffer(blob.size);
    plainBuf = await readInto(blob, plainBuf, 0);
    plain = new Uint8Array(plainBuf, 0, blob.size);
    const count = nonces.length / 12;
    const pieces = new Array(count);
    // Keep a few chunks in flight: WebCrypto runs them on its own threads.
    const pending = [];
    for (let i = 0; i < count; i++) {
      const chunk = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
      const iv = nonces.subarray(12 * i, 12 * i + 12);
      pending.push(
        subtle.encrypt({ name: 'AES-GCM', iv }, key, chunk).then((sealed) => {
          pieces[i] = sealed;
          globalThis.postMessage({ job, progress: chunk.length });
        }),
      );
      if (pending.length >= IN_FLIGHT) await pending.shift();
    }
    await Promise.all(pending);
    if (header) pieces.unshift(header);
    const body = new Blob(pieces);
    pieces.length = 0;
    globalThis.postMessage({ job, body });
  } catch (e) {
    globalThis.postMessage({ job, error: { name: e?.name ?? 'Error', message: String(e?.message ?? e) } });
  } finally {
    plain?.fill(0);
  }
};
