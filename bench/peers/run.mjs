// The peer benchmark: CipherDrop's browser package against other browser encryption
// libraries, all in one page of one browser engine. Prints JSON; with --write, puts
// Chromium's table into the "Peers" section of docs/BENCHMARKS.md and its chart into
// docs/peers.svg.
//
//   bench/peers/run.sh [--browser chromium|firefox|webkit|all] [--write] [--runs 3] [--slow-runs 1]
//                      [--sizes 16,256] [--only CipherDrop,age] [--flat-mib 1024] [--devtools-network]
//   node --experimental-websocket bench/peers/run.mjs ...
//        (after run.sh has built the package and dist/ and installed the browsers)
//
// Engines: --browser, default chromium; `all` runs chromium, firefox and webkit one after
// another (a comma-separated list picks some). One engine: its JSON object. Several:
// { browser, date, seconds, loadAverage, options, engines: { chromium: {...}, firefox:
// {...}, webkit: {...} } }, each the object a run of that engine alone prints, or
// { browser, error } for an engine that could not run at all (the others still run; the
// exit status is then 1). A contender an engine cannot run carries its error in its row,
// as in Chromium. --write needs chromium among the engines and writes its result only.
// - chromium: Debian's /usr/bin/chromium over a bare DevTools pipe (lib/chromium.mjs);
//   the page's benchStep / benchCpuSeconds are DevTools bindings; gc() is exposed
//   (--js-flags=--expose-gc) and called before each step.
// - firefox, webkit: the tests' W3C WebDriver client (tests/lib/browser.mjs, through
//   lib/webdriver.mjs): geckodriver + headless firefox-esr (its BiDi socket needs node
//   --experimental-websocket on Node 20), WebKitWebDriver + MiniBrowser under Xvfb.
//   WebDriver has no bindings: the page they get (/?via=fetch) defines benchStep and
//   benchCpuSeconds as fetch() calls to this server (made outside the timed part of a
//   step, like the bindings), and posts its result to it when done (the run is given
//   up when the page has made no call for 15 min, or the WebDriver server exits).
//   These engines give web pages no gc(): nothing is collected between steps, so a
//   step's RSS growth can hold its own garbage (its ciphertext not yet collected) and
//   lose what is collected of earlier steps meanwhile.
//
// Memory: the RSS of the engine's content processes (from /proc), sampled every 25 ms
// during each step; the figure is its growth over the step's start. Chromium: its
// renderer processes (found through the browser's profile). Firefox: the web content
// processes (firefox-esr -contentproc … tab), WebKit: WebKitWebProcess, both found
// among the descendants of the WebDriver process at each step's start. When an engine's were not found at
// every step, its JSON has memory.measured false and no RSS figures. RSS counts
// ArrayBuffer backing stores (where file bytes live), which the JS heap figures (CDP
// JSHeapUsedSize) do not; performance.measureUserAgentSpecificMemory() would need a
// cross-origin-isolated page. CPU (mbPerCpuSecond): all the engine's processes, the
// WebDriver server and Xvfb left out.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { launch, sampleRss } from './lib/chromium.mjs';
import { writeDocs } from './lib/report.mjs';
import { CONTENT_PROCESSES, DRIVERS, launch as launchWebDriver } from './lib/webdriver.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
// --name=value is --name value.
const argv = process.argv.slice(2).flatMap((a) => (/^--[^=]+=/.test(a) ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const options = {
  sizesMiB: opt('--sizes', '16,256').split(',').map(Number),
  runs: Number(opt('--runs', 3)),
  slowRuns: Number(opt('--slow-runs', 1)),
  only: opt('--only')?.split(','),
  flatMiB: Number(opt('--flat-mib', 1024)),
};
const ENGINES = ['chromium', 'firefox', 'webkit'];
const browserOption = opt('--browser', 'chromium');
const engines = browserOption === 'all' ? ENGINES : [...new Set(browserOption.split(',').filter(Boolean))];
for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`--browser ${browserOption}: ${e} is not one of ${ENGINES.join(', ')}, all`);
if (!engines.length) throw new Error('--browser: no engine named');
const write = argv.includes('--write');
if (write && !engines.includes('chromium')) throw new Error('--write puts the Chromium figures into docs/BENCHMARKS.md: give --browser chromium or all');
// A WebDriver engine's run is given up when its page has made no call for this long.
const IDLE_MS = 15 * 60_000;
const unit = (what) => `MB/s = 10^6 B/s of plaintext, median of runs; memory = RSS growth of the ${what} during the step (MiB)`;

// ------------------------------------------------------------------ the page's server

/** The page's calls to this process (what Chromium gets as DevTools bindings), by name. */
const bindings = new Map();
let onDone; // the WebDriver page posts { result } or { error } to /__bench/done

const page = (viaFetch) => {
  // For WebDriver engines: the bindings as fetch() calls (JSON args in, JSON out).
  const shim = viaFetch
    ? `<script>for (const name of ${JSON.stringify([...bindings.keys()])}) globalThis[name] = (...args) => fetch('/__bench/call/' + name, { method: 'POST', body: JSON.stringify(args) }).then((r) => (r.ok ? r.json() : r.text().then((t) => Promise.reject(new Error(name + ': ' + t)))));</script>`
    : '';
  return `<!doctype html><meta charset=utf-8><link rel=icon href=data:,><title>cipherdrop peers</title>${shim}<script type=module>window.bench = import("/page.js")</script>`;
};
const body = (req) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
const server = http.createServer(async (req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  const p = u.pathname;
  if (p === '/') return res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' }).end(page(u.searchParams.get('via') === 'fetch'));
  if (p === '/favicon.ico') return res.writeHead(204).end();
  if (req.method === 'POST' && p.startsWith('/__bench/call/')) {
    const fn = bindings.get(p.slice('/__bench/call/'.length));
    if (!fn) return res.writeHead(404).end('no such binding');
    try {
      const value = await fn(...JSON.parse(await body(req)));
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value ?? null));
    } catch (e) {
      return res.writeHead(500).end(String(e?.message ?? e));
    }
  }
  if (req.method === 'POST' && p === '/__bench/done') {
    const text = await body(req);
    res.writeHead(204).end();
    onDone?.(JSON.parse(text));
    return;
  }
  const file = path.join(here, 'dist', path.basename(p));
  if (!fs.existsSync(file)) return res.writeHead(404).end();
  const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(fs.readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

/** The page's result with what run.mjs knows about the run. */
function finish(engine, result, started, extra) {
  return {
    browser: engine,
    ...result,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    seconds: Math.round((Date.now() - started) / 1000),
    date: new Date().toISOString().slice(0, 10),
    options,
    ...extra,
  };
}

// ------------------------------------------------------------------ Chromium

async function runChromium() {
  const browser = await launch({ args: ['--js-flags=--expose-gc'] });
  let sampler;
  try {
    await browser.page.exposeFunction('benchCpuSeconds', () => browser.cpuSeconds());
    await browser.page.exposeFunction('benchStep', (what) => {
      if (what === 'start') {
        sampler = sampleRss(browser.rendererPids);
        return null;
      }
      const r = sampler?.stop() ?? { peak: 0, base: 0 };
      sampler = undefined;
      return { peakRss: r.peak, baseRss: r.base };
    });
    await browser.page.goto(url);
    const started = Date.now();
    const result = await browser.page.evaluate(async (o) => (await window.bench).run(o), options);
    return finish('chromium', result, started, {
      devtoolsNetwork: browser.devtoolsNetwork,
      memory: { measured: true, processes: 'Chromium renderer processes (--type=renderer)', gcBeforeEachStep: true },
    });
  } finally {
    sampler?.stop();
    await browser.close();
  }
}

// ------------------------------------------------------------------ Firefox, WebKit

async function runWebDriver(engine) {
  const w = await launchWebDriver(engine);
  let sampler;
  let lastCall = Date.now();
  let steps = 0;
  let stepsWithoutContent = 0;
  let maxContent = 0;
  let watchdog;
  try {
    bindings.set('benchCpuSeconds', () => {
      lastCall = Date.now();
      return w.cpuSeconds();
    });
    bindings.set('benchStep', (what, label) => {
      lastCall = Date.now();
      if (process.env.CIPHERDROP_BENCH_VERBOSE) console.error(`[${engine}] ${what} ${label}`);
      if (what === 'start') {
        // The content processes of the step, found once at its start.
        const pids = w.contentPids();
        steps++;
        if (!pids.length) stepsWithoutContent++;
        maxContent = Math.max(maxContent, pids.length);
        sampler = sampleRss(() => pids);
        return null;
      }
      const r = sampler?.stop() ?? { peak: 0, base: 0 };
      sampler = undefined;
      return { peakRss: r.peak, baseRss: r.base };
    });
    const done = new Promise((resolve, reject) => {
      onDone = (m) => (m.error ? reject(new Error(`in the page (${engine}): ${m.error}`)) : resolve(m.result));
      w.browser.driver.child.once('exit', (code, signal) => reject(new Error(`${engine}: the WebDriver server exited (${signal ?? code})`)));
      watchdog = setInterval(() => {
        if (Date.now() - lastCall > IDLE_MS) reject(new Error(`${engine}: no call from the page for ${IDLE_MS / 60_000} min`));
      }, 5000);
    });
    done.catch(() => {}); // awaited below; not an unhandled rejection if goto fails first
    await w.browser.goto(`${url}?via=fetch`);
    const started = Date.now();
    lastCall = started;
    // Started, not awaited over WebDriver (a WebDriver script call has time limits;
    // node's fetch gives up on a response after 5 min): the page posts its result.
    await w.browser.evaluate((o) => {
      window.bench
        .then((m) => m.run(o))
        .then(
          (result) => ({ result }),
          (e) => ({ error: `${e?.name ?? 'Error'}: ${e?.message ?? e}\n${e?.stack ?? ''}` }),
        )
        .then((m) => fetch('/__bench/done', { method: 'POST', body: JSON.stringify(m) }));
      return true;
    }, options);
    const result = await done;
    const problems = await w.browser.collectProblems();
    const measured = steps > 0 && stepsWithoutContent === 0;
    const memory = {
      measured,
      processes: CONTENT_PROCESSES[engine],
      ...(measured
        ? { mostAtOnce: maxContent }
        : { why: `none of the ${CONTENT_PROCESSES[engine]} found under the WebDriver process (pid ${w.driverPid}) at ${stepsWithoutContent} of ${steps} steps` }),
      gcBeforeEachStep: false,
    };
    if (!measured) {
      for (const row of result.results) for (const d of [row.encrypt, row.decrypt]) if (d) delete d.peakRssGrowthMiB;
      for (const f of result.flat) delete f.peakRssGrowthMiB;
    }
    result.unit = measured ? unit(CONTENT_PROCESSES[engine]) : 'MB/s = 10^6 B/s of plaintext, median of runs; memory not measured (see memory.why)';
    return finish(engine, result, started, { driver: DRIVERS[engine], memory, ...(problems.length ? { pageProblems: problems } : {}) });
  } finally {
    clearInterval(watchdog);
    onDone = undefined;
    sampler?.stop();
    bindings.clear();
    await w.close().catch(() => {});
  }
}

// ------------------------------------------------------------------ the run

try {
  const started = Date.now();
  const out = {};
  for (const engine of engines) {
    if (engines.length > 1) console.error(`peers: ${engine}`);
    try {
      out[engine] = engine === 'chromium' ? await runChromium() : await runWebDriver(engine);
    } catch (e) {
      if (engines.length === 1) throw e;
      console.error(`peers: ${engine} failed: ${e?.stack ?? e}`);
      out[engine] = { browser: engine, error: String(e?.message ?? e) };
      process.exitCode = 1;
    }
  }
  const json =
    engines.length === 1
      ? out[engines[0]]
      : {
          browser: browserOption,
          date: new Date().toISOString().slice(0, 10),
          seconds: Math.round((Date.now() - started) / 1000),
          loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
          options,
          engines: out,
        };
  console.log(JSON.stringify(json, null, 2));
  if (write) {
    if (out.chromium?.error) throw new Error(`--write: Chromium did not run (${out.chromium.error}); docs unchanged`);
    writeDocs(out.chromium, path.resolve(here, '../..'));
    console.error('peers: wrote docs/BENCHMARKS.md (Peers) and docs/peers.svg');
  }
} finally {
  server.close();
}
