// End-to-end: the CipherDrop page in the browser named by CIPHERDROP_BROWSER (chromium,
// firefox, webkit; tests/lib/browser.mjs), every request through a loopback proxy
// (tests/lib/proxy.mjs), against a running `cipherdrop serve` (scripts/test-e2e.sh
// starts it and sets the environment):
//   CIPHERDROP_URL       the page, e.g. http://127.0.0.1:8123/
//   CIPHERDROP_DATA_DIR  the local mode's data directory (stored objects on disk);
//                        without it the storage checks go through the S3 API:
//   CIPHERDROP_S3_ENDPOINT, CIPHERDROP_BUCKET (moto: no signature needed)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch as launchBrowser, ENGINE, HAS } from '../lib/browser.mjs';
import { startProxy } from '../lib/proxy.mjs';
import { sha256, writeMarkedFile, walk } from './lib/files.mjs';
import { S3Inspector } from './lib/s3.mjs';

const URL_ = process.env.CIPHERDROP_URL;
const DATA_DIR = process.env.CIPHERDROP_DATA_DIR;
const ARTIFACTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../artifacts');
const MODE = DATA_DIR ? 'local' : 'moto';
const TAG = `${MODE}-${ENGINE}`; // screenshot names
const MiB = 1024 * 1024;
const WAIT = { timeout: 60_000 };
let proxy; // every browser's requests go through it: held, refused or failed here

if (!URL_) throw new Error('set CIPHERDROP_URL (scripts/test-e2e.sh does)');

const run = crypto.randomBytes(6).toString('hex');
const MARKER = `CIPHERDROP-PLAINTEXT-MARKER-${run}`;
const NAME_MARKER = `secretname${run}`;
const ALICE = `alice-${run}`;
const BOB = `bob-${run}`;

/** Stored objects: on the local mode's disk, or through moto's S3 API. */
const storage = DATA_DIR
  ? {
      async objects() {
        return walk(DATA_DIR).map((p) => ({ key: p, read: async () => fs.readFileSync(p) }));
      },
      async find(id) {
        // uploads/<owner>/<id> is the server's completion record, not the object.
        const hits = walk(DATA_DIR).filter((p) => path.basename(p) === id && !p.includes(`${path.sep}uploads${path.sep}`));
        assert.equal(hits.length, 1, `one stored file named ${id}`);
        return { read: async () => fs.readFileSync(hits[0]), write: async (b) => fs.writeFileSync(hits[0], b) };
      },
    }
  : new S3Inspector(process.env.CIPHERDROP_S3_ENDPOINT, process.env.CIPHERDROP_BUCKET);

/** A browser for these tests: through the proxy; Chromium's file picker hidden unless asked for. */
const launch = (opts = {}) => launchBrowser({ proxy: proxy.address, hideFilePicker: true, ...opts });

async function signIn(page, user, screenshot) {
  await page.goto(URL_);
  const name = await page.find('input', { text: 'Your name' });
  if (screenshot) await page.screenshot(screenshot);
  await name.type(user);
  await page.click('button', { text: /^Sign in$/ });
  await page.waitForText(`Signed in as ${user}`, { within: '#account' });
  await page.find('h2', { text: 'Your files' });
  await page.waitGone('#files-loading');
}

const rowCss = (name) => `#files-body tr[data-name="${name}"]`;
const rowCount = (page) => page.evaluate(() => document.querySelectorAll('#files-body tr').length);
const clickIn = (page, name, button) => page.click(`${rowCss(name)} button`, { text: button });
const waitRowText = (page, name, text) => page.find(`${rowCss(name)} .status`, { text });

/**
 * Waits until the browser has saved `name` in its downloads directory (no partial
 * file left) and returns its bytes.
 */
async function savedFile(b, name, { timeout = 60_000 } = {}) {
  const file = path.join(b.downloads, name);
  const end = Date.now() + timeout;
  for (;;) {
    const names = fs.readdirSync(b.downloads);
    // Chromium: "<name>.crdownload"; Firefox: "<stem>.<random>.<ext>.part".
    const stem = name.replace(/\.[^.]*$/, '');
    const partial = names.some((n) => n.startsWith(stem) && /\.(crdownload|part|download)$/.test(n));
    if (names.includes(name) && !partial) return fs.readFileSync(file);
    if (Date.now() > end) throw new Error(`${ENGINE}: ${name} was not saved in ${b.downloads} (there: ${names.join(', ')})`);
    await b.sleep(100);
  }
}

describe(`CipherDrop page (${MODE} mode)`, () => {
  let tmp;
  let alice;
  const files = [];
  const ids = {};

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-e2e-files-'));
    for (const [name, size] of [
      [`${NAME_MARKER}-empty.txt`, 0],
      // Not ASCII, with the characters RFC 8187 must escape: the download's
      // Content-Disposition has to carry it intact.
      [`${NAME_MARKER}-one megabyte (l'été, 日本語).txt`, 1_000_000],
      [`${NAME_MARKER}-multipart.bin`, 12 * MiB],
    ]) {
      const file = path.join(tmp, name);
      const buf = writeMarkedFile(file, size, MARKER);
      files.push({ name, file, size, sha: sha256(buf) });
    }
    proxy = await startProxy();
    alice = await launch();
  });

  after(async () => {
    await alice?.close();
    await proxy?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('signs in and uploads three files (empty, 1 MB, multipart) with progress', async () => {
    const page = alice;
    await signIn(page, ALICE, path.join(ARTIFACTS, `page-sign-in-${TAG}.png`));
    await page.waitForText('No files yet');
    await (await page.find('#files', { visible: false })).setFiles(files.map((f) => f.file));
    // Each file gets a progress row with a phase and a cancel button.
    await page.find('#transfers li', { visible: false });
    for (const f of files) await page.find(rowCss(f.name));
    assert.equal(await rowCount(page), 3, 'the list holds exactly the three files');
    for (const f of files) ids[f.name] = await (await page.find(rowCss(f.name))).attr('data-id');
    await page.waitFor(() => document.querySelectorAll('#transfers li.done').length >= 3, null, { message: 'three uploads done' });
    assert.equal(await page.evaluate(() => document.querySelectorAll('#transfers li.failed').length), 0, 'no upload failed');
    // Sizes are plaintext sizes (from the encrypted name), not ciphertext sizes.
    assert.equal((await (await page.find(`${rowCss(files[0].name)} td.num`)).text()).trim(), '0 B');
    assert.equal((await (await page.find(`${rowCss(files[2].name)} td.num`)).text()).trim(), '13 MB'); // 12 MiB in decimal units
    await page.screenshot(path.join(ARTIFACTS, `page-after-uploads-${TAG}.png`));
    await page.setViewport(380, 900);
    await page.screenshot(path.join(ARTIFACTS, `page-narrow-${TAG}.png`));
    await page.setViewport(1280, 900);
  });

  it('lists the files after a reload, names decrypted in the browser', async () => {
    const page = alice;
    await page.reload();
    for (const f of files) await page.find(rowCss(f.name));
    assert.equal(await rowCount(page), 3);
  });

  it('downloads each file with the same SHA-256, streamed to disk by the service worker', async () => {
    const page = alice;
    assert.equal(await (await page.find('#save-note', { visible: false })).visible(), false, 'no big-file warning: this browser can stream');
    for (const f of files) {
      await clickIn(page, f.name, /^Download/);
      await waitRowText(page, f.name, 'Downloaded and verified');
      assert.equal(await (await page.find(rowCss(f.name))).attr('data-saved-with'), 'service-worker');
      // Saved under its own name (the service worker's Content-Disposition), same bytes.
      assert.equal(sha256(await savedFile(page, f.name)), f.sha, `${f.name}: same bytes`);
    }
    await page.screenshot(path.join(ARTIFACTS, `page-downloaded-${TAG}.png`));
  });

  it('the service worker answers only its own downloads: the page and other URLs go to the network', async () => {
    const page = alice;
    const reg = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration('./_download/');
      return { scope: r?.scope, active: r?.active?.state, controlled: navigator.serviceWorker.controller !== null };
    });
    assert.deepEqual(reg, { scope: new URL('_download/', URL_).href, active: 'activated', controlled: false });
    // A URL in its scope that the page did not announce: the server's own answer
    // reaches the browser (the proxy sees the request: the worker did not answer it).
    const other = new URL(`_download/${'A'.repeat(22)}`, URL_).href;
    const seen = proxy.requests.length;
    await page.goto(other);
    assert.ok(proxy.requests.slice(seen).some((r) => r.url === other), 'the navigation went to the network');
    // The server's JSON error (Firefox shows it in its JSON viewer: compare the code).
    const body = await page.evaluate(() => document.body?.textContent ?? '');
    const { error } = await (await fetch(other)).json();
    assert.ok(body.includes(error.code), `the server's answer (${error.code}), not the worker's: ${body.slice(0, 200)}`);
    await page.goto(URL_);
    await page.find(rowCss(files[0].name));
  });

  it('falls back to saving from memory when the service worker never starts the download', async () => {
    const lost = await launch();
    try {
      const page = lost;
      await signIn(page, ALICE);
      // As if the worker had lost the page's message: it never hears of the download,
      // so it never asks for data.
      await page.evaluate(() => {
        window.__warnings = [];
        const warn = console.warn;
        console.warn = (...a) => {
          window.__warnings.push(a.join(' '));
          return warn.apply(console, a);
        };
        const post = ServiceWorker.prototype.postMessage;
        ServiceWorker.prototype.postMessage = function (message, ...rest) {
          if (message && typeof message === 'object' && 'download' in message) return undefined;
          return post.call(this, message, ...rest);
        };
      });
      const f = files[1];
      await clickIn(page, f.name, /^Download/);
      await waitRowText(page, f.name, 'Downloaded and verified');
      assert.equal(await (await page.find(rowCss(f.name))).attr('data-saved-with'), 'blob');
      assert.equal(sha256(await savedFile(page, f.name)), f.sha, 'same bytes');
      const warnings = await page.evaluate(() => window.__warnings);
      assert.ok(warnings.some((w) => /did not start the download; saving from memory/.test(w)), warnings.join('\n'));
      assert.deepEqual(await lost.collectProblems(), []);
    } finally {
      await lost.close();
    }
  });

  it('saves from memory (a Blob) where the service worker is unavailable, and says big files need another browser', async () => {
    // The worker's script cannot be fetched (a fresh profile registers it at load).
    const unroute = proxy.route((url) => url.href === new URL('sw.js', URL_).href, (req, ctl) => ctl.fulfill({ status: 404, body: 'not here' }));
    const blocked = await launch();
    try {
      const page = blocked;
      await signIn(page, ALICE);
      const note = await page.find('#save-note');
      assert.match(await note.text(), /files up to \d+ MB are decrypted in memory/);
      const f = files[1];
      await clickIn(page, f.name, /^Download/);
      await waitRowText(page, f.name, 'Downloaded and verified');
      assert.equal(await (await page.find(rowCss(f.name))).attr('data-saved-with'), 'blob');
      assert.equal(sha256(await savedFile(page, f.name)), f.sha, 'same bytes, saved under its name');
      await page.screenshot(path.join(ARTIFACTS, `page-no-service-worker-${TAG}.png`));
      assert.deepEqual(await blocked.collectProblems(), []);
    } finally {
      unroute();
      await blocked.close();
    }
  });

  it('asks before leaving the page while a download is running', async () => {
    const other = await launch();
    let release;
    const held = new Promise((res) => (release = res));
    const f = files[2];
    // Hold the stored object's GET, so the download is still running.
    const unroute = proxy.route(
      (url, method) => method === 'GET' && url.pathname.endsWith(ids[f.name]) && !url.pathname.startsWith('/api/'),
      async (req, ctl) => {
        await held;
        await ctl.continue();
      },
    );
    try {
      const page = other;
      await signIn(page, ALICE);
      await clickIn(page, f.name, /^Download/);
      await waitRowText(page, f.name, /Downloading and verifying/);
      // Leaving asks first: the page cancels beforeunload. (Classic WebDriver accepts a
      // beforeunload prompt by itself, so the browser's dialog cannot be answered here;
      // the event the browser would ask on is dispatched instead.)
      const asks = await page.evaluate(() => {
        const e = new Event('beforeunload', { cancelable: true });
        window.dispatchEvent(e);
        return e.defaultPrevented || (typeof e.returnValue === 'string' && e.returnValue !== '');
      });
      assert.equal(asks, true, 'the page asks before leaving');
      release();
      await waitRowText(page, f.name, 'Downloaded and verified');
    } finally {
      release();
      unroute();
      await other.close();
    }
  });

  it('streams a download to disk through the File System Access API (Chromium only: the others lack it)', { skip: !HAS.fileSystemAccess && `${ENGINE} has no showSaveFilePicker` }, async () => {
    const fsa = await launch({ hideFilePicker: false });
    try {
      const page = fsa;
      await signIn(page, ALICE);
      assert.equal(await page.evaluate(() => typeof window.showSaveFilePicker), 'function');
      // A stand-in for the save dialog: the page writes to this stream as chunks verify.
      await page.evaluate(() => {
        window.__saved = {};
        window.showSaveFilePicker = async ({ suggestedName }) => {
          const parts = [];
          return {
            getFile: async () => new File(parts, suggestedName),
            remove: async () => {},
            createWritable: async () =>
              new WritableStream({
                write: (chunk) => {
                  parts.push(chunk.slice());
                },
                close: async () => {
                  const digest = await crypto.subtle.digest('SHA-256', await new Blob(parts).arrayBuffer());
                  window.__saved[suggestedName] = {
                    chunks: parts.length,
                    sha: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''),
                  };
                },
              }),
          };
        };
      });
      const f = files[2];
      await clickIn(page, f.name, /^Download/);
      await waitRowText(page, f.name, 'Downloaded and verified');
      const saved = await page.evaluate((n) => window.__saved[n], f.name);
      assert.equal(saved.sha, f.sha, 'same bytes');
      assert.ok(saved.chunks > 1, 'written as a stream, not in one piece');
      assert.equal(await (await page.find('#save-note', { visible: false })).visible(), false, 'no big-file warning here');
    } finally {
      await fsa.close();
    }
  });

  it('stores no plaintext: neither the marker in the files nor their names', async () => {
    const objects = await storage.objects();
    const ours = Object.values(ids);
    for (const id of ours) assert.ok(objects.some((o) => o.key.endsWith(id)), `object ${id} is stored`);
    for (const o of objects) {
      assert.ok(!o.key.includes(NAME_MARKER), `no file name in the key ${o.key}`);
      const bytes = await o.read();
      assert.equal(bytes.indexOf(MARKER), -1, `no marker in ${o.key}`);
      assert.equal(bytes.indexOf(NAME_MARKER), -1, `no file name in ${o.key}`);
      assert.equal(bytes.indexOf(Buffer.from(NAME_MARKER, 'utf16le')), -1, `no UTF-16 name in ${o.key}`);
    }
    // The stored objects are ciphertext: 1 MB of plaintext is more than 1 MB stored.
    const big = await (await storage.find(ids[files[1].name])).read();
    assert.ok(big.length > files[1].size);
  });

  it('refuses a file changed in its first chunk before offering any download', async () => {
    const page = alice;
    const f = files[1];
    const stored = await storage.find(ids[f.name]);
    const bytes = await stored.read();
    bytes[Math.floor(bytes.length / 8)] ^= 0x01; // in the first 256 KiB chunk
    await stored.write(bytes);
    const before = fs.readdirSync(page.downloads);
    await clickIn(page, f.name, /^Download/);
    const status = await waitRowText(page, f.name, 'This file was changed after it was encrypted');
    assert.match(await status.text(), /Nothing was saved/);
    await page.sleep(1000);
    assert.deepEqual(fs.readdirSync(page.downloads), before, 'no download was offered');
  });

  // WebKit (MiniBrowser 2.50) ends a service-worker download whose stream errors as if
  // it had finished: the truncated (verified) part stays under the file's name. The
  // page says so and asks the person to delete it; no complete file is kept in any
  // engine. The 'nothing under its name' check stays a todo in WebKit.
  const TRUNCATED_SAVES = ENGINE === 'webkit' && 'WebKit keeps a failed streamed download, truncated, under its name';
  it('refuses a file changed near its end: the streamed download fails and no complete file is saved', { todo: TRUNCATED_SAVES }, async () => {
    const page = alice;
    const f = files[2];
    const stored = await storage.find(ids[f.name]);
    const bytes = await stored.read();
    bytes[bytes.length - 1000] ^= 0x01; // in the last chunk: most of the file has streamed out
    await stored.write(bytes);
    const intact = sha256(fs.readFileSync(f.file));
    fs.rmSync(path.join(page.downloads, f.name), { force: true }); // saved by an earlier test
    await clickIn(page, f.name, /^Download/);
    const status = await waitRowText(page, f.name, 'This file was changed after it was encrypted');
    // The browser's download had begun: the page cannot promise nothing was kept.
    assert.match(await status.text(), /stopped before the end: if your browser kept a file for it, delete that file, it is incomplete/);
    assert.equal(await (await page.find(rowCss(f.name))).attr('data-saved-with'), null);
    await page.screenshot(path.join(ARTIFACTS, `page-changed-file-${TAG}.png`));
    // The browser failed the streamed download: no file of that name (a partial file
    // the browser keeps for a failed download must not be the whole file).
    await page.sleep(1500);
    const left = fs.readdirSync(page.downloads).map((n) => ({ n, size: fs.statSync(path.join(page.downloads, n)).size }));
    assert.ok(!left.some(({ n }) => sha256(fs.readFileSync(path.join(page.downloads, n))) === intact), 'no complete file');
    // Firefox leaves an empty placeholder under the name (and the partial data in a
    // .part file beside it); nothing of the file may be under its name.
    assert.ok(!left.some(({ n, size }) => n === f.name && size > 0), `nothing saved as ${f.name}: ${JSON.stringify(left)}`);
  });

  it('refuses the same file where the page saves from memory: nothing is offered at all', async () => {
    const f = files[2]; // changed near its end by the test before
    const unroute = proxy.route((url) => url.href === new URL('sw.js', URL_).href, (req, ctl) => ctl.fulfill({ status: 404, body: 'not here' }));
    const blocked = await launch();
    try {
      const b = blocked;
      await signIn(b, ALICE);
      await b.find('#save-note');
      await clickIn(b, f.name, /^Download/);
      const st = await waitRowText(b, f.name, 'This file was changed after it was encrypted');
      assert.match(await st.text(), /Nothing was saved/);
      await b.sleep(1000);
      assert.deepEqual(fs.readdirSync(b.downloads), [], 'no download was offered');
    } finally {
      unroute();
      await blocked.close();
    }
  });

  it('shows a second user none of the first user’s files; they cannot open them by id', async () => {
    const bob = await launch();
    try {
      const page = bob;
      await signIn(page, BOB);
      await page.waitForText('No files yet');
      assert.equal(await rowCount(page), 0);
      const id = ids[files[2].name];
      const statuses = await page.evaluate(async (objectId) => {
        const token = sessionStorage.getItem('cipherdrop.token');
        const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
        const get = (p) => fetch(p, { headers: h }).then((r) => r.status);
        const key = { header: 'Q0lQSERST1AB' };
        return {
          object: await get(`/api/objects/${objectId}`),
          download: await get(`/api/objects/${objectId}/download`),
          keys: await fetch(`/api/objects/${objectId}/keys`, { method: 'POST', headers: h, body: JSON.stringify(key) }).then((r) => r.status),
          remove: await fetch(`/api/objects/${objectId}`, { method: 'DELETE', headers: h }).then((r) => r.status),
        };
      }, id);
      assert.deepEqual(statuses, { object: 404, download: 404, keys: 404, remove: 404 });
      assert.deepEqual((await bob.collectProblems()).filter((p) => !/404/.test(p)), []);
    } finally {
      await bob.close();
    }
    // Still there for its owner.
    await alice.click('button', { text: 'Refresh' });
    await alice.find(rowCss(files[2].name));
  });

  it('deletes a file', async () => {
    const page = alice;
    const f = files[0];
    let question;
    if (ENGINE === 'webkit') {
      // WebKitWebDriver does not report this confirm() on a quiet machine (GET
      // /alert/text keeps answering "no such alert" while the page waits in it; seen
      // 2026-12-02, where an in-page check showed confirm called with the right words):
      // the page's question is read by standing in for confirm() and answering yes.
      // Here WebKit's first click can reach no button: confirm() was not called in
      // 10 s, once in CI and again in a WebKit-only run (2026-12-02), right after
      // the test before closed its second browser; the second click worked. A
      // person would click again; so does the test, and only when the question was
      // not asked (so nothing was deleted).
      for (let attempt = 0; attempt < 3 && !question; attempt++) {
        await page.evaluate(() => {
          window.cdAsked ??= [];
          window.confirm = (m) => window.cdAsked.push(m) > 0;
        });
        await clickIn(page, f.name, /^Delete/);
        for (let i = 0; i < 50 && !question; i++) {
          question = (await page.evaluate(() => window.cdAsked ?? null))?.[0];
          if (!question) await page.sleep(100);
        }
        if (!question) console.log(`# webkit: Delete clicked, no question asked in 5 s (attempt ${attempt + 1})`);
      }
    } else {
      await clickIn(page, f.name, /^Delete/);
      question = (await page.waitForDialog()).text;
    }
    assert.match(question ?? '', /^Delete “.*”\? This cannot be undone\.$/);
    if (ENGINE !== 'webkit') await page.acceptDialog();
    await page.waitGone(rowCss(f.name));
    await page.waitForText(`Deleted “${f.name}”.`);
    // uploads/<owner>/<id> is the server's record of the finished upload, not the object.
    const objects = (await storage.objects()).filter((o) => !/(^|\/)uploads\//.test(o.key));
    assert.ok(!objects.some((o) => o.key.endsWith(ids[f.name])), 'the object is gone from storage');
  });

  it('says "the upload link expired — retrying" when storage refuses a part, and finishes', async () => {
    const page = alice;
    const f = { name: `retried-${run}.bin`, size: 12 * MiB };
    f.file = path.join(tmp, f.name);
    f.sha = sha256(writeMarkedFile(f.file, f.size, MARKER));
    // The first part PUT is answered 403, as S3 answers an expired presigned URL.
    let refused = 0;
    const unroute = proxy.route(
      (url, method) => method === 'PUT' && url.searchParams.has('partNumber'),
      (req, ctl) => {
        if (refused > 0) return ctl.continue(); // parts run in parallel: refuse only one
        refused++;
        return ctl.fulfill({
          status: 403,
          headers: { 'content-type': 'application/xml' },
          body: '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
        });
      },
    );
    try {
      await (await page.find('#files', { visible: false })).setFiles(f.file);
      await page.find('#transfers li', { text: 'The upload link expired — retrying' });
      await page.find(rowCss(f.name));
      assert.equal(refused, 1);
      assert.equal(await (await page.find('#transfers li', { text: f.name })).evaluate((li) => li.classList.contains('failed')), false);
      await clickIn(page, f.name, /^Download/);
      await waitRowText(page, f.name, 'Downloaded and verified');
      assert.equal(sha256(await savedFile(page, f.name)), f.sha, 'same bytes after the retried part');
    } finally {
      unroute();
    }
  });

  it('cancels an upload', async () => {
    const page = alice;
    const name = `cancel-me-${run}.bin`;
    const big = path.join(tmp, name);
    writeMarkedFile(big, 64 * MiB, MARKER);
    // Parts are held a while, so the upload is still running when it is cancelled
    // (unthrottled, 64 MiB can finish before the first speed is shown).
    const unroute = proxy.route(
      (url, method) => method === 'PUT' && url.searchParams.has('partNumber') && url.searchParams.has('uploadId'),
      async (req, ctl) => {
        await new Promise((res) => setTimeout(res, 1500));
        await ctl.continue().catch(() => {}); // cancelled meanwhile
      },
    );
    try {
      await (await page.find('#files', { visible: false })).setFiles(big);
      await page.find('#transfers li', { text: name });
      // Progress shows the phase, speed and time left while it runs.
      await page.find('#transfers li .transfer-rate', { text: /\/s · .* left/ });
      assert.match(await (await page.find('#transfers li .transfer-phase', { text: /^(Encrypting|Uploading)$/ })).text(), /^(Encrypting|Uploading)$/);
      await page.screenshot(path.join(ARTIFACTS, `page-uploading-${TAG}.png`));
      await page.click('#transfers li button', { text: `Cancel ${name}` });
      await page.find('#transfers li', { text: 'Cancelled' });
    } finally {
      unroute();
    }
    await page.sleep(500);
    await page.click('button', { text: 'Refresh' });
    await page.waitGone('#files-loading');
    assert.equal(await page.exists(rowCss(name), { visible: false }), false, 'a cancelled file is not listed');
  });

  it('had no script errors and no CSP violations', async () => {
    // 404: the second user's probes; 403: the part refused on purpose above.
    const real = (await alice.collectProblems()).filter((p) => !/status of 40[34]/.test(p));
    assert.deepEqual(real, []);
  });
});
