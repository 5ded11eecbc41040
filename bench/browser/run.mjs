// The browser benchmark: one run in headless Chromium, JSON on stdout.
//   bench/browser/run.sh            (builds or installs what is missing, then runs this)
//   node bench/browser/run.mjs [--stream-mib N] [--runs N] [--raw-mib N] [--memory-mib 64,256]
//                              [--in-flight 4,8] [--parts raw,wasm,memory,paired,file,slices]
//                              [--devtools-network]
// --devtools-network drives Chromium through playwright-core, which enables the DevTools
// Network domain (as every run before 2026-12-02 did); by default it is off.
// The plaintext file and its ciphertext are written to a temporary directory that is
// removed at exit (Ctrl-C included).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serveStatic } from '../../tests/browser/lib/server.mjs';
import { launch } from '../peers/lib/chromium.mjs';
import { scratchDir } from '../lib/scratch.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
// The native command line makes the ciphertext: the release build run.sh makes, or CIPHERDROP_BIN.
const BIN = process.env.CIPHERDROP_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/cipherdrop-target'), 'release/cipherdrop');
if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run bench/browser/run.sh (it builds it), or set CIPHERDROP_BIN`);
const streamMiB = arg('--stream-mib', 256);
const context = { owner: 'bench', object: 'file.bin' };
// The plaintext file and its encryption by the native command line (same format).
const dir = scratchDir('bench-browser');
const plainPath = path.join(dir, 'file.bin');
const cipherPath = path.join(dir, 'file.bin.cd');
const keyPath = path.join(dir, 'master.key');
const fd = fs.openSync(plainPath, 'w');
for (let i = 0; i < streamMiB; i++) fs.writeSync(fd, crypto.randomBytes(1024 * 1024));
fs.closeSync(fd);
execFileSync(BIN, ['keygen', '--output', keyPath], { stdio: 'ignore' });
execFileSync(BIN, ['encrypt', '--key-file', keyPath, ...Object.entries(context).flatMap(([k, v]) => ['--context', `${k}=${v}`]), plainPath, cipherPath]);
const list = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1].split(',') : undefined;
};
const opts = {
  rawMiB: arg('--raw-mib', 64),
  runs: arg('--runs', 3),
  keyHex: fs.readFileSync(keyPath).toString('hex'),
  context,
  memoryMiB: list('--memory-mib')?.map(Number),
  inFlights: list('--in-flight')?.map(Number),
  parts: list('--parts'), // raw,wasm,memory,file,slices (default: all)
};
const server = await serveStatic(
  { '/pkg/': path.join(ROOT, 'wasm/pkg'), '/bench/': path.join(ROOT, 'bench/browser') },
  { '/': '<!doctype html><title>cipherdrop bench</title><input type=file id=plain><input type=file id=cipher>' },
);
const browser = await launch();
try {
  await browser.page.exposeFunction('benchCpuSeconds', () => browser.cpuSeconds());
  await browser.page.goto(`${server.url}/`);
  await browser.page.setInputFiles('#plain', plainPath);
  await browser.page.setInputFiles('#cipher', cipherPath);
  const result = await browser.page.evaluate(async (o) => (await import('/bench/bench.js')).run(o), opts);
  result.devtoolsNetwork = browser.devtoolsNetwork;
  result.loadAverage = os.loadavg().map((x) => Math.round(x * 100) / 100);
  result.date = new Date().toISOString();
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
