//! Downloads: each file is fetched, decrypted and verified chunk by chunk in this page,
//! then written to disk by the best way the browser has — a file picker (File System
//! Access API), the download helper (service worker), or, for small files only, a Blob
//! held in memory until every chunk verified. Progress and failures show on the file's row.
import { describe, needsSignIn } from './errors.js';
import { $ } from './dom.js';
import { formatBytes } from './format.js';
import { handleError } from './alerts.js';
import { currentClient } from './session.js';
import { downloadHelper, saveThroughHelper, HelperUnavailable, SaveError } from './download-helper.js';

/** Without a way to stream to disk a download is held in memory until verified: cap it. */
const BLOB_LIMIT = 500 * 1000 * 1000;

const canStreamToDisk = () => typeof window.showSaveFilePicker === 'function';

let activeDownloads = 0; // downloads this page is decrypting now

/** True while this page is decrypting a download (leaving would stop it). */
export const downloading = () => activeDownloads > 0;

/** The big-file warning, only where neither streaming path to disk is there. */
export async function showSaveNote(note = $('save-note')) {
  const streams = canStreamToDisk() || (await downloadHelper()) !== null;
  note.hidden = streams;
  note.textContent = streams
    ? ''
    : `This browser cannot write a download to disk as it arrives, so files up to ${formatBytes(BLOB_LIMIT)} are decrypted in memory before saving. For bigger files use a recent Chrome, Edge or Firefox, outside a private window.`;
}

function setRowStatus(tr, text, kind = '') {
  const s = tr.querySelector('.status');
  s.className = `sub status ${kind}`;
  s.textContent = text;
}

/** Downloads one of the signed-in user's files; progress and failures on its row. */
export function downloadFile(f, displayName, tr, button) {
  return saveDownload({
    open: (onProgress) => currentClient().download(f.id, { onProgress }),
    name: displayName,
    size: f.plaintextSize ?? null,
    approxSize: f.size,
    setStatus: (text, kind) => setRowStatus(tr, text, kind),
    button,
    mark: tr,
  });
}

/**
 * Fetches, decrypts and verifies a file and writes it to disk by the best way this
 * browser has. `open(onProgress)` resolves to the verified plaintext stream (the
 * owner's, a grantee's or a share link's download); `size` is its plaintext size when
 * known (the download helper checks it), `approxSize` an upper bound otherwise;
 * `setStatus(text, kind)` shows progress and the outcome; `mark.dataset.savedWith`
 * says how it was saved. Resolves to true when the file was saved.
 */
export async function saveDownload({ open, name: displayName, size: exactSize, approxSize, setStatus, button, mark }) {
  const size = exactSize ?? approxSize ?? 0;
  let handle = null;
  let helper = null;
  if (canStreamToDisk()) {
    try {
      // Ask first, while the click still counts as a user gesture.
      handle = await window.showSaveFilePicker({ suggestedName: displayName });
    } catch (e) {
      if (e?.name === 'AbortError') return false; // the person closed the dialog
      setStatus(describe(e), 'err');
      return false;
    }
  } else {
    button.disabled = true;
    helper = await downloadHelper();
    button.disabled = false;
    if (!helper && size > BLOB_LIMIT) {
      setStatus(tooBigHere(), 'err');
      return false;
    }
  }
  button.disabled = true;
  activeDownloads++;
  delete mark.dataset.savedWith;
  setStatus('Downloading and verifying…');
  let percent = -1;
  const onProgress = ({ received, total }) => {
    // Redrawn only when the number changes (progress comes with every network read).
    const now = Math.floor((received / Math.max(total, 1)) * 100);
    if (now !== percent) setStatus(`Downloading and verifying… ${(percent = now)}%`);
  };
  let reader = null;
  // Set once the browser's own download (through the service worker) has begun: a
  // failure after that cannot take back what the browser wrote. Chromium and Firefox
  // mark such a download failed, but WebKit keeps the verified part under the file's
  // name, so the person is told to delete it.
  let handedToBrowser = false;
  try {
    const stream = await open(onProgress);
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
          handedToBrowser = true;
          await saveThroughHelper(helper, next, {
            name: displayName,
            size: exactSize ?? null,
            // Progress says more when data flows again.
            onStall: () => setStatus('Waiting for the browser to save the file (is the download paused?)…'),
          });
          savedWith = 'service-worker';
        } catch (e) {
          if (!(e instanceof HelperUnavailable)) throw e;
          handedToBrowser = false;
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
    mark.dataset.savedWith = savedWith;
    setStatus('Downloaded and verified', 'ok');
    return true;
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
    if (needsSignIn(e)) {
      handleError(e);
      return false;
    }
    setStatus(
      handedToBrowser
        ? `${describeSave(e)} The download was stopped before the end: if your browser kept a file for it, delete that file, it is incomplete.`
        : `${describeSave(e)} Nothing was saved.`,
      'err',
    );
    return false;
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
