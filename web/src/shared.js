//! "Shared with me": the files other users of this server granted the signed-in user
//! (client.sharedWithMe, names opened here), each with a Download button that saves it
//! the same ways as one's own files (downloads.js).
import { $ } from './dom.js';
import { formatBytes } from './format.js';
import { handleError } from './alerts.js';
import { currentClient, onSignOut } from './session.js';
import { saveDownload } from './downloads.js';

let listVersion = 0;

export async function refreshShared() {
  const client = currentClient();
  if (!client) return;
  const version = ++listVersion;
  try {
    const items = await client.sharedWithMe();
    if (client !== currentClient() || version !== listVersion) return;
    items.sort((a, b) => b.grantedAt - a.grantedAt);
    $('shared-body').replaceChildren(...items.map(sharedRow));
    $('shared-table').hidden = items.length === 0;
    $('shared-empty').hidden = items.length !== 0;
    $('shared').hidden = false;
  } catch (e) {
    // A server without grants (an older version): no section, no error.
    if (e?.code === 'no_route') return;
    if (version === listVersion) handleError(e, 'Could not load the files shared with you. ');
  }
}

function sharedRow(s) {
  const tr = document.createElement('tr');
  const displayName = s.name ?? `Encrypted file ${s.objectId.slice(0, 8)}`;
  tr.dataset.name = displayName;
  tr.dataset.owner = s.owner;
  tr.dataset.id = s.objectId;

  const name = document.createElement('td');
  name.className = 'name';
  name.append(displayName);
  const status = document.createElement('span');
  status.className = 'sub status';
  status.setAttribute('aria-live', 'polite');
  name.append(status);

  const size = document.createElement('td');
  size.className = 'num';
  size.textContent = s.plaintextSize !== null ? formatBytes(s.plaintextSize) : `≈ ${formatBytes(s.size)}`;

  const from = document.createElement('td');
  from.className = 'from';
  from.textContent = s.from ?? 'someone on this server';

  const actions = document.createElement('td');
  actions.className = 'actions';
  const dl = document.createElement('button');
  dl.type = 'button';
  dl.className = 'secondary-btn download';
  dl.textContent = 'Download';
  dl.setAttribute('aria-label', `Download ${displayName}, shared by ${s.from ?? 'someone'}`);
  dl.addEventListener('click', () =>
    saveDownload({
      open: (onProgress) => currentClient().downloadShared(s.owner, s.objectId, { onProgress }),
      name: displayName,
      size: s.plaintextSize,
      approxSize: s.size,
      setStatus: (text, kind = '') => {
        status.className = `sub status ${kind}`;
        status.textContent = text;
      },
      button: dl,
      mark: tr,
    }),
  );
  actions.append(dl);
  tr.append(name, size, from, actions);
  return tr;
}

onSignOut(() => {
  listVersion++;
  $('shared-body').replaceChildren();
  $('shared').hidden = true;
});
