// The peer benchmark's page (bundled by esbuild into dist/page.js). Every library
// encrypts and decrypts the same random input in the same page, one after the other;
// run.mjs samples the memory of the engine's content processes (Chromium's renderers,
// Firefox's web content processes, WebKitWebProcess) around each step (benchStep) and
// reads the CPU time of the engine's processes (benchCpuSeconds): DevTools bindings in
// Chromium, fetch() calls to run.mjs's server in Firefox and WebKit.
//
// Input: streaming libraries read an in-memory ReadableStream of 1 MiB views of the
// input and write into a counting sink (nothing kept); libraries that cannot stream
// get the whole input as one Uint8Array and return one. MB/s = 10^6 B/s of plaintext.
import * as cd from '../../wasm/pkg/index.js';
import * as aws from '@aws-crypto/client-browser';
import sodiumModule from 'libsodium-wrappers';
import * as age from 'age-encryption';

const MiB = 1024 * 1024;
const mbps = (bytes, ms) => Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function random(len) {
  const out = new Uint8Array(len);
  for (let off = 0; off < len; off += 65536) crypto.getRandomValues(out.subarray(off, Math.min(len, off + 65536)));
  return out;
}

/** `total` bytes (default: all of `data`, repeated when larger) as 1 MiB views of `data`. */
function source(data, total = data.length, piece = MiB) {
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

async function count(readable) {
  const reader = readable.getReader();
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return n;
    n += value.length;
  }
}

// A reader loop, not `for await`: WebKit has no async iteration of streams (the
// package's streams.js avoids it for the same reason).
async function collect(readable) {
  const reader = readable.getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of parts) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

const gc = () => globalThis.gc?.();

/**
 * Times `fn` (wall and the engine's CPU), with the content processes' RSS sampled by
 * run.mjs from just before to just after. Returns { ms, cpu, peakRss, baseRss } or { error }.
 */
async function step(label, fn) {
  gc();
  await new Promise((r) => setTimeout(r, 50));
  await globalThis.benchStep('start', label);
  const c0 = await globalThis.benchCpuSeconds();
  const t = performance.now();
  let result;
  try {
    result = await fn();
  } catch (e) {
    await globalThis.benchStep('stop', label);
    return { error: `${e?.name ?? 'Error'}: ${e?.message ?? e}` };
  }
  const ms = performance.now() - t;
  const cpu = (await globalThis.benchCpuSeconds()) - c0;
  const mem = await globalThis.benchStep('stop', label);
  return { ms, cpu, ...mem, result };
}

// ---------------------------------------------------------------- the contenders

/** Each: { name, variant, streams, chunk, setup(), encrypt(input), decrypt(ciphertext) }. */
function contenders(rawKey) {
  const list = [];
  const keyring = cd.Keyring.fromKey('bench', rawKey);
  const context = { owner: 'bench', object: 'peer.bin' };
  for (const engine of ['webcrypto', 'wasm']) {
    list.push({
      name: 'CipherDrop',
      variant: engine === 'webcrypto' ? 'EncryptStream/DecryptStream, WebCrypto' : 'same, wasm fallback engine',
      streams: true,
      chunk: '256 KiB',
      flat: engine === 'webcrypto',
      encrypt: (data, keep, total = data.length) => {
        const s = source(data, total).pipeThrough(new cd.EncryptStream({ keyring, context, plaintextLength: total, engine }));
        return keep ? collect(s) : count(s);
      },
      decrypt: (sealed) => count(source(sealed).pipeThrough(new cd.DecryptStream({ keyring, context, engine }))),
    });
  }
  for (const cs of [16 * 1024, 64 * 1024, 256 * 1024, MiB]) {
    let key;
    const iv = (i) => {
      const n = new Uint8Array(12);
      new DataView(n.buffer).setUint32(8, i);
      return n;
    };
    list.push({
      name: 'raw WebCrypto AES-256-GCM',
      variant: `${cs / 1024 >= 1024 ? `${cs / MiB} MiB` : `${cs / 1024} KiB`} chunks, 4 in flight`,
      streams: true,
      chunk: cs >= MiB ? `${cs / MiB} MiB` : `${cs / 1024} KiB`,
      raw: true,
      setup: async () => {
        key = await crypto.subtle.importKey('raw', rawKey, 'AES-GCM', false, ['encrypt', 'decrypt']);
      },
      // Chunks of the input, sealed into a list (kept for decrypt) or counted.
      encrypt: async (data, keep) => {
        const out = keep ? [] : undefined;
        const q = [];
        let n = 0;
        for (let i = 0, off = 0; off < data.length; i++, off += cs) {
          q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv(i) }, key, data.subarray(off, off + cs)));
          if (q.length >= 4) {
            const b = await q.shift();
            n += b.byteLength;
            out?.push(b);
          }
        }
        for (const p of q) {
          const b = await p;
          n += b.byteLength;
          out?.push(b);
        }
        return out ?? n;
      },
      decrypt: async (sealed) => {
        const q = [];
        let n = 0;
        for (let i = 0; i < sealed.length; i++) {
          q.push(crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv(i) }, key, sealed[i]));
          if (q.length >= 4) n += (await q.shift()).byteLength;
        }
        for (const p of q) n += (await p).byteLength;
        return n;
      },
    });
  }
  {
    let cipher;
    const cs = 256 * 1024;
    list.push({
      name: 'wasm aes-gcm alone',
      variant: 'ChunkCipher (crypto-core, soft AES), 256 KiB chunks',
      streams: true,
      chunk: '256 KiB',
      raw: true,
      setup: () => {
        cipher?.free();
        cipher = new cd.ChunkCipher(rawKey);
      },
      encrypt: async (data, keep) => {
        const out = keep ? [] : undefined;
        let n = 0;
        for (let i = 0, off = 0; off < data.length; i++, off += cs) {
          const s = cipher.seal(i, false, data.subarray(off, off + cs));
          n += s.length;
          out?.push(s);
        }
        return out ?? n;
      },
      decrypt: async (sealed) => {
        let n = 0;
        for (let i = 0; i < sealed.length; i++) n += cipher.open(i, false, sealed[i]).length;
        return n;
      },
    });
  }
  for (const frameLength of [4096, MiB]) {
    let client;
    let ring;
    list.push({
      name: '@aws-crypto/client-browser',
      variant: `raw AES keyring, default suite (signed), ${frameLength === 4096 ? '4 KiB frames (default)' : '1 MiB frames'}`,
      streams: false,
      chunk: frameLength === 4096 ? '4 KiB' : '1 MiB',
      setup: async () => {
        client = aws.buildClient(aws.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
        const suite = aws.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING;
        const masterKey = await aws.RawAesKeyringWebCrypto.importCryptoKey(rawKey, suite);
        ring = new aws.RawAesKeyringWebCrypto({ keyName: 'bench', keyNamespace: 'bench', wrappingSuite: suite, masterKey });
      },
      // The whole input in, the whole file out. A copy at offset 0: given a subarray
      // view, this client encrypts the wrong bytes (TOOLING.md).
      encrypt: async (data) => (await client.encrypt(ring, data.byteOffset === 0 && data.length === data.buffer.byteLength ? data : data.slice(), { frameLength })).result,
      decrypt: async (sealed) => (await client.decrypt(ring, sealed)).plaintext.length,
    });
  }
  {
    let sodium;
    const cs = 64 * 1024;
    let key;
    list.push({
      name: 'libsodium-wrappers secretstream',
      variant: 'XChaCha20-Poly1305 secretstream, 64 KiB chunks (as hat.sh)',
      streams: true,
      chunk: '64 KiB',
      setup: async () => {
        await sodiumModule.ready;
        sodium = sodiumModule;
        key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
      },
      flat: true,
      // A TransformStream re-chunking the 1 MiB input views into 64 KiB messages.
      encrypt: (data, keep, total = data.length) => {
        const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
        const TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        const TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
        let pending = new Uint8Array(0);
        const t = new TransformStream({
          start(c) {
            c.enqueue(header);
          },
          transform(chunk, c) {
            let buf = chunk;
            if (pending.length) {
              buf = new Uint8Array(pending.length + chunk.length);
              buf.set(pending);
              buf.set(chunk, pending.length);
            }
            let off = 0;
            // Keep the last (possibly full) piece back: it may be the final one.
            while (buf.length - off > cs) {
              c.enqueue(sodium.crypto_secretstream_xchacha20poly1305_push(state, buf.subarray(off, off + cs), null, TAG_MESSAGE));
              off += cs;
            }
            pending = buf.slice(off);
          },
          flush(c) {
            c.enqueue(sodium.crypto_secretstream_xchacha20poly1305_push(state, pending, null, TAG_FINAL));
          },
        });
        const s = source(data, total).pipeThrough(t);
        return keep ? collect(s) : count(s);
      },
      decrypt: (sealed) => {
        const H = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES;
        const A = sodium.crypto_secretstream_xchacha20poly1305_ABYTES;
        const TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
        let state;
        let pending = new Uint8Array(0);
        let done = false;
        const t = new TransformStream({
          transform(chunk, c) {
            let buf = chunk;
            if (pending.length) {
              buf = new Uint8Array(pending.length + chunk.length);
              buf.set(pending);
              buf.set(chunk, pending.length);
            }
            let off = 0;
            if (!state) {
              if (buf.length < H) {
                pending = buf.slice();
                return;
              }
              state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(buf.subarray(0, H), key);
              off = H;
            }
            while (buf.length - off >= cs + A) {
              const r = sodium.crypto_secretstream_xchacha20poly1305_pull(state, buf.subarray(off, off + cs + A));
              if (!r) throw new Error('secretstream: a chunk did not verify');
              c.enqueue(r.message);
              off += cs + A;
              if (r.tag === TAG_FINAL) done = true;
            }
            pending = buf.slice(off);
          },
          flush(c) {
            if (!done) {
              const r = sodium.crypto_secretstream_xchacha20poly1305_pull(state, pending);
              if (!r || r.tag !== TAG_FINAL) throw new Error('secretstream: truncated');
              c.enqueue(r.message);
            }
          },
        });
        return count(source(sealed).pipeThrough(t));
      },
    });
  }
  {
    let identity;
    let recipient;
    list.push({
      name: 'age-encryption (typage)',
      variant: 'X25519 recipient, streaming API (64 KiB ChaCha20-Poly1305 chunks)',
      streams: true,
      chunk: '64 KiB',
      setup: async () => {
        identity = await age.generateX25519Identity();
        recipient = await age.identityToRecipient(identity);
      },
      flat: true,
      encrypt: async (data, keep, total = data.length) => {
        const e = new age.Encrypter();
        e.addRecipient(recipient);
        const s = await e.encrypt(source(data, total));
        return keep ? collect(s) : count(s);
      },
      decrypt: async (sealed) => {
        const d = new age.Decrypter();
        d.addIdentity(identity);
        return count(await d.decrypt(source(sealed)));
      },
    });
  }
  return list;
}

const sizeOf = (r) => (typeof r === 'number' ? r : Array.isArray(r) ? r.reduce((s, b) => s + b.byteLength, 0) : r.length);

/**
 * Runs every contender (or those whose name includes one of `only`) on each size.
 * `runs` timed repetitions per size for the fast ones; `slowRuns` for those under
 * 100 MB/s (they take seconds per 256 MiB pass on 2 cores).
 */
export async function run({ sizesMiB = [16, 256], runs = 3, slowRuns = 1, only, flatMiB = 1024 } = {}) {
  const rawKey = random(32);
  const results = [];
  const all = contenders(rawKey).filter((c) => !only || only.some((o) => `${c.name} ${c.variant}`.toLowerCase().includes(o.toLowerCase())));
  for (const mib of sizesMiB) {
    let data = random(mib * MiB);
    for (const c of all) {
      const label = `${c.name} | ${c.variant} | ${mib} MiB`;
      console.log(`bench: ${label}`);
      const row = { name: c.name, variant: c.variant, streams: c.streams, chunk: c.chunk, sizeMiB: mib, raw: !!c.raw };
      results.push(row);
      try {
        await c.setup?.();
      } catch (e) {
        row.error = `setup: ${e?.message ?? e}`;
        continue;
      }
      // The ciphertext for decrypt, made once (not timed).
      const made = await step(`${label} (prepare)`, () => c.encrypt(data, true));
      if (made.error) {
        row.error = `encrypt: ${made.error}`;
        continue;
      }
      let sealed = made.result;
      const enc = [];
      const dec = [];
      let n = runs;
      for (let r = 0; r < n; r++) {
        const e = await step(`${label} encrypt`, () => c.encrypt(data, false));
        if (e.error) {
          row.error = `encrypt: ${e.error}`;
          break;
        }
        enc.push(e);
        const d = await step(`${label} decrypt`, () => c.decrypt(sealed));
        if (d.error) {
          row.error = `decrypt: ${d.error}`;
          break;
        }
        if (d.result !== data.length) {
          row.error = `decrypt gave ${d.result} bytes, not ${data.length}`;
          break;
        }
        dec.push(d);
        // Slow contenders: one timed pass is several seconds; fewer repetitions.
        if (r === 0 && mbps(data.length, e.ms) < 100) n = Math.min(n, slowRuns);
      }
      if (enc.length && dec.length) {
        const pick = (xs) => ({
          mbps: mbps(data.length, median(xs.map((x) => x.ms))),
          spreadMBps: [mbps(data.length, Math.max(...xs.map((x) => x.ms))), mbps(data.length, Math.min(...xs.map((x) => x.ms)))],
          mbPerCpuSecond: Math.round(data.length / 1e6 / median(xs.map((x) => x.cpu))),
          // Renderer RSS growth over the step's start, in MiB (largest of the runs).
          peakRssGrowthMiB: Math.round(Math.max(...xs.map((x) => x.peakRss - x.baseRss)) / MiB),
          runs: xs.length,
        });
        row.encrypt = pick(enc);
        row.decrypt = pick(dec);
        row.ciphertextBytes = sizeOf(sealed);
      }
      sealed = undefined;
      made.result = undefined;
    }
    data = undefined;
  }
  // Flat memory: the streaming contenders encrypt `flatMiB` (a 16 MiB input repeated)
  // once; a bounded pipeline's RSS growth stays what it was at 256 MiB.
  const flat = [];
  if (flatMiB) {
    const data = random(16 * MiB);
    for (const c of all.filter((x) => x.flat)) {
      await c.setup?.();
      const e = await step(`${c.name} flat ${flatMiB} MiB`, () => c.encrypt(data, false, flatMiB * MiB));
      flat.push({ name: c.name, variant: c.variant, sizeMiB: flatMiB, ...(e.error ? { error: e.error } : { encryptMBps: mbps(flatMiB * MiB, e.ms), peakRssGrowthMiB: Math.round((e.peakRss - e.baseRss) / MiB) }) });
    }
  }
  return {
    flat,
    unit: 'MB/s = 10^6 B/s of plaintext, median of runs; memory = renderer RSS growth during the step (MiB)',
    userAgent: navigator.userAgent,
    cores: navigator.hardwareConcurrency,
    results,
  };
}
