//! The owner's Share dialog for one file: links (create with an expiry, a download
//! limit and an optional password; list, copy again, withdraw) and grants to other
//! users of this server (give by user name, list, revoke). All through the package's
//! CipherDropClient (createShareLink, listShareLinks, revokeShareLink, grant,
//! listGrants, revokeGrant). A link's secret is made in this tab and shown only here.
import { $ } from './dom.js';
import { describe, needsSignIn } from './errors.js';
import { handleError } from './alerts.js';
import { currentClient, onSignOut } from './session.js';
import { dateFormat } from './format.js';

const dialog = $('share-dialog');
let current = null; // { id, name, opener }: the file the dialog is open for
let version = 0; // bumped on every open: answers for an earlier file are dropped

/** Where the links point: this page's own base (it may be served under a path). */
const pageUrl = () => new URL('./', location.href).href.replace(/\/$/, '');

function say(el, text, kind = '') {
  el.className = `dialog-status ${kind}`;
  el.textContent = text;
}

/** Fails the dialog's action: a sign-in problem closes it and signs out. */
function failed(e, statusEl, prefix) {
  if (needsSignIn(e)) {
    dialog.close();
    handleError(e);
    return;
  }
  say(statusEl, `${prefix}${describe(e)}`, 'err');
}

/** Opens the dialog for file `f` (its row's Share button is `opener`). */
export function openShareDialog(f, displayName, opener) {
  current = { id: f.id, name: displayName, opener };
  const v = ++version;
  $('share-dialog-title').textContent = `Share “${displayName}”`;
  $('link-form').reset();
  $('link-made').hidden = true;
  $('link-url').value = '';
  say($('link-status'), '');
  say($('grant-status'), '');
  $('grant-form').reset();
  $('links').replaceChildren();
  $('grants').replaceChildren();
  $('links-empty').hidden = true;
  $('grants-empty').hidden = true;
  $('people').hidden = false;
  dialog.showModal();
  $('link-expiry').focus();
  loadLinks(v);
  loadGrants(v);
}

dialog.addEventListener('close', () => {
  version++;
  const opener = current?.opener;
  current = null;
  $('link-url').value = ''; // the secret does not linger in the page
  if (opener?.isConnected) opener.focus();
});
$('share-close').addEventListener('click', () => dialog.close());

// ---- links ----

async function loadLinks(v = version) {
  if (!current) return;
  try {
    const links = await currentClient().listShareLinks(current.id, { pageUrl: pageUrl() });
    if (v !== version) return;
    $('links').replaceChildren(...links.map(linkItem));
    $('links-empty').hidden = links.length > 0;
  } catch (e) {
    if (v === version) failed(e, $('link-status'), 'Could not load the links. ');
  }
}

function linkItem(link) {
  const li = document.createElement('li');
  li.className = 'share-item';
  li.dataset.shareId = link.shareId;
  const usedUp = link.downloadsLeft === 0;
  const dead = link.expired || usedUp;
  if (dead) li.classList.add('expired');
  const facts = document.createElement('span');
  facts.className = 'share-facts';
  const created = new Date(link.createdAt * 1000);
  const expires = new Date(link.expiresAt * 1000);
  const parts = [
    `Created ${dateFormat.format(created)}`,
    link.expired ? `Expired ${dateFormat.format(expires)}` : `Expires ${dateFormat.format(expires)}`,
    link.downloadsLeft === null
      ? `${link.downloads} ${link.downloads === 1 ? 'download' : 'downloads'}, no limit`
      : usedUp
        ? 'All downloads used'
        : `${link.downloadsLeft} of ${link.maxDownloads} ${link.maxDownloads === 1 ? 'download' : 'downloads'} left`,
  ];
  if (link.password) parts.push('password');
  facts.textContent = parts.join(' · ');
  const label = `link created ${dateFormat.format(created)}`;
  const actions = document.createElement('span');
  actions.className = 'share-actions';
  if (link.url && !dead) {
    const copy = button('Copy link', `Copy link: ${label}`, () => showLink(link.url, true));
    copy.classList.add('copy-link');
    actions.append(copy);
  }
  const revoke = button(dead ? 'Remove' : 'Withdraw', `${dead ? 'Remove' : 'Withdraw'}: ${label}`, async () => {
    revoke.disabled = true;
    try {
      await currentClient().revokeShareLink(link.shareId);
      if ($('link-url').value === link.url) $('link-made').hidden = true;
      say($('link-status'), 'Link withdrawn: it no longer opens the file.', 'ok');
      await loadLinks();
      $('link-expiry').focus();
    } catch (e) {
      revoke.disabled = false;
      failed(e, $('link-status'), 'Could not withdraw the link. ');
    }
  });
  revoke.classList.add('danger-btn', 'revoke-link');
  actions.append(revoke);
  li.append(facts, actions);
  return li;
}

function button(text, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'secondary-btn';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

/** Shows `url` in the link field, selected; with `copy`, also puts it on the clipboard. */
async function showLink(url, copy) {
  $('link-made').hidden = false;
  $('link-url').value = url;
  if (copy) await copyLink();
}

async function copyLink() {
  const input = $('link-url');
  try {
    await navigator.clipboard.writeText(input.value);
    say($('link-status'), 'Link copied. Paste it into a message to the person you share with.', 'ok');
  } catch {
    input.focus();
    input.select();
    say($('link-status'), 'This browser did not let the page copy: the link is selected, press Ctrl+C (⌘C on a Mac) to copy it.');
  }
}
$('link-copy').addEventListener('click', copyLink);
$('link-url').addEventListener('focus', () => $('link-url').select());

$('link-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!current) return;
  const v = version;
  const limitText = $('link-limit').value.trim();
  const limit = limitText === '' ? null : Number(limitText);
  if (limit !== null && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
    say($('link-status'), 'The download limit is a whole number from 1 to 1000, or empty for no limit.', 'err');
    $('link-limit').focus();
    return;
  }
  const password = $('link-password').value;
  const options = { expiresIn: Number($('link-expiry').value), pageUrl: pageUrl() };
  if (limit !== null) options.maxDownloads = limit;
  if (password) options.password = password;
  const create = $('link-create');
  create.disabled = true;
  say($('link-status'), password ? 'Creating the link (deriving a key from the password)…' : 'Creating the link…');
  try {
    const link = await currentClient().createShareLink(current.id, options);
    if (v !== version) return;
    $('link-password').value = '';
    await showLink(link.url, false);
    say(
      $('link-status'),
      `Link created. Copy it and send it to the person you share with${password ? '; tell them the password another way' : ''}.`,
      'ok',
    );
    $('link-copy').focus();
    await loadLinks(v);
  } catch (e) {
    if (v === version) failed(e, $('link-status'), 'Could not create the link. ');
  } finally {
    create.disabled = false;
  }
});

// ---- grants ----

async function loadGrants(v = version) {
  if (!current) return;
  try {
    const grants = await currentClient().listGrants(current.id);
    if (v !== version) return;
    $('grants').replaceChildren(...grants.map(grantItem));
    $('grants-empty').hidden = grants.length > 0;
  } catch (e) {
    if (v !== version) return;
    // A server without grants (an older version): links only.
    if (e?.code === 'no_route') $('people').hidden = true;
    else failed(e, $('grant-status'), 'Could not load who has access. ');
  }
}

function grantItem(g) {
  const li = document.createElement('li');
  li.className = 'share-item';
  li.dataset.grantee = g.grantee;
  const facts = document.createElement('span');
  facts.className = 'share-facts';
  const who = document.createElement('strong');
  who.textContent = g.grantee;
  facts.append(who, ` · since ${dateFormat.format(new Date(g.createdAt * 1000))}`);
  const actions = document.createElement('span');
  actions.className = 'share-actions';
  const revoke = button('Revoke', `Revoke access for ${g.grantee}`, async () => {
    revoke.disabled = true;
    try {
      await currentClient().revokeGrant(current.id, g.granteeId);
      say($('grant-status'), `${g.grantee} no longer has access.`, 'ok');
      await loadGrants();
      $('grant-user').focus();
    } catch (e) {
      revoke.disabled = false;
      failed(e, $('grant-status'), 'Could not revoke access. ');
    }
  });
  revoke.classList.add('danger-btn', 'revoke-grant');
  actions.append(revoke);
  li.append(facts, actions);
  return li;
}

$('grant-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!current) return;
  const v = version;
  const grantee = $('grant-user').value.trim();
  if (!grantee) {
    say($('grant-status'), 'Type the user name of the person to share with.', 'err');
    $('grant-user').focus();
    return;
  }
  const add = $('grant-add');
  add.disabled = true;
  say($('grant-status'), `Giving ${grantee} access…`);
  try {
    await currentClient().grant(current.id, grantee);
    if (v !== version) return;
    $('grant-user').value = '';
    say($('grant-status'), `${grantee} can now download this file: they find it under “Shared with me” when they sign in.`, 'ok');
    await loadGrants(v);
  } catch (e) {
    if (v === version) failed(e, $('grant-status'), `Could not give ${grantee} access. `);
  } finally {
    add.disabled = false;
  }
});

onSignOut(() => {
  if (dialog.open) dialog.close();
});
