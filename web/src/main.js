// The CipherDrop page: sign in, send files (encrypted here), list, download, delete.
import './style.css';
import { CipherDropClient } from 'cipherdrop';
import { authConfig, devLogin } from './api.js';
import { startSignIn, finishSignIn } from './oidc.js';
import { describe, needsSignIn } from './errors.js';

/** Without a way to stream to disk a download is held in memory until verified: cap it. */
const BLOB_LIMIT = 512 * 1024 * 1024;
const UPLOADS_AT_ONCE = 2;
const TOKEN_KEY = 'cipherdrop.token';
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

const $ = (id) => document.getElementById(id);
const canStreamToDisk = () => typeof window.showSaveFilePicker === 'function';

let api = null; // the CipherDropClient of the signed-in user
let activeDownloads = 0; // downloads this page is decrypting now
let files = [];
let listVersion = 0; // bumped by every change: a listing started before it is stale

// ---------- formatting ----------
function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}
function formatDuration(s) {
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `${Math.max(1, Math.round(s))} s left`;
  if (s < 3600) return `${Math.round(s / 60)} min left`;
  return `${(s / 3600).toFixed(1)} h left`;
}
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

// ---------- messages ----------
function showAlert(text, kind = 'error') {
  $('alert-text').textContent = text;
  $('alert').classList.toggle('info', kind === 'info');
  $('alert').hidden = false;
}
const hideAlert = () => {
  $('alert').hidden = true;
};
function handleError(e, prefix = '') {
  if (needsSignIn(e)) {
    signOut();
    showAlert(describe(e));
    return;
  }
  showAlert(prefix + describe(e));
}

// ---------- the download helper (service worker) ----------
// Where the File System Access API is missing, verified plaintext reaches the disk as
// an HTTP response the page's own service worker (public/sw.js) makes from chunks
// the page sends it. It is registered with a scope of ./_download/ only, so the page
// and every other request never pass through it; it sees no keys or tokens.
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
async function downloadHelper(ms = HELPER_READY_MS) {
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
class HelperUnavailable extends Error {}
/** A download failure the page words itself (shown as it is). */
class SaveError extends Error {}

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
function saveThroughHelper(worker, next, { name, size, onStall = () => {} }) {
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

// ---------- sign-in ----------
async function showSignIn() {
  $('app').hidden = true;
  $('account').hidden = true;
  $('signin').hidden = false;
  let config = { dev_login: false, oidc: null };
  try {
    config = await authConfig();
  } catch (e) {
    showAlert(describe(e));
  }
  authOidc = config.oidc;
  $('dev-login').hidden = !config.dev_login;
  $('signin-hint').hidden = !config.dev_login;
  $('oidc-login').hidden = !config.oidc;
  // Pasting a token is the way in only when there is nothing else.
  $('token-login-box').hidden = config.dev_login;
  $('token-login-box').open = !config.dev_login && !config.oidc;
  (config.dev_login ? $('user') : config.oidc ? $('oidc-start') : $('token')).focus();
}
let authOidc = null;

$('oidc-start').addEventListener('click', async (ev) => {
  const button = ev.currentTarget;
  button.disabled = true;
  try {
    await startSignIn(authOidc);
  } catch (e) {
    showAlert(`Could not sign in: ${e.message}.`);
    button.disabled = false;
  }
});

async function signIn(token) {
  const candidate = new CipherDropClient({ token });
  const me = await candidate.whoami();
  api = candidate;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('account-name').textContent = me.user;
  $('account').hidden = false;
  $('signin').hidden = true;
  $('app').hidden = false;
  hideAlert();
  showSaveNote();
  await refreshFiles();
}

/** The big-file warning, only where neither streaming path to disk is there. */
async function showSaveNote() {
  const streams = canStreamToDisk() || (await downloadHelper()) !== null;
  $('save-note').hidden = streams;
  $('save-note').textContent = streams
    ? ''
    : `This browser cannot write a download to disk as it arrives, so files up to ${formatBytes(BLOB_LIMIT)} are decrypted in memory before saving. For bigger files use a recent Chrome, Edge or Firefox, outside a private window.`;
}

function signOut() {
  for (const t of activeTransfers) t.abort();
  sessionStorage.removeItem(TOKEN_KEY);
  api = null;
  files = [];
  $('files-body').replaceChildren();
  $('transfers').replaceChildren();
  showSignIn();
}

$('dev-login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const button = ev.submitter;
  button.disabled = true;
  try {
    const res = await devLogin($('user').value.trim());
    await signIn(res.token);
    $('main').focus();
  } catch (e) {
    showAlert(describe(e));
  } finally {
    button.disabled = false;
  }
});
$('token-login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await signIn($('token').value.trim());
  } catch (e) {
    showAlert(describe(e));
  }
});
$('sign-out').addEventListener('click', signOut);
$('alert-close').addEventListener('click', hideAlert);

// ---------- file list ----------
async function refreshFiles() {
  if (!api) return;
  const session = api;
  $('files-loading').hidden = files.length > 0;
  try {
    const version = ++listVersion;
    const list = await session.list();
    if (session !== api || version !== listVersion) return;
    files = list.map((f) => ({ ...f, when: new Date(f.lastModified) }));
    files.sort((a, b) => b.when - a.when);
    renderFiles();
  } catch (e) {
    handleError(e, 'Could not load your files. ');
  } finally {
    $('files-loading').hidden = true;
  }
}

function renderFiles() {
  const body = $('files-body');
  body.replaceChildren(...files.map(fileRow));
  $('files-table').hidden = files.length === 0;
  $('files-empty').hidden = files.length !== 0;
}

function fileRow(f) {
  const tr = document.createElement('tr');
  tr.dataset.id = f.id;
  const displayName = f.name ?? `Encrypted file ${f.id.slice(0, 8)}`;
  tr.dataset.name = displayName;

  const name = document.createElement('td');
  name.className = 'name';
  name.append(displayName);
  if (f.name === null) {
    const why = document.createElement('span');
    why.className = 'sub muted';
    why.textContent = 'name not readable here';
    name.append(why);
  }
  const status = document.createElement('span');
  status.className = 'sub status';
  status.setAttribute('aria-live', 'polite');
  name.append(status);

  const size = document.createElement('td');
  size.className = 'num';
  size.textContent = f.plaintextSize !== null ? formatBytes(f.plaintextSize) : `≈ ${formatBytes(f.size)}`;

  const date = document.createElement('td');
  date.className = 'date';
  const time = document.createElement('time');
  time.dateTime = f.lastModified;
  time.textContent = dateFormat.format(f.when);
  date.append(time);

  const actions = document.createElement('td');
  actions.className = 'actions';
  const dl = document.createElement('button');
  dl.type = 'button';
  dl.className = 'secondary-btn download';
  dl.textContent = 'Download';
  dl.setAttribute('aria-label', `Download ${displayName}`);
  dl.addEventListener('click', () => downloadFile(f, displayName, tr, dl));
  const del = document.createElement('button');
  del.type = 'button';
  del.className = 'secondary-btn danger-btn delete';
  del.textContent = 'Delete';
  del.setAttribute('aria-label', `Delete ${displayName}`);
  del.addEventListener('click', () => deleteFile(f, displayName, del));
  actions.append(dl, del);

  tr.append(name, size, date, actions);
  return tr;
}

function setRowStatus(tr, text, kind = '') {
  const s = tr.querySelector('.status');
  s.className = `sub status ${kind}`;
  s.textContent = text;
}

async function downloadFile(f, displayName, tr, button) {
  const size = f.plaintextSize ?? f.size;
  let handle = null;
  let helper = null;
  if (canStreamToDisk()) {
    try {
      // Ask first, while the click still counts as a user gesture.
      handle = await window.showSaveFilePicker({ suggestedName: displayName });
    } catch (e) {
      if (e?.name === 'AbortError') return; // the person closed the dialog
      setRowStatus(tr, describe(e), 'err');
      return;
    }
  } else {
    button.disabled = true;
    helper = await downloadHelper();
    button.disabled = false;
    if (!helper && size > BLOB_LIMIT) {
      setRowStatus(tr, tooBigHere(), 'err');
      return;
    }
  }
  button.disabled = true;
  activeDownloads++;
  delete tr.dataset.savedWith;
  setRowStatus(tr, 'Downloading and verifying…');
  let percent = -1;
  const onProgress = ({ received, total }) => {
    // Redrawn only when the number changes (progress comes with every network read).
    const now = Math.floor((received / Math.max(total, 1)) * 100);
    if (now !== percent) setRowStatus(tr, `Downloading and verifying… ${(percent = now)}%`);
  };
  let reader = null;
  try {
    const stream = await api.download(f.id, { onProgress });
    let savedWith;
    if (handle) {
      const writable = await handle.createWritable();
      // pipeTo aborts the writable on any error: the browser then discards what was written.
      await stream.pipeTo(writable);
      savedWith = 'file-picker';
    } else {
      // Every chunk read here has verified (the stream releases nothing else). The
      // first is read before the browser is offered anything, so a missing key, a
      // changed header or a refused link fail here and no download appears.
      reader = stream.getReader();
      let first = await reader.read();
      const next = () => {
        if (!first) return reader.read();
        const r = first;
        first = null;
        return Promise.resolve(r);
      };
      if (helper) {
        try {
          await saveThroughHelper(helper, next, {
            name: displayName,
            size: f.plaintextSize ?? null,
            // Progress says more when data flows again.
            onStall: () => setRowStatus(tr, 'Waiting for the browser to save the file (is the download paused?)…'),
          });
          savedWith = 'service-worker';
        } catch (e) {
          if (!(e instanceof HelperUnavailable)) throw e;
          // Nothing went to the helper: save from memory if the file is small enough.
          console.warn(`CipherDrop: ${e.message}; saving from memory instead.`);
          if (size > BLOB_LIMIT) {
            throw new SaveError(
              `This browser’s download helper did not respond, and files over ${formatBytes(BLOB_LIMIT)} cannot be saved without it. Reload the page and try again.`,
            );
          }
        }
      }
      if (!savedWith) {
        await saveFromMemory(next, displayName);
        savedWith = 'blob';
      }
    }
    tr.dataset.savedWith = savedWith;
    setRowStatus(tr, 'Downloaded and verified', 'ok');
  } catch (e) {
    reader?.cancel(e).catch(() => {}); // stop the transfer from storage
    if (handle) {
      // A new file the picker created and nothing was committed to: remove it.
      try {
        if ((await handle.getFile()).size === 0) await handle.remove?.();
      } catch {
        // best effort
      }
    }
    if (needsSignIn(e)) return handleError(e);
    setRowStatus(tr, `${describeSave(e)} Nothing was saved.`, 'err');
  } finally {
    activeDownloads--;
    button.disabled = false;
  }
}

const tooBigHere = () =>
  `This browser cannot save files over ${formatBytes(BLOB_LIMIT)}: use a recent Chrome, Edge or Firefox (outside a private window), which can write the file to disk as it arrives.`;

const describeSave = (e) => (e instanceof SaveError ? e.message : describe(e));

/** Collects every verified chunk, then hands the whole file to the browser to save. */
async function saveFromMemory(next, displayName) {
  const parts = [];
  for (;;) {
    const { done, value } = await next();
    if (done) break;
    parts.push(value);
  }
  // Only now, with every chunk verified, is anything handed to the browser to save.
  const url = URL.createObjectURL(new Blob(parts, { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = displayName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function deleteFile(f, displayName, button) {
  if (!window.confirm(`Delete “${displayName}”? This cannot be undone.`)) return;
  button.disabled = true;
  try {
    await api.delete(f.id);
    listVersion++;
    files = files.filter((x) => x.id !== f.id);
    renderFiles();
    showAlert(`Deleted “${displayName}”.`, 'info');
  } catch (e) {
    button.disabled = false;
    handleError(e, 'Could not delete the file. ');
  }
}

$('refresh').addEventListener('click', refreshFiles);

// ---------- uploads ----------
const activeTransfers = new Set();
const queue = [];
let running = 0;

function addFiles(list) {
  if (!api) return;
  for (const file of list) {
    const t = createTransfer(file);
    queue.push(t);
  }
  pump();
}

function pump() {
  while (running < UPLOADS_AT_ONCE && queue.length) {
    const t = queue.shift();
    if (t.controller.signal.aborted) continue;
    running++;
    t.run().finally(() => {
      running--;
      pump();
    });
  }
}

function createTransfer(file) {
  const li = $('transfer-tpl').content.firstElementChild.cloneNode(true);
  li.querySelector('.transfer-name').textContent = file.name;
  li.querySelector('.transfer-size').textContent = formatBytes(file.size);
  const bar = li.querySelector('progress');
  bar.setAttribute('aria-label', `Progress of ${file.name}`);
  const phase = li.querySelector('.transfer-phase');
  const rate = li.querySelector('.transfer-rate');
  const cancel = li.querySelector('.transfer-cancel');
  cancel.setAttribute('aria-label', `Cancel ${file.name}`);
  phase.textContent = 'Waiting';
  $('transfers').append(li);

  const controller = new AbortController();
  const samples = [];
  let retryNotice = null; // shown for a few seconds over the phase
  let retryUntil = 0;
  const session = api;
  const t = {
    controller,
    abort: () => controller.abort(),
    async run() {
      activeTransfers.add(t);
      try {
        await session.upload(file, {
          name: file.name.slice(0, 500),
          signal: controller.signal,
          onProgress: (p) => update(p),
          onRetry: ({ error }) => {
            retryNotice =
              error?.status === 403 ? 'The upload link expired — retrying' : 'The connection to storage failed — retrying';
            retryUntil = performance.now() + 4000;
            phase.textContent = retryNotice;
          },
        });
        li.classList.add('done');
        phase.textContent = 'Encrypted and uploaded';
        rate.textContent = '';
        bar.value = 1;
        cancel.hidden = true;
        setTimeout(() => li.remove(), 8000);
        if (session === api) await refreshFiles();
      } catch (e) {
        li.classList.add('failed');
        phase.textContent = e?.name === 'AbortError' ? 'Cancelled' : describe(e);
        rate.textContent = '';
        cancel.textContent = 'Dismiss';
        cancel.setAttribute('aria-label', `Dismiss ${file.name}`);
        cancel.onclick = () => li.remove();
        if (needsSignIn(e)) handleError(e);
      } finally {
        activeTransfers.delete(t);
      }
    },
  };
  cancel.onclick = () => {
    controller.abort();
    phase.textContent = 'Cancelled';
    li.classList.add('failed');
    cancel.textContent = 'Dismiss';
    cancel.onclick = () => li.remove();
  };

  // Progress arrives many times a second; the row is redrawn at most 4 times a second
  // (and at once when the phase changes): each redraw costs the page a frame.
  let latest = null;
  let shown = null;
  let timer = 0;
  function update(p) {
    latest = p;
    if (timer) return;
    if (p.phase !== shown?.phase) return render();
    timer = setTimeout(render, 250);
  }

  function render() {
    clearTimeout(timer);
    timer = 0;
    const p = latest;
    shown = p;
    if (controller.signal.aborted || li.classList.contains('done') || li.classList.contains('failed')) return;
    const frac = ((p.plaintextTotal ? p.encrypted / p.plaintextTotal : 1) + (p.total ? p.sent / p.total : 1)) / 2;
    bar.value = Math.min(frac, 1);
    const now = performance.now();
    if (retryNotice && now > retryUntil) retryNotice = null;
    phase.textContent =
      retryNotice ?? { encrypting: 'Encrypting', uploading: 'Uploading', completing: 'Finishing', done: 'Finishing' }[p.phase] ?? p.phase;
    const done = frac * file.size;
    samples.push([now, done]);
    while (samples.length > 2 && now - samples[0][0] > 3000) samples.shift();
    const [t0, d0] = samples[0];
    if (now - t0 > 300) {
      const speed = ((done - d0) / (now - t0)) * 1000;
      rate.textContent = speed > 0 ? `${formatBytes(speed)}/s · ${formatDuration((file.size - done) / speed)}` : '';
    }
  }
  return t;
}

$('files').addEventListener('change', (ev) => {
  addFiles([...ev.target.files]);
  ev.target.value = '';
});
const zone = $('dropzone');
zone.addEventListener('dragover', (ev) => {
  ev.preventDefault();
  zone.classList.add('over');
});
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', (ev) => {
  ev.preventDefault();
  zone.classList.remove('over');
  addFiles([...(ev.dataTransfer?.files ?? [])]);
});
// A file dropped next to the zone would make the browser open it: send it instead.
window.addEventListener('dragover', (ev) => ev.preventDefault());
window.addEventListener('drop', (ev) => {
  ev.preventDefault();
  if (ev.target instanceof Node && !zone.contains(ev.target)) addFiles([...(ev.dataTransfer?.files ?? [])]);
});
window.addEventListener('beforeunload', (ev) => {
  // Leaving stops uploads and downloads alike (a download is decrypted by this page).
  if (activeTransfers.size || activeDownloads) ev.preventDefault();
});

// ---------- start ----------
(async () => {
  // Back from the OIDC issuer with a code: exchange it and sign in.
  try {
    const token = await finishSignIn();
    if (token) {
      await signIn(token);
      return;
    }
  } catch (e) {
    await showSignIn();
    showAlert(e instanceof Error && !e.status ? `Could not sign in: ${e.message}.` : describe(e));
    return;
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    try {
      await signIn(saved);
      return;
    } catch {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }
  await showSignIn();
})();
