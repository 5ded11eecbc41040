// Interop with the native command line: files encrypted in the browser (CIPHERDROP_BROWSER)
// decrypt with `cipherdrop decrypt`, and files from `cipherdrop encrypt` decrypt there —
// both engines, several sizes and chunk sizes; damage is refused on both sides.
// CIPHERDROP_BIN names the binary (scripts/test-browser.sh builds it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serveStatic } from './lib/server.mjs';
import { launch, ROOT } from '../lib/browser.mjs';

const BIN = process.env.CIPHERDROP_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? '/root/.cache/cipherdrop-target', 'debug/cipherdrop');
const CONTEXT = { owner: 'alice', object: 'interop/report.pdf' };
const CONTEXT_ARGS = Object.entries(CONTEXT).flatMap(([k, v]) => ['--context', `${k}=${v}`]);

let server;
let browser;
let page;
let dir;
let keyFile;
let key;

before(async () => {
  assert.ok(fs.existsSync(BIN), `no cipherdrop binary at ${BIN} (set CIPHERDROP_BIN)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-interop-'));
  keyFile = path.join(dir, 'master.key');
  execFileSync(BIN, ['keygen', '--output', keyFile]);
  key = fs.readFileSync(keyFile);
  assert.equal(key.length, 32);
  server = await serveStatic({ '/pkg/': path.join(ROOT, 'wasm/pkg') }, { '/': '<!doctype html><title>interop</title><script type="module">import * as cd from "/pkg/index.js"; window.cd = cd; window.cdReady = true;</script>' });
  browser = await launch();
  page = browser;
  await page.goto(`${server.url}/`);
  await page.waitFor(() => window.cdReady); // the page loads the package: it runs in the page's realm
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const CASES = [
  { len: 0, chunkSize: 4096 },
  { len: 1, chunkSize: 4096 },
  { len: 4096, chunkSize: 4096 },
  { len: 100_003, chunkSize: 16384 },
  { len: 3 * 262144 + 7, chunkSize: 262144 },
];

test('browser-encrypted files decrypt with the native cipherdrop decrypt', async () => {
  for (const engine of ['webcrypto', 'wasm']) {
    for (const { len, chunkSize } of CASES) {
      const plain = crypto.randomBytes(len);
      const b64 = await page.evaluate(
        async ({ plainB64, keyB64, context, chunkSize, engine }) => {
          const { cd } = window;
          const from = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
          const keyring = cd.Keyring.fromKey('master', from(keyB64));
          const file = await cd.encrypt(new Blob([from(plainB64)]), { keyring, context, chunkSize, engine });
          let s = '';
          for (let i = 0; i < file.length; i += 0x8000) s += String.fromCharCode(...file.subarray(i, i + 0x8000));
          return btoa(s);
        },
        { plainB64: plain.toString('base64'), keyB64: key.toString('base64'), context: CONTEXT, chunkSize, engine },
      );
      const enc = path.join(dir, `b2n-${engine}-${len}.cd`);
      const out = path.join(dir, `b2n-${engine}-${len}.out`);
      fs.writeFileSync(enc, Buffer.from(b64, 'base64'));
      execFileSync(BIN, ['decrypt', '--key-file', keyFile, ...CONTEXT_ARGS, '--force', enc, out]);
      assert.ok(fs.readFileSync(out).equals(plain), `${engine} ${len}: native decrypt gave other bytes`);
      // Damage is refused by the native side too.
      if (len > 0) {
        const bad = Buffer.from(b64, 'base64');
        bad[bad.length - 20] ^= 1;
        fs.writeFileSync(enc, bad);
        const r = spawnSync(BIN, ['decrypt', '--key-file', keyFile, ...CONTEXT_ARGS, '--force', enc, out]);
        assert.notEqual(r.status, 0, `${engine} ${len}: native decrypt accepted a damaged file`);
      }
    }
  }
});

test('files from the native cipherdrop encrypt decrypt in the browser', async () => {
  for (const { len, chunkSize } of CASES) {
    const plain = crypto.randomBytes(len);
    const inp = path.join(dir, `n2b-${len}.bin`);
    const enc = path.join(dir, `n2b-${len}.cd`);
    fs.writeFileSync(inp, plain);
    execFileSync(BIN, ['encrypt', '--key-file', keyFile, ...CONTEXT_ARGS, '--chunk-size', String(chunkSize), '--force', inp, enc]);
    const file = fs.readFileSync(enc);
    const r = await page.evaluate(
      async ({ fileB64, keyB64, context, plainHash }) => {
        const { cd } = window;
        const from = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
        const hex = async (b) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', b)), (x) => x.toString(16).padStart(2, '0')).join('');
        const keyring = cd.Keyring.fromKey('master', from(keyB64));
        const bytes = from(fileB64);
        const out = {};
        for (const engine of ['webcrypto', 'wasm']) {
          const plain = await cd.decrypt(new Blob([bytes]), { keyring, context, engine });
          out[engine] = (await hex(plain)) === plainHash;
        }
        out.chunkSize = cd.readHeader(bytes).chunkSize;
        const damaged = bytes.slice();
        damaged[damaged.length - 1] ^= 1;
        out.damaged = await cd.decrypt(damaged, { keyring, context }).then(() => 'OK', (e) => e.code);
        out.otherContext = await cd.decrypt(bytes, { keyring, context: { ...context, object: 'other' } }).then(() => 'OK', (e) => e.code);
        return out;
      },
      { fileB64: file.toString('base64'), keyB64: key.toString('base64'), context: CONTEXT, plainHash: crypto.createHash('sha256').update(plain).digest('hex') },
    );
    assert.deepEqual(r, { webcrypto: true, wasm: true, chunkSize, damaged: 'DECRYPTION_FAILED', otherContext: 'CONTEXT_MISMATCH' }, `len ${len}`);
  }
});
