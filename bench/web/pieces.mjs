// What an encrypted upload costs Chromium, piece by piece (not in CI):
//   node bench/web/pieces.mjs [--mib 1024] [--part-mib 8]
// In a dedicated worker of headless Chromium, the same file is walked in parts the
// way the upload worker walks it, doing a little more each pass:
//   read           read each part of the File into one reused buffer (BYOB stream)
//   read+seal      ... and seal it with WebCrypto AES-256-GCM in 256 KiB chunks
//   read+seal+blob ... and copy the sealed chunks into a Blob (what XHR sends)
//   blob only      a Blob from an in-memory part (no read, no crypto)
// Prints wall time and the CPU seconds per GiB of Chromium's processes (the renderer,
// the browser process, the others) for each pass, so
// the difference between passes is the cost of one piece. Sending is not included:
// bench/web/run.sh measures the whole upload against a plain one.
// Needs Chromium and bench/peers' packages: bench/web/pieces.sh installs them first.
// The DevTools Network domain is off unless --devtools-network (bench/peers/lib/chromium.mjs).
// The file is written to a temporary directory removed at exit (Ctrl-C included).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { launch } from '../peers/lib/chromium.mjs';
import { scratchDir } from '../lib/scratch.mjs';
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MiB = 1 << 20;
const size = Number(arg('--mib', 1024)) * MiB;
const part = Number(arg('--part-mib', 8)) * MiB;

const file = path.join(scratchDir('bench-pieces'), `cipherdrop-bench-pieces-${size}.bin`);
{
  const block = crypto.randomBytes(Math.min(size, 64 * MiB));
  const fd = fs.openSync(file, 'w');
  for (let o = 0; o < size; o += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, size - o));
  fs.closeSync(fd);
}

const WORKER = `
onmessage = async ({ data: { pass, file, part } }) => {
  const key = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt']);
  const iv = new Uint8Array(12);
  let buffer = new ArrayBuffer(part);
  const t0 = performance.now();
  for (let off = 0; off < file.size; off += part) {
    const slice = file.slice(off, Math.min(file.size, off + part));
    let bytes = new Uint8Array(buffer, 0, slice.size);
    if (pass !== 'blob only') {
      const reader = slice.stream().getReader({ mode: 'byob' });
      let got = 0;
      while (got < slice.size) {
        const { done, value } = await reader.read(new Uint8Array(buffer, got, slice.size - got));
        if (done) break;
        buffer = value.buffer;
        got += value.length;
      }
      bytes = new Uint8Array(buffer, 0, slice.size);
    }
    if (pass === 'blob only') new Blob([bytes]);
    if (pass.includes('seal')) {
      const sealed = [];
      for (let c = 0; c < bytes.length; c += 4 * 262144) {
        const group = [];
        for (let k = c; k < Math.min(bytes.length, c + 4 * 262144); k += 262144)
          group.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, bytes.subarray(k, k + 262144)));
        sealed.push(...(await Promise.all(group)));
      }
      if (pass.includes('blob')) new Blob(sealed);
    }
  }
  postMessage(performance.now() - t0);
};`;
const PAGE = `<!doctype html><input type="file" id="f"><script>
window.pass = (pass, part) => new Promise((resolve, reject) => {
  const w = new Worker('/worker.js');
  w.onmessage = (e) => { w.terminate(); resolve(e.data); };
  w.onerror = (e) => reject(new Error(e.message));
  w.postMessage({ pass, file: document.getElementById('f').files[0], part });
});</script>`;

const server = http
  .createServer((req, res) => {
    const js = req.url === '/worker.js';
    res.setHeader('content-type', js ? 'text/javascript' : 'text/html');
    res.end(js ? WORKER : PAGE);
  })
  .listen(0, '127.0.0.1');
await new Promise((r) => server.on('listening', r));

const browser = await launch();
const { page, profile } = browser;
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.setInputFiles('#f', file);

/** CPU seconds (user + system) of the processes under this browser's profile, by kind. */
function chromiumCpu() {
  const by = { renderer: 0, browser: 0, other: 0 };
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (!cmd.includes(profile)) continue;
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const kind = cmd.includes('--type=renderer') ? 'renderer' : cmd.includes('--type=') ? 'other' : 'browser';
      by[kind] += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // gone
    }
  }
  return by;
}

const rows = [];
for (const round of [1, 2]) {
  for (const pass of ['read', 'read+seal', 'read+seal+blob', 'blob only']) {
    const cpu0 = chromiumCpu();
    const ms = await page.evaluate(([p, n]) => window.pass(p, n), [pass, part]);
    const cpu1 = chromiumCpu();
    const perGiB = (k) => Number((((cpu1[k] - cpu0[k]) * 1024 * MiB) / size).toFixed(2));
    rows.push({
      round,
      pass,
      seconds: Number((ms / 1000).toFixed(2)),
      cpuSecondsPerGiB: { renderer: perGiB('renderer'), browser: perGiB('browser'), other: perGiB('other') },
    });
  }
}
await browser.close();
server.close();
console.log(JSON.stringify({ fileMiB: size / MiB, partMiB: part / MiB, devtoolsNetwork: browser.devtoolsNetwork, date: new Date().toISOString(), loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '), cpus: os.cpus().length, rows }, null, 2));
