// CipherDrop's download helper: a service worker with one job, a one-shot streaming
// download. Browsers without the File System Access API (Firefox, Safari) can only
// save what arrives as an HTTP response, so the page hands this worker a stream of
// verified plaintext and points a hidden iframe at ./_download/<id>; the worker
// answers that one navigation with the stream, and the browser writes it to disk as
// it arrives.
//
//   page → worker   {download: id, name, size} + a MessagePort (ServiceWorker.postMessage)
//   worker → page   {ready: true} over the port: the page may now navigate to the URL
//                   {ping: id} every ~10 s while the download runs (keeps this worker
//                   alive); answered {pong: true} over the port while it has that id
//   worker → page   {pull: true} over the port: send the next chunk (one at a time)
//   page → worker   {chunk: Uint8Array} | {done: true} | {error: text} over the port
//   worker → page   {cancelled: true} when the browser (or the person) cancels it;
//                   {refused: true} for an announcement it cannot take
//
// What it never does: see keys or tokens (the page decrypts and verifies; only
// verified chunks come here), cache anything, or answer any other request (every
// other request goes to the network untouched). The page registers it with the
// scope ./_download/, so nothing else even passes through here.

const PREFIX = new URL('./_download/', self.location.href).href;
const ID = /^[A-Za-z0-9_-]{22,64}$/;
const MAX_NAME = 1000;
/** An id not fetched this long after the page announced it is forgotten. */
const UNCLAIMED_MS = 60_000;
/**
 * A running download whose page has not been heard from this long is failed (the tab
 * was closed, say). The page pings every ~10 s, but a hidden tab's timers may fire
 * only once a minute.
 */
const SILENT_MS = 150_000;
/** Verified chunks queued here ahead of the browser's writes. */
const QUEUED_CHUNKS = 4;

/** id → { port, name, size, timer }: announced, not yet fetched. */
const announced = new Map();
/** id → { port, controller, heard, fail }: being streamed to the browser. */
const running = new Map();
let watchdog = null;

self.addEventListener('install', () => {
  // Nothing to install (nothing is cached); replace an older helper at once.
  self.skipWaiting();
});

self.addEventListener('message', (event) => {
  if (event.origin && event.origin !== self.location.origin) return;
  const data = event.data;
  if (typeof data?.ping === 'string') {
    // The message itself keeps this worker alive; the answer tells the page it still
    // has the download (a restarted worker would not).
    const r = running.get(data.ping) ?? announced.get(data.ping);
    if (r) {
      r.heard = Date.now();
      r.port.postMessage({ pong: true });
    }
    return;
  }
  const port = event.ports?.[0];
  if (typeof data?.download !== 'string' || !port) return;
  const { download: id, name, size } = data;
  const validSize = size === null || (Number.isSafeInteger(size) && size >= 0);
  if (!ID.test(id) || announced.has(id) || running.has(id) || typeof name !== 'string' || !validSize) {
    port.postMessage({ refused: true });
    port.close();
    return;
  }
  const entry = { port, name: name.slice(0, MAX_NAME), size, timer: 0 };
  const forget = () => {
    if (announced.get(id) !== entry) return;
    announced.delete(id);
    clearTimeout(entry.timer);
    port.close();
  };
  entry.timer = setTimeout(forget, UNCLAIMED_MS);
  // Before the fetch, the page may only take it back.
  port.onmessage = ({ data: m }) => {
    if (m?.error !== undefined || m?.cancel) forget();
  };
  port.addEventListener('close', forget);
  announced.set(id, entry);
  // Only now may the page navigate to the URL: sent earlier, the navigation could
  // overtake this message and go to the network.
  port.postMessage({ ready: true });
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  // Only a navigation to exactly ./_download/<an announced id>; all else: network.
  if (request.method !== 'GET' || request.mode !== 'navigate' || !request.url.startsWith(PREFIX)) return;
  const id = request.url.slice(PREFIX.length);
  const entry = announced.get(id);
  if (!entry) return;
  announced.delete(id); // one use
  clearTimeout(entry.timer);
  event.respondWith(respond(id, entry));
});

function respond(id, { port, name, size }) {
  let waiting = null; // resolves the pull() waiting for the page's answer
  let sent = 0;
  let finished = false;
  const state = { port, controller: null, heard: Date.now(), fail: null };
  const finish = () => {
    finished = true;
    running.delete(id);
    port.onmessage = null;
    setTimeout(() => port.close(), 1000);
    if (running.size === 0 && watchdog) {
      clearInterval(watchdog);
      watchdog = null;
    }
    const w = waiting;
    waiting = null;
    w?.();
  };
  const fail = (why) => {
    if (finished) return;
    try {
      state.controller.error(new Error(why));
    } catch {
      // already errored or closed
    }
    finish();
  };
  state.fail = fail;
  const stream = new ReadableStream(
    {
      start(controller) {
        state.controller = controller;
        port.onmessage = ({ data }) => {
          if (finished) return;
          state.heard = Date.now();
          if (data?.chunk instanceof Uint8Array) {
            sent += data.chunk.byteLength;
            if (size !== null && sent > size) {
              fail('more bytes than announced');
              return;
            }
            controller.enqueue(data.chunk);
            const w = waiting;
            waiting = null;
            w?.();
          } else if (data?.done === true) {
            if (size !== null && sent !== size) {
              fail('fewer bytes than announced');
              return;
            }
            controller.close();
            finish();
          } else if (data?.error !== undefined) {
            // The page found damage, lost the network or was cancelled: erroring the
            // stream makes the browser fail the download instead of completing it.
            fail(String(data.error));
          }
        };
        port.addEventListener('close', () => fail('the page went away'));
        running.set(id, state);
        watchdog ??= setInterval(() => {
          const now = Date.now();
          for (const r of [...running.values()]) if (now - r.heard > SILENT_MS) r.fail('the page stopped answering');
        }, 15_000);
      },
      pull() {
        if (finished) return undefined;
        return new Promise((resolve) => {
          waiting = resolve;
          port.postMessage({ pull: true });
        });
      },
      cancel() {
        if (finished) return;
        port.postMessage({ cancelled: true });
        finish();
      },
    },
    new CountQueuingStrategy({ highWaterMark: QUEUED_CHUNKS }),
  );
  const headers = {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': contentDisposition(name),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  };
  if (size !== null) headers['Content-Length'] = String(size);
  return new Response(stream, { headers });
}

/**
 * `attachment` with the name twice (RFC 6266): `filename*` in UTF-8, percent-encoded
 * (RFC 8187), which every current browser reads, and a plain-ASCII `filename` for
 * anything older. Control characters, quotes and backslashes never reach the header.
 */
function contentDisposition(name) {
  const whole = typeof name.toWellFormed === 'function' ? name.toWellFormed() : name.replace(/[\ud800-\udfff]/g, '\ufffd');
  const clean = [...whole].filter((c) => c >= ' ' && c !== '\u007f').join('').trim() || 'download';
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(clean).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
