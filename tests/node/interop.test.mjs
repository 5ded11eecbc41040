// Interop with the native command line, in Node as in the browser
// (tests/browser/interop.test.mjs): files the package encrypts in Node — with a
// master key file (raw-aes keyring) and with a passphrase — decrypt with
// `cipherdrop decrypt`, and files from `cipherdrop encrypt` decrypt in Node; both
// engines, several sizes and chunk sizes, compared by SHA-256; damage and a wrong
// context are refused on both sides.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPackage, assertBinary, BIN, fileStream, fileSink, sha256, sha256File, writeRandomFile } from './lib/common.mjs';

const cd = await loadPackage();
const CONTEXT = { owner: 'alice', object: 'interop/report.pdf' };
const CONTEXT_ARGS = Object.entries(CONTEXT).flatMap(([k, v]) => ['--context', `${k}=${v}`]);

const CASES = [
  { len: 0, chunkSize: 4096 },
  { len: 1, chunkSize: 4096 },
  { len: 4096, chunkSize: 4096 },
  { len: 100_003, chunkSize: 16384 },
  { len: 3 * 262144 + 7, chunkSize: 262144 },
  { len: 9 * 1024 * 1024 + 5, chunkSize: undefined }, // the default chunk size, several batches of the CLI
];

let dir;
let keyFile;
let keyring;

before(() => {
  assertBinary();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-node-interop-'));
  keyFile = path.join(dir, 'master.key');
  execFileSync(BIN, ['keygen', '--output', keyFile]);
  const key = fs.readFileSync(keyFile);
  assert.equal(key.length, 32);
  // The CLI records the key as `raw-aes` named "master" (its --key-name default).
  keyring = cd.Keyring.fromKey('master', key);
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const nativeDecrypt = (enc, out, keyArgs = ['--key-file', keyFile], context = CONTEXT_ARGS) =>
  spawnSync(BIN, ['decrypt', ...keyArgs, ...context, '--force', enc, out], { encoding: 'utf8' });

test('files Node encrypts (key file keyring) decrypt with the native cipherdrop decrypt', async () => {
  for (const engine of ['webcrypto', 'wasm']) {
    for (const { len, chunkSize } of CASES) {
      const where = `${engine} ${len}`;
      const inp = path.join(dir, `n2c-${engine}-${len}.bin`);
      const enc = path.join(dir, `n2c-${engine}-${len}.cd`);
      const out = path.join(dir, `n2c-${engine}-${len}.out`);
      const hash = writeRandomFile(inp, len);
      // A file on disk streamed through EncryptStream into another file.
      await fileStream(inp)
        .pipeThrough(new cd.EncryptStream({ keyring, context: CONTEXT, chunkSize, engine, plaintextLength: len }))
        .pipeTo(fileSink(enc));
      const r = nativeDecrypt(enc, out);
      assert.equal(r.status, 0, `${where}: native decrypt failed: ${r.stderr}`);
      assert.equal(await sha256File(out), hash, `${where}: native decrypt gave other bytes`);

      // Damage is refused by the native side, and so is another context.
      const other = nativeDecrypt(enc, out, undefined, ['--context', 'owner=alice', '--context', 'object=other']);
      assert.notEqual(other.status, 0, `${where}: native decrypt accepted another context`);
      if (len > 0) {
        const bad = fs.readFileSync(enc);
        bad[bad.length - 20] ^= 1;
        fs.writeFileSync(enc, bad);
        const d = nativeDecrypt(enc, out);
        assert.notEqual(d.status, 0, `${where}: native decrypt accepted a damaged file`);
      }
      fs.rmSync(inp);
      fs.rmSync(enc);
      fs.rmSync(out, { force: true });
    }
  }
});

test('files from the native cipherdrop encrypt decrypt in Node', async () => {
  for (const { len, chunkSize } of CASES) {
    const where = `len ${len}`;
    const inp = path.join(dir, `c2n-${len}.bin`);
    const enc = path.join(dir, `c2n-${len}.cd`);
    const hash = writeRandomFile(inp, len);
    const chunkArgs = chunkSize ? ['--chunk-size', String(chunkSize)] : [];
    execFileSync(BIN, ['encrypt', '--key-file', keyFile, ...CONTEXT_ARGS, ...chunkArgs, '--force', inp, enc]);
    const header = cd.readHeader(fs.readFileSync(enc).subarray(0, 4096));
    if (chunkSize) assert.equal(header.chunkSize, chunkSize, `${where}: chunk size in the header`);
    assert.equal(header.plaintextLength, len, `${where}: plaintext length in the header`);
    for (const engine of ['webcrypto', 'wasm']) {
      const out = path.join(dir, `c2n-${len}-${engine}.out`);
      await fileStream(enc, 50_000).pipeThrough(new cd.DecryptStream({ keyring, context: CONTEXT, engine })).pipeTo(fileSink(out));
      assert.equal(await sha256File(out), hash, `${where} ${engine}: Node decrypt gave other bytes`);
      fs.rmSync(out);
    }
    const bytes = fs.readFileSync(enc);
    const damaged = bytes.slice();
    damaged[damaged.length - 1] ^= 1;
    await assert.rejects(cd.decrypt(damaged, { keyring, context: CONTEXT }), { code: 'DECRYPTION_FAILED' }, where);
    await assert.rejects(cd.decrypt(bytes, { keyring, context: { ...CONTEXT, object: 'other' } }), { code: 'CONTEXT_MISMATCH' }, where);
    fs.rmSync(inp);
    fs.rmSync(enc);
  }
});

test('a passphrase (Argon2id) file goes both ways between Node and the CLI', async () => {
  const passphrase = 'correct horse battery staple, from Node';
  const passFile = path.join(dir, 'pass.txt');
  fs.writeFileSync(passFile, `${passphrase}\n`);
  const pkeyring = cd.Keyring.fromPassphrase(passphrase);
  const plain = crypto.randomBytes(70_001);

  // Node -> CLI
  const enc = path.join(dir, 'pass-n2c.cd');
  const out = path.join(dir, 'pass-n2c.out');
  fs.writeFileSync(enc, await cd.encrypt(plain, { keyring: pkeyring, context: CONTEXT, chunkSize: 16384 }));
  const r = nativeDecrypt(enc, out, ['--passphrase-file', passFile]);
  assert.equal(r.status, 0, `native decrypt failed: ${r.stderr}`);
  assert.equal(sha256(fs.readFileSync(out)), sha256(plain));

  // CLI -> Node
  const inp = path.join(dir, 'pass-c2n.bin');
  const enc2 = path.join(dir, 'pass-c2n.cd');
  fs.writeFileSync(inp, plain);
  execFileSync(BIN, ['encrypt', '--passphrase-file', passFile, ...CONTEXT_ARGS, '--force', inp, enc2]);
  const back = await cd.decrypt(await fs.openAsBlob(enc2), { keyring: pkeyring, context: CONTEXT });
  assert.equal(sha256(back), sha256(plain));
  await assert.rejects(
    cd.decrypt(await fs.openAsBlob(enc2), { keyring: cd.Keyring.fromPassphrase('another passphrase'), context: CONTEXT }),
    { name: 'CipherDropError', code: 'WRONG_KEY' },
  );
});
