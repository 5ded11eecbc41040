// Memory by engine: how much resident memory a browser engine's processes take while
// the page uploads a file and downloads it back (issue 10: the largest file WebKit handles).
//
//   bench/web/engine-memory.sh --browser webkit --mib 256,1024     (builds or installs what is missing)
//   node --experimental-websocket bench/web/engine-memory.mjs --browser webkit,chromium --mib 1024
//
// For each engine and size: starts `cipherdrop serve` (local mode, port 0, temporary data
// directory), launches a fresh browser (tests/lib/browser.mjs), signs in with the dev
// login, picks a generated file of that size in input#files, waits until it is listed,
// then clicks the row's Download button and waits for "Downloaded and verified" and the
// saved file. Every 250 ms it sums VmRSS (/proc/<pid>/status) per process kind over the
// descendants of the WebDriver process:
//   webkit:   web (WebKitWebProcess), network (WebKitNetworkProcess), ui (MiniBrowser)
//   chromium: renderer, browser, gpu, utility
//   firefox:  content (-contentproc tab), main, other (other -contentproc)
// and prints one line per size: engine, size, seconds, the idle RSS after sign-in, the
// peak RSS per kind during the upload and during the download (MiB), and how the page
// saved the download (its row's data-saved-with: service-worker, blob, file-picker).
// Chromium's save dialog (showSaveFilePicker) is hidden, so it takes the service-worker
// path as Firefox and WebKit do. Everything written (the file, the download, the data
// directory, the profile) is deleted.
//
// Options: --browser LIST (chromium, firefox, webkit; default $CIPHERDROP_BROWSER or
// chromium), --mib LIST (default 256), --timeout SECONDS per transfer (default 1800),
// --json (also one JSON object per line on stderr).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENGINES, ROOT, launch } from '../../tests/lib/browser.mjs';
import { startServe } from '../../tests/lib/serve.mjs';

const MiB = 1024 * 1024;
const BIN = process.env.CIPHERDROP_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/cipherdrop-target'), 'release/cipherdrop');
const WEB_DIR = process.env.CIPHERDROP_WEB_DIR ?? path.join(ROOT, 'web/dist');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  return process.argv[i + 1];
}
const engines = option('browser', process.env.CIPHERDROP_BROWSER ?? 'chromium').split(',').filter(Boolean);
const sizes = option('mib', '256').split(',').filter(Boolean).map(Number);
const TIMEOUT = Number(option('timeout', '1800')) * 1000;
const JSON_OUT = process.argv.includes('--json');
for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`--browser ${e}: not one of ${ENGINES.join(', ')}`);
for (const s of sizes) if (!(s > 0)) throw new Error(`--mib: ${s} is not a size in MiB`);
if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: bench/web/engine-memory.sh builds it (or set CIPHERDROP_BIN)`);
if (!fs.existsSync(path.join(WEB_DIR, 'index.html'))) throw new Error(`${WEB_DIR} has no page: bench/web/engine-memory.sh builds it (scripts/build-web.sh), or set CIPHERDROP_WEB_DIR`);

// ---------- the server ----------

const startServer = (dataDir) =>
  startServe(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--web-dir', WEB_DIR], { keepLog: 20_000 });

// ---------- /proc ----------

function processes() {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      out.push({ pid: Number(d), ppid, cmd, rss });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function kindOf(engine, cmd) {
  const exe = path.basename(cmd[0] ?? '');
  const args = cmd.join(' ');
  if (engine === 'webkit') {
    if (exe === 'WebKitWebProcess') return 'web';
    if (exe === 'WebKitNetworkProcess') return 'network';
    if (exe === 'MiniBrowser') return 'ui';
    if (exe.startsWith('WebKit') && exe !== 'WebKitWebDriver') return 'other';
    return null; // xvfb-run, Xvfb, WebKitWebDriver: not the browser
  }
  if (engine === 'chromium') {
    if (!/chrom/i.test(exe)) return null;
    if (exe === 'chromedriver') return null;
    const type = /--type=(\S+)/.exec(args)?.[1];
    if (!type) return 'browser';
    if (type === 'renderer') return 'renderer';
    if (type === 'gpu-process') return 'gpu';
    return 'utility'; // utility (network, storage), zygote
  }
  if (!/firefox/i.test(exe)) return null;
  if (!args.includes('-contentproc')) return 'main';
  return / tab(\s|$)/.test(args) ? 'content' : 'other';
}

const KINDS = { webkit: ['web', 'network', 'ui', 'other'], chromium: ['renderer', 'browser', 'gpu', 'utility'], firefox: ['content', 'main', 'other'] };

/** RSS summed per process kind over the descendants of `root`. */
function sample(engine, root) {
  const all = processes();
  const children = new Map();
  for (const p of all) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(p);
  }
  const sums = Object.fromEntries(KINDS[engine].map((k) => [k, 0]));
  let total = 0;
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop();
    stack.push(...(children.get(p.pid) ?? []));
    const kind = kindOf(engine, p.cmd);
    if (!kind) continue;
    sums[kind] += p.rss;
    total += p.rss;
  }
  return { ...sums, total };
}

/** Samples every 250 ms into the current phase's peaks. */
function sampler(engine, root) {
  const peaks = {};
  let phase = null;
  const take = () => {
    if (!phase) return;
    const s = sample(engine, root);
    const into = (peaks[phase] ??= {});
    for (const [k, v] of Object.entries(s)) into[k] = Math.max(into[k] ?? 0, v);
  };
  const timer = setInterval(take, 250);
  return {
    peaks,
    start(p) {
      phase = p;
      take();
    },
    stop() {
      take();
      phase = null;
    },
    close: () => clearInterval(timer),
  };
}

// ---------- files ----------

/** A file of `size` bytes: 16 MiB of random bytes, repeated (encryption does not care). */
function writeFile(file, size) {
  const block = crypto.randomBytes(16 * MiB);
  const fd = fs.openSync(file, 'w');
  for (let left = size; left > 0; left -= block.length) fs.writeSync(fd, block, 0, Math.min(left, block.length));
  fs.closeSync(fd);
}

async function savedFile(b, name, timeout) {
  const end = Date.now() + timeout;
  const stem = name.replace(/\.[^.]*$/, '');
  for (;;) {
    const names = fs.readdirSync(b.downloads);
    const partial = names.some((n) => n.startsWith(stem) && /\.(crdownload|part|download)$/.test(n));
    if (names.includes(name) && !partial) return fs.statSync(path.join(b.downloads, name)).size;
    if (Date.now() > end) throw new Error(`${name} was not saved in ${b.downloads} (there: ${names.join(', ')})`);
    await b.sleep(250);
  }
}

// ---------- one engine, one size ----------

async function measure(engine, mib, tmp, server) {
  const size = mib * MiB;
  const name = `engine-memory-${engine}-${mib}MiB.bin`;
  const file = path.join(tmp, name);
  writeFile(file, size);
  const result = { engine, mib };
  const b = await launch({ engine, hideFilePicker: true });
  const s = sampler(engine, b.driver.child.pid);
  try {
    await b.goto(server.url);
    await b.evaluate(() => {
      delete window.showOpenFilePicker;
      delete window.showSaveFilePicker;
    });
    await (await b.find('#user', { timeout: 60_000 })).type(`bench-${engine}-${mib}`);
    await (await b.find('#dev-login button[type=submit]')).click();
    await b.waitForText(`Signed in as bench-${engine}-${mib}`, { timeout: 60_000 });
    await b.sleep(2000);
    s.start('idle');
    await b.sleep(1000);
    s.stop();

    s.start('upload');
    let t = Date.now();
    await (await b.find('#files', { visible: false })).setFiles([file]);
    const up = await b.waitFor(
      (n) => {
        if (document.querySelector(`#files-body tr[data-name="${CSS.escape(n)}"]`)) return { ok: true };
        const failed = document.querySelector('#transfers li.failed');
        return failed ? { ok: false, text: failed.textContent.replace(/\s+/g, ' ').trim() } : null;
      },
      name,
      { timeout: TIMEOUT, interval: 500, message: `${name} listed` },
    );
    result.uploadSeconds = (Date.now() - t) / 1000;
    s.stop();
    if (!up.ok) throw new Error(`upload failed: ${up.text}`);
    fs.rmSync(file, { force: true }); // the download is compared by size; free the disk
    await b.sleep(2000);

    s.start('download');
    t = Date.now();
    await b.click(`#files-body tr[data-name="${name}"] button`, { text: /^Download/ });
    const row = await b.waitFor(
      (n) => {
        const tr = document.querySelector(`#files-body tr[data-name="${CSS.escape(n)}"]`);
        const st = tr?.querySelector('.status');
        if (!st) return null;
        if (st.classList.contains('ok')) return { ok: true, savedWith: tr.getAttribute('data-saved-with') };
        if (st.classList.contains('err')) return { ok: false, text: st.textContent };
        return null;
      },
      name,
      { timeout: TIMEOUT, interval: 500, message: `${name} downloaded` },
    );
    result.savedWith = row.savedWith ?? (row.ok ? '?' : 'failed');
    if (!row.ok) throw new Error(`download failed: ${row.text}`);
    const got = await savedFile(b, name, TIMEOUT);
    result.downloadSeconds = (Date.now() - t) / 1000;
    s.stop();
    if (got !== size) throw new Error(`saved ${got} bytes, not ${size}`);
    fs.rmSync(path.join(b.downloads, name), { force: true });
  } catch (e) {
    s.stop();
    result.error = e.message.split('\n')[0];
  } finally {
    s.close();
    result.peaks = s.peaks;
    await b.close().catch(() => {});
    fs.rmSync(file, { force: true });
  }
  return result;
}

const fmt = (bytes) => (bytes === undefined ? '-' : String(Math.round(bytes / MiB)));
function line(r) {
  const kinds = KINDS[r.engine].filter((k) => k !== 'other' || Object.values(r.peaks).some((p) => p.other));
  const peaks = (phase) => {
    const p = r.peaks[phase];
    if (!p) return '-';
    return `${kinds.map((k) => `${k} ${fmt(p[k])}`).join(', ')}; all ${fmt(p.total)}`;
  };
  return [
    r.engine,
    `${r.mib} MiB`,
    r.uploadSeconds === undefined ? '-' : `${r.uploadSeconds.toFixed(1)} s`,
    r.downloadSeconds === undefined ? '-' : `${r.downloadSeconds.toFixed(1)} s`,
    peaks('idle'),
    peaks('upload'),
    peaks('download'),
    r.savedWith ?? '-',
    r.error ?? 'ok',
  ].join(' | ');
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-engine-memory-'));
let server;
const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
process.on('SIGINT', () => {
  server?.stop();
  cleanup();
  process.exit(130);
});
try {
  server = await startServer(path.join(tmp, 'data'));
  console.log('engine | size | upload | download | idle RSS MiB | peak RSS MiB during upload | peak RSS MiB during download | saved with | result');
  for (const engine of engines) {
    for (const mib of sizes) {
      const r = await measure(engine, mib, tmp, server);
      console.log(line(r));
      if (JSON_OUT) console.error(JSON.stringify(r));
    }
  }
} finally {
  await server?.stop();
  cleanup();
}
