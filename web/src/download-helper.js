//! The download helper: where the File System Access API is missing, verified
//! plaintext reaches the disk as an HTTP response the page's own service worker
//! (public/sw.js) makes from chunks the page sends it. It is registered with a scope
//! of ./_download/ only, so the page and every other request never pass through it;
//! it sees no keys or tokens.

/** The download helper (public/sw.js) and the only URLs it answers (./_download/<id>). */
const HELPER_SCRIPT = './sw.js';
const HELPER_SCOPE = './_download/';
/** How long a download waits for the helper to be active, and for it to ask for data. */
const HELPER_READY_MS = 3000;
const HELPER_START_MS = 10_000;
/** Messages to the helper while a download runs: a service worker idle ~30 s is stopped. */
const HELPER_PING_MS = 10_000;
/** A helper that has not answered a ping within this has lost the download. */
const HELPER_ANSWER_MS = 5000;
/** The browser not asking for data this long is said on the row (a paused download?). */
const HELPER_STALL_MS = 30_000;

const helperRegistration =
  window.isSecureContext && 'serviceWorker' in navigator
    ? navigator.serviceWorker.register(HELPER_SCRIPT, { scope: HELPER_SCOPE, updateViaCache: 'none' }).then(
        (r) => r ?? null, // a blocked registration may resolve with nothing
        (e) => {
          console.warn(`CipherDrop: no download helper (${e?.message ?? e}); downloads are saved from memory.`);
          return null;
        },
      )
    : Promise.resolve(null);

const within = (promise, ms) =>
  Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(null), ms))]);

/** The active helper worker, or null when there is none within `ms`. */
export async function downloadHelper(ms = HELPER_READY_MS) {
  const deadline = performance.now() + ms;
  const reg = await within(helperRegistration, ms);
  if (!reg) return null;
  if (reg.active) return reg.active;
  const pending = reg.installing ?? reg.waiting;
  if (!pending) return null;
  await within(
    new Promise((resolve) => {
      const check = () => {
        if (reg.active || pending.state === 'redundant') resolve(null);
      };
      pending.addEventListener('statechange', check);
      check();
    }),
    Math.max(0, deadline - performance.now()),
  );
  return reg.active ?? null;
}

const SIZE_MISMATCH = 'This file’s size does not match the size it was listed with.';

/** The helper took no part: nothing was sent to it, the caller may save another way. */
export class HelperUnavailable extends Error {}
/** A download failure the page words itself (shown as it is). */
export class SaveError extends Error {}

function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Saves a download through the helper: announces it (id, name, size and a
 * MessagePort), points a hidden iframe at ./_download/<id> once the helper says it
 * has the id, then answers each of the helper's requests for data with the next
 * chunk from `next()` — verified plaintext only. Resolves when the last chunk is
 * out. On any error the helper's stream is errored, so the browser fails the download
 * rather than completing it, and this rejects with that error. Rejects with
 * HelperUnavailable when the helper never asks for data (nothing was sent then).
 */
export function saveThroughHelper(worker, next, { name, size, onStall = () => {} }) {
  return new Promise((resolve, reject) => {
    const id = randomId();
    const { port1: port, port2 } = new MessageChannel();
    const frame = document.createElement('iframe');
    let started = false;
    let ended = false;
    let busy = false;
    let sent = 0;
    let pinged = performance.now();
    let heard = performance.now();
    let pulled = performance.now();
    let stalled = false;
    const ping = () => {
      pinged = performance.now();
      worker.postMessage({ ping: id });
    };
    // A stopped or restarted helper has lost the download: its browser download has
    // failed, so fail here too rather than wait for ever.
    const watch = setInterval(() => {
      const now = performance.now();
      if (started && heard < pinged && now - pinged > HELPER_ANSWER_MS) {
        end(new SaveError('The browser stopped the download before it finished.'));
        return;
      }
      if (started && !busy && !stalled && now - pulled > HELPER_STALL_MS) {
        stalled = true;
        onStall();
      }
      ping();
    }, HELPER_PING_MS);
    const noStart = setTimeout(
      () => end(new HelperUnavailable('the download helper did not start the download')),
      HELPER_START_MS,
    );
    const end = (error) => {
      if (ended) return;
      ended = true;
      clearInterval(watch);
      clearTimeout(noStart);
      if (error) port.postMessage({ error: error?.message ?? String(error) });
      setTimeout(() => port.close(), 5000);
      if (started) setTimeout(() => frame.remove(), 10_000);
      else frame.remove();
      if (error) reject(error);
      else resolve();
    };
    // One chunk for each request of the helper's stream (it asks when the browser has
    // room): the only backpressure there is, and at most one chunk on its way.
    const sendNext = async () => {
      started = true;
      pulled = performance.now();
      stalled = false;
      clearTimeout(noStart);
      // Pinged from here too: timers of a hidden tab may fire only once a minute.
      if (performance.now() - pinged > HELPER_PING_MS) ping();
      busy = true;
      try {
        const { done, value } = await next();
        if (ended) return;
        if (done) {
          if (size !== null && sent !== size) throw new SaveError(SIZE_MISMATCH);
          port.postMessage({ done: true });
          end();
          return;
        }
        sent += value.byteLength;
        if (size !== null && sent > size) throw new SaveError(SIZE_MISMATCH);
        // Copied, not transferred: measured in Chromium (600 MB file, 5 runs each), the
        // renderer's peak grew ~150 MB more with transferred buffers, which the
        // worker's collector seems to notice late. A view is cut out first, as cloning
        // it would copy its whole buffer.
        const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
        port.postMessage({ chunk: whole ? value : value.slice() });
      } catch (e) {
        end(e);
      } finally {
        busy = false;
      }
    };
    port.onmessage = ({ data }) => {
      if (ended) return;
      heard = performance.now();
      if (data?.ready && !frame.isConnected) {
        // The helper has the id: the browser may ask for the URL now.
        frame.src = `${HELPER_SCOPE}${id}`;
        document.body.append(frame);
      } else if (data?.refused) {
        end(new HelperUnavailable('the download helper refused the download'));
      } else if (data?.cancelled) {
        const e = new Error('The download was cancelled.');
        e.name = 'AbortError';
        end(e);
      } else if (data?.pull && !busy) {
        sendNext();
      }
    };
    // Where the browser says so, a helper that stopped closes its end of the channel.
    port.addEventListener('close', () =>
      end(
        started
          ? new SaveError('The browser stopped the download before it finished.')
          : new HelperUnavailable('the download helper stopped before the download started'),
      ),
    );
    worker.postMessage({ download: id, name, size }, [port2]);
    frame.hidden = true;
    frame.title = 'download';
  });
}

