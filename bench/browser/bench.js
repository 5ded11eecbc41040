// In-page benchmark (served at /bench/bench.js): raw WebCrypto AES-256-GCM by chunk
// size, the wasm AES-GCM, and the package's EncryptStream / DecryptStream end to
// end from a Blob. Figures are MB/s (10^6 bytes per second) of plaintext.
import * as cd from '/pkg/index.js';

const MiB = 1024 * 1024;
const mbps = (bytes, ms) => Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function random(len) {
  const out = new Uint8Array(len);
  for (let off = 0; off < len; off += 65536) crypto.getRandomValues(out.subarray(off, Math.min(len, off + 65536)));
  return out;
}

async function time(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Raw crypto.subtle.encrypt/decrypt over `data` in `cs`-byte chunks, `depth` calls in flight. */
async function rawWebCrypto(data, cs, depth, runs) {
  const key = await crypto.subtle.importKey('raw', random(32), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const iv = (i) => {
    const n = new Uint8Array(12);
    new DataView(n.buffer).setUint32(7, i);
    return n;
  };
  const n = data.length / cs;
  const sealed = new Array(n);
  const enc = [];
  const dec = [];
  for (let r = 0; r < runs; r++) {
    enc.push(await time(async () => {
      const q = [];
      for (let i = 0; i < n; i++) {
        q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv(i) }, key, data.subarray(i * cs, (i + 1) * cs)).then((b) => (sealed[i] = b)));
        if (q.length >= depth) await q.shift();
      }
      await Promise.all(q);
    }));
    dec.push(await time(async () => {
      const q = [];
      for (let i = 0; i < n; i++) {
        q.push(crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv(i) }, key, sealed[i]));
        if (q.length >= depth) await q.shift();
      }
      await Promise.all(q);
    }));
  }
  return { encrypt: mbps(data.length, median(enc)), decrypt: mbps(data.length, median(dec)) };
}

async function wasmAesGcm(data, cs, runs) {
  const c = new cd.ChunkCipher(random(32));
  const n = data.length / cs;
  const sealed = new Array(n);
  const enc = [];
  const dec = [];
  for (let r = 0; r < runs; r++) {
    enc.push(await time(async () => {
      for (let i = 0; i < n; i++) sealed[i] = c.seal(i, false, data.subarray(i * cs, (i + 1) * cs));
    }));
    dec.push(await time(async () => {
      for (let i = 0; i < n; i++) c.open(i, false, sealed[i]);
    }));
  }
  c.free();
  return { encrypt: mbps(data.length, median(enc)), decrypt: mbps(data.length, median(dec)) };
}

async function drainCount(readable, keep) {
  const reader = readable.getReader();
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return n;
    n += value.length;
    keep?.push(value);
  }
}

/**
 * EncryptStream and DecryptStream end to end: `plain` (a File/Blob) through
 * EncryptStream (output counted and dropped), and `cipher` (the same plaintext as a
 * CipherDrop file, made by the native `cipherdrop encrypt`) through DecryptStream.
 */
async function streams(plain, cipher, keyring, context, engine, chunkSize, runs) {
  const enc = [];
  const dec = [];
  for (let r = 0; r < runs; r++) {
    enc.push(await time(async () => {
      const s = new cd.EncryptStream({ keyring, context, chunkSize, plaintextLength: plain.size, engine });
      await drainCount(plain.stream().pipeThrough(s));
    }));
    let out = 0;
    dec.push(await time(async () => {
      out = await drainCount(cipher.stream().pipeThrough(new cd.DecryptStream({ keyring, context, engine })));
    }));
    if (out !== plain.size) throw new Error(`decrypted ${out} bytes of ${plain.size}`);
  }
  return { encrypt: mbps(plain.size, median(enc)), decrypt: mbps(plain.size, median(dec)) };
}

/**
 * `files`: two <input type=file> holding the plaintext file and its CipherDrop
 * encryption (disk-backed Files, as when a user picks a file: Chromium here refuses to
 * read in-memory Blobs past about 200 MiB), `key`: the raw-aes master key (hex).
 */
export async function run({ rawMiB = 64, wasmMiB = 32, runs = 3, keyHex, context } = {}) {
  const data = random(rawMiB * MiB);
  const raw = {};
  for (const [label, cs] of [['16K', 16 * 1024], ['64K', 64 * 1024], ['256K', 256 * 1024], ['1M', MiB]]) {
    raw[label] = { sequential: await rawWebCrypto(data, cs, 1, runs), inFlight4: await rawWebCrypto(data, cs, 4, runs) };
  }
  const wasm = await wasmAesGcm(data.subarray(0, wasmMiB * MiB), 256 * 1024, runs);
  const key = Uint8Array.from(keyHex.match(/../g), (h) => parseInt(h, 16));
  const keyring = cd.Keyring.fromKey('master', key);
  const plain = document.getElementById('plain').files[0];
  const cipher = document.getElementById('cipher').files[0];
  // The input's own ceiling: reading the File with no crypto at all.
  const readMs = [];
  for (let r = 0; r < runs; r++) readMs.push(await time(() => drainCount(plain.stream())));
  const fileRead = mbps(plain.size, median(readMs));
  const ours = await streams(plain, cipher, keyring, context, 'auto', 256 * 1024, runs);
  const small = new Blob([data.subarray(0, wasmMiB * MiB)]);
  const smallCipher = new Blob([await cd.encrypt(small, { keyring, context })]);
  const oursWasm = await streams(small, smallCipher, keyring, context, 'wasm', 256 * 1024, 1);
  const streamMiB = plain.size / MiB;
  let best = { encrypt: 0, decrypt: 0 };
  const bestAt = {};
  for (const [label, v] of Object.entries(raw)) {
    for (const [mode, r] of Object.entries(v)) {
      for (const dir of ['encrypt', 'decrypt']) {
        if (r[dir] > best[dir]) {
          best[dir] = r[dir];
          bestAt[dir] = `${label} ${mode}`;
        }
      }
    }
  }
  return {
    unit: 'MB/s (10^6 B/s) of plaintext, median of runs',
    userAgent: navigator.userAgent,
    cores: navigator.hardwareConcurrency,
    sizes: { rawMiB, streamMiB, wasmMiB, runs, chunkSize: 262144 },
    rawWebCrypto: raw,
    wasmAesGcm256K: wasm,
    fileReadNoCrypto: fileRead,
    encryptStream: ours.encrypt,
    decryptStream: ours.decrypt,
    wasmEngineStreams: oursWasm,
    bestRaw: { ...best, at: bestAt },
    ratio: {
      encrypt: Math.round((ours.encrypt / best.encrypt) * 100) / 100,
      decrypt: Math.round((ours.decrypt / best.decrypt) * 100) / 100,
    },
    target: 0.9,
  };
}
