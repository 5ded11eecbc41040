// The peer benchmark: CipherDrop's browser package against other browser encryption
// libraries, in one headless Chromium run. Prints JSON; with --write, puts the table
// into the "Peers" section of docs/BENCHMARKS.md and the chart into docs/peers.svg.
//
//   bench/peers/run.sh [--write] [--runs 3] [--slow-runs 1] [--sizes 16,256] [--only CipherDrop,age]
//                      [--flat-mib 1024] [--devtools-network]
//   node bench/peers/run.mjs ...        (after run.sh has built the package and dist/)
//
// Memory: the RSS of Chromium's renderer processes (from /proc), sampled every 25 ms
// during each step; the figure is its growth over the step's start. It counts
// ArrayBuffer backing stores (where file bytes live), which the JS heap figures
// (CDP JSHeapUsedSize) do not; performance.measureUserAgentSpecificMemory() would
// need a cross-origin-isolated page.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { launch, sampleRss } from './lib/chromium.mjs';
import { writeDocs } from './lib/report.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const argv = process.argv.slice(2);
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

const page = '<!doctype html><meta charset=utf-8><link rel=icon href=data:,><title>cipherdrop peers</title><script type=module>window.bench = import("/page.js")</script>';
const server = http.createServer((req, res) => {
  const p = new URL(req.url, 'http://127.0.0.1').pathname;
  if (p === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  if (p === '/favicon.ico') return res.writeHead(204).end();
  const file = path.join(here, 'dist', path.basename(p));
  if (!fs.existsSync(file)) return res.writeHead(404).end();
  const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(fs.readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

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
  result.loadAverage = os.loadavg().map((x) => Math.round(x * 100) / 100);
  result.seconds = Math.round((Date.now() - started) / 1000);
  result.date = new Date().toISOString().slice(0, 10);
  result.options = options;
  result.devtoolsNetwork = browser.devtoolsNetwork;
  console.log(JSON.stringify(result, null, 2));
  if (argv.includes('--write')) {
    writeDocs(result, path.resolve(here, '../..'));
    console.error('peers: wrote docs/BENCHMARKS.md (Peers) and docs/peers.svg');
  }
} finally {
  sampler?.stop();
  await browser.close();
  server.close();
}
