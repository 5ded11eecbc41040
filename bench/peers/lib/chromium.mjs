// Headless Chromium for the benchmarks, plus what Linux says about its processes.
// Debian's /usr/bin/chromium (never `npx playwright install`), a fresh --user-data-dir
// per launch. Memory and CPU come from /proc, because
// performance.measureUserAgentSpecificMemory() needs COOP/COEP and the JS heap
// (CDP JSHeapUsedSize) does not count ArrayBuffer backing stores, where the bytes are.
//
// Two drivers with the same small page API (goto, evaluate, waitForFunction,
// setInputFiles, exposeFunction, and cdp(method, params): any DevTools protocol command
// sent to the page's session, e.g. Performance.getMetrics):
// - by default a bare DevTools protocol client over --remote-debugging-pipe that enables
//   only the Page, Runtime and DOM domains of the page, never Network, and does not
//   attach to workers. With the Network domain enabled, Chromium copies every request
//   body into a `Network.requestWillBeSent` event: an 8 MiB ArrayBuffer XHR body became a
//   61 MB protocol message, and 64 MiB of such PUTs took 13-14 s instead of 1.0-1.3 s
//   (Blob bodies are not copied: 0.7-0.9 s either way). Measurements must not pay that.
// - with `devtoolsNetwork: true` (the benchmarks' --devtools-network flag, or
//   CIPHERDROP_BENCH_DEVTOOLS_NETWORK=1) playwright-core, which enables the Network
//   domain on the page and on every worker: how the figures before 2026-12-02 were taken.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { atExit, scratchDir } from '../../lib/scratch.mjs';

const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
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
export function stat(pid) {
  const s = readProc(pid, 'stat');
  if (!s) return undefined;
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK };
}

/** Every process under `root` (itself included). */
export function tree(root) {
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

/** Whether the benchmark was asked to measure with the DevTools Network domain on. */
export const DEVTOOLS_NETWORK = process.argv.includes('--devtools-network') || process.env.CIPHERDROP_BENCH_DEVTOOLS_NETWORK === '1';

/**
 * Launches Chromium; returns { page, close, profile, browserPid, rendererPids(),
 * cpuSeconds(), devtoolsNetwork, pageErrors }. cpuSeconds() is the CPU time of all
 * Chromium processes (browser, renderer with WebCrypto's worker threads, utilities):
 * compared between two steps, it says what each cost even when other jobs share the
 * cores. pageErrors collects the messages of the page's uncaught exceptions (also
 * printed as `[page error]`). `viewport` ({ width, height }) sets the page's viewport
 * (Playwright's option; the bare driver also sizes the window to it). With
 * `devtoolsNetwork`, `page` is Playwright's Page (its whole API, plus cdp).
 */
export async function launch({ args = [], devtoolsNetwork = DEVTOOLS_NETWORK, viewport } = {}) {
  const profile = scratchDir('bench-chromium');
  const pageErrors = [];
  const { page, close } = devtoolsNetwork ? await launchPlaywright(profile, args, pageErrors, viewport) : await launchBare(profile, args, pageErrors, viewport);
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
    page,
    profile,
    browserPid,
    devtoolsNetwork,
    pageErrors,
    rendererPids: () => all().filter((p) => (readProc(p, 'cmdline') ?? '').includes('--type=renderer')),
    cpuSeconds: () => all().reduce((sum, p) => sum + (stat(p)?.cpu ?? 0), 0),
    close: async () => {
      await close();
      fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

async function launchPlaywright(profile, args, pageErrors, viewport) {
  const { chromium } = require('playwright-core');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
    ...(viewport ? { viewport } : {}),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // One CDP session to the page, opened on first use.
  let session;
  page.cdp = (method, params) => (session ??= context.newCDPSession(page)).then((s) => s.send(method, params));
  page.on('pageerror', (e) => {
    pageErrors.push(e.message);
    console.error(`[page error] ${e.message}`);
  });
  page.on('console', (m) => {
    if (process.env.CIPHERDROP_BENCH_VERBOSE || m.type() === 'error') console.error(`[page ${m.type()}] ${m.text()}`);
  });
  return { page, close: () => context.close() };
}

/** Chromium driven over --remote-debugging-pipe (fd 3: to Chromium, fd 4: from it, NUL-separated JSON). */
async function launchBare(profile, args, pageErrors, viewport) {
  const size = viewport ? [`--window-size=${viewport.width},${viewport.height}`] : [];
  const child = spawn(CHROMIUM, [...CHROMIUM_ARGS, ...size, ...args, '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', process.env.CIPHERDROP_BENCH_VERBOSE ? 'inherit' : 'ignore', 'pipe', 'pipe'],
  });
  atExit(() => child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let nextId = 0;
  const waiting = new Map();
  const listeners = new Map(); // method -> [fn]
  let chunks = [];
  child.stdio[4].on('data', (data) => {
    let at = 0;
    let nul;
    while ((nul = data.indexOf(0, at)) >= 0) {
      chunks.push(data.subarray(at, nul));
      const message = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      chunks = [];
      at = nul + 1;
      if (message.id !== undefined) {
        const w = waiting.get(message.id);
        waiting.delete(message.id);
        if (message.error) w?.reject(new Error(`${w.method}: ${message.error.message}`));
        else w?.resolve(message.result);
      } else {
        for (const fn of listeners.get(message.method) ?? []) fn(message.params);
      }
    }
    chunks.push(data.subarray(at));
  });
  child.stdio[3].on('error', () => {}); // Chromium gone: the pending calls fail below
  exited.then(() => {
    for (const w of waiting.values()) w.reject(new Error(`${w.method}: Chromium exited`));
    waiting.clear();
  });
  const send = (method, params = {}, sessionId = undefined) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, { resolve, reject, method });
      child.stdio[3].write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
    });
  const on = (method, fn) => listeners.set(method, [...(listeners.get(method) ?? []), fn]);

  let target;
  for (let i = 0; !target; i++) {
    if (i > 300) throw new Error('Chromium opened no page in 30 s');
    target = (await send('Target.getTargets')).targetInfos.find((t) => t.type === 'page');
    if (!target) await new Promise((r) => setTimeout(r, 100));
  }
  const { sessionId } = await send('Target.attachToTarget', { targetId: target.targetId, flatten: true });
  const call = (method, params) => send(method, params, sessionId);
  on('Runtime.exceptionThrown', ({ exceptionDetails: d }) => {
    const message = d.exception?.description ?? d.text;
    pageErrors.push(message);
    console.error(`[page error] ${message}`);
  });
  on('Runtime.consoleAPICalled', ({ type, args: a }) => {
    if (process.env.CIPHERDROP_BENCH_VERBOSE || type === 'error') console.error(`[page ${type}] ${a.map((x) => x.value ?? x.description ?? '').join(' ')}`);
  });
  await Promise.all([call('Page.enable'), call('Runtime.enable')]);
  // The window's content area is smaller than the window: set the viewport as Playwright does.
  if (viewport) await call('Emulation.setDeviceMetricsOverride', { ...viewport, deviceScaleFactor: 1, mobile: false });

  const exposed = new Map();
  on('Runtime.bindingCalled', async ({ name, payload, executionContextId }) => {
    const fn = exposed.get(name);
    if (!fn) return;
    const { seq, args: callArgs } = JSON.parse(payload);
    let expression;
    try {
      const value = await fn(...callArgs);
      expression = `globalThis.__benchBindings.get(${JSON.stringify(seq)})(true, ${value === undefined ? 'undefined' : JSON.stringify(value)})`;
    } catch (e) {
      expression = `globalThis.__benchBindings.get(${JSON.stringify(seq)})(false, ${JSON.stringify(String(e?.message ?? e))})`;
    }
    await call('Runtime.evaluate', { expression, contextId: executionContextId }).catch(() => {});
  });

  const evaluate = async (fn, arg) => {
    const expression = typeof fn === 'function' ? `(${fn.toString()})(${arg === undefined ? '' : JSON.stringify(arg)})` : String(fn);
    const r = await call('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true, userGesture: true });
    if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
    return r.result.value;
  };
  const page = {
    /** Sends a DevTools protocol command to the page's session; resolves to its result. */
    cdp: (method, params = {}) => call(method, params),
    /** Like Playwright's: window[name](...args) in the page returns a Promise of fn(...args) here (JSON in, JSON out). */
    exposeFunction: async (name, fn) => {
      const binding = `__benchBinding_${name}`;
      exposed.set(binding, fn);
      await call('Runtime.addBinding', { name: binding });
      const source = `(() => {
        const calls = (globalThis.__benchBindings ??= new Map());
        let seq = 0;
        const send = globalThis[${JSON.stringify(binding)}];
        globalThis[${JSON.stringify(name)}] = (...args) => new Promise((resolve, reject) => {
          const id = ${JSON.stringify(name)} + ':' + ++seq;
          calls.set(id, (ok, value) => { calls.delete(id); ok ? resolve(value) : reject(new Error(value)); });
          send(JSON.stringify({ seq: id, args }));
        });
      })();`;
      await call('Page.addScriptToEvaluateOnNewDocument', { source });
    },
    goto: async (url) => {
      const loaded = new Promise((resolve) => on('Page.loadEventFired', resolve));
      const r = await call('Page.navigate', { url });
      if (r.errorText) throw new Error(`${url}: ${r.errorText}`);
      await loaded;
    },
    evaluate,
    /**
     * Resolves to fn(arg)'s value once it is truthy. Polled in the page every 16 ms (as
     * Playwright polls on animation frames), so the end of a timed step is seen
     * promptly; polled again when a navigation replaced the page's context.
     */
    waitForFunction: async (fn, arg, { timeout = 30_000 } = {}) => {
      const until = Date.now() + timeout;
      const check = typeof fn === 'function' ? fn.toString() : `() => (${fn})`;
      for (;;) {
        const expression = `(async (check, arg, until) => {
          for (;;) {
            const v = await check(arg);
            if (v) return v;
            if (Date.now() > until) return v;
            await new Promise((r) => setTimeout(r, 16));
          }
        })(${check}, ${arg === undefined ? 'undefined' : JSON.stringify(arg)}, ${until})`;
        try {
          const v = await evaluate(expression);
          if (v) return v;
        } catch (e) {
          if (!/context was destroyed|Cannot find context|navigated/i.test(e.message) || Date.now() > until) throw e;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new Error(`waitForFunction: still false after ${timeout} ms`);
      }
    },
    /** Picks `file` (a path) in the <input type=file> matching `selector`. */
    setInputFiles: async (selector, file) => {
      const { root } = await call('DOM.getDocument', { depth: 0 });
      const { nodeId } = await call('DOM.querySelector', { nodeId: root.nodeId, selector });
      if (!nodeId) throw new Error(`setInputFiles: nothing matches ${selector}`);
      await call('DOM.setFileInputFiles', { nodeId, files: [file] });
    },
  };
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      send('Browser.close').catch(() => {});
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  return { page, close };
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
