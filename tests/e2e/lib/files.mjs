// Test files with a marker string inside, and helpers to look at what is stored.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** Writes `size` bytes: the marker repeated through random bytes (so it is findable). */
export function writeMarkedFile(file, size, marker) {
  const buf = crypto.randomBytes(size);
  const m = Buffer.from(marker);
  for (let off = 0; off + m.length <= size; off += 64 * 1024) m.copy(buf, off);
  fs.writeFileSync(file, buf);
  return buf;
}

/** Every regular file under `dir` (bounded depth). */
export function walk(dir, depth = 0, out = []) {
  if (depth > 12) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, depth + 1, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}
