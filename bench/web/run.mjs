// The page's memory and speed on a big upload (issue 5 item 3; not in CI).
// bench/web/run.sh starts `cipherdrop serve` (local mode, release build) and runs this:
//   node bench/web/run.mjs --url URL [--gib 2] [--rounds 2] [--concurrency 4] [--link 100MB/s] [--download]
//                          [--devtools-network]
//   node bench/web/run.mjs --check-options [options]   (only check them: run.sh does, before building)
// In one headless Chromium it alternates, per round:
//   plain:     the same file sent as a presigned multipart upload WITHOUT encryption
//              (parts signed by the backend, same part size and concurrency, XHR PUTs
//              of File slices, then complete);
//   encrypted: the file dropped on the page (CipherDropClient: sealed in a worker).
// Sampled every 200 ms: CDP Performance.getMetrics (JS heap) and, from /proc, the RSS
// of the renderer process(es) and of all of Chromium. Prints JSON.
// Which driver (bench/peers/lib/chromium.mjs): by default the bare DevTools protocol
// client, with the DevTools Network domain OFF. With that domain on, Chromium copies
// every ArrayBuffer/Uint8Array request body into a DevTools event, which makes such
// uploads about 10x slower and inflates memory: an artefact no user pays. Only these
// runs are driven by playwright-core, which enables the Network domain on the page and
// its workers: --link (network emulation needs the Network domain), --download (it
// waits for Playwright's download event and reads the saved file) and
// --devtools-network (asked for, to compare with figures taken that way). The JSON says
// which: devtoolsNetwork. Every page interaction goes through the drivers' shared page
// API (goto, evaluate, waitForFunction, setInputFiles, cdp), so both run the same steps.
// The file and Chromium's profile are in a temporary directory removed at exit
// (Ctrl-C included).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scratchDir } from '../lib/scratch.mjs';
import { DEVTOOLS_NETWORK, launch } from '../peers/lib/chromium.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const fail = (message) => {
  console.error(`bench/web: ${message}`);
  process.exit(2);
};
if (process.argv.includes('--throttle-mbps')) fail('--throttle-mbps is now --link with a unit: --link 25MB/s (megabytes per second, as --throttle-mbps meant) or --link 200Mbit/s');

/**
 * The link speed of --link in bytes per second: a number with the unit MB/s (10^6
 * bytes per second) or Mbit/s (10^6 bits per second), e.g. 100MB/s, 12.5MB/s, 800Mbit/s.
 */
function parseLink(text) {
  const m = /^(\d+(?:\.\d+)?)(MB\/s|Mbit\/s)$/.exec(text ?? '');
  const value = m ? Number(m[1]) : 0;
  if (!m || !(value > 0)) {
    fail(`--link ${JSON.stringify(text ?? '')}: give the upload link's speed as a number and a unit, MB/s (megabytes: 10^6 bytes per second) or Mbit/s (10^6 bits per second), e.g. --link 100MB/s, --link 12.5MB/s, --link 800Mbit/s; leave --link out for loopback at full speed`);
  }
  return m[2] === 'MB/s' ? value * 1e6 : (value * 1e6) / 8;
}

const URL_ = arg('--url');
const GIB = Number(arg('--gib', 2));
const ROUNDS = Number(arg('--rounds', 2));
const CONCURRENCY = Number(arg('--concurrency', 4));
// An upload link of this speed (Chrome DevTools network emulation), as between a
// browser and S3 across the internet; without --link, loopback at full speed.
const LINK = process.argv.includes('--link') ? arg('--link') : undefined;
const LINK_BYTES_PER_SECOND = process.argv.includes('--link') ? parseLink(LINK) : 0;
// Also download the file through the page: streamed to a File System Access writable
// (a stand-in that counts bytes) and through the service worker (a real browser
// download to disk), against a plain fetch of the stored object.
const DOWNLOAD = process.argv.includes('--download');
if (!(GIB > 0)) fail(`--gib ${arg('--gib')}: the file's size in GiB, more than 0 (e.g. 2, or 0.03125 for 32 MiB)`);
if (!(Number.isInteger(ROUNDS) && ROUNDS > 0)) fail(`--rounds ${arg('--rounds')}: a whole number of rounds, 1 or more`);
if (!(Number.isInteger(CONCURRENCY) && CONCURRENCY > 0)) fail(`--concurrency ${arg('--concurrency')}: a whole number of parts in flight, 1 or more`);
if (process.argv.includes('--check-options')) process.exit(0);
if (!URL_) fail('--url is required (bench/web/run.sh starts the server and sets it)');
const MiB = 1 << 20;
const scratch = scratchDir('bench-web');

// ---------- the file (incompressible; removed at exit) ----------
const size = Math.round(GIB * 1024) * MiB;
const file = path.join(scratch, `cipherdrop-bench-web-${size}.bin`);
{
  const fd = fs.openSync(file, 'w');
  const block = crypto.randomBytes(Math.min(size, 64 * MiB));
  for (let o = 0; o < size; o += block.length) {
    block.writeUInt32LE(o / block.length, 0); // no two blocks alike
    fs.writeSync(fd, block, 0, Math.min(block.length, size - o));
  }
  fs.closeSync(fd);
}

// ---------- /proc ----------
const CLOCK_TICKS = 100; // USER_HZ on Linux
const SERVER_PID = Number(process.env.CIPHERDROP_SERVER_PID ?? 0);
function procs() {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      const cpu = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime + stime, s
      // Chromium's children rewrite their title: one string, arguments joined by spaces.
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      out.push({ pid: Number(d), ppid, cmd, rss, cpu });
    } catch {
      // gone
    }
  }
  return out;
}
/** The browser process started with `profile` (in `all`, from procs()) and the pids of its process tree. */
function browserTree(all, profile) {
  const root = all.find((p) => p.cmd.includes(`--user-data-dir=${profile} `) && !p.cmd.includes('--type='));
  const tree = new Set(root ? [root.pid] : []);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) if (!tree.has(p.pid) && tree.has(p.ppid)) tree.add(p.pid), (grew = true);
  }
  return { root, tree };
}
/** RSS of Chromium's processes under the browser started with `profile`. */
function chromiumRss(profile) {
  const all = procs();
  const { root, tree } = browserTree(all, profile);
  if (!root) return null;
  const mine = all.filter((p) => tree.has(p.pid));
  const renderers = mine.filter((p) => p.cmd.includes('--type=renderer'));
  const utility = mine.filter((p) => p.cmd.includes('--type=utility'));
  return {
    renderer: Math.max(0, ...renderers.map((p) => p.rss)),
    total: mine.reduce((n, p) => n + p.rss, 0),
    utility: Math.max(0, ...utility.map((p) => p.rss)),
    browser: root.rss,
  };
}

/** CPU seconds used so far, by process kind: Chromium's (by --type) and the server's. */
function cpuNow(profile) {
  const all = procs();
  const out = { server: 0, renderer: 0, browser: 0, network: 0, gpu: 0, otherChromium: 0 };
  const { root, tree } = browserTree(all, profile);
  for (const p of all) {
    if (p.pid === SERVER_PID) out.server += p.cpu;
    if (!tree.has(p.pid)) continue;
    if (p.pid === root.pid) out.browser += p.cpu;
    else if (p.cmd.includes('--type=renderer')) out.renderer += p.cpu;
    else if (p.cmd.includes('--utility-sub-type=network')) out.network += p.cpu;
    else if (p.cmd.includes('--type=gpu')) out.gpu += p.cpu;
    else out.otherChromium += p.cpu;
  }
  return out;
}
const cpuDelta = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, Number((b[k] - a[k]).toFixed(2))]));

// ---------- the browser ----------
// The Network domain only when a run needs it (see the top of this file).
const browser = await launch({ devtoolsNetwork: DEVTOOLS_NETWORK || LINK_BYTES_PER_SECOND > 0 || DOWNLOAD, viewport: { width: 1280, height: 900 } });
const { page, profile } = browser;
await page.cdp('Performance.enable');
if (LINK_BYTES_PER_SECOND > 0) {
  await page.cdp('Network.enable');
  // uploadThroughput is in bytes per second.
  await page.cdp('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: LINK_BYTES_PER_SECOND });
}

// ---------- page steps, in the page (the same on both drivers) ----------
/** Whether `text` is on the page, shown (innerText leaves hidden elements out). */
const shown = (text) => document.body.innerText.includes(text);
/** Whether an element matching `selector` exists (Playwright's state 'attached'). */
const attached = (selector) => document.querySelector(selector) !== null;
/** Whether no element matching `selector` is shown (Playwright's state 'hidden'). */
const hidden = (selector) => [...document.querySelectorAll(selector)].every((e) => e.getClientRects().length === 0);
/** Clicks the shown button named `name` (its aria-label, else its text, matched as a regular expression) under `within`. */
const clickButton = ([name, within]) => {
  const re = new RegExp(name);
  const scope = within ? document.querySelector(within) : document;
  const button = [...(scope?.querySelectorAll('button') ?? [])].find(
    (b) => b.getClientRects().length > 0 && re.test(b.getAttribute('aria-label') ?? b.textContent.trim()),
  );
  if (!button) throw new Error(`no button ${re} ${within ? `in ${within}` : 'on the page'}`);
  button.click();
};
const wait = (fn, arg, timeout = 60_000) => page.waitForFunction(fn, arg, { timeout });
const rowOf = (name) => `#files-body tr[data-name="${name}"]`;

async function sample(into) {
  const { metrics } = await page.cdp('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  const rss = chromiumRss(profile);
  into.heapUsed = Math.max(into.heapUsed ?? 0, m.JSHeapUsedSize ?? 0);
  into.heapTotal = Math.max(into.heapTotal ?? 0, m.JSHeapTotalSize ?? 0);
  if (rss) {
    into.rendererRss = Math.max(into.rendererRss ?? 0, rss.renderer);
    into.chromiumRss = Math.max(into.chromiumRss ?? 0, rss.total);
    into.browserProcessRss = Math.max(into.browserProcessRss ?? 0, rss.browser);
    into.utilityRss = Math.max(into.utilityRss ?? 0, rss.utility);
  }
}
/**
 * The renderer's threads (Linux: /proc/<pid>/task): tid -> { name, cpu } for every
 * renderer process of this browser. Thread names group the work: CrRendererMain (the
 * page's thread), DedicatedWorker (the upload workers), the WebCrypto and thread-pool
 * threads, the IO thread that moves bytes to and from other processes, etc.
 */
function rendererThreads() {
  const out = new Map();
  const all = procs();
  const { tree } = browserTree(all, profile);
  for (const p of all) {
    if (!tree.has(p.pid) || !p.cmd.includes('--type=renderer')) continue;
    let tids = [];
    try {
      tids = fs.readdirSync(`/proc/${p.pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const st = fs.readFileSync(`/proc/${p.pid}/task/${tid}/stat`, 'utf8');
        const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')).replace(/[\d/:.-]+$/, '') || 'thread';
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        out.set(`${p.pid}/${tid}`, { name, cpu: (Number(f[11]) + Number(f[12])) / 100 });
      } catch {
        // gone
      }
    }
  }
  return out;
}

/**
 * CPU seconds of the renderer's threads by name between start() and stop(). Threads
 * that end (a retired worker) are sampled every 100 ms, so up to 0.1 s of each is
 * missed: `unseen` is the renderer's CPU not found on any thread seen.
 */
function threadCpu() {
  const first = new Map();
  const last = new Map();
  const take = () => {
    for (const [k, v] of rendererThreads()) {
      if (!first.has(k)) first.set(k, { name: v.name, cpu: 0, start: v.cpu });
      last.set(k, v.cpu);
    }
  };
  // Threads present at the start count from there; new ones from their first CPU-second 0.
  for (const [k, v] of rendererThreads()) first.set(k, { name: v.name, cpu: 0, start: v.cpu });
  const t = setInterval(take, 100);
  return {
    stop(rendererTotal) {
      clearInterval(t);
      take();
      const by = {};
      let seen = 0;
      for (const [k, f] of first) {
        const d = (last.get(k) ?? f.start) - f.start;
        by[f.name] = (by[f.name] ?? 0) + d;
        seen += d;
      }
      const out = Object.fromEntries(Object.entries(by).filter(([, v]) => v >= 0.05).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number(v.toFixed(2))]));
      out.unseen = Number(Math.max(0, rendererTotal - seen).toFixed(2));
      return out;
    },
  };
}

async function measured(fn) {
  const peak = {};
  await sample(peak);
  const baseline = { ...peak };
  let on = true;
  const loop = (async () => {
    while (on) {
      await sample(peak).catch(() => {});
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const cpu0 = cpuNow(profile);
  const threads = threadCpu();
  const t0 = performance.now();
  let seconds;
  let cpu;
  let rendererThreadCpu;
  let cleanup;
  try {
    cleanup = await fn();
    seconds = (performance.now() - t0) / 1000;
    cpu = cpuDelta(cpu0, cpuNow(profile));
    rendererThreadCpu = threads.stop(cpu.renderer);
  } finally {
    on = false;
    await loop;
  }
  await cleanup?.(); // not timed
  return { seconds, baseline, peak, cpu, rendererThreadCpu };
}

// Sign in with the development login.
const user = `bench-${crypto.randomBytes(3).toString('hex')}`;
await page.goto(URL_);
// Fill 'Your name' (as typed: an input event) and click 'Sign in' in its form.
await wait(() => [...document.querySelectorAll('label')].some((l) => l.textContent.trim() === 'Your name' && l.getClientRects().length > 0));
await page.evaluate((name) => {
  const label = [...document.querySelectorAll('label')].find((l) => l.textContent.trim() === 'Your name' && l.getClientRects().length > 0);
  const input = label.control;
  input.value = name;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  [...input.form.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Sign in').click();
}, user);
await wait(shown, `Signed in as ${user}`);
await wait(hidden, '#files-loading', 30_000);
// Make the name key now (a small upload), so the measured runs do not include it.
const warm = path.join(scratch, 'cipherdrop-bench-web-warm.txt');
fs.writeFileSync(warm, 'warm-up');
await page.setInputFiles('#files', warm);
await wait(attached, rowOf('cipherdrop-bench-web-warm.txt'));
// A second file input for the plain run (added by the benchmark, not the page).
await page.evaluate(() => {
  const input = document.createElement('input');
  input.type = 'file';
  input.id = 'bench-plain';
  input.hidden = true;
  document.body.append(input);
});

async function plainRun() {
  await page.setInputFiles('#bench-plain', file);
  await page.evaluate(async (concurrency) => {
    const file = document.getElementById('bench-plain').files[0];
    const token = sessionStorage.getItem('cipherdrop.token');
    const api = async (method, p, body) => {
      const r = await fetch(p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
      if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
      return r.status === 204 ? null : r.json();
    };
    // The backend plans parts for the encrypted length (a little longer than the
    // file): the same slices of the file are sent, the last part padded with zeros.
    const start = await api('POST', '/api/uploads', { size: file.size, multipart: true });
    const { chunk_size: C, header_length: H, plaintext_length: L } = start;
    const { part_count: count, chunks_per_part: k } = start.upload;
    const N = Math.max(1, Math.ceil(L / C));
    // The plan in numbers (docs/API.md "Uploads"): part lengths computed here.
    const parts = Array.from({ length: count }, (_, i) => {
      const first = i * k;
      const end = Math.min((i + 1) * k, N);
      const offset = i === 0 ? 0 : H + first * (C + 16);
      return { part_number: i + 1, length: H + Math.min(end * C, L) + 16 * end - offset };
    });
    const requests = new Map();
    for (let i = 0; i < parts.length; i += 100) {
      const res = await api('POST', `/api/uploads/${start.object_id}/parts`, { upload_token: start.upload_token, part_numbers: parts.slice(i, i + 100).map((p) => p.part_number) });
      for (const p of res.parts) requests.set(p.part_number, p.request);
    }
    const etags = [];
    let next = 0;
    let offset = 0;
    const offsets = parts.map((p) => ((offset += p.length), offset - p.length));
    const put = (req, body) =>
      new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open(req.method, req.url);
        for (const [k, v] of Object.entries(req.headers ?? {})) if (!['content-length', 'host'].includes(k.toLowerCase())) xhr.setRequestHeader(k, v);
        xhr.onload = () => (xhr.status < 300 ? resolve(xhr.getResponseHeader('etag')) : reject(new Error(`PUT ${xhr.status}`)));
        xhr.onerror = () => reject(new Error('PUT failed'));
        xhr.send(body);
      });
    const lane = async () => {
      while (next < parts.length) {
        const i = next++;
        const from = offsets[i];
        const to = from + parts[i].length;
        const slice = file.slice(from, Math.min(to, file.size));
        const body = to > file.size ? new Blob([slice, new Uint8Array(to - Math.max(from, file.size))]) : slice;
        etags[i] = await put(requests.get(parts[i].part_number), body);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    const done = await api('POST', `/api/uploads/${start.object_id}/complete`, { upload_token: start.upload_token, parts: etags.map((etag, i) => ({ part_number: i + 1, etag })) });
    window.__benchPlainId = done.object_id;
  }, CONCURRENCY);
  return () =>
    page.evaluate(async () => {
      const token = sessionStorage.getItem('cipherdrop.token');
      await fetch(`/api/objects/${window.__benchPlainId}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    });
}

async function encryptedRun() {
  const name = path.basename(file);
  await page.evaluate(() => document.querySelectorAll('#transfers li').forEach((li) => li.remove()));
  await page.setInputFiles('#files', file);
  await wait(attached, '#transfers li.done, #transfers li.failed', 3_600_000);
  const failed = await page.evaluate(() => document.querySelector('#transfers li.failed')?.textContent ?? null);
  if (failed !== null) throw new Error(`the page failed the upload: ${failed}`);
  // Delete it again (through the API: no dialog), so the store does not fill up.
  return async () => {
    await wait(attached, rowOf(name));
    await page.evaluate(async (n) => {
      const token = sessionStorage.getItem('cipherdrop.token');
      const h = { authorization: `Bearer ${token}` };
      const rows = [...document.querySelectorAll(`#files-body tr[data-name="${n}"]`)];
      for (const tr of rows) await fetch(`/api/objects/${tr.dataset.id}`, { method: 'DELETE', headers: h });
    }, name);
    await page.evaluate(clickButton, ['^Refresh$']);
    await wait((selector) => document.querySelector(selector) === null, rowOf(name));
  };
}

/** Downloads the uploaded file through the page, saved `how`: 'file-picker' or 'service-worker'. */
function downloadRun(how) {
  return async () => {
    const name = path.basename(file);
    await page.evaluate((how) => {
      if (how === 'service-worker') {
        delete window.showSaveFilePicker;
        return;
      }
      window.showSaveFilePicker = async () => ({
        createWritable: async () => {
          let n = 0;
          return new WritableStream({
            write: (chunk) => {
              n += chunk.byteLength;
            },
            close: () => {
              window.__benchSaved = n;
            },
          });
        },
      });
    }, how);
    // Playwright's download event (--download always runs on Playwright).
    const saved = how === 'service-worker' ? page.waitForEvent('download', { timeout: 3_600_000 }) : null;
    await page.evaluate(clickButton, ['^Download', rowOf(name)]);
    await wait(([row, text]) => document.querySelector(row)?.innerText.includes(text), [rowOf(name), 'Downloaded and verified'], 3_600_000);
    const savedWith = await page.evaluate((row) => document.querySelector(row).dataset.savedWith ?? null, rowOf(name));
    if (savedWith !== how) throw new Error(`the page saved with ${savedWith}, not ${how}`);
    if (saved) {
      const download = await saved;
      const at = await download.path(); // the browser has written all of it
      if (fs.statSync(at).size !== size) throw new Error(`the saved file has ${fs.statSync(at).size} bytes, not ${size}`);
      return () => download.delete();
    }
    return undefined;
  };
}

/** A plain download of the stored object (ciphertext, no decryption), read and dropped. */
async function plainDownloadRun() {
  const name = path.basename(file);
  const id = await page.evaluate((row) => document.querySelector(row).dataset.id, rowOf(name));
  await page.evaluate(async (id) => {
    const token = sessionStorage.getItem('cipherdrop.token');
    const dl = await (await fetch(`/api/objects/${id}/download`, { headers: { authorization: `Bearer ${token}` } })).json();
    const res = await fetch(dl.request.url, { headers: dl.request.headers });
    const reader = res.body.getReader();
    for (;;) if ((await reader.read()).done) break;
  }, id);
}

const runs = [];
for (let r = 0; r < ROUNDS; r++) {
  runs.push({ kind: 'plain', round: r + 1, ...(await measured(plainRun)) });
  const last = DOWNLOAD && r === ROUNDS - 1;
  runs.push({ kind: 'encrypted', round: r + 1, ...(await measured(last ? async () => void (await encryptedRun()) : encryptedRun)) });
  process.stderr.write(`round ${r + 1}: plain ${runs.at(-2).seconds.toFixed(1)} s, encrypted ${runs.at(-1).seconds.toFixed(1)} s\n`);
}
if (DOWNLOAD) {
  // The last encrypted upload was kept: download it.
  await page.evaluate(clickButton, ['^Refresh$']);
  await wait(attached, rowOf(path.basename(file)));
  for (const [kind, fn] of [['download plain', plainDownloadRun], ['download file-picker', downloadRun('file-picker')], ['download service-worker', downloadRun('service-worker')]]) {
    runs.push({ kind, round: 1, ...(await measured(fn)) });
    process.stderr.write(`${kind}: ${runs.at(-1).seconds.toFixed(1)} s\n`);
  }
}
await browser.close();

const MB = (b) => Math.round(b / MiB);
const best = (kind) => Math.min(...runs.filter((x) => x.kind === kind).map((x) => x.seconds));
const worst = (kind, key) => Math.max(...runs.filter((x) => x.kind === kind).map((x) => x.peak[key] ?? 0));
const result = {
  fileMiB: size / MiB,
  concurrency: CONCURRENCY,
  link: LINK ?? null, // as given to --link; null: loopback at full speed
  linkBytesPerSecond: LINK_BYTES_PER_SECOND || null,
  rounds: ROUNDS,
  // Whether the DevTools Network domain was on (Playwright: --link, --download,
  // --devtools-network) or off (the bare driver).
  devtoolsNetwork: browser.devtoolsNetwork,
  loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  cpus: os.cpus().length,
  runs: runs.map((x) => ({
    kind: x.kind,
    round: x.round,
    seconds: Number(x.seconds.toFixed(2)),
    MBps: Math.round(size / 1e6 / x.seconds),
    peakRendererRssMiB: MB(x.peak.rendererRss ?? 0),
    peakChromiumRssMiB: MB(x.peak.chromiumRss ?? 0),
    peakBrowserProcessRssMiB: MB(x.peak.browserProcessRss ?? 0),
    peakUtilityProcessRssMiB: MB(x.peak.utilityRss ?? 0),
    peakJsHeapUsedMiB: MB(x.peak.heapUsed ?? 0),
    baselineRendererRssMiB: MB(x.baseline.rendererRss ?? 0),
    cpuSeconds: x.cpu, // CPU time used during the run, by process (server: cipherdrop serve)
    rendererThreadCpuSeconds: x.rendererThreadCpu, // the renderer's CPU time by thread name
  })),
  bestPlainSeconds: Number(best('plain').toFixed(2)),
  bestEncryptedSeconds: Number(best('encrypted').toFixed(2)),
  ratio: Number((best('encrypted') / best('plain')).toFixed(3)),
  peakRendererRssMiBEncrypted: MB(worst('encrypted', 'rendererRss')),
  peakRendererRssMiBPlain: MB(worst('plain', 'rendererRss')),
  problems: [...browser.pageErrors],
};
// The emulated link must have held for both kinds of upload (it would not, e.g., for
// requests it does not see): no run may beat the link's own time.
if (LINK_BYTES_PER_SECOND > 0) {
  const floor = size / LINK_BYTES_PER_SECOND;
  for (const x of runs) if (x.seconds < floor * 0.97) result.problems.push(`${x.kind} round ${x.round} took ${x.seconds.toFixed(1)} s, less than the ${floor.toFixed(1)} s the link allows: the throttle did not apply`);
}
console.log(JSON.stringify(result, null, 2));
