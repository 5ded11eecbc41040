// The browser benchmark: one run in headless Chromium, JSON on stdout.
//   bench/browser/run.sh            (builds the package, installs playwright-core)
//   node bench/browser/run.mjs [--stream-mib N] [--runs N] [--raw-mib N] [--memory-mib 64,256]
//                              [--parts raw,wasm,memory,file,slices]
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serveStatic } from '../../tests/browser/lib/server.mjs';
import { ROOT } from '../../tests/browser/lib/browser.mjs';
import { launch } from '../peers/lib/chromium.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const BIN = process.env.CIPHERDROP_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? '/root/.cache/cipherdrop-target', 'debug/cipherdrop');
const streamMiB = arg('--stream-mib', 256);
const context = { owner: 'bench', object: 'file.bin' };
// The plaintext file and its encryption by the native command line (same format).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-bench-'));
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
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
