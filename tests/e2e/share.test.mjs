// End-to-end: sharing, in the browser named by CIPHERDROP_BROWSER (tests/lib/browser.mjs).
// Alice uploads a file and, in the page's Share dialog, makes links and gives another
// user access; each link is opened in a FRESH browser (its own new profile, nobody
// signed in) on the recipient's page /s/<id>#<secret>: name and size shown, the
// download saved with the same SHA-256; a password asked for (a wrong one refused
// with the attempts left); a used-up, an expired, a withdrawn, a changed and a cut-short link
// each get their own words. Bob (development login) downloads what alice granted him
// from "Shared with me", and sees nothing once she revokes it. The server runs with
// RUST_LOG=debug and its whole log must hold none of the links' secrets nor the
// password; the recipient's requests (through the harness's proxy) carry no secret.
// Accessibility: axe-core on the recipient's page and the dialog (serious/critical).
//
// Starts its own `cipherdrop serve` (local mode):
//   CIPHERDROP_BIN      the cipherdrop binary (default: debug build in CARGO_TARGET_DIR)
//   CIPHERDROP_WEB_DIR  the built page (default web/dist)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ENGINE, ROOT, launch } from '../lib/browser.mjs';
import { startProxy } from '../lib/proxy.mjs';
import { startServe } from '../lib/serve.mjs';
import { sha256 } from './lib/files.mjs';

const BIN =
  process.env.CIPHERDROP_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/cipherdrop-target'), 'debug/cipherdrop');
const WEB_DIR = process.env.CIPHERDROP_WEB_DIR ?? path.join(ROOT, 'web/dist');
const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const MiB = 1024 * 1024;
const WAIT = { timeout: 60_000 };
const run = crypto.randomBytes(4).toString('hex');
const ALICE = `alice-${run}`;
const BOB = `bob-${run}`;
const PASSWORD = `correct horse ${run}`;
const WRONG = `wrong horse ${run}`;
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const shotPath = (name) => path.join(ARTIFACTS, `share-${name}-${ENGINE}.png`);
/** A screenshot after the page has had time to paint (WebKit's can show an older frame). */
async function screenshot(b, name) {
  await b.sleep(300);
  await b.screenshot(shotPath(name));
}

/** Waits until the browser saved `name` (no partial file beside it); returns its bytes. */
async function savedFile(b, name, { size, timeout = 60_000 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const names = fs.readdirSync(b.downloads);
    const stem = name.replace(/\.[^.]*$/, '');
    const partial = names.some((n) => n.startsWith(stem) && /\.(crdownload|part|download)$/.test(n));
    // WebKit can show the file under its name before its bytes are written (it was
    // seen empty there once): wait for the expected size too.
    const complete = () => size === undefined || fs.statSync(path.join(b.downloads, name)).size === size;
    if (names.includes(name) && !partial && complete()) return fs.readFileSync(path.join(b.downloads, name));
    if (Date.now() > end) throw new Error(`${ENGINE}: ${name} was not saved in ${b.downloads} (there: ${names.join(', ')})`);
    await b.sleep(100);
  }
}

async function audit(b, state) {
  await b.cmd('POST', '/execute/sync', { script: `${AXE_SOURCE}\n;return typeof window.axe;`, args: [] });
  const violations = await b.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `${ENGINE}, ${state}: serious or critical accessibility violations`);
}

async function signIn(b, url, user) {
  await b.goto(url);
  await (await b.find('#user', WAIT)).type(user);
  await (await b.find('#dev-login button[type=submit]')).click();
  await b.waitForText(`Signed in as ${user}`, WAIT);
  await b.waitFor(() => document.querySelector('#files-loading')?.hidden, null, WAIT);
}

/** The recipient's page reached a state (file, password, error); returns it. */
const recipientState = (b, state) =>
  b.waitFor((s) => (document.querySelector('#share')?.dataset.state === s ? s : null), state, { ...WAIT, message: `the recipient's page in state ${state}` });

/** Opens a link in the recipient's browser as a person pasting it would (a new load). */
async function openLink(b, link) {
  await b.goto('about:blank'); // a link differing only after # would not reload the page
  await b.goto(link);
}

describe(`sharing (${ENGINE})`, () => {
  let server;
  let proxy;
  let alice;
  let recipient;
  let tmp;
  const file = { name: `report ${run} (été).bin`, size: 3 * MiB + 123 };
  const links = {}; // plain, guarded: the links made in the dialog

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-share-'));
    file.path = path.join(tmp, file.name);
    const bytes = crypto.randomBytes(file.size);
    fs.writeFileSync(file.path, bytes);
    file.sha = sha256(bytes);
    // Everything the server logs, at debug: checked for secrets at the end.
    process.env.RUST_LOG = 'debug';
    server = await startServe(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(tmp, 'data'), '--web-dir', WEB_DIR], {
      keepLog: 200_000_000,
    });
    delete process.env.RUST_LOG;
    proxy = await startProxy();
    alice = await launch({ hideFilePicker: true });
  });

  after(async () => {
    await alice?.close();
    await recipient?.close();
    await proxy?.close();
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const row = `#files-body tr[data-name="${file.name}"]`;

  /** Opens alice's Share dialog for the file. */
  async function openDialog() {
    if (!(await alice.evaluate(() => document.querySelector('#share-dialog').open))) {
      await alice.click(`${row} button.share`);
    }
    await alice.find('#share-dialog h2', { text: `Share “${file.name}”` });
  }

  /** Makes a link in the dialog; returns it as the page shows it. */
  async function makeLink({ limit = '', password = '' } = {}) {
    await openDialog();
    for (const [css, value] of [['#link-limit', limit], ['#link-password', password]]) {
      const field = await alice.find(css);
      await field.evaluate((el) => {
        el.value = '';
      });
      if (value) await field.type(value);
    }
    const before = await alice.evaluate(() => document.querySelectorAll('#links li').length);
    await alice.click('#link-create');
    await alice.find('#link-status.ok', { text: 'Link created' });
    await alice.waitFor((n) => document.querySelectorAll('#links li').length === n + 1, before, WAIT);
    return (await alice.find('#link-url')).evaluate((el) => el.value);
  }

  it('alice uploads a file and makes a link in the Share dialog (7 days by default, no limit)', async () => {
    await signIn(alice, server.url, ALICE);
    await (await alice.find('#files', { visible: false })).setFiles(file.path);
    await alice.find(row, WAIT);
    await alice.waitFor(() => document.querySelectorAll('#transfers li.done').length >= 1, null, WAIT);
    await alice.click(`${row} button.share`);
    await alice.find('#share-dialog h2', { text: `Share “${file.name}”` });
    assert.equal(await (await alice.find('#link-expiry')).evaluate((el) => el.value), '604800', '7 days is the default');
    assert.equal(await alice.evaluate(() => document.activeElement?.id), 'link-expiry', 'the focus moves into the dialog');
    links.plain = await makeLink();
    const u = new URL(links.plain);
    assert.equal(u.origin, new URL(server.url).origin);
    assert.match(u.pathname, /^\/s\/[0-9a-f]{32}$/);
    assert.match(u.hash, /^#[A-Za-z0-9_-]{43}$/);
    const item = await alice.find('#links li');
    assert.match(await item.text(), /Expires .* · 0 downloads, no limit/);
    await screenshot(alice, 'dialog');
    await audit(alice, 'share dialog');
  });

  it('the link opens in a fresh browser, nobody signed in: name and size, then the same bytes', async () => {
    recipient = await launch({ hideFilePicker: true, proxy: proxy.address });
    await openLink(recipient, links.plain);
    await recipientState(recipient, 'file');
    assert.equal((await (await recipient.find('#share-name')).text()).trim(), file.name);
    assert.match(await (await recipient.find('#share-size')).text(), /^3\.1 MB /);
    assert.equal(await (await recipient.find('#share-left')).text(), 'No limit');
    await screenshot(recipient, 'recipient');
    await audit(recipient, 'recipient page');
    await recipient.setViewport(390, 844);
    await screenshot(recipient, 'recipient-narrow');
    await recipient.setViewport(1280, 900);
    await recipient.click('#share-download');
    await recipient.find('#share-status.ok', { text: 'Downloaded and verified', ...WAIT });
    assert.equal(sha256(await savedFile(recipient, file.name, { size: file.size })), file.sha, 'the same bytes');
    // The page at /s/<id> answered as it is: no redirect, no referrer.
    const res = await fetch(links.plain.split('#')[0], { redirect: 'manual' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.match(res.headers.get('content-security-policy') ?? '', /^default-src 'none';/);
  });

  it('a password link asks for it, refuses a wrong one with the attempts left, and closes after its one download', async () => {
    links.guarded = await makeLink({ limit: '1', password: PASSWORD });
    assert.match(await (await alice.find('#link-status')).text(), /tell them the password another way/);
    assert.equal(await (await alice.find('#link-password')).evaluate((el) => el.value), '', 'the password field is cleared');
    await openLink(recipient, links.guarded);
    await recipientState(recipient, 'password');
    assert.equal(await recipient.evaluate(() => document.activeElement?.id), 'share-password-input');
    await screenshot(recipient, 'password');
    await audit(recipient, 'password asked');
    await (await recipient.find('#share-password-input')).type(WRONG);
    await recipient.click('#share-password-submit');
    const error = await recipient.find('#share-password-error', { text: 'That password is not right', ...WAIT });
    assert.match(await error.text(), /9 attempts left/);
    assert.equal(await (await recipient.find('#share-password-input')).attr('aria-invalid'), 'true');
    await (await recipient.find('#share-password-input')).type(PASSWORD);
    await recipient.click('#share-password-submit');
    await recipientState(recipient, 'file');
    assert.equal((await (await recipient.find('#share-name')).text()).trim(), file.name);
    assert.equal(await (await recipient.find('#share-left')).text(), '1');
    fs.rmSync(path.join(recipient.downloads, file.name), { force: true });
    await recipient.click('#share-download');
    const done = await recipient.find('#share-status.ok', { text: 'Downloaded and verified', ...WAIT });
    assert.match(await done.text(), /last download/);
    assert.equal(sha256(await savedFile(recipient, file.name, { size: file.size })), file.sha, 'the same bytes');
    // Used up: the next visit gets the one "unavailable" answer. The server tells
    // whether a link is used up only to a holder of its secret and password (open),
    // so the password is asked first.
    await openLink(recipient, links.guarded);
    await recipientState(recipient, 'password');
    await (await recipient.find('#share-password-input')).type(PASSWORD);
    await recipient.click('#share-password-submit');
    await recipientState(recipient, 'error');
    assert.equal(await recipient.evaluate(() => document.querySelector('#share').dataset.code), 'LINK_UNAVAILABLE');
    assert.equal((await (await recipient.find('h1')).text()).trim(), 'This link cannot be used any more');
    assert.match(await (await recipient.find('#share-error-text')).text(), /Ask them for a new link/);
    await screenshot(recipient, 'unavailable');
    await audit(recipient, 'link unavailable');
    // The owner's list says so too.
    await alice.click('#share-close');
    await openDialog();
    await alice.find('#links li.expired', { text: 'All downloads used' });
  });

  it('a link whose part after # was changed says so; one cut short is incomplete', async () => {
    const [base, secret] = links.plain.split('#');
    // The first character: all of its bits are the secret's (the last one's low bits are padding).
    const changed = `${base}#${secret[0] === 'A' ? 'B' : 'A'}${secret.slice(1)}`;
    await openLink(recipient, changed);
    await recipientState(recipient, 'error');
    assert.equal(await recipient.evaluate(() => document.querySelector('#share').dataset.code), 'LINK_CHANGED');
    assert.equal((await (await recipient.find('h1')).text()).trim(), 'This link was changed');
    assert.match(await (await recipient.find('#share-error-text')).text(), /copy the whole link again/);
    await screenshot(recipient, 'changed');
    await openLink(recipient, `${base}#${secret.slice(0, 20)}`);
    await recipientState(recipient, 'error');
    assert.equal(await recipient.evaluate(() => document.querySelector('#share').dataset.code), 'INVALID_LINK');
    assert.equal((await (await recipient.find('h1')).text()).trim(), 'This link is incomplete');
  });

  it('a withdrawn link is unavailable', async () => {
    await openDialog();
    const id = new URL(links.plain).pathname.split('/').pop();
    await alice.click(`#links li[data-share-id="${id}"] button.revoke-link`);
    await alice.find('#link-status.ok', { text: 'Link withdrawn' });
    await alice.waitGone(`#links li[data-share-id="${id}"]`);
    await openLink(recipient, links.plain);
    await recipientState(recipient, 'error');
    assert.equal(await recipient.evaluate(() => document.querySelector('#share').dataset.code), 'LINK_UNAVAILABLE');
    await alice.click('#share-close');
    assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute('aria-label')), `Share ${file.name}`, 'the focus returns to the Share button');
  });

  it('a link past its time is unavailable, and her list shows it expired', async () => {
    // The dialog offers 1 hour at the least. A 2-second choice, added here, goes
    // through the page's own code and the server's rule (`expires_in` of 1 s or more).
    await openDialog();
    const expiry = await alice.find('#link-expiry');
    await expiry.evaluate((el) => {
      el.add(new Option('2 seconds', '2'));
      el.value = '2';
    });
    links.expiring = await makeLink();
    await expiry.evaluate((el) => {
      el.remove(el.options.length - 1);
      el.value = '604800';
    });
    const id = new URL(links.expiring).pathname.split('/').pop();
    assert.match(await (await alice.find(`#links li[data-share-id="${id}"]`)).text(), / · Expires /);
    await alice.sleep(3000);
    await openLink(recipient, links.expiring);
    await recipientState(recipient, 'error');
    assert.equal(await recipient.evaluate(() => document.querySelector('#share').dataset.code), 'LINK_UNAVAILABLE');
    assert.equal((await (await recipient.find('h1')).text()).trim(), 'This link cannot be used any more');
    await screenshot(recipient, 'expired');
    // Her list, loaded again, says it expired.
    await alice.click('#share-close');
    await openDialog();
    assert.match(await (await alice.find(`#links li.expired[data-share-id="${id}"]`)).text(), / · Expired /);
    await alice.click('#share-close');
  });

  it('alice gives bob access; bob downloads it from "Shared with me"; after she revokes it his list is empty', async () => {
    await openDialog();
    await (await alice.find('#grant-user')).type(BOB);
    await alice.click('#grant-add');
    await alice.find('#grant-status.ok', { text: `${BOB} can now download this file` });
    await alice.find(`#grants li[data-grantee="${BOB}"]`);
    await screenshot(alice, 'dialog-grant');
    const bob = await launch({ hideFilePicker: true });
    try {
      await signIn(bob, server.url, BOB);
      const shared = `#shared-body tr[data-name="${file.name}"]`;
      await bob.find(shared, WAIT);
      assert.match(await (await bob.find(`${shared} td.from`)).text(), new RegExp(ALICE));
      await screenshot(bob, 'shared-with-me');
      await bob.click(`${shared} button.download`);
      await bob.find(`${shared} .status.ok`, { text: 'Downloaded and verified', ...WAIT });
      assert.equal(sha256(await savedFile(bob, file.name, { size: file.size })), file.sha, 'the same bytes');
      await alice.click(`#grants li[data-grantee="${BOB}"] button.revoke-grant`);
      await alice.find('#grant-status.ok', { text: `${BOB} no longer has access` });
      await alice.waitGone(`#grants li[data-grantee="${BOB}"]`);
      await alice.click('#share-close');
      await bob.click('#refresh');
      await bob.waitGone(shared);
      await bob.find('#shared-empty', { text: 'Nobody has shared a file with you yet' });
      assert.deepEqual((await bob.collectProblems()), []);
    } finally {
      await bob.close();
    }
  });

  it('the secrets never reached the server: not in its debug log, not in a request', async () => {
    const log = server.log();
    // The log is the real thing: it saw the share routes at debug level.
    assert.match(log, /DEBUG/, 'the server logged at debug level');
    assert.match(log, /\/api\/shares\//, 'the server logged the share requests');
    for (const [what, link] of Object.entries(links)) {
      const secret = link.split('#')[1];
      assert.ok(!log.includes(secret), `the ${what} link's secret is not in the server's log`);
      for (const r of proxy.requests) assert.ok(!r.url.includes(secret), `no request carried the ${what} link's secret: ${r.method} ${r.url}`);
    }
    for (const pw of [PASSWORD, WRONG, encodeURIComponent(PASSWORD)]) assert.ok(!log.includes(pw), 'no password in the server log');
    assert.ok(proxy.requests.some((r) => /\/s\/[0-9a-f]{32}$/.test(r.url)), 'the recipient asked for /s/<id>');
  });

  it('had no script errors and no CSP violations', async () => {
    // The refused links answer 403/404 on purpose; the browsers log those loads.
    const expected = /status of 40[34]|Failed to load resource|40[34] \(/;
    assert.deepEqual((await recipient.collectProblems()).filter((p) => !expected.test(p)), []);
    assert.deepEqual((await alice.collectProblems()).filter((p) => !expected.test(p)), []);
  });
});
