// Shared by the Node tests: the package under test (installed into
// tests/node/node_modules by run.sh, imported by its name so the `exports` map is
// what resolves it), the native `cipherdrop` binary, files as web streams, SHA-256.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN =
  process.env.CIPHERDROP_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(process.env.HOME ?? '/root', '.cache/cipherdrop-target'), 'debug/cipherdrop');
export const VECTORS = path.join(ROOT, 'crypto-core/tests/vectors');

/** The installed package, imported as `cipherdrop` (as an application would). */
export async function loadPackage() {
  try {
    return await import('cipherdrop');
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && /'cipherdrop'/.test(e.message)) {
      throw new Error('the cipherdrop package is not installed in tests/node: run tests/node/run.sh (it packs and installs it)');
    }
    throw e;
  }
}

export function assertBinary() {
  assert.ok(fs.existsSync(BIN), `no cipherdrop binary at ${BIN} (set CIPHERDROP_BIN, or: cargo build -p cipherdrop-server --bin cipherdrop)`);
}

/** A file (from byte `start`) as a web ReadableStream<Uint8Array>, in pieces of `piece` bytes. */
export const fileStream = (file, piece = 64 * 1024, start = 0) => Readable.toWeb(fs.createReadStream(file, { highWaterMark: piece, start }));

/** A web WritableStream into a new file. */
export const fileSink = (file) => Writable.toWeb(fs.createWriteStream(file));

export const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

export async function sha256File(file) {
  const h = crypto.createHash('sha256');
  for await (const piece of fs.createReadStream(file)) h.update(piece);
  return h.digest('hex');
}

/** `len` random bytes written to `file`, in 1 MiB pieces; resolves with their SHA-256. */
export function writeRandomFile(file, len) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0; off < len; off += 1 << 20) {
      const piece = crypto.randomBytes(Math.min(1 << 20, len - off));
      h.update(piece);
      fs.writeSync(fd, piece);
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}
