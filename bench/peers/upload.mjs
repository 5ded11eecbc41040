// Upload pipeline benchmark: one File (1 GiB by default) uploaded to a local-mode
// `cipherdrop serve` through the package's CipherDropClient (encrypted), and as a
// plain presigned multipart upload of the same bytes (no encryption) with the same
// API calls, part size and concurrency, alternating, in one Chromium run. Prints
// JSON: times, the encrypted/plain ratio (goal <= 1.10) and throughput.
//
//   bench/peers/upload.sh [--mib 1024] [--runs 3] [--part-mib 16] [--concurrency 4] [--diagnose]
//                         [--devtools-network]
// The file and the server's data directory are in a temporary directory removed at exit
// (Ctrl-C included); the server is stopped then too.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { launch } from './lib/chromium.mjs';
import { atExit, scratchDir } from '../lib/scratch.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(here, '../..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const MiB = 1024 * 1024;
const mib = opt('--mib', 1024);
const runs = opt('--runs', 3);
const partMiB = opt('--part-mib', 16);
const concurrency = opt('--concurrency', 4);
const BIN = process.env.CIPHERDROP_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/cipherdrop-target'), 'release/cipherdrop');
if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run bench/peers/upload.sh (it builds it), or set CIPHERDROP_BIN`);

const cpuOf = (pid) => {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
};

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const dir = scratchDir('bench-upload');
let server;
let browser;
try {
  const filePath = path.join(dir, 'file.bin');
  const fd = fs.openSync(filePath, 'w');
  for (let i = 0; i < mib; i++) fs.writeSync(fd, crypto.randomBytes(MiB));
  fs.closeSync(fd);
  const web = path.join(dir, 'web');
  fs.mkdirSync(web);
  fs.copyFileSync(path.join(here, 'upload/index.html'), path.join(web, 'index.html'));
  fs.copyFileSync(path.join(here, 'upload/upload.js'), path.join(web, 'upload.js'));
  fs.symlinkSync(path.join(ROOT, 'wasm/pkg'), path.join(web, 'pkg'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  server = spawn(
    BIN,
    ['serve', '--listen', `127.0.0.1:${port}`, '--local-s3-listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data'), '--web-dir', web, '--part-size', String(partMiB * MiB)],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } },
  );
  atExit(() => server.kill('SIGKILL'));
  let log = '';
  server.stderr.on('data', (d) => (log += d));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 300 || server.exitCode !== null) throw new Error(`cipherdrop serve did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const login = await fetch(`${base}/auth/dev-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'upload-bench' }) });
  const { token } = await login.json();
  browser = await launch();
  await browser.page.exposeFunction('benchCpu', () => ({ chromium: browser.cpuSeconds(), server: cpuOf(server.pid) }));
  await browser.page.goto(`${base}/`);
  await browser.page.setInputFiles('#file', filePath);
  await browser.page.waitForFunction(() => typeof globalThis.runUploadBench === 'function');
  const t0 = Date.now();
  const diagnose = argv.includes('--diagnose=bytes') ? 'bytes' : argv.includes('--diagnose');
  const r = await browser.page.evaluate((o) => globalThis.runUploadBench(o), { base, token, runs, concurrency, diagnose });
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const bytes = mib * MiB;
  const summary = (xs) => ({
    medianSeconds: Math.round(median(xs.map((x) => x.ms)) / 10) / 100,
    seconds: xs.map((x) => Math.round(x.ms / 10) / 100),
    mbps: Math.round(bytes / 1e6 / (median(xs.map((x) => x.ms)) / 1000)),
    chromiumCpuSeconds: xs.map((x) => Math.round(x.cpu.chromium * 10) / 10),
    serverCpuSeconds: xs.map((x) => Math.round(x.cpu.server * 10) / 10),
  });
  const plain = summary(r.plain);
  const encrypted = summary(r.encrypted);
  const out = {
    what: 'one File uploaded to cipherdrop serve (local mode, embedded s3s-fs store) through CipherDropClient vs plain presigned multipart of the same bytes; MB/s = 10^6 B/s of plaintext',
    fileMiB: mib,
    partMiB,
    parts: r.plain[0].parts,
    concurrency,
    runs,
    plain,
    encrypted,
    ratio: Math.round((encrypted.medianSeconds / plain.medianSeconds) * 100) / 100,
    ratiosPerRun: r.encrypted.map((e, i) => Math.round((e.ms / r.plain[i].ms) * 100) / 100),
    goal: 1.1,
    ...(r.plainViaBlob ? { plainViaBlob: summary(r.plainViaBlob) } : {}),
    ...(r.plainViaBytes ? { plainViaBytes: summary(r.plainViaBytes) } : {}),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    seconds: Math.round((Date.now() - t0) / 1000),
    userAgent: await browser.page.evaluate(() => navigator.userAgent),
    devtoolsNetwork: browser.devtoolsNetwork,
    date: new Date().toISOString(),
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  await browser?.close();
  server?.kill('SIGTERM');
}
