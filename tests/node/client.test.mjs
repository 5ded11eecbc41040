// CipherDropClient in Node against a real `cipherdrop serve` (local mode, bound to
// port 0: embedded S3 store that checks presigned signatures, raw-aes keyring).
// Node has no Worker and no XMLHttpRequest, so parts are sealed on this thread and
// sent with fetch: a single-PUT upload and a multipart one (parts in parallel) from
// files on disk, list with decrypted names, verified streaming downloads to disk,
// the stored bytes being a CipherDrop file the CLI can inspect, damage caught,
// abort, and delete; a sharing link with a password made and opened here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { loadPackage, assertBinary, BIN, fileSink, sha256File, writeRandomFile } from './lib/common.mjs';

const cd = await loadPackage();
const MiB = 1024 * 1024;

let server;
let base;
let dir;
let token;

/** Starts `cipherdrop serve` on 127.0.0.1:0 and reads the URL it prints. */
async function startServer() {
  const proc = spawn(
    BIN,
    [
      'serve',
      '--listen', '127.0.0.1:0',
      '--local-s3-listen', '127.0.0.1:0',
      '--data-dir', path.join(dir, 'data'),
      '--web-dir', path.join(dir, 'web'),
      '--multipart-threshold', String(4 * MiB),
      '--part-size', String(5 * MiB),
      '--chunk-size', String(64 * 1024),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } },
  );
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cipherdrop serve printed no URL in 30 s:\n${log}`)), 30_000);
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /running at (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/+$/, ''));
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cipherdrop serve exited (${code}):\n${log}`));
    });
  });
  for (let i = 0; !(await fetch(`${url}/readyz`).then((r) => r.ok, () => false)); i++) {
    if (i > 100) throw new Error(`cipherdrop serve is not ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, url };
}

function walk(d) {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
}

before(async () => {
  assertBinary();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-node-client-'));
  fs.mkdirSync(path.join(dir, 'web'));
  fs.writeFileSync(path.join(dir, 'web', 'index.html'), '<!doctype html><title>node client test</title>');
  ({ proc: server, url: base } = await startServer());
  const login = await fetch(`${base}/auth/dev-login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'node-test' }),
  });
  assert.equal(login.status, 200);
  token = (await login.json()).token;
});

after(() => {
  server?.kill('SIGTERM');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('upload (single and multipart), list, verified download, damage, abort, delete', async () => {
  const client = new cd.CipherDropClient({ baseUrl: base, token });
  const files = [
    { name: 'notes.txt', size: 1000 }, // one presigned PUT
    { name: 'quarterly report.pdf', size: 17 * MiB + 12345 }, // 4 parts of 5 MiB
  ];
  for (const f of files) {
    f.path = path.join(dir, f.name);
    f.hash = writeRandomFile(f.path, f.size);
    const progress = [];
    f.stored = await client.upload(await fs.openAsBlob(f.path), { name: f.name, concurrency: 4, onProgress: (p) => progress.push(p) });
    assert.equal(f.stored.name, f.name);
    assert.equal(f.stored.plaintextSize, f.size);
    const last = progress.at(-1);
    assert.deepEqual([...new Set(progress.map((p) => p.phase))], ['encrypting', 'uploading', 'completing', 'done'], f.name);
    // fetch gives no upload progress: each part is counted when its PUT answers.
    assert.equal(last.sent, last.total, `${f.name}: every byte counted as sent`);
    assert.equal(Math.max(...progress.map((p) => p.encrypted)), f.size, `${f.name}: every byte counted as sealed`);
  }

  const list = await client.list();
  assert.deepEqual(
    list.map((o) => [o.name, o.plaintextSize]).sort(),
    files.map((f) => [f.name, f.size]).sort(),
    'the list has both files with their names (the name-key object is not listed)',
  );

  for (const f of files) {
    const out = path.join(dir, `${f.name}.downloaded`);
    const dl = [];
    await (await client.download(f.stored.id, { onProgress: (p) => dl.push(p) })).pipeTo(fileSink(out));
    assert.equal(await sha256File(out), f.hash, `${f.name}: downloaded plaintext differs`);
    assert.equal(dl.at(-1).received, dl.at(-1).total);
  }

  // The store holds a CipherDrop file (the CLI reads its header) bound to its owner and
  // id, and nothing of the name.
  const big = files[1];
  const stored = walk(path.join(dir, 'data')).filter((p) => path.basename(p) === big.stored.id);
  assert.equal(stored.length, 1);
  const info = JSON.parse(execFileSync(BIN, ['inspect', '--json', stored[0]], { encoding: 'utf8' }));
  assert.ok(JSON.stringify(info).includes(big.stored.id), 'the header names the object');
  assert.ok(!fs.readFileSync(stored[0]).includes('quarterly'), 'the name reached the store');

  // One byte changed in the store: the download stream errors before releasing it.
  const bytes = fs.readFileSync(stored[0]);
  bytes[bytes.length >> 1] ^= 1;
  fs.writeFileSync(stored[0], bytes);
  let released = 0;
  await assert.rejects(
    (async () => {
      for await (const piece of await client.download(big.stored.id)) released += piece.length;
    })(),
    { name: 'CipherDropError', code: 'DECRYPTION_FAILED' },
  );
  assert.ok(released < big.size / 2 + 1, `released ${released} bytes past the damage`);

  // Abort mid-upload: AbortError, and nothing is stored.
  const ac = new AbortController();
  const aborted = client.upload(new Blob([new Uint8Array(12 * MiB)]), {
    signal: ac.signal,
    onProgress: (p) => {
      if (p.encrypted > 0) ac.abort();
    },
  });
  await assert.rejects(aborted, { name: 'AbortError' });
  assert.equal((await client.list()).length, 2);

  // Delete: gone from the list, and a download is a clear 404.
  for (const f of files) await client.delete(f.stored.id);
  assert.deepEqual(await client.list(), []);
  await assert.rejects(client.download(big.stored.id), { name: 'ApiError', status: 404, code: 'not_found' });
});

test('a sharing link with a password, made and opened in Node (Argon2id on the calling thread: no Worker)', async () => {
  const client = new cd.CipherDropClient({ baseUrl: base, token });
  const plain = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
  const stored = await client.upload(new Blob([plain]), { name: 'node share.bin' });
  const link = await client.createShareLink(stored.id, { password: 'node password', maxDownloads: 2 });
  assert.match(link.url, new RegExp(`^${base}/s/[0-9a-f]{32}#[A-Za-z0-9_-]{43}$`));
  assert.deepEqual(await cd.shareLinkInfo(link.url), { shareId: link.shareId, passwordRequired: true });
  await assert.rejects(cd.openShareLink(link.url), { name: 'CipherDropError', code: 'PASSWORD_REQUIRED' });
  await assert.rejects(cd.openShareLink(link.url, { password: 'Node password' }), { name: 'CipherDropError', code: 'WRONG_PASSWORD', attemptsLeft: 9 });
  const shared = await cd.openShareLink(link.url, { password: 'node password' });
  assert.equal(shared.name, 'node share.bin');
  assert.equal(shared.size, plain.length);
  assert.equal(shared.downloadsLeft, 2);
  const got = await cd.collect(await shared.download());
  assert.deepEqual(got, plain);
  assert.equal(shared.downloadsLeft, 1);
  assert.equal((await client.listShareLinks(stored.id))[0].url, link.url);
  await client.delete(stored.id);
  await assert.rejects(cd.openShareLink(link.url, { password: 'node password' }), { code: 'LINK_UNAVAILABLE' });
});
