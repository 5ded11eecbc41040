// Headless Chromium for the benchmarks, plus what Linux says about its processes.
// Debian's /usr/bin/chromium through playwright-core (never `npx playwright install`),
// a fresh --user-data-dir per launch. Memory and CPU come from /proc, because
// performance.measureUserAgentSpecificMemory() needs COOP/COEP and the JS heap
// (CDP JSHeapUsedSize) does not count ArrayBuffer backing stores, where the bytes are.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64

function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parent pid and CPU seconds (user + system) of a process, from /proc/<pid>/stat. */
function stat(pid) {
  const s = readProc(pid, 'stat');
  if (!s) return undefined;
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK };
}

/** Every process under `root` (itself included). */
function tree(root) {
  const kids = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = stat(name);
    if (!st) continue;
    if (!kids.has(st.ppid)) kids.set(st.ppid, []);
    kids.get(st.ppid).push(Number(name));
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(root);
  return out;
}

/** Resident set size of a process in bytes (VmRSS), 0 when gone. */
export function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readProc(pid, 'status') ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Launches Chromium; returns { page, close, browserPid, rendererPids(), cpuSeconds() }.
 * cpuSeconds() is the CPU time of all Chromium processes (browser, renderer with
 * WebCrypto's worker threads, utilities): compared between two steps, it says what
 * each cost even when other jobs share the cores.
 */
export async function launch({ args = [] } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  page.on('console', (m) => {
    if (process.env.CIPHERDROP_BENCH_VERBOSE || m.type() === 'error') console.error(`[page ${m.type()}] ${m.text()}`);
  });
  // The browser process is the one whose command line names our fresh profile.
  let browserPid;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = readProc(name, 'cmdline') ?? '';
    if (cmd.includes(profile) && !cmd.includes('--type=')) {
      browserPid = Number(name);
      break;
    }
  }
  const all = () => (browserPid ? tree(browserPid) : []);
  return {
    context,
    page,
    profile,
    browserPid,
    rendererPids: () => all().filter((p) => (readProc(p, 'cmdline') ?? '').includes('--type=renderer')),
    cpuSeconds: () => all().reduce((sum, p) => sum + (stat(p)?.cpu ?? 0), 0),
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Samples the summed RSS of `pids()` every `everyMs` until stopped; stop() returns
 * { peak, base } in bytes (base = the first sample).
 */
export function sampleRss(pids, everyMs = 25) {
  const sample = () => pids().reduce((s, p) => s + rssBytes(p), 0);
  const base = sample();
  let peak = base;
  const t = setInterval(() => {
    peak = Math.max(peak, sample());
  }, everyMs);
  return {
    stop: () => {
      clearInterval(t);
      peak = Math.max(peak, sample());
      return { peak, base };
    },
  };
}
