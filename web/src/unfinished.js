//! Unfinished uploads: uploads this browser started and did not finish (the page was
//! reloaded or closed, the connection was lost), listed from the package's IndexedDB
//! records after sign-in, each with Resume and Discard. Resume goes on with the kept
//! file handle (Chromium, after asking for read permission) or asks for the same file
//! again; only the parts the storage lacks are sent. Where IndexedDB does not work
//! (some private modes) the section stays hidden and uploads are not resumable.
import { $ } from './dom.js';
import { describe } from './errors.js';
import { formatBytes } from './format.js';
import { handleError } from './alerts.js';
import { currentClient, onSignOut } from './session.js';
import { resumeFile, disableResume, onIdle, uploading } from './uploads.js';

const expiryFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
let listVersion = 0;
/** What each item says (kept across reloads of the list): id -> { text, kind, needsFile }. */
const notes = new Map();

const supported = (client) =>
  typeof client?.unfinishedUploads === 'function' && typeof client.resumeUpload === 'function';

/** Reloads the list (not while an upload of this page runs: it would be listed too). */
export async function refreshUnfinished() {
  const client = currentClient();
  if (!client || uploading()) return;
  if (!supported(client)) {
    disableResume();
    render([]);
    return;
  }
  const version = ++listVersion;
  let list;
  try {
    list = await client.unfinishedUploads();
  } catch (e) {
    // IndexedDB refused (private mode, storage off): no resume in this browser.
    console.warn('CipherDrop: uploads cannot be resumed in this browser:', e);
    disableResume();
    list = [];
  }
  if (client !== currentClient() || version !== listVersion) return;
  render(list);
}

function render(list) {
  $('unfinished-list').replaceChildren(...list.map(item));
  $('unfinished').hidden = list.length === 0;
}

function item(u) {
  const li = document.createElement('li');
  li.className = 'unfinished-item';
  li.dataset.unfinishedId = u.id;
  const name = u.name ?? `Encrypted file ${u.id.slice(0, 8)}`;
  li.dataset.name = name;
  const nameId = `unfinished-${u.id}`;

  const head = document.createElement('div');
  head.className = 'transfer-head';
  const title = document.createElement('span');
  title.className = 'transfer-name';
  title.id = nameId;
  title.textContent = name;
  const size = document.createElement('span');
  size.className = 'muted';
  size.textContent = formatBytes(u.size);
  head.append(title, size);

  const percent = Math.floor((u.sentBytes / Math.max(u.totalBytes, 1)) * 100);
  const facts = document.createElement('p');
  facts.className = 'muted small';
  facts.textContent = `${percent}% sent · can be resumed until ${expiryFormat.format(new Date(u.expiresAt))}`;

  const status = document.createElement('p');
  status.setAttribute('aria-live', 'polite');
  const say = (text, kind = '', needsFile = notes.get(u.id)?.needsFile ?? false) => {
    notes.set(u.id, { text, kind, needsFile });
    status.className = `small unfinished-status ${kind}`;
    status.textContent = text;
  };
  say(notes.get(u.id)?.text ?? '', notes.get(u.id)?.kind ?? '');

  const actions = document.createElement('div');
  actions.className = 'row unfinished-actions';
  const resume = button('Resume', 'secondary-btn resume', nameId);
  const discard = button('Discard', 'secondary-btn danger-btn discard', nameId);
  // Without a kept handle the same file is picked again, through this input.
  const input = document.createElement('input');
  input.type = 'file';
  input.className = 'visually-hidden';
  input.tabIndex = -1;
  input.setAttribute('aria-hidden', 'true');
  input.dataset.resumeInput = '';
  actions.append(resume, discard, input);

  const busy = (on) => {
    resume.disabled = on;
    discard.disabled = on;
  };
  const start = (source) => {
    busy(true);
    say('Resuming: see its progress under “Send files”.');
    resumeFile(u, source, (e) => {
      if (!e) {
        notes.delete(u.id);
        return; // finished: the list is reloaded when the queue is idle
      }
      busy(false);
      if (e?.code === 'DIFFERENT_FILE') {
        // A kept handle that now points at another file: ask for the file instead.
        say('That is not the file that was being uploaded (its size, date or first bytes differ). Nothing was sent: choose the same file again.', 'err', true);
      } else if (e?.name === 'AbortError') {
        say('');
      } else if (e?.code === 'upload_not_found') {
        notes.delete(u.id);
        li.remove();
        if (!$('unfinished-list').children.length) $('unfinished').hidden = true;
      } else {
        say(describe(e), 'err');
      }
    });
  };
  const pick = () => {
    say('Choose the same file again to continue.');
    input.click();
  };
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) start(file);
  });

  resume.addEventListener('click', async () => {
    const handle = u.fileHandle;
    if (!handle || notes.get(u.id)?.needsFile) return pick();
    try {
      // Asked on this click: the browser allows the prompt only on a user gesture.
      let permission = (await handle.queryPermission?.({ mode: 'read' })) ?? 'granted';
      if (permission !== 'granted') permission = await handle.requestPermission({ mode: 'read' });
      if (permission !== 'granted') return pick();
    } catch (e) {
      console.warn('CipherDrop: the kept file handle cannot be used:', e);
      return pick();
    }
    start(null);
  });

  discard.addEventListener('click', async () => {
    busy(true);
    try {
      await currentClient().discardUpload(u.id);
      notes.delete(u.id);
      li.remove();
      if (!$('unfinished-list').children.length) $('unfinished').hidden = true;
    } catch (e) {
      busy(false);
      handleError(e, 'Could not discard the upload. ');
    }
  });

  li.append(head, facts, status, actions);
  return li;
}

function button(text, className, describedBy) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = text;
  // The name stays "Resume" / "Discard"; the file it is for is its description.
  b.setAttribute('aria-describedby', describedBy);
  return b;
}

onIdle(refreshUnfinished);
onSignOut(() => {
  listVersion++;
  notes.clear();
  render([]);
});
