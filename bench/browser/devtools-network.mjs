// Does the DevTools Network domain slow an upload down? (issue 14.) The same bytes
// sent as XHR PUTs to a loopback sink that reads and drops them, in headless Chromium
// driven over a bare DevTools pipe, once with only the Page and Runtime domains and
// once after `Network.enable`; each with ArrayBuffer bodies and with Blob bodies.
// Prints JSON: milliseconds per kind of body, and the largest DevTools message seen.
//
//   node bench/browser/devtools-network.mjs [--mib 64] [--part-mib 8] [--runs 2]
//
// Needs Chromium only (apt-get install chromium); writes nothing but Chromium's
// profile, in a temporary directory removed at exit.
// Measured 2026-12-02 (64 MiB, 8 MiB parts, 4 in flight, load 11-12): ArrayBuffer
// bodies 1.1-1.3 s with the domain off and 13.3-14.4 s with it on (Chromium puts each
// body into a `Network.requestWillBeSent` event: 61 MB per 8 MiB part); Blob bodies
// 0.7-0.9 s either way.
import { spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { CHROMIUM, CHROMIUM_ARGS } from '../peers/lib/chromium.mjs';
import { atExit, scratchDir } from '../lib/scratch.mjs';

const opt = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MIB = opt('--mib', 64);
const PART = opt('--part-mib', 8);
const RUNS = opt('--runs', 2);
if (!(PART > 0 && MIB >= PART && RUNS > 0)) throw new Error('--mib, --part-mib and --runs: numbers above 0, --mib at least --part-mib');

const PAGE = `<!doctype html><title>devtools-network</title><script>
window.send = async (kind, mib, part) => {
  const bytes = new Uint8Array(part * 1048576);
  crypto.getRandomValues(bytes.subarray(0, 65536));
  const put = (body) => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', '/sink');
    xhr.onload = resolve;
    xhr.onerror = () => reject(new Error('PUT failed'));
    xhr.send(body);
  });
  const n = Math.floor(mib / part);
  let next = 0;
  const lane = async () => { while (next < n) { next++; await put(kind === 'blob' ? new Blob([bytes]) : bytes.slice()); } };
  const t0 = performance.now();
  await Promise.all([lane(), lane(), lane(), lane()]);
  return Math.round(performance.now() - t0);
};</script>`;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'text/html' }).end(req.url === '/' ? PAGE : ''));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

/** One Chromium, one page: milliseconds for each kind of body, with the Network domain on or off. */
async function measure(network) {
  const profile = scratchDir('bench-devtools-network');
  const child = spawn(CHROMIUM, [...CHROMIUM_ARGS, '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  atExit(() => child.kill('SIGKILL'));
  const exited = new Promise((r) => child.once('exit', r));
  let id = 0;
  let biggest = 0;
  let chunks = [];
  const waiting = new Map();
  const events = new Map();
  child.stdio[4].on('data', (data) => {
    let at = 0;
    let nul;
    while ((nul = data.indexOf(0, at)) >= 0) {
      chunks.push(data.subarray(at, nul));
      const raw = Buffer.concat(chunks);
      chunks = [];
      at = nul + 1;
      biggest = Math.max(biggest, raw.length);
      const m = JSON.parse(raw.toString('utf8'));
      if (m.id !== undefined) waiting.get(m.id)?.(m);
      else events.get(m.method)?.(m.params);
    }
    chunks.push(data.subarray(at));
  });
  const send = (method, params = {}, sessionId = undefined) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      waiting.set(n, (m) => (waiting.delete(n), m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      child.stdio[3].write(`${JSON.stringify({ id: n, method, params, sessionId })}\0`);
    });
  let target;
  for (let i = 0; !target; i++) {
    if (i > 300) throw new Error('Chromium opened no page in 30 s');
    target = (await send('Target.getTargets')).targetInfos.find((t) => t.type === 'page');
    if (!target) await new Promise((r) => setTimeout(r, 100));
  }
  const { sessionId } = await send('Target.attachToTarget', { targetId: target.targetId, flatten: true });
  await send('Page.enable', {}, sessionId);
  const loaded = new Promise((r) => events.set('Page.loadEventFired', r));
  await send('Page.navigate', { url }, sessionId);
  await loaded;
  if (network) await send('Network.enable', {}, sessionId);
  const out = { network: network ? 'on' : 'off' };
  for (const kind of ['arraybuffer', 'blob']) {
    const r = await send('Runtime.evaluate', { expression: `send('${kind}', ${MIB}, ${PART})`, awaitPromise: true, returnByValue: true }, sessionId);
    if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
    out[`${kind}Ms`] = r.result.value;
  }
  out.biggestDevtoolsMessageBytes = biggest;
  send('Browser.close').catch(() => {});
  await exited;
  return out;
}

const runs = [];
for (let r = 0; r < RUNS; r++) for (const network of [false, true]) runs.push(await measure(network));
server.close();
console.log(JSON.stringify({ mib: MIB, partMiB: PART, inFlight: 4, loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100), date: new Date().toISOString(), runs }, null, 2));
