//! Uploads: the queue (two files at a time), one row per file with its progress bar,
//! speed, time left and Cancel, and the ways files come in (the file chooser, dropping
//! on the zone or anywhere on the page).
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

function addFiles(list) {
  if (!currentClient()) return;
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
  const session = currentClient();
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
        if (session === currentClient()) await refreshFiles();
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

/** True while an upload is running (leaving would stop it). */
export const uploading = () => activeTransfers.size > 0;

onSignOut(() => {
  for (const t of activeTransfers) t.abort();
  $('transfers').replaceChildren();
});
