// What an encrypted upload costs Chromium, piece by piece (not in CI):
//   node bench/web/pieces.mjs [--mib 1024] [--part-mib 8] [--rounds 2] [--passes a,b,...]
// In a dedicated worker of headless Chromium, the same file is walked in parts the
// way the upload worker walks it, doing a little more each pass. A pass is named by
// its steps, joined with '+':
//   read:byob      read each part of the File into one reused buffer (BYOB stream)
//   read:buffer    ... with slice.arrayBuffer() (a new buffer per part)
//   read:frs       ... with FileReaderSync.readAsArrayBuffer (a new buffer per part)
//   read:stream    one BYOB reader over the whole File (not a stream per part) filling
//                  the reused part buffer
//   read:chunks    one default reader over the whole File (file.stream(), what
//                  EncryptStream is fed), its chunks copied into the reused part buffer
//   seal           seal the part with WebCrypto AES-256-GCM in 256 KiB chunks, 4 in flight
//   sealinto       ... and copy the sealed chunks into one reused part buffer
//   fresh          with sealinto: into a new buffer per part instead of the reused one
//   blob           make a Blob of the part (sealed chunks, or the plaintext when not sealed)
//   send           PUT the part with XHR to a loopback sink (this script's own server,
//                  which reads and drops the body), 4 PUTs in flight; the body is the
//                  Blob when `blob` is in the pass, otherwise the part's bytes (a
//                  Uint8Array, which XHR copies when send() is called)
//   plain-send     PUT File slices as they are (what a plain presigned upload does)
// Prints wall time, the renderer's peak RSS (sampled every 50 ms; before the pass in
// rendererBeforeMiB) and the CPU seconds per GiB of Chromium's processes (renderer,
// browser process, network service, others; user and system), and of the sink, for
// each pass, so the difference between passes is the cost of one piece.
// Needs Chromium and bench/peers' packages: bench/web/pieces.sh installs them first.
// The DevTools Network domain is off unless --devtools-network (bench/peers/lib/chromium.mjs).
// The file is written to a temporary directory removed at exit (Ctrl-C included).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { launch, sampleRss } from '../peers/lib/chromium.mjs';
import { scratchDir } from '../lib/scratch.mjs';
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MiB = 1 << 20;
const size = Number(arg('--mib', 1024)) * MiB;
const part = Number(arg('--part-mib', 8)) * MiB;
const rounds = Number(arg('--rounds', 2));
const PASSES = arg(
  '--passes',
  'read:byob,read:stream,read:chunks,read:buffer,read:frs,read:byob+seal,read:stream+seal,read:byob+seal+blob,blob,plain-send,read:byob+seal+blob+send,read:stream+seal+blob+send,read:stream+seal+sealinto+send,read:stream+seal+sealinto+fresh+send',
).split(',');
const STEPS = new Set(['read:byob', 'read:buffer', 'read:frs', 'read:stream', 'read:chunks', 'seal', 'sealinto', 'fresh', 'blob', 'send', 'plain-send']);
for (const p of PASSES) for (const s of p.split('+')) if (!STEPS.has(s)) throw new Error(`unknown step ${s} in pass ${p}: known are ${[...STEPS].join(', ')}`);

const file = path.join(scratchDir('bench-pieces'), `cipherdrop-bench-pieces-${size}.bin`);
{
  const block = crypto.randomBytes(Math.min(size, 64 * MiB));
  const fd = fs.openSync(file, 'w');
  for (let o = 0; o < size; o += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, size - o));
  fs.closeSync(fd);
}

const WORKER = `
const CHUNK = 262144;
function put(body) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', '/sink');
    x.onload = () => (x.status === 200 ? resolve() : reject(new Error('sink answered ' + x.status)));
    x.onerror = () => reject(new Error('PUT failed'));
    x.send(body);
  });
}
// Fills buffer[0, size) from a BYOB reader; returns the buffer (each read moves it).
async function fill(reader, buffer, size) {
  let got = 0;
  while (got < size) {
    const { done, value } = await reader.read(new Uint8Array(buffer, got, size - got));
    if (done) break;
    buffer = value.buffer;
    got += value.length;
  }
  return buffer;
}
onmessage = async ({ data: { pass, file, part } }) => {
  const steps = new Set(pass.split('+'));
  const key = await crypto.subtle.importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt']);
  const iv = new Uint8Array(12);
  let buffer = new ArrayBuffer(part);
  let sealedBuf = new ArrayBuffer(part + (part / CHUNK) * 16);
  const frs = typeof FileReaderSync === 'function' ? new FileReaderSync() : null;
  const sending = [];
  const t0 = performance.now();
  // One reader over the whole file (read:stream, read:chunks).
  const whole = steps.has('read:stream') ? file.stream().getReader({ mode: 'byob' }) : steps.has('read:chunks') ? file.stream().getReader() : null;
  let left = null; // read:chunks: the unread rest of the last chunk
  for (let off = 0; off < file.size; off += part) {
    const slice = file.slice(off, Math.min(file.size, off + part));
    if (steps.has('plain-send')) {
      sending.push(put(slice));
      if (sending.length >= 4) await sending.shift();
      continue;
    }
    let bytes = new Uint8Array(buffer, 0, slice.size);
    if (steps.has('read:byob')) {
      buffer = await fill(slice.stream().getReader({ mode: 'byob' }), buffer, slice.size);
      bytes = new Uint8Array(buffer, 0, slice.size);
    } else if (steps.has('read:buffer')) {
      bytes = new Uint8Array(await slice.arrayBuffer());
    } else if (steps.has('read:frs')) {
      bytes = new Uint8Array(frs.readAsArrayBuffer(slice));
    } else if (steps.has('read:stream')) {
      buffer = await fill(whole, buffer, slice.size);
      bytes = new Uint8Array(buffer, 0, slice.size);
    } else if (steps.has('read:chunks')) {
      bytes = new Uint8Array(buffer, 0, slice.size);
      let got = 0;
      while (got < slice.size) {
        if (!left || left.length === 0) {
          const { done, value } = await whole.read();
          if (done) break;
          left = value;
        }
        const n = Math.min(left.length, slice.size - got);
        bytes.set(left.subarray(0, n), got);
        left = left.subarray(n);
        got += n;
      }
    }
    let body = bytes;
    if (steps.has('seal')) {
      const sealed = [];
      const q = [];
      for (let c = 0; c < bytes.length; c += CHUNK) {
        q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, bytes.subarray(c, c + CHUNK)));
        if (q.length >= 4) sealed.push(await q.shift());
      }
      sealed.push(...(await Promise.all(q)));
      if (steps.has('sealinto')) {
        const out = steps.has('fresh') ? new Uint8Array(sealedBuf.byteLength) : new Uint8Array(sealedBuf);
        let at = 0;
        for (const s of sealed) {
          out.set(new Uint8Array(s), at);
          at += s.byteLength;
        }
        body = out.subarray(0, at);
      } else body = sealed;
      if (steps.has('blob')) body = new Blob(sealed);
    } else if (steps.has('blob')) body = new Blob([bytes]);
    if (steps.has('send')) {
      // XHR copies a BufferSource body when send() is called (XMLHttpRequest standard,
      // "extract a body"), so the reused buffer can be refilled at once.
      sending.push(put(body));
      if (sending.length >= 4) await sending.shift();
    }
  }
  await Promise.all(sending);
  postMessage(performance.now() - t0);
};`;
const PAGE = `<!doctype html><input type="file" id="f"><script>
window.pass = (pass, part) => new Promise((resolve, reject) => {
  const w = new Worker('/worker.js');
  w.onmessage = (e) => { w.terminate(); resolve(e.data); };
  w.onerror = (e) => reject(new Error(e.message));
  w.postMessage({ pass, file: document.getElementById('f').files[0], part });
});</script>`;

let sunk = 0;
const server = http
  .createServer((req, res) => {
    if (req.url === '/sink') {
      req.on('data', (d) => (sunk += d.length));
      req.on('end', () => res.end('ok'));
      return;
    }
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

/** CPU seconds (user, system) of the processes under this browser's profile, by kind. */
function chromiumCpu() {
  const by = {};
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (!cmd.includes(profile)) continue;
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const type = /--type=([\w-]+)/.exec(cmd)?.[1];
      const kind = type === 'renderer' ? 'renderer' : !type ? 'browser' : cmd.includes('NetworkService') ? 'network' : 'other';
      by[kind] ??= { user: 0, sys: 0 };
      by[kind].user += Number(f[11]) / 100;
      by[kind].sys += Number(f[12]) / 100;
    } catch {
      // gone
    }
  }
  const me = process.cpuUsage();
  by.sink = { user: me.user / 1e6, sys: me.system / 1e6 };
  return by;
}

const rows = [];
for (let round = 1; round <= rounds; round++) {
  for (const pass of PASSES) {
    sunk = 0;
    const cpu0 = chromiumCpu();
    const rss = sampleRss(browser.rendererPids, 50);
    const ms = await page.evaluate(([p, n]) => window.pass(p, n), [pass, part]);
    const { peak, base } = rss.stop();
    const cpu1 = chromiumCpu();
    const perGiB = (x) => Number(((x * 1024 * MiB) / size).toFixed(2));
    const cpu = {};
    let chromium = 0;
    for (const k of Object.keys(cpu1)) {
      const u = perGiB(cpu1[k].user - (cpu0[k]?.user ?? 0));
      const s = perGiB(cpu1[k].sys - (cpu0[k]?.sys ?? 0));
      cpu[k] = `${(u + s).toFixed(2)} (${u.toFixed(2)} user + ${s.toFixed(2)} sys)`;
      if (k !== 'sink') chromium += u + s;
    }
    const sends = pass.includes('send');
    if (sends && sunk < size) throw new Error(`pass ${pass}: the sink got ${sunk} bytes of ${size}`);
    rows.push({ round, pass, seconds: Number((ms / 1000).toFixed(2)), chromiumCpuPerGiB: Number(chromium.toFixed(2)), rendererPeakMiB: Math.round(peak / MiB), rendererBeforeMiB: Math.round(base / MiB), cpuSecondsPerGiB: cpu });
  }
}
await browser.close();
server.close();
console.log(JSON.stringify({ fileMiB: size / MiB, partMiB: part / MiB, devtoolsNetwork: browser.devtoolsNetwork, date: new Date().toISOString(), loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '), cpus: os.cpus().length, rows }, null, 2));
