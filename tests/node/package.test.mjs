// The package as a Node application sees it: `import ... from 'cipherdrop'` resolves
// through the package's `exports` (no bundler), loads its wasm from its own files,
// and the stream API works on Node's files — round trips, random access, and every
// vector file of crypto-core decrypting (or failing) as it says, on both engines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackage, VECTORS, fileStream, fileSink, sha256, sha256File, writeRandomFile } from './lib/common.mjs';

const cd = await loadPackage();

test('the package resolves through its exports map to the installed files', () => {
  const entry = fileURLToPath(import.meta.resolve('cipherdrop'));
  assert.match(entry, /node_modules[/\\]cipherdrop[/\\]index\.js$/);
  const wasm = fileURLToPath(import.meta.resolve('cipherdrop/cipherdrop_wasm_bg.wasm'));
  assert.ok(fs.statSync(wasm).size > 10_000, 'the exported .wasm is there');
  // Internal modules stay private: only "." and the .wasm are exported.
  assert.throws(() => import.meta.resolve('cipherdrop/streams.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});

test('Node offers what the package uses and nothing the tests would fake', () => {
  // The client falls back to sealing on this thread (no Worker) and sends with fetch
  // (no XMLHttpRequest); nothing here polyfills either.
  assert.equal(typeof globalThis.Worker, 'undefined');
  assert.equal(typeof globalThis.XMLHttpRequest, 'undefined');
  assert.equal(cd.hasWebCrypto(), true);
  assert.equal(cd.Keyring.generateKey().length, 32); // getrandom through globalThis.crypto
});

test('files stream through EncryptStream and DecryptStream, both engines, known and unknown length', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-node-'));
  try {
    const keyring = cd.Keyring.fromKey('node', cd.Keyring.generateKey());
    const context = { owner: 'alice', object: 'node/streams.bin' };
    const chunkSize = 65536;
    const len = 3 * 1024 * 1024 + 4321;
    const inp = path.join(dir, 'in.bin');
    const hash = writeRandomFile(inp, len);
    for (const engine of ['webcrypto', 'wasm']) {
      for (const known of [true, false]) {
        const enc = path.join(dir, `${engine}-${known}.cd`);
        const out = path.join(dir, `${engine}-${known}.out`);
        const es = new cd.EncryptStream({ keyring, context, chunkSize, engine, plaintextLength: known ? len : undefined });
        await fileStream(inp, 100_000).pipeThrough(es).pipeTo(fileSink(enc));
        const size = fs.statSync(enc).size;
        assert.equal(size, cd.ciphertextSize(len, chunkSize, es.headerLength), `${engine} known=${known}: ciphertext size`);
        await fileStream(enc, 77_777).pipeThrough(new cd.DecryptStream({ keyring, context, engine })).pipeTo(fileSink(out));
        assert.equal(await sha256File(out), hash, `${engine} known=${known}: plaintext differs`);
      }
    }

    // Whole-file helpers and random access on a Blob backed by the file (fs.openAsBlob).
    const file = await cd.encrypt(await fs.openAsBlob(inp), { keyring, context, chunkSize });
    const encPath = path.join(dir, 'whole.cd');
    fs.writeFileSync(encPath, file);
    assert.equal(sha256(await cd.decrypt(await fs.openAsBlob(encPath), { keyring, context })), hash);
    const start = 1_000_001;
    const end = 2_345_678;
    const range = await cd.decryptRange(await fs.openAsBlob(encPath), { start, end, keyring, context });
    assert.equal(sha256(range), sha256(fs.readFileSync(inp).subarray(start, end)));

    // Damage and a wrong context give their codes.
    const damaged = file.slice();
    damaged[damaged.length >> 1] ^= 1;
    await assert.rejects(cd.decrypt(damaged, { keyring, context }), { name: 'CipherDropError', code: 'DECRYPTION_FAILED' });
    await assert.rejects(cd.decrypt(file, { keyring, context: { ...context, object: 'other' } }), { code: 'CONTEXT_MISMATCH' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A vector file: `key: value` lines, a blank line, then the file bytes. */
function loadVector(name) {
  const bytes = fs.readFileSync(path.join(VECTORS, `${name}.vector`));
  const split = bytes.indexOf('\n\n');
  const fields = bytes
    .subarray(0, split)
    .toString('utf8')
    .split('\n')
    .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]);
  const get = (k) => fields.find(([f]) => f === k)?.[1];
  const context = Object.fromEntries(fields.filter(([k]) => k === 'context').map(([, v]) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
  return {
    expect: get('expect'),
    masterKey: get('master_key') && Buffer.from(get('master_key'), 'hex'),
    keyName: get('key_name'),
    passphrase: get('passphrase'),
    // Opened only by an x25519 identity: the package has no recipient keyring
    // (recovery keys are opened by the command line), so such vectors are skipped.
    identityOnly: get('identity') !== undefined && get('master_key') === undefined && get('passphrase') === undefined,
    context,
    plaintextLength: Number(get('plaintext_len')),
    released: get('released') === undefined ? undefined : Number(get('released')),
    path: path.join(VECTORS, `${name}.vector`),
    bodyOffset: split + 2,
  };
}

/** Plaintext of every vector: byte i is i mod 251. */
const pattern = (len) => Uint8Array.from({ length: len }, (_, i) => i % 251);

test('every crypto-core vector file, read from disk as a stream, decrypts as it says on both engines', async () => {
  const names = fs.readdirSync(VECTORS).filter((f) => f.endsWith('.vector')).map((f) => f.slice(0, -'.vector'.length)).sort();
  assert.ok(names.length >= 30, `only ${names.length} vector files`);
  const failures = [];
  for (const name of names) {
    const v = loadVector(name);
    if (v.identityOnly) continue;
    const want = pattern(v.plaintextLength);
    for (const engine of ['webcrypto', 'wasm']) {
      const keyring = v.passphrase !== undefined ? cd.Keyring.fromPassphrase(v.passphrase) : cd.Keyring.fromKey(v.keyName, v.masterKey);
      // Small pieces from the file's body, so chunks are reassembled across reads.
      const body = fileStream(v.path, 1000, v.bodyOffset);
      const parts = [];
      let error;
      try {
        for await (const piece of body.pipeThrough(new cd.DecryptStream({ keyring, context: v.context, engine }))) parts.push(piece);
      } catch (e) {
        error = e;
      }
      const out = Buffer.concat(parts);
      const where = `${name} ${engine}`;
      if (v.expect === 'success') {
        if (error) failures.push(`${where}: ${error.code} ${error.message}`);
        else if (!out.equals(want)) failures.push(`${where}: wrong plaintext (${out.length} bytes)`);
      } else {
        const code = v.expect.replace('error ', '');
        if (!error) failures.push(`${where}: no error`);
        else if (error.code !== code || error.name !== 'CipherDropError') failures.push(`${where}: ${error.name} ${error.code} (${error.message}), want ${code}`);
        if (v.released !== undefined && out.length > v.released) failures.push(`${where}: released ${out.length} > ${v.released}`);
        if (!out.equals(want.subarray(0, out.length))) failures.push(`${where}: released wrong bytes`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

// wasm/README.md's stream example (a Blob's stream through both transforms).
test("wasm/README's stream example works in Node", async () => {
  const keyring = cd.Keyring.fromKey('my key', cd.Keyring.generateKey());
  const context = { owner: 'alice', object: 'report.pdf' };
  const plain = crypto.randomBytes(200_000);
  const blob = new Blob([plain]);
  const encrypted = await cd.collect(blob.stream().pipeThrough(new cd.EncryptStream({ keyring, context, plaintextLength: blob.size })));
  const back = await cd.collect(new Blob([encrypted]).stream().pipeThrough(new cd.DecryptStream({ keyring, context })));
  assert.ok(Buffer.from(back).equals(plain));
});
