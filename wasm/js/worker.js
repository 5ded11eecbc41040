// The upload worker: reads a slice of the file and seals its chunks with WebCrypto
// AES-256-GCM, off the main thread. It needs no wasm: the content key arrives as a
// non-extractable CryptoKey and every nonce is computed by crypto-core on the main
// thread. One message = one part (or a whole single-PUT file):
//   { job, key, blob, firstChunk, chunkSize, nonces (12 bytes per chunk), header? }
// answered by { job, progress: bytes } per chunk and then { job, body: ArrayBuffer }
// (transferred) or { job, error: { name, message } }.
const subtle = globalThis.crypto?.subtle;

globalThis.onmessage = async (event) => {
  const { job, key, blob, chunkSize, nonces, header } = event.data;
  try {
    if (!subtle) throw new Error('crypto.subtle is not available in this worker');
    const plain = new Uint8Array(await blob.arrayBuffer());
    const count = nonces.length / 12;
    const headerLen = header ? header.length : 0;
    const body = new Uint8Array(headerLen + plain.length + 16 * count);
    if (header) body.set(header, 0);
    let out = headerLen;
    // Keep a few chunks in flight: WebCrypto runs them on its own threads.
    const pending = [];
    for (let i = 0; i < count; i++) {
      const chunk = plain.subarray(i * chunkSize, Math.min(plain.length, (i + 1) * chunkSize));
      const iv = nonces.subarray(12 * i, 12 * i + 12);
      const at = out;
      out += chunk.length + 16;
      pending.push(
        subtle.encrypt({ name: 'AES-GCM', iv }, key, chunk).then((sealed) => {
          body.set(new Uint8Array(sealed), at);
          globalThis.postMessage({ job, progress: chunk.length });
        }),
      );
      if (pending.length >= 4) await pending.shift();
    }
    await Promise.all(pending);
    if (out !== body.length) throw new Error('the part does not match its chunk plan');
    plain.fill(0);
    globalThis.postMessage({ job, body: body.buffer }, [body.buffer]);
  } catch (e) {
    globalThis.postMessage({ job, error: { name: e?.name ?? 'Error', message: String(e?.message ?? e) } });
  }
};
