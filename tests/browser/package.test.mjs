// The npm package's public API in the browser named by CIPHERDROP_BROWSER (chromium,
// firefox, webkit; tests/lib/browser.mjs): every vector file through the
// streaming decryptor on both engines, round trips at the chunk boundaries,
// WebCrypto and wasm giving identical ciphertext, random access, self-managed
// secrets, error codes, and the wasm fallback when crypto.subtle is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serveStatic } from './lib/server.mjs';
import { launch, ROOT } from '../lib/browser.mjs';

const PKG = path.join(ROOT, 'wasm/pkg');
const VECTORS = path.join(ROOT, 'crypto-core/tests/vectors');
const names = fs
  .readdirSync(VECTORS)
  .filter((f) => f.endsWith('.vector'))
  .map((f) => f.slice(0, -'.vector'.length))
  .sort();

const BOOT = `<script type="module">import * as cd from '/pkg/index.js'; import * as h from '/t/helpers.js'; window.cd = cd; window.h = h; window.cdReady = true;</script>`;

let server;
let browser;
let page;

before(async () => {
  assert.ok(fs.existsSync(path.join(PKG, 'index.js')), 'build the package first: scripts/build-wasm.sh');
  server = await serveStatic(
    { '/pkg/': PKG, '/vectors/': VECTORS, '/t/': path.join(ROOT, 'tests/browser/pages') },
    {
      // The package is loaded by the page itself, so it runs in the page's realm (in
      // Firefox a module imported from a WebDriver script would live in a sandbox).
      '/': `<!doctype html><title>cipherdrop tests</title>${BOOT}`,
      // The same without crypto.subtle, hidden before the package loads.
      '/no-subtle': `<!doctype html><title>no subtle</title><script type="module">
Object.defineProperty(globalThis.crypto, 'subtle', { value: undefined, configurable: true });
${BOOT.replace('<script type="module">', '')}`,
    },
  );
  browser = await launch();
  page = browser;
  await page.goto(`${server.url}/`);
  await page.waitFor(() => window.cdReady);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('every vector file decrypts as it says, on both engines and in any piece size', async () => {
  assert.ok(names.length >= 30, `only ${names.length} vector files`);
  const failures = await page.evaluate(async (names) => {
    const { cd, h } = window;
    const bad = [];
    const skipped = [];
    for (const name of names) {
      const v = await h.loadVector(name);
      // An X25519 recipient's vectors need a keyring the package may not have yet.
      if (v.identity !== undefined && typeof cd.Keyring.fromIdentity !== 'function') {
        skipped.push(name);
        continue;
      }
      const want = h.pattern(v.plaintextLength);
      for (const engine of ['webcrypto', 'wasm']) {
        for (const piece of [7, 1000, 4112, 1 << 20]) {
          const keyring = v.identity !== undefined
            ? cd.Keyring.fromIdentity(v.identity)
            : v.passphrase !== undefined
              ? cd.Keyring.fromPassphrase(v.passphrase)
              : cd.Keyring.fromKey(v.keyName, v.masterKey);
          const ds = new cd.DecryptStream({ keyring, context: v.context, engine });
          const { out, error } = await h.drainStream(h.piecewise(v.body, piece).pipeThrough(ds));
          const where = `${name} ${engine} piece ${piece}`;
          if (v.expect === 'success') {
            if (error) bad.push(`${where}: ${error.code} ${error.message}`);
            else if (!h.equal(out, want)) bad.push(`${where}: wrong plaintext (${out.length} bytes)`);
          } else {
            const code = v.expect.replace('error ', '');
            if (!error) bad.push(`${where}: no error`);
            else if (error.code !== code || error.name !== 'CipherDropError' || !(error instanceof Error))
              bad.push(`${where}: ${error.name} ${error.code} (${error.message}), want ${code}`);
            if (out.length > v.released) bad.push(`${where}: released ${out.length} > ${v.released}`);
            if (!h.equal(out, want.subarray(0, out.length))) bad.push(`${where}: released wrong bytes`);
            if (piece === 1 << 20 && out.length !== v.released) bad.push(`${where}: released ${out.length} != ${v.released}`);
          }
        }
      }
    }
    return { bad, skipped };
  }, names);
  if (failures.skipped.length) {
    console.log(`# SKIPPED ${failures.skipped.length} x25519 vectors: the package has no Keyring.fromIdentity (${failures.skipped.join(', ')})`);
  }
  assert.deepEqual(failures.bad, []);
});

test('round trips at the chunk boundaries, known and unknown length, both engines', async () => {
  const failures = await page.evaluate(async () => {
    const { cd, h } = window;
    const cs = 4096;
    const bad = [];
    const keyring = cd.Keyring.fromKey('k', h.random(32));
    const context = { owner: 'alice', object: 'o1' };
    for (const len of [0, 1, cs - 1, cs, cs + 1, 3 * cs, 3 * cs + 5, 40 * cs + 17]) {
      const data = h.random(len);
      for (const engine of ['webcrypto', 'wasm']) {
        for (const known of [true, false]) {
          for (const piece of [1000, cs, 3 * cs + 1]) {
            const es = new cd.EncryptStream({ keyring, context, chunkSize: cs, engine, plaintextLength: known ? len : undefined });
            const file = await cd.collect(h.piecewise(data, piece).pipeThrough(es));
            const where = `len ${len} ${engine} known ${known} piece ${piece}`;
            const expectLen = cd.ciphertextSize(len, cs, es.headerLength);
            if (file.length !== expectLen) bad.push(`${where}: ${file.length} bytes, ciphertextSize says ${expectLen}`);
            if (known && es.ciphertextLength !== expectLen) bad.push(`${where}: ciphertextLength ${es.ciphertextLength}`);
            if (cd.plaintextSize(file.length, cs, es.headerLength) !== len) bad.push(`${where}: plaintextSize`);
            const info = cd.readHeader(file);
            if (info.plaintextLength !== (known ? len : undefined)) bad.push(`${where}: header length ${info.plaintextLength}`);
            const back = await h.drainStream(h.piecewise(file, piece + 3).pipeThrough(new cd.DecryptStream({ keyring, context, engine })));
            if (back.error || !h.equal(back.out, data)) bad.push(`${where}: ${back.error?.code ?? 'wrong bytes'}`);
          }
        }
      }
    }
    return bad;
  });
  assert.deepEqual(failures, []);
});

test('WebCrypto and wasm seal identical bytes, equal to crypto-core sealChunk', async () => {
  const r = await page.evaluate(async () => {
    const { cd, h } = window;
    const cs = 16384;
    const len = 5 * cs + 1234;
    const data = h.random(len);
    const dataKey = h.random(32);
    const keyring = cd.Keyring.fromKey('k', h.random(32));
    const context = { owner: 'bob' };
    const wrappedKeys = [keyring.wrap(dataKey, context)];
    const enc = new cd.Encryptor(dataKey, wrappedKeys, context, cs, len);
    const out = {};
    for (const engine of ['webcrypto', 'wasm']) {
      out[engine] = await cd.collect(h.piecewise(data, 10000).pipeThrough(new cd.EncryptStream({ encryptor: enc, engine })));
    }
    const parts = [enc.header];
    for (let i = 0; i < enc.chunkCount; i++) parts.push(enc.sealChunk(i, data.subarray(i * cs, Math.min(len, (i + 1) * cs))));
    const core = await cd.collect(new Blob(parts).stream());
    const aeadW = await cd.createChunkAead(enc.contentKey(), 'webcrypto');
    const aeadA = await cd.createChunkAead(enc.contentKey(), 'wasm');
    const nonceOk = h.equal(enc.chunkNonce(3), cd.chunkNonce(3, false)) && h.equal(enc.chunkNonce(5), cd.chunkNonce(5, true));
    return {
      same: h.equal(out.webcrypto, out.wasm),
      sameAsCore: h.equal(out.webcrypto, core),
      engines: [aeadW.engine, aeadA.engine],
      nonceOk,
      nonce5: Array.from(cd.chunkNonce(5, true)),
      decrypts: h.equal(await cd.decrypt(out.wasm, { dataKey, context }), data),
    };
  });
  assert.equal(r.same, true, 'WebCrypto and wasm ciphertext differ');
  assert.equal(r.sameAsCore, true, 'stream ciphertext differs from Encryptor.sealChunk');
  assert.deepEqual(r.engines, ['webcrypto', 'wasm']);
  assert.equal(r.nonceOk, true);
  assert.deepEqual(r.nonce5, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 1]);
  assert.equal(r.decrypts, true);
});

test('random access decrypts any range and authenticates only the chunks it reads', async () => {
  const r = await page.evaluate(async () => {
    const { cd, h } = window;
    const cs = 4096;
    const len = 25 * cs + 99;
    const data = h.random(len);
    const dataKey = h.random(32);
    const context = { owner: 'carol', object: 'big' };
    const wrappedKeys = [{ providerId: 'test', providerInfo: 'none', blob: new Uint8Array([1]) }];
    const bad = [];
    for (const known of [true, false]) {
      const file = await cd.encrypt(data, { dataKey, wrappedKeys, context, chunkSize: cs, plaintextLength: known ? len : undefined });
      const blob = new Blob([file]);
      for (const [s, e] of [[0, 1], [0, len], [cs - 1, cs + 1], [5 * cs, 6 * cs], [len - 1, len], [1234, 77777], [10, 10]]) {
        const got = await cd.decryptRange(blob, { dataKey, context, start: s, end: e });
        if (!h.equal(got, data.subarray(s, e))) bad.push(`known ${known} [${s}, ${e})`);
      }
      const dec = new cd.Decryptor(file, dataKey, context, known ? undefined : file.length);
      const rr = dec.rangeFor(5 * cs, 6 * cs);
      if (rr.firstChunk !== 5 || rr.endChunk !== 6) bad.push(`rangeFor ${JSON.stringify(rr)}`);
      // Damage chunk 20: a range outside it still reads, a range inside it fails.
      const damaged = file.slice();
      damaged[dec.chunkRange(20).start + 5] ^= 1;
      const outside = await cd.decryptRange(damaged, { dataKey, context, start: 0, end: 100 });
      if (!h.equal(outside, data.subarray(0, 100))) bad.push('outside range');
      try {
        await cd.decryptRange(damaged, { dataKey, context, start: 20 * cs + 1, end: 20 * cs + 2 });
        bad.push('damaged range read');
      } catch (e) {
        if (e.code !== 'DECRYPTION_FAILED') bad.push(`damaged range: ${e.code}`);
      }
      try {
        await cd.decryptRange(blob, { dataKey, context, start: 0, end: len + 1 });
        bad.push('past the end read');
      } catch (e) {
        if (e.code !== 'OUT_OF_RANGE') bad.push(`past the end: ${e.code}`);
      }
    }
    return bad;
  });
  assert.deepEqual(r, []);
});

test('self-managed secrets: a 32-byte key and a passphrase (Argon2id), refused when wrong', async () => {
  const r = await page.evaluate(async () => {
    const { cd, h } = window;
    const data = h.random(70000);
    const context = { owner: 'dave', object: 'notes.txt' };
    const out = {};
    const code = async (p) => p.then(() => 'OK', (e) => e.code);
    const key = cd.Keyring.generateKey();
    const kr = cd.Keyring.fromKey('my key', key);
    const f1 = await cd.encrypt(data, { keyring: kr, context, chunkSize: 16384 });
    out.keyOk = h.equal(await cd.decrypt(f1, { keyring: cd.Keyring.fromKey('my key', key), context }), data);
    out.keyWrong = await code(cd.decrypt(f1, { keyring: cd.Keyring.fromKey('my key', h.random(32)), context }));
    out.keyProvider = cd.readHeader(f1).wrappedKeys[0].providerId;
    const params = { memoryKib: 1024, iterations: 1, parallelism: 1 };
    const pk = cd.Keyring.fromPassphrase('correct horse battery staple', params);
    const f2 = await cd.encrypt(data, { keyring: pk, context });
    const w = cd.readHeader(f2).wrappedKeys[0];
    out.passProvider = w.providerId;
    out.passInfo = new TextDecoder().decode(w.providerInfo);
    out.passOk = h.equal(await cd.decrypt(f2, { keyring: cd.Keyring.fromPassphrase('correct horse battery staple'), context }), data);
    out.passWrong = await code(cd.decrypt(f2, { keyring: cd.Keyring.fromPassphrase('wrong horse'), context }));
    out.contextWrong = await code(cd.decrypt(f2, { keyring: pk, context: { owner: 'dave', object: 'other' } }));
    out.emptyPass = (() => { try { cd.Keyring.fromPassphrase(''); return 'OK'; } catch (e) { return e.code; } })();
    out.hugeCost = (() => { try { cd.Keyring.fromPassphrase('x', { memoryKib: 1 << 30 }); return 'OK'; } catch (e) { return e.code; } })();
    const start = performance.now();
    const dflt = cd.Keyring.fromPassphrase('default costs');
    const f3 = await cd.encrypt(new Uint8Array(10), { keyring: dflt, context });
    out.defaultInfo = new TextDecoder().decode(cd.readHeader(f3).wrappedKeys[0].providerInfo).split('$').slice(0, 3).join('$');
    out.defaultMs = Math.round(performance.now() - start);
    return out;
  });
  assert.equal(r.keyOk, true);
  assert.equal(r.keyWrong, 'WRONG_KEY');
  assert.equal(r.keyProvider, 'raw-aes');
  assert.equal(r.passProvider, 'passphrase-argon2id');
  assert.match(r.passInfo, /^argon2id\$v=19\$m=1024,t=1,p=1\$[0-9a-f]{32}$/);
  assert.equal(r.passOk, true);
  assert.equal(r.passWrong, 'WRONG_KEY');
  assert.equal(r.contextWrong, 'CONTEXT_MISMATCH');
  assert.equal(r.emptyPass, 'INVALID_ARGUMENT');
  assert.equal(r.hugeCost, 'LIMIT_EXCEEDED');
  assert.equal(r.defaultInfo, 'argon2id$v=19$m=65536,t=3,p=1');
  console.log(`# Argon2id at the default costs (64 MiB, t=3) in wasm: ${r.defaultMs} ms`);
});

test('Argon2id runs off the page\'s thread: timers keep firing while a passphrase wraps and unwraps', async () => {
  const r = await page.evaluate(async () => {
    const { cd } = window;
    const context = { owner: 'erin', object: 'diary.txt' };
    const workers = [];
    const NativeWorker = window.Worker;
    window.Worker = class extends NativeWorker {
      constructor(url, options) {
        super(url, options);
        workers.push(String(url));
      }
    };
    // The longest gap between the ticks of a 10 ms timer while `fn` runs.
    const gaps = async (fn) => {
      let last = performance.now();
      let max = 0;
      let ticks = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        max = Math.max(max, now - last);
        last = now;
        ticks++;
      }, 10);
      const t0 = performance.now();
      try {
        const value = await fn();
        const now = performance.now();
        return { value, ms: now - t0, maxGap: Math.max(max, now - last), ticks };
      } finally {
        clearInterval(timer);
      }
    };
    try {
      const pk = cd.Keyring.fromPassphrase('off the main thread'); // default costs: 64 MiB, t=3
      const data = new Uint8Array(5000).fill(7);
      const enc = await gaps(() => cd.encrypt(data, { keyring: pk, context }));
      const file = enc.value;
      const hl = cd.headerLength(file);
      // The same unwrap on this thread (the synchronous API) blocks it for its whole run.
      const t0 = performance.now();
      cd.Decryptor.withKeyring(file.subarray(0, hl), pk, context).free();
      const syncMs = performance.now() - t0;
      const dec = await gaps(() => cd.decrypt(file, { keyring: cd.Keyring.fromPassphrase('off the main thread'), context }));
      const wrong = await gaps(() => cd.decrypt(file, { keyring: cd.Keyring.fromPassphrase('wrong'), context }).then(() => 'OK', (e) => e.code));
      const ctx = await cd.decrypt(file, { keyring: pk, context: { ...context, object: 'other' } }).then(() => 'OK', (e) => e.code);
      return {
        syncMs,
        enc: { ms: enc.ms, maxGap: enc.maxGap, ticks: enc.ticks },
        dec: { ms: dec.ms, maxGap: dec.maxGap, ticks: dec.ticks, same: dec.value.length === 5000 && dec.value.every((b) => b === 7) },
        wrong: { code: wrong.value, maxGap: wrong.maxGap },
        ctx,
        workers: workers.filter((u) => u.endsWith('/keyring-worker.js')).length,
      };
    } finally {
      window.Worker = NativeWorker;
    }
  });
  console.log(`# passphrase: unwrap on the page's thread ${Math.round(r.syncMs)} ms; in the worker: decrypt ${Math.round(r.dec.ms)} ms, longest timer gap ${Math.round(r.dec.maxGap)} ms (${r.dec.ticks} ticks); encrypt ${Math.round(r.enc.ms)} ms, gap ${Math.round(r.enc.maxGap)} ms`);
  assert.equal(r.dec.same, true);
  assert.equal(r.wrong.code, 'WRONG_KEY');
  assert.equal(r.ctx, 'CONTEXT_MISMATCH');
  assert.ok(r.workers >= 3, `passphrase workers started: ${r.workers}`);
  // Argon2id is real work here: on the page's thread it blocks timers for its whole run.
  assert.ok(r.syncMs > 100, `a synchronous unwrap took only ${r.syncMs} ms`);
  for (const [what, x] of [['encrypt', r.enc], ['decrypt', r.dec], ['wrong passphrase', r.wrong]]) {
    assert.ok(x.maxGap < Math.max(60, r.syncMs / 2), `${what}: the page's timers stopped for ${Math.round(x.maxGap)} ms (Argon2id on the page's thread takes ${Math.round(r.syncMs)} ms)`);
  }
  assert.ok(r.dec.ticks >= 5, `only ${r.dec.ticks} timer ticks during a ${r.dec.ms} ms decrypt`);
});

test('errors are Errors with a stable code and a human message', async () => {
  const r = await page.evaluate(async () => {
    const { cd } = window;
    const catchIt = (f) => { try { f(); return null; } catch (e) { return { name: e.name, code: e.code, message: e.message, isError: e instanceof Error, is: cd.isCipherDropError(e) }; } };
    return {
      magic: catchIt(() => cd.readHeader(new TextEncoder().encode('not a cipherdrop file at all'))),
      short: catchIt(() => cd.headerLength(new Uint8Array([0x43, 0x49]))),
      chunk: catchIt(() => cd.ciphertextSize(10, 5000)),
      key: catchIt(() => new cd.Encryptor(new Uint8Array(3), [], {}, 4096, 1)),
      parts: cd.planParts(300, 262144, 20 * 1024 * 1024).map((p) => [p.number, p.start, p.end, p.firstChunk, p.endChunk]),
    };
  });
  assert.deepEqual(
    { name: r.magic.name, code: r.magic.code, isError: r.magic.isError, is: r.magic.is },
    { name: 'CipherDropError', code: 'NOT_CIPHERDROP', isError: true, is: true },
  );
  assert.match(r.magic.message, /not a CipherDrop file/);
  assert.equal(r.short.code, 'TRUNCATED');
  assert.equal(r.chunk.code, 'INVALID_CHUNK_SIZE');
  assert.equal(r.key.code, 'INVALID_ARGUMENT');
  // 20 MiB at 256 KiB chunks: 80 chunks, 8 MiB parts of 32 chunks each.
  assert.deepEqual(r.parts.map((p) => [p[0], p[3], p[4]]), [[1, 0, 32], [2, 32, 64], [3, 64, 80]]);
  assert.equal(r.parts[0][1], 0);
  assert.equal(r.parts[2][2], 300 + 20 * 1024 * 1024 + 80 * 16);
});

test('without crypto.subtle the package falls back to wasm AES-GCM', async () => {
  // A fresh document, so that hiding crypto.subtle touches no other test.
  const p2 = browser;
  try {
    await p2.goto(`${server.url}/no-subtle`);
    await p2.waitFor(() => window.cdReady);
    const r = await p2.evaluate(async () => {
      const { cd, h } = window;
      const data = h.random(100000);
      const keyring = cd.Keyring.fromKey('k', h.random(32));
      const context = { owner: 'eve' };
      const aead = await cd.createChunkAead(new Uint8Array(32));
      const file = await cd.encrypt(data, { keyring, context, chunkSize: 4096 });
      const back = await cd.decrypt(file, { keyring, context });
      const forced = await cd.createChunkAead(new Uint8Array(32), 'webcrypto').then(() => 'OK', (e) => e.code);
      return { has: cd.hasWebCrypto(), engine: aead.engine, ok: h.equal(back, data), forced };
    });
    assert.deepEqual(r, { has: false, engine: 'wasm', ok: true, forced: 'NO_WEBCRYPTO' });
  } finally {
    await p2.goto(`${server.url}/`);
    await p2.waitFor(() => window.cdReady);
  }
});

test('the page raised no uncaught errors', async () => {
  assert.deepEqual(await browser.collectProblems(), []);
});
