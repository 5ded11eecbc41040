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

/** Wall time and Chromium's CPU seconds (all its processes, from /proc via run.mjs). */
async function timeCpu(fn) {
  const c0 = globalThis.benchCpuSeconds ? await globalThis.benchCpuSeconds() : NaN;
  const t = performance.now();
  await fn();
  const ms = performance.now() - t;
  const c1 = globalThis.benchCpuSeconds ? await globalThis.benchCpuSeconds() : NaN;
  return { ms, cpu: c1 - c0 };
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
async function streams(plain, cipher, keyring, context, engine, chunkSize, runs, read = (f) => f.stream()) {
  const enc = [];
  const dec = [];
  for (let r = 0; r < runs; r++) {
    enc.push(await timeCpu(async () => {
      const s = new cd.EncryptStream({ keyring, context, chunkSize, plaintextLength: plain.size, engine });
      await drainCount(read(plain).pipeThrough(s));
    }));
    let out = 0;
    dec.push(await timeCpu(async () => {
      out = await drainCount(read(cipher).pipeThrough(new cd.DecryptStream({ keyring, context, engine })));
    }));
    if (out !== plain.size) throw new Error(`decrypted ${out} bytes of ${plain.size}`);
  }
  const perCpu = (xs) => Math.round(plain.size / 1e6 / median(xs.map((x) => x.cpu)));
  return {
    encrypt: mbps(plain.size, median(enc.map((x) => x.ms))),
    decrypt: mbps(plain.size, median(dec.map((x) => x.ms))),
    perCpuSecond: { encrypt: perCpu(enc), decrypt: perCpu(dec) },
  };
}

/**
 * An in-memory source of `total` bytes in `piece`-byte views of `data` (repeated
 * when `total` is larger): no File read, no copy, so what follows it is measured.
 */
function memorySource(data, total, piece = MiB) {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= total) {
        c.close();
        return;
      }
      const at = off % data.length;
      const n = Math.min(piece, total - off, data.length - at);
      c.enqueue(data.subarray(at, at + n));
      off += n;
    },
  });
}

/**
 * EncryptStream / DecryptStream alone: plaintext from memory (1 MiB views) through
 * EncryptStream into a counting sink, and the ciphertext (made once, held in memory)
 * in 1 MiB views through DecryptStream into a counting sink.
 */
async function memoryStreams(data, total, keyring, context, engine, runs, inFlight) {
  const full = await collect(memorySource(data, total).pipeThrough(new cd.EncryptStream({ keyring, context, plaintextLength: total, engine })));
  const enc = [];
  const dec = [];
  for (let r = 0; r < runs; r++) {
    enc.push(await time(() => drainCount(memorySource(data, total).pipeThrough(new cd.EncryptStream({ keyring, context, plaintextLength: total, engine, inFlight })))));
    let out = 0;
    dec.push(await time(async () => {
      out = await drainCount(memorySource(full, full.length).pipeThrough(new cd.DecryptStream({ keyring, context, engine, inFlight })));
    }));
    if (out !== total) throw new Error(`decrypted ${out} bytes of ${total}`);
  }
  return { encrypt: mbps(total, median(enc)), decrypt: mbps(total, median(dec)), encryptMs: enc.map(Math.round), decryptMs: dec.map(Math.round) };
}

/**
 * Paired runs under a noisy machine: each run times raw WebCrypto (256 KiB chunks,
 * 4 in flight, over the same bytes) and then the stream, so each ratio compares
 * figures taken seconds apart. Returns the medians and the per-run ratios.
 */
async function pairedStreams(data, total, keyring, context, runs, inFlight) {
  const key = await crypto.subtle.importKey('raw', random(32), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const cs = 256 * 1024;
  const iv = (i) => {
    const n = new Uint8Array(12);
    new DataView(n.buffer).setUint32(7, i);
    return n;
  };
  const n = total / cs;
  const sealed = new Array(n);
  const rawEnc = () => time(async () => {
    const q = [];
    for (let i = 0; i < n; i++) {
      const at = (i * cs) % data.length;
      q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv(i) }, key, data.subarray(at, at + cs)).then((b) => (sealed[i] = b)));
      if (q.length >= 4) await q.shift();
    }
    await Promise.all(q);
  });
  const rawDec = () => time(async () => {
    const q = [];
    for (let i = 0; i < n; i++) {
      q.push(crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv(i) }, key, sealed[i]));
      if (q.length >= 4) await q.shift();
    }
    await Promise.all(q);
  });
  const full = await collect(memorySource(data, total).pipeThrough(new cd.EncryptStream({ keyring, context, plaintextLength: total })));
  const r = { rawEnc: [], enc: [], rawDec: [], dec: [] };
  for (let k = 0; k < runs; k++) {
    r.rawEnc.push(await timeCpu(rawEnc));
    r.enc.push(await timeCpu(() => drainCount(memorySource(data, total).pipeThrough(new cd.EncryptStream({ keyring, context, plaintextLength: total, inFlight })))));
    r.rawDec.push(await timeCpu(rawDec));
    r.dec.push(await timeCpu(() => drainCount(memorySource(full, full.length).pipeThrough(new cd.DecryptStream({ keyring, context, inFlight })))));
  }
  sealed.fill(undefined);
  const ratios = (a, b) => a.map((x, i) => Math.round((b[i].ms ? x.ms / b[i].ms : 0) * 100) / 100);
  const wall = (xs) => mbps(total, median(xs.map((x) => x.ms)));
  // MB per CPU-second of all Chromium processes: what each byte costs, whatever the load.
  const perCpu = (xs) => Math.round(total / 1e6 / median(xs.map((x) => x.cpu)));
  return {
    rawEncrypt: wall(r.rawEnc),
    encrypt: wall(r.enc),
    rawDecrypt: wall(r.rawDec),
    decrypt: wall(r.dec),
    perCpuSecond: { rawEncrypt: perCpu(r.rawEnc), encrypt: perCpu(r.enc), rawDecrypt: perCpu(r.rawDec), decrypt: perCpu(r.dec) },
    encryptRatios: ratios(r.rawEnc, r.enc),
    decryptRatios: ratios(r.rawDec, r.dec),
  };
}

async function collect(readable) {
  const parts = [];
  let n = 0;
  for await (const c of readable) {
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of parts) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** A File read as `slice`-byte `arrayBuffer()` reads, `depth` of them in flight, in order. */
function slicedFileStream(file, slice, depth) {
  let next = 0;
  const queue = [];
  const fill = () => {
    while (queue.length < depth && next < file.size) {
      const p = file.slice(next, Math.min(file.size, next + slice)).arrayBuffer();
      p.catch(() => {});
      queue.push(p);
      next += slice;
    }
  };
  return new ReadableStream({
    async pull(c) {
      fill();
      if (queue.length === 0) {
        c.close();
        return;
      }
      const buf = await queue.shift();
      fill();
      c.enqueue(new Uint8Array(buf));
    },
  });
}

/**
 * `files`: two <input type=file> holding the plaintext file and its CipherDrop
 * encryption (disk-backed Files, as when a user picks a file: Chromium here refuses to
 * read in-memory Blobs past about 200 MiB), `key`: the raw-aes master key (hex).
 */
export async function run({ rawMiB = 64, wasmMiB = 32, runs = 3, keyHex, context, memoryMiB = [64, 256], parts = ['raw', 'wasm', 'memory', 'paired', 'file', 'slices'], inFlights = [4] } = {}) {
  const has = (p) => parts.includes(p);
  const data = random(rawMiB * MiB);
  const raw = {};
  if (has('raw')) {
    for (const [label, cs] of [['16K', 16 * 1024], ['64K', 64 * 1024], ['256K', 256 * 1024], ['1M', MiB]]) {
      raw[label] = { sequential: await rawWebCrypto(data, cs, 1, runs), inFlight4: await rawWebCrypto(data, cs, 4, runs) };
    }
  }
  const key = Uint8Array.from(keyHex.match(/../g), (h) => parseInt(h, 16));
  const keyring = cd.Keyring.fromKey('master', key);
  const out = {
    unit: 'MB/s (10^6 B/s) of plaintext, median of runs',
    userAgent: navigator.userAgent,
    cores: navigator.hardwareConcurrency,
    sizes: { rawMiB, wasmMiB, memoryMiB, runs, chunkSize: 262144 },
    rawWebCrypto: raw,
  };
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
  if (has('raw')) out.bestRaw = { ...best, at: bestAt };
  const ratio = (r) => (best.encrypt ? { encrypt: Math.round((r.encrypt / best.encrypt) * 100) / 100, decrypt: Math.round((r.decrypt / best.decrypt) * 100) / 100 } : undefined);
  if (has('wasm')) out.wasmAesGcm256K = await wasmAesGcm(data.subarray(0, wasmMiB * MiB), 256 * 1024, runs);
  if (has('memory')) {
    // The stream layer itself, fed from memory (no File read in the way).
    out.memoryStreams = {};
    for (const mib of memoryMiB) {
      const r = await memoryStreams(data, mib * MiB, keyring, context, 'auto', runs);
      out.memoryStreams[`${mib}MiB`] = { ...r, ratio: ratio(r) };
    }
    const noCrypto = [];
    for (let r = 0; r < runs; r++) noCrypto.push(await time(() => drainCount(memorySource(data, memoryMiB[0] * MiB))));
    out.memorySourceNoCrypto = mbps(memoryMiB[0] * MiB, median(noCrypto));
  }
  if (has('paired')) {
    out.paired = {};
    for (const mib of memoryMiB) {
      for (const depth of inFlights) out.paired[`${mib}MiB inFlight${depth}`] = await pairedStreams(data, mib * MiB, keyring, context, runs, depth);
    }
  }
  const plain = document.getElementById('plain').files[0];
  const cipher = document.getElementById('cipher').files[0];
  const readOnly = async (read) => {
    const xs = [];
    for (let r = 0; r < runs; r++) xs.push(await timeCpu(() => drainCount(read(plain))));
    return { read: mbps(plain.size, median(xs.map((x) => x.ms))), perCpuSecond: Math.round(plain.size / 1e6 / median(xs.map((x) => x.cpu))) };
  };
  if (has('file')) {
    // The input's own ceiling: reading the File with no crypto at all.
    out.fileMiB = plain.size / MiB;
    out.fileReadNoCrypto = await readOnly((f) => f.stream());
    const ours = await streams(plain, cipher, keyring, context, 'auto', 256 * 1024, runs);
    out.fileStreams = ours;
    out.encryptStream = ours.encrypt;
    out.decryptStream = ours.decrypt;
    out.ratio = ratio(ours);
  }
  if (has('slices')) {
    // Reading the File as slice().arrayBuffer() with several reads in flight.
    out.fileSlices = {};
    for (const [slice, depth] of [[1 * MiB, 4], [4 * MiB, 1], [4 * MiB, 2], [4 * MiB, 4], [16 * MiB, 2]]) {
      out.fileSlices[`${slice / MiB}MiB x${depth}`] = await readOnly((f) => slicedFileStream(f, slice, depth));
    }
    out.fileSliceStreams = await streams(plain, cipher, keyring, context, 'auto', 256 * 1024, runs, (f) => slicedFileStream(f, 4 * MiB, 4));
  }
  if (has('wasm')) {
    const small = new Blob([data.subarray(0, wasmMiB * MiB)]);
    const smallCipher = new Blob([await cd.encrypt(small, { keyring, context })]);
    out.wasmEngineStreams = await streams(small, smallCipher, keyring, context, 'wasm', 256 * 1024, 1);
  }
  out.target = 0.9;
  return out;
}
