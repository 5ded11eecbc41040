// Accessibility of the page, in the engine named by CIPHERDROP_BROWSER (tests/lib):
// an automated audit (axe-core, injected into the page) in each state of the page —
// signed out, signed in with files, during an upload, with an error shown, with an
// unfinished upload offered — failing on any serious or critical violation; and an
// upload, a download and a share link made with the keyboard alone (Tab to the
// control, Enter or Space on it, Escape to close the dialog: W3C WebDriver key
// actions, no clicks), with the focus visible and the upload's progress exposed (a
// progressbar with a value, the phase a status region).
//
// Starts its own `cipherdrop serve` (local mode, 5 MiB parts); every request of the
// browser goes through the harness's proxy, which holds the part uploads while the
// page is audited mid-upload and fails a listing to show an error.
//
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

const BIN =
  process.env.CIPHERDROP_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/cipherdrop-target'), 'debug/cipherdrop');
const WEB_DIR = process.env.CIPHERDROP_WEB_DIR ?? path.join(ROOT, 'web/dist');
const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const MiB = 1024 * 1024;
const WAIT = { timeout: 60_000 };
const run = crypto.randomBytes(4).toString('hex');
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** `cipherdrop serve` in local mode on port 0; resolves once it printed its URL. */
const startServer = (dataDir) =>
  startServe(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--web-dir', WEB_DIR,
    '--multipart-threshold', String(8 * MiB), '--part-size', String(5 * MiB)]);

/** A file of random bytes; returns its SHA-256. */
function randomFile(file, size) {
  const buf = crypto.randomBytes(size);
  fs.writeFileSync(file, buf);
  return crypto.createHash('sha256').update(buf).digest('hex');
}

const sha256File = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Runs axe-core in the page; returns its serious and critical violations. The source
 * is the body of the WebDriver script itself, so the page's CSP (no eval) does not
 * stand in the way of loading it.
 */
async function audit(b, state) {
  await b.cmd('POST', '/execute/sync', { script: `${AXE_SOURCE}\n;return typeof window.axe;`, args: [] });
  const result = await b.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ').trim()}`),
    }));
  });
  await b.screenshot(path.join(ARTIFACTS, `a11y-${ENGINE}-${state}.png`));
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.filter((v) => !bad.includes(v));
  if (minor.length) console.log(`# ${ENGINE} ${state}: minor/moderate: ${minor.map((v) => v.id).join(', ')}`);
  return bad;
}

const explain = (violations) =>
  violations.map((v) => `${v.impact} ${v.id} (${v.help}):\n    ${v.nodes.join('\n    ')}`).join('\n  ');

async function expectClean(b, state) {
  const bad = await audit(b, state);
  assert.deepEqual(bad.map((v) => v.id), [], `${ENGINE}, ${state}: serious or critical violations\n  ${explain(bad)}`);
}

// W3C WebDriver key actions: what a keyboard does, to whatever has the focus.
const KEY = { Tab: '\uE004', Enter: '\uE007', Escape: '\uE00C', Space: ' ' };
async function press(b, key) {
  const value = KEY[key] ?? key;
  await b.cmd('POST', '/actions', {
    actions: [{ type: 'key', id: 'keyboard', actions: [{ type: 'keyDown', value }, { type: 'keyUp', value }] }],
  });
  await b.cmd('DELETE', '/actions');
}

/** What has the focus: its id, text, aria-label, and whether it shows a focus ring. */
const focused = (b) =>
  b.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    return {
      id: el.id,
      tag: el.tagName.toLowerCase(),
      text: el.textContent.trim(),
      label: el.getAttribute('aria-label'),
      focusVisible: el.matches(':focus-visible'),
      ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    };
  });

/** Presses Tab until `want(focused)` holds (at most `max` times); returns what has the focus. */
async function tabTo(b, want, what, max = 40) {
  const seen = [];
  for (let i = 0; i < max; i++) {
    await press(b, 'Tab');
    const f = await focused(b);
    seen.push(f ? f.id || f.label || f.text : 'body');
    if (f && want(f)) return f;
  }
  throw new Error(`${ENGINE}: Tab never reached ${what}; focus went through: ${seen.join(' → ')}`);
}

async function signIn(b, url, user) {
  await b.goto(url);
  await (await b.find('#user', WAIT)).type(user);
  await (await b.find('#dev-login button[type=submit]')).click();
  await b.waitForText(`Signed in as ${user}`, WAIT);
  await b.waitFor(() => document.querySelector('#files-loading')?.hidden, null, WAIT);
}

/** The native pickers cannot be driven: the page falls back to its <input type=file>. */
const hidePickers = (b) =>
  b.evaluate(() => {
    delete window.showOpenFilePicker;
    delete window.showSaveFilePicker;
  });

const isPartPut = (url, method) => method === 'PUT' && url.searchParams.has('partNumber');

describe(`page accessibility (${ENGINE})`, () => {
  let server;
  let proxy;
  let b;
  let tmp;
  const user = `ally-${run}`;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-a11y-'));
    server = await startServer(path.join(tmp, 'data'));
    proxy = await startProxy();
    b = await launch({ proxy: proxy.address, hideFilePicker: true });
  });

  after(async () => {
    await b?.close();
    await proxy?.close();
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('signed out: no serious or critical violations', async () => {
    await b.goto(server.url);
    await b.find('#user', WAIT);
    await expectClean(b, 'signed-out');
  });

  it('signed in with files: no serious or critical violations', async () => {
    await signIn(b, server.url, user);
    const file = path.join(tmp, `first ${run}.bin`);
    randomFile(file, 200_000);
    await (await b.find('#files', { visible: false })).setFiles([file]);
    await b.find(`#files-body tr[data-name="${path.basename(file)}"]`, WAIT);
    await expectClean(b, 'with-files');
  });

  it('during an upload, and with the upload failed and offered for resume: no serious or critical violations', async () => {
    let release;
    const held = new Promise((r) => (release = r));
    const unroute = proxy.route(isPartPut, async (_req, ctl) => {
      await held;
      return ctl.abort(); // a lost network: the upload stops, resumable
    });
    try {
      const file = path.join(tmp, `big ${run}.bin`);
      randomFile(file, 12 * MiB);
      await (await b.find('#files', { visible: false })).setFiles([file]);
      const row = '#transfers li.transfer';
      await b.find(row, WAIT);
      await b.waitFor(() => /Encrypting|Uploading|retrying/.test(document.querySelector('#transfers .transfer-phase')?.textContent ?? ''), null, WAIT);
      // Progress is exposed: a progressbar with a value, and the phase as a status region.
      const progress = await b.evaluate(() => {
        const li = document.querySelector('#transfers li.transfer');
        const bar = li.querySelector('progress, [role=progressbar]');
        const phase = li.querySelector('.transfer-phase');
        return {
          bar: !!bar,
          name: bar?.getAttribute('aria-label') ?? '',
          value: bar?.tagName === 'PROGRESS' ? bar.value : Number(bar?.getAttribute('aria-valuenow')),
          live: phase?.getAttribute('role') === 'status' || !!phase?.closest('[aria-live]'),
        };
      });
      assert.ok(progress.bar, 'the upload has a progress bar');
      assert.match(progress.name, /^Progress of /);
      assert.equal(typeof progress.value, 'number');
      assert.ok(progress.live, 'the upload phase is announced (role=status or aria-live)');
      await expectClean(b, 'uploading');
      release();
      // The client retries, then gives up; the failure is shown and the upload is offered again.
      await b.find(`${row}.failed`, { timeout: 120_000 });
      await b.find('[data-unfinished-id]', WAIT);
      await expectClean(b, 'upload-failed');
    } finally {
      release();
      unroute();
    }
  });

  it('with an error shown: no serious or critical violations', async () => {
    const unroute = proxy.route(
      (url, method) => method === 'GET' && url.pathname === '/api/objects',
      (_req, ctl) => ctl.fulfill({ status: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 'internal', message: 'internal error' } }) }),
    );
    try {
      await (await b.find('#refresh')).click();
      await b.find('#alert', { text: /Could not load your files/, ...WAIT });
      await expectClean(b, 'error');
    } finally {
      unroute();
    }
  });

  it('the narrow layout: no serious or critical violations', async () => {
    await b.setViewport(390, 844);
    try {
      await (await b.find('#alert-close')).click();
      await expectClean(b, 'narrow');
    } finally {
      await b.setViewport(1280, 900);
    }
  });

  it('uploads and downloads with the keyboard alone', async () => {
    await b.reload();
    await b.waitForText(`Signed in as ${user}`, WAIT);
    await b.waitFor(() => document.querySelector('#files-loading')?.hidden, null, WAIT);
    await hidePickers(b);
    // Record the page opening its file chooser, without letting the native dialog open
    // (a driver cannot pick in it); the file is then given to the input as a person
    // choosing it in the dialog would.
    await b.evaluate(() => {
      window.__chooserOpened = 0;
      document.querySelector('#files').addEventListener(
        'click',
        (ev) => {
          window.__chooserOpened++;
          ev.preventDefault();
        },
        { capture: true },
      );
      document.activeElement?.blur();
      window.scrollTo(0, 0);
    });

    const chooser = await tabTo(b, (f) => f.id === 'choose-files', 'the Choose files button');
    assert.ok(chooser.focusVisible && chooser.ring, `${ENGINE}: the focused Choose files button shows a focus ring`);
    await press(b, 'Enter');
    await b.waitFor(() => window.__chooserOpened > 0, null, { timeout: 10_000, message: 'Enter on Choose files opens the file chooser' });
    await press(b, 'Space');
    await b.waitFor(() => window.__chooserOpened > 1, null, { timeout: 10_000, message: 'Space on Choose files opens the file chooser' });

    const name = `keyboard ${run}.bin`;
    const file = path.join(tmp, name);
    const sha = randomFile(file, 300_000);
    await (await b.find('#files', { visible: false })).setFiles([file]);
    await b.find(`#files-body tr[data-name="${name}"]`, WAIT);

    const download = await tabTo(b, (f) => f.label === `Download ${name}`, `the Download button of ${name}`);
    assert.ok(download.focusVisible && download.ring, `${ENGINE}: the focused Download button shows a focus ring`);
    await press(b, 'Space');
    await b.find(`#files-body tr[data-name="${name}"] .status.ok`, { text: 'Downloaded and verified', ...WAIT });
    if (b.downloads) {
      const saved = path.join(b.downloads, name);
      for (let i = 0; i < 100 && !(fs.existsSync(saved) && sha256File(saved) === sha); i++) await b.sleep(100);
      assert.equal(fs.existsSync(saved) ? sha256File(saved) : 'missing', sha, `${ENGINE}: the keyboard download saved the same bytes`);
    }
  });

  it('makes a share link with the keyboard alone; Escape closes the dialog and gives the focus back', async () => {
    const name = `keyboard ${run}.bin`; // uploaded by the test before
    await b.evaluate(() => document.activeElement?.blur());
    const share = await tabTo(b, (f) => f.label === `Share ${name}`, `the Share button of ${name}`);
    assert.ok(share.focusVisible && share.ring, `${ENGINE}: the focused Share button shows a focus ring`);
    await press(b, 'Enter');
    await b.find('#share-dialog h2', { text: `Share “${name}”`, ...WAIT });
    assert.equal((await focused(b))?.id, 'link-expiry', `${ENGINE}: the focus moves into the dialog`);
    const create = await tabTo(b, (f) => f.id === 'link-create', 'the Create link button', 10);
    assert.ok(create.focusVisible && create.ring, `${ENGINE}: the focused Create link button shows a focus ring`);
    await press(b, 'Enter');
    await b.find('#link-status.ok', { text: 'Link created', ...WAIT });
    assert.match(await (await b.find('#link-url')).evaluate((el) => el.value), /\/s\/[0-9a-f]{32}#/);
    assert.equal((await focused(b))?.id, 'link-copy', `${ENGINE}: the focus moves to the Copy button`);
    await expectClean(b, 'share-dialog');
    await press(b, 'Escape');
    await b.waitFor(() => !document.querySelector('#share-dialog').open, null, { timeout: 10_000, message: 'Escape closes the Share dialog' });
    assert.equal((await focused(b))?.label, `Share ${name}`, `${ENGINE}: the focus returns to the Share button`);
  });

  it('had no script errors and no CSP violations', async () => {
    const problems = (await b.collectProblems()).filter((p) => !/Failed to load resource|status of 500/.test(p));
    assert.deepEqual(problems, []);
  });
});
