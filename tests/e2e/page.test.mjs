// End-to-end: the CipherDrop page in headless Chromium against a running
// `cipherdrop serve` (scripts/test-e2e.sh starts it and sets the environment):
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
import { launch } from './lib/browser.mjs';
import { sha256, writeMarkedFile, walk } from './lib/files.mjs';
import { S3Inspector } from './lib/s3.mjs';

const URL_ = process.env.CIPHERDROP_URL;
const DATA_DIR = process.env.CIPHERDROP_DATA_DIR;
const ARTIFACTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../artifacts');
const MODE = DATA_DIR ? 'local' : 'moto';
const MiB = 1024 * 1024;
const WAIT = { timeout: 60_000 };

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
        const hits = walk(DATA_DIR).filter((p) => path.basename(p) === id);
        assert.equal(hits.length, 1, `one stored file named ${id}`);
        return { read: async () => fs.readFileSync(hits[0]), write: async (b) => fs.writeFileSync(hits[0], b) };
      },
    }
  : new S3Inspector(process.env.CIPHERDROP_S3_ENDPOINT, process.env.CIPHERDROP_BUCKET);

async function signIn(page, user, screenshot) {
  await page.goto(URL_);
  await page.getByLabel('Your name').waitFor(WAIT);
  if (screenshot) await page.screenshot({ path: screenshot });
  await page.getByLabel('Your name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as ${user}`).waitFor(WAIT);
  await page.getByRole('heading', { name: 'Your files' }).waitFor(WAIT);
  await page.locator('#files-loading').waitFor({ state: 'hidden', ...WAIT });
}

const row = (page, name) => page.locator(`#files-body tr[data-name="${name}"]`);

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
    alice = await launch();
  });

  after(async () => {
    await alice?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('signs in and uploads three files (empty, 1 MB, multipart) with progress', async () => {
    const { page } = alice;
    await signIn(page, ALICE, path.join(ARTIFACTS, `page-sign-in-${MODE}.png`));
    await page.getByText('No files yet').waitFor(WAIT);
    await page.locator('#files').setInputFiles(files.map((f) => f.file));
    // Each file gets a progress row with a phase and a cancel button.
    await page.locator('#transfers li').first().waitFor(WAIT);
    assert.ok((await page.locator('#transfers li').count()) >= 1);
    for (const f of files) await row(page, f.name).waitFor(WAIT);
    assert.equal(await page.locator('#files-body tr').count(), 3, 'the list holds exactly the three files');
    for (const f of files) ids[f.name] = await row(page, f.name).getAttribute('data-id');
    await page.locator('#transfers li.done').nth(2).waitFor(WAIT);
    assert.equal(await page.locator('#transfers li.failed').count(), 0, 'no upload failed');
    // Sizes are plaintext sizes (from the encrypted name), not ciphertext sizes.
    assert.equal((await row(page, files[0].name).locator('td.num').textContent()).trim(), '0 B');
    assert.equal((await row(page, files[2].name).locator('td.num').textContent()).trim(), '12 MB');
    await page.screenshot({ path: path.join(ARTIFACTS, `page-after-uploads-${MODE}.png`), fullPage: true });
    await page.setViewportSize({ width: 380, height: 900 });
    await page.screenshot({ path: path.join(ARTIFACTS, `page-narrow-${MODE}.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('lists the files after a reload, names decrypted in the browser', async () => {
    const { page } = alice;
    await page.reload();
    for (const f of files) await row(page, f.name).waitFor(WAIT);
    assert.equal(await page.locator('#files-body tr').count(), 3);
  });

  it('downloads each file with the same SHA-256, streamed to disk by the service worker', async () => {
    const { page } = alice;
    assert.equal(await page.locator('#save-note').isVisible(), false, 'no big-file warning: this browser can stream');
    const helperUrl = new URL('_download/', URL_).href;
    for (const f of files) {
      const r = row(page, f.name);
      const [download] = await Promise.all([page.waitForEvent('download', WAIT), r.getByRole('button', { name: /^Download/ }).click()]);
      assert.ok(download.url().startsWith(helperUrl), `${f.name}: came from the service worker (${download.url()})`);
      assert.equal(download.suggestedFilename(), f.name);
      const saved = path.join(tmp, `downloaded-${f.name}`);
      await download.saveAs(saved);
      assert.equal(await download.failure(), null);
      assert.equal(sha256(fs.readFileSync(saved)), f.sha, `${f.name}: same bytes`);
      await r.getByText('Downloaded and verified').waitFor(WAIT);
      assert.equal(await r.getAttribute('data-saved-with'), 'service-worker');
    }
    await page.screenshot({ path: path.join(ARTIFACTS, `page-downloaded-${MODE}.png`), fullPage: true });
  });

  it('the service worker answers only its own downloads: the page and other URLs go to the network', async () => {
    const { page, context } = alice;
    const reg = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration('./_download/');
      return { scope: r?.scope, active: r?.active?.state, controlled: navigator.serviceWorker.controller !== null };
    });
    assert.deepEqual(reg, { scope: new URL('_download/', URL_).href, active: 'activated', controlled: false });
    // A URL in its scope that the page did not announce: the server's own answer.
    const other = await context.newPage();
    try {
      const res = await other.goto(new URL(`_download/${'A'.repeat(22)}`, URL_).href);
      assert.equal(res.status(), 404);
      assert.equal(res.fromServiceWorker(), false);
    } finally {
      await other.close();
    }
  });

  it('falls back to saving from memory when the service worker never starts the download', async () => {
    const lost = await launch();
    try {
      const { page, context } = lost;
      // As if the worker had lost the page's message: it never hears of the download,
      // so it never asks for data.
      await context.addInitScript(() => {
        const post = ServiceWorker.prototype.postMessage;
        ServiceWorker.prototype.postMessage = function (message, ...rest) {
          if (message && typeof message === 'object' && 'download' in message) return undefined;
          return post.call(this, message, ...rest);
        };
      });
      const warnings = [];
      page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
      await signIn(page, ALICE);
      const f = files[1];
      const r = row(page, f.name);
      const [download] = await Promise.all([page.waitForEvent('download', WAIT), r.getByRole('button', { name: /^Download/ }).click()]);
      assert.ok(download.url().startsWith('blob:'), `a Blob download (${download.url()})`);
      const saved = path.join(tmp, `fallback-downloaded-${f.name}`);
      await download.saveAs(saved);
      assert.equal(sha256(fs.readFileSync(saved)), f.sha, 'same bytes');
      await r.getByText('Downloaded and verified').waitFor(WAIT);
      assert.equal(await r.getAttribute('data-saved-with'), 'blob');
      assert.ok(warnings.some((w) => /did not start the download; saving from memory/.test(w)), warnings.join('\n'));
      assert.deepEqual(lost.problems, []);
    } finally {
      await lost.close();
    }
  });

  it('saves from memory (a Blob) where service workers are unavailable, and says big files need another browser', async () => {
    const blocked = await launch({ serviceWorkers: 'block' });
    try {
      const { page } = blocked;
      await signIn(page, ALICE);
      await page.locator('#save-note').waitFor({ state: 'visible', ...WAIT });
      assert.match(await page.locator('#save-note').textContent(), /files up to 512 MB are decrypted in memory/);
      const f = files[1];
      const r = row(page, f.name);
      const [download] = await Promise.all([page.waitForEvent('download', WAIT), r.getByRole('button', { name: /^Download/ }).click()]);
      assert.ok(download.url().startsWith('blob:'), `a Blob download (${download.url()})`);
      assert.equal(download.suggestedFilename(), f.name);
      const saved = path.join(tmp, `blob-downloaded-${f.name}`);
      await download.saveAs(saved);
      assert.equal(sha256(fs.readFileSync(saved)), f.sha, 'same bytes');
      await r.getByText('Downloaded and verified').waitFor(WAIT);
      assert.equal(await r.getAttribute('data-saved-with'), 'blob');
      await page.screenshot({ path: path.join(ARTIFACTS, `page-no-service-worker-${MODE}.png`), fullPage: true });
      assert.deepEqual(blocked.problems, []);
    } finally {
      await blocked.close();
    }
  });

  it('asks before leaving the page while a download is running', async () => {
    const other = await launch();
    try {
      const { page, context } = other;
      await signIn(page, ALICE);
      const f = files[2];
      // Hold the stored object's GET, so the download is still running.
      let release;
      const held = new Promise((res) => (release = res));
      await context.route(
        (url) => url.pathname.endsWith(ids[f.name]) && !url.pathname.startsWith('/api/'),
        async (route) => {
          await held;
          await route.continue().catch(() => {});
        },
      );
      await row(page, f.name).getByRole('button', { name: /^Download/ }).click();
      await row(page, f.name).getByText(/Downloading and verifying/).waitFor(WAIT);
      // Leaving (here: a reload) asks first; staying keeps the download going.
      const asked = page.waitForEvent('dialog', WAIT);
      await page.evaluate(() => setTimeout(() => location.reload(), 0));
      const dialog = await asked;
      assert.equal(dialog.type(), 'beforeunload');
      await dialog.dismiss(); // stay
      release();
      await row(page, f.name).getByText('Downloaded and verified').waitFor(WAIT);
    } finally {
      await other.close();
    }
  });

  it('streams a download to disk through the File System Access API where the browser has it', async () => {
    const fsa = await launch({ blobDownloads: false });
    try {
      const { page, context } = fsa;
      // A stand-in for the save dialog: the page writes to this stream as chunks verify.
      await context.addInitScript(() => {
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
      await signIn(page, ALICE);
      const f = files[2];
      await row(page, f.name).getByRole('button', { name: /^Download/ }).click();
      await row(page, f.name).getByText('Downloaded and verified').waitFor(WAIT);
      const saved = await page.evaluate((n) => window.__saved[n], f.name);
      assert.equal(saved.sha, f.sha, 'same bytes');
      assert.ok(saved.chunks > 1, 'written as a stream, not in one piece');
      assert.equal(await page.locator('#save-note').isVisible(), false, 'no big-file warning here');
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
    const { page } = alice;
    const f = files[1];
    const stored = await storage.find(ids[f.name]);
    const bytes = await stored.read();
    bytes[Math.floor(bytes.length / 8)] ^= 0x01; // in the first 256 KiB chunk
    await stored.write(bytes);
    let downloads = 0;
    const count = () => downloads++;
    page.on('download', count);
    const r = row(page, f.name);
    await r.getByRole('button', { name: /^Download/ }).click();
    await r.getByText('This file was changed after it was encrypted').waitFor(WAIT);
    assert.match(await r.locator('.status').textContent(), /Nothing was saved/);
    await page.waitForTimeout(1000);
    page.off('download', count);
    assert.equal(downloads, 0, 'no download was offered');
  });

  it('refuses a file changed near its end: the streamed download fails and no complete file is saved', async () => {
    const { page } = alice;
    const f = files[2];
    const stored = await storage.find(ids[f.name]);
    const bytes = await stored.read();
    bytes[bytes.length - 1000] ^= 0x01; // in the last chunk: most of the file has streamed out
    await stored.write(bytes);
    const before = new Set(fs.readdirSync(alice.downloads));
    const r = row(page, f.name);
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), r.getByRole('button', { name: /^Download/ }).click()]);
    assert.ok(download.url().startsWith(new URL('_download/', URL_).href), download.url());
    await r.getByText('This file was changed after it was encrypted').waitFor(WAIT);
    assert.match(await r.locator('.status').textContent(), /Nothing was saved/);
    assert.equal(await r.getAttribute('data-saved-with'), null);
    await page.screenshot({ path: path.join(ARTIFACTS, `page-changed-file-${MODE}.png`), fullPage: true });
    const failure = await download.failure();
    assert.notEqual(failure, null, 'the browser failed the download');
    await assert.rejects(download.path(), 'a failed download has no file');
    const left = fs
      .readdirSync(alice.downloads)
      .filter((n) => !before.has(n))
      .map((n) => `${n}: ${fs.statSync(path.join(alice.downloads, n)).size}`);
    assert.deepEqual(left, [], 'nothing of the failed download is left on disk');

    // The same file where the page saves from memory: refused, nothing offered at all.
    const blocked = await launch({ serviceWorkers: 'block' });
    try {
      const b = blocked.page;
      await signIn(b, ALICE);
      let downloads = 0;
      b.on('download', () => downloads++);
      const br = row(b, f.name);
      await br.getByRole('button', { name: /^Download/ }).click();
      await br.getByText('This file was changed after it was encrypted').waitFor(WAIT);
      assert.match(await br.locator('.status').textContent(), /Nothing was saved/);
      await b.waitForTimeout(1000);
      assert.equal(downloads, 0, 'no download was offered');
    } finally {
      await blocked.close();
    }
  });

  it('shows a second user none of the first user’s files; they cannot open them by id', async () => {
    const bob = await launch();
    try {
      const { page } = bob;
      await signIn(page, BOB);
      await page.getByText('No files yet').waitFor(WAIT);
      assert.equal(await page.locator('#files-body tr').count(), 0);
      const id = ids[files[2].name];
      const statuses = await page.evaluate(async (objectId) => {
        const token = sessionStorage.getItem('cipherdrop.token');
        const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
        const get = (p) => fetch(p, { headers: h }).then((r) => r.status);
        const key = { wrapped_keys: [{ provider_id: 'raw-aes', provider_info: 'AA==', blob: 'AA==' }] };
        return {
          object: await get(`/api/objects/${objectId}`),
          download: await get(`/api/objects/${objectId}/download`),
          dataKey: await fetch(`/api/objects/${objectId}/data-key`, { method: 'POST', headers: h, body: JSON.stringify(key) }).then((r) => r.status),
          remove: await fetch(`/api/objects/${objectId}`, { method: 'DELETE', headers: h }).then((r) => r.status),
        };
      }, id);
      assert.deepEqual(statuses, { object: 404, download: 404, dataKey: 404, remove: 404 });
      assert.deepEqual(bob.problems.filter((p) => !/404/.test(p)), []);
    } finally {
      await bob.close();
    }
    // Still there for its owner.
    await alice.page.getByRole('button', { name: 'Refresh' }).click();
    await row(alice.page, files[2].name).waitFor(WAIT);
  });

  it('deletes a file', async () => {
    const { page } = alice;
    const f = files[0];
    page.once('dialog', (d) => d.accept());
    await row(page, f.name).getByRole('button', { name: /^Delete/ }).click();
    await row(page, f.name).waitFor({ state: 'detached', ...WAIT });
    await page.getByText(`Deleted “${f.name}”.`).waitFor(WAIT);
    const objects = await storage.objects();
    assert.ok(!objects.some((o) => o.key.endsWith(ids[f.name])), 'the object is gone from storage');
  });

  it('says "the upload link expired — retrying" when storage refuses a part, and finishes', async () => {
    const { page } = alice;
    const f = { name: `retried-${run}.bin`, size: 12 * MiB };
    f.file = path.join(tmp, f.name);
    f.sha = sha256(writeMarkedFile(f.file, f.size, MARKER));
    // The first part PUT is answered 403, as S3 answers an expired presigned URL.
    let refused = 0;
    await page.route(
      (url) => url.searchParams.has('partNumber'),
      (route) => {
        if (route.request().method() !== 'PUT' || refused > 0) return route.fallback();
        refused++;
        return route.fulfill({
          status: 403,
          headers: { 'access-control-allow-origin': '*', 'content-type': 'application/xml' },
          body: '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
        });
      },
    );
    try {
      await page.locator('#files').setInputFiles(f.file);
      const t = page.locator('#transfers li', { hasText: f.name });
      await t.getByText('The upload link expired — retrying').waitFor(WAIT);
      await row(page, f.name).waitFor(WAIT);
      assert.equal(refused, 1);
      assert.equal(await t.evaluate((li) => li.classList.contains('failed')), false);
      const r = row(page, f.name);
      const [download] = await Promise.all([page.waitForEvent('download', WAIT), r.getByRole('button', { name: /^Download/ }).click()]);
      const saved = path.join(tmp, `downloaded-${f.name}`);
      await download.saveAs(saved);
      assert.equal(sha256(fs.readFileSync(saved)), f.sha, 'same bytes after the retried part');
    } finally {
      await page.unrouteAll();
    }
  });

  it('cancels an upload', async () => {
    const { page } = alice;
    const name = `cancel-me-${run}.bin`;
    const big = path.join(tmp, name);
    writeMarkedFile(big, 64 * MiB, MARKER);
    // Parts are held a while, so the upload is still running when it is cancelled
    // (unthrottled, 64 MiB can finish before the first speed is shown).
    const slow = (url) => url.searchParams.has('partNumber') && url.searchParams.has('uploadId');
    await alice.context.route(slow, async (route) => {
      await new Promise((res) => setTimeout(res, 1500));
      await route.continue().catch(() => {}); // cancelled meanwhile
    });
    await page.locator('#files').setInputFiles(big);
    const t = page.locator('#transfers li', { hasText: name });
    // Progress shows the phase, speed and time left while it runs.
    await t.locator('.transfer-rate', { hasText: /\/s · .* left/ }).waitFor(WAIT);
    assert.match(await t.locator('.transfer-phase').textContent(), /^(Encrypting|Uploading)$/);
    await page.screenshot({ path: path.join(ARTIFACTS, `page-uploading-${MODE}.png`) });
    await t.getByRole('button', { name: `Cancel ${name}` }).click();
    await t.getByText('Cancelled').waitFor(WAIT);
    await alice.context.unroute(slow);
    await page.waitForTimeout(500);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#files-loading').waitFor({ state: 'hidden', ...WAIT });
    assert.equal(await row(page, name).count(), 0, 'a cancelled file is not listed');
  });

  it('had no script errors and no CSP violations', () => {
    // 404: the second user's probes; 403: the part refused on purpose above.
    const real = alice.problems.filter((p) => !/status of 40[34]/.test(p));
    assert.deepEqual(real, []);
  });
});
