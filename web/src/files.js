//! The list of the signed-in user's files: loading it, one row per file (name, size,
//! time, Download, Share and Delete buttons), and deleting.
import { $ } from './dom.js';
import { formatBytes, dateFormat } from './format.js';
import { showAlert, handleError } from './alerts.js';
import { currentClient, onSignOut } from './session.js';
import { downloadFile } from './downloads.js';
import { openShareDialog } from './sharing.js';
import { refreshShared } from './shared.js';

let files = [];
let listVersion = 0; // bumped by every change: a listing started before it is stale

export async function refreshFiles() {
  if (!currentClient()) return;
  const session = currentClient();
  $('files-loading').hidden = files.length > 0;
  try {
    const version = ++listVersion;
    const list = await session.list();
    if (session !== currentClient() || version !== listVersion) return;
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
  // Two uploads of the same file differ by their time and their object id.
  const id = document.createElement('span');
  id.className = 'sub muted object-id';
  id.title = `Object id ${f.id}`;
  id.textContent = `id ${f.id.slice(0, 8)}`;
  date.append(time, id);

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
  const share = document.createElement('button');
  share.type = 'button';
  share.className = 'secondary-btn share';
  share.textContent = 'Share';
  share.setAttribute('aria-label', `Share ${displayName}`);
  share.setAttribute('aria-haspopup', 'dialog');
  share.addEventListener('click', () => openShareDialog(f, displayName, share));
  actions.append(dl, share, del);

  tr.append(name, size, date, actions);
  return tr;
}


async function deleteFile(f, displayName, button) {
  if (!window.confirm(`Delete “${displayName}”? This cannot be undone.`)) return;
  button.disabled = true;
  try {
    await currentClient().delete(f.id);
    listVersion++;
    files = files.filter((x) => x.id !== f.id);
    renderFiles();
    showAlert(`Deleted “${displayName}”.`, 'info');
  } catch (e) {
    button.disabled = false;
    handleError(e, 'Could not delete the file. ');
  }
}

$('refresh').addEventListener('click', () => {
  refreshFiles();
  refreshShared();
});

onSignOut(() => {
  files = [];
  $('files-body').replaceChildren();
});
