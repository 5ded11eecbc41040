//! Uploads: the queue (two files at a time), one row per file with its progress bar,
//! speed, time left and Cancel, and the ways files come in (the Choose files button,
//! dropping on the zone or anywhere on the page). Every upload is resumable where the
//! browser can keep its record (IndexedDB); where it can, a handle to the file is kept
//! too (File System Access, Chromium), so resuming after a reload needs no new pick.
import { $ } from './dom.js';
import { describe, needsSignIn } from './errors.js';
import { formatBytes, formatDuration } from './format.js';
import { handleError } from './alerts.js';
import { currentClient, onSignOut } from './session.js';
import { refreshFiles } from './files.js';

const UPLOADS_AT_ONCE = 2;

const activeTransfers = new Set();
const queue = [];
let running = 0;
let transferCount = 0;
let resumable = true; // false where the browser cannot keep upload records

// IndexedDB can be there and still refuse to open (some private modes, storage turned
// off): then uploads go without a resume record rather than fail.
try {
  const probe = indexedDB.open('cipherdrop-probe');
  probe.onsuccess = () => {
    probe.result.close();
    indexedDB.deleteDatabase('cipherdrop-probe');
  };
  probe.onerror = () => disableResume();
} catch {
  disableResume();
}
const idleHandlers = [];

/** Uploads without a resume record from now on (IndexedDB does not work here). */
export function disableResume() {
  resumable = false;
}

/** Runs `fn` whenever the last upload of the queue has ended. */
export function onIdle(fn) {
  idleHandlers.push(fn);
}

/** Queues files to upload: `[{ file, handle }]` (handle: a FileSystemFileHandle or null). */
export function addFiles(list) {
  if (!currentClient()) return;
  for (const { file, handle = null } of list) {
    queue.push(createTransfer({ name: file.name, size: file.size, file, handle }));
  }
  pump();
}

/**
 * Queues the resume of unfinished upload `u` (from `unfinishedUploads()`) with the
 * same file picked again, or its kept handle (`source` null). `onEnd(error)` is told
 * how it ended (null when it finished).
 */
export function resumeFile(u, source, onEnd) {
  if (!currentClient()) return;
  const name = u.name ?? `Encrypted file ${u.id.slice(0, 8)}`;
  queue.push(
    createTransfer({ name, size: u.size, file: source instanceof Blob ? source : null, handle: u.fileHandle ?? null, resumeId: u.id, source, onEnd }),
  );
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
      if (running === 0 && queue.length === 0) for (const fn of idleHandlers) fn();
    });
  }
}

function createTransfer({ name, size, file, handle = null, resumeId = null, source = null, onEnd = () => {} }) {
  const li = $('transfer-tpl').content.firstElementChild.cloneNode(true);
  if (resumeId) li.dataset.resumeId = resumeId;
  li.querySelector('.transfer-name').textContent = name;
  li.querySelector('.transfer-size').textContent = formatBytes(size);
  const bar = li.querySelector('progress');
  bar.setAttribute('aria-label', `Progress of ${name}`);
  const phase = li.querySelector('.transfer-phase');
  const rate = li.querySelector('.transfer-rate');
  const cancel = li.querySelector('.transfer-cancel');
  cancel.setAttribute('aria-label', `Cancel ${name}`);
  phase.textContent = resumeId ? 'Waiting to resume' : 'Waiting';
  const nameId = `transfer-${++transferCount}`;
  li.querySelector('.transfer-name').id = nameId;
  $('transfers').append(li);

  const controller = new AbortController();
  const samples = [];
  let retryNotice = null; // shown for a few seconds over the phase
  let retryUntil = 0;
  const session = currentClient();
  const t = {
    controller,
    abort: () => controller.abort(),
    async run() {
      activeTransfers.add(t);
      const options = {
        signal: controller.signal,
        onProgress: (p) => update(p),
        onRetry: ({ error }) => {
          retryNotice =
            error?.status === 403 ? 'The upload link expired — retrying' : 'The connection to storage failed — retrying';
          retryUntil = performance.now() + 4000;
          phase.textContent = retryNotice;
        },
      };
      try {
        if (resumeId) {
          phase.textContent = 'Checking the file';
          await session.resumeUpload(resumeId, source ?? undefined, options);
        } else {
          await session.upload(file, {
            ...options,
            name: file.name.slice(0, 500),
            ...(resumable ? { resumable: true, ...(handle ? { fileHandle: handle } : {}) } : {}),
          });
        }
        onEnd(null);
        li.classList.add('done');
        phase.textContent = 'Encrypted and uploaded';
        rate.textContent = '';
        bar.value = 1;
        cancel.hidden = true;
        setTimeout(() => li.remove(), 8000);
        if (session === currentClient()) await refreshFiles();
      } catch (e) {
        li.classList.add('failed');
        const expired = resumeId && e?.code === 'upload_not_found';
        phase.textContent =
          e?.name === 'AbortError'
            ? 'Cancelled'
            : expired
              ? 'This upload can no longer be resumed (it expired). Start it again.'
              : e?.resumable
                ? `${describe(e)} It can be resumed under “Unfinished uploads”.`
                : describe(e);
        rate.textContent = '';
        cancel.textContent = 'Dismiss';
        cancel.setAttribute('aria-label', `Dismiss ${name}`);
        cancel.onclick = () => li.remove();
        // An expired resume of a file we hold: offer to send it again from the start.
        const again = expired && (file ?? (typeof source?.getFile === 'function' ? source : handle));
        if (again) {
          const restart = document.createElement('button');
          restart.type = 'button';
          restart.className = 'link transfer-restart';
          restart.textContent = 'Start again';
          restart.setAttribute('aria-describedby', nameId);
          restart.onclick = async () => {
            li.remove();
            try {
              const f = again instanceof Blob ? again : await again.getFile();
              addFiles([{ file: f, handle: again instanceof Blob ? null : again }]);
            } catch (err) {
              handleError(err, 'Could not read the file again. ');
            }
          };
          cancel.before(restart);
          restart.focus();
        }
        onEnd(e);
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
    const words =
      retryNotice ?? { encrypting: 'Encrypting', uploading: 'Uploading', completing: 'Finishing', done: 'Finishing' }[p.phase] ?? p.phase;
    // The phase is a live region: rewritten only when it changes, so it is announced once.
    if (phase.textContent !== words) phase.textContent = words;
    const done = frac * size;
    samples.push([now, done]);
    while (samples.length > 2 && now - samples[0][0] > 3000) samples.shift();
    const [t0, d0] = samples[0];
    if (now - t0 > 300) {
      const speed = ((done - d0) / (now - t0)) * 1000;
      rate.textContent = speed > 0 ? `${formatBytes(speed)}/s · ${formatDuration((size - done) / speed)}` : '';
    }
  }
  return t;
}

$('files').addEventListener('change', (ev) => {
  addFiles([...ev.target.files].map((file) => ({ file })));
  ev.target.value = '';
});

// The Choose files button: the File System Access picker where there is one (its
// handles let a resume after a reload go on without a new pick), else the file input.
$('choose-files').addEventListener('click', async () => {
  if (typeof window.showOpenFilePicker !== 'function') {
    $('files').click();
    return;
  }
  let handles;
  try {
    handles = await window.showOpenFilePicker({ multiple: true });
  } catch (e) {
    if (e?.name === 'AbortError') return; // the person closed the dialog
    console.warn(`CipherDrop: no file picker (${e?.message ?? e}); using the file input.`);
    $('files').click();
    return;
  }
  try {
    addFiles(await Promise.all(handles.map(async (handle) => ({ file: await handle.getFile(), handle }))));
  } catch (e) {
    handleError(e, 'Could not read the chosen file. ');
  }
});

/**
 * The files of a drop, with a FileSystemFileHandle each where the browser gives one
 * (Chromium). The items must be read during the drop event: they are gone after it.
 */
async function droppedFiles(dataTransfer) {
  if (!dataTransfer) return [];
  const items = [...(dataTransfer.items ?? [])].filter((i) => i.kind === 'file');
  if (!items.length || typeof items[0].getAsFileSystemHandle !== 'function') {
    return [...dataTransfer.files].map((file) => ({ file }));
  }
  const pending = items.map((i) => ({ file: i.getAsFile(), handle: i.getAsFileSystemHandle().catch(() => null) }));
  const out = [];
  for (const { file, handle } of pending) {
    if (!file) continue;
    const h = await handle;
    out.push({ file, handle: h?.kind === 'file' ? h : null });
  }
  return out;
}

const zone = $('dropzone');
zone.addEventListener('dragover', (ev) => {
  ev.preventDefault();
  zone.classList.add('over');
});
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', (ev) => {
  ev.preventDefault();
  zone.classList.remove('over');
  droppedFiles(ev.dataTransfer).then(addFiles);
});
// A file dropped next to the zone would make the browser open it: send it instead.
window.addEventListener('dragover', (ev) => ev.preventDefault());
window.addEventListener('drop', (ev) => {
  ev.preventDefault();
  if (ev.target instanceof Node && !zone.contains(ev.target)) droppedFiles(ev.dataTransfer).then(addFiles);
});

/** True while an upload is running (leaving would stop it). */
export const uploading = () => activeTransfers.size > 0;

onSignOut(() => {
  for (const t of activeTransfers) t.abort();
  $('transfers').replaceChildren();
});
