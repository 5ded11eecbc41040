// Uploads that survive a reload, a browser crash and a lost network, in the engine
// named by CIPHERDROP_BROWSER. Starts its own `cipherdrop serve` (local mode, 5 MiB
// parts) so it can see the stored objects and decrypt them with the CLI, and a
// second one with the shortest upload lifetime (60 s) for the expiry case. Every
// request of the browser goes through the harness's proxy, which counts the part
// PUTs, holds them (a stalled upload) or drops them (a lost network).
//
//   CIPHERDROP_BIN      the cipherdrop binary (scripts/test-e2e.sh sets it)
//   CIPHERDROP_WEB_DIR  the built page (web/dist)
//   CIPHERDROP_RESUME_MIB  size of the file interrupted by a reload (default 1024)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENGINE, HAS, ROOT, launch } from '../lib/browser.mjs';
import { startProxy } from '../lib/proxy.mjs';
import { startServe } from '../lib/serve.mjs';

const BIN = process.env.CIPHERDROP_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/cipherdrop-target'), 'debug/cipherdrop');
const WEB_DIR = process.env.CIPHERDROP_WEB_DIR ?? path.join(ROOT, 'web/dist');
const MiB = 1024 * 1024;
const PART = 5 * MiB;
const BIG_MIB = Number(process.env.CIPHERDROP_RESUME_MIB ?? 1024);
const WAIT = { timeout: 120_000 };
// Half of a 1 GiB upload sealed and sent again on 2 busy cores: minutes, not seconds.
const BIG_WAIT = { timeout: 900_000 };
const run = crypto.randomBytes(4).toString('hex');

/** `cipherdrop serve` in local mode on port 0; resolves once it printed its URL. */
async function startServer(dataDir, extra = []) {
  const server = await startServe(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--web-dir', WEB_DIR,
    '--multipart-threshold', String(8 * MiB), '--part-size', String(PART), ...extra]);
  return { ...server, dataDir };
}

const ownerOf = (user) => crypto.createHash('sha256').update(`cipherdrop-owner-v1\0dev\0${user}`).digest('hex').slice(0, 32);

/** A file of random bytes; returns its SHA-256. */
function randomFile(file, size) {
  const fd = fs.openSync(file, 'w');
  const hash = crypto.createHash('sha256');
  for (let left = size; left > 0; ) {
    const n = Math.min(left, 16 * MiB);
    const buf = crypto.randomBytes(n);
    hash.update(buf);
    fs.writeSync(fd, buf);
    left -= n;
  }
  fs.closeSync(fd);
  return hash.digest('hex');
}

/** Decrypts a stored object of the local mode with the CLI; its SHA-256. */
function storedSha(server, user, id) {
  const owner = ownerOf(user);
  const stored = path.join(server.dataDir, 'objects');
  const found = execFileSync('find', [stored, '-type', 'f', '-name', id]).toString().trim().split('\n').filter(Boolean);
  assert.equal(found.length, 1, `one stored object ${id}`);
  const out = path.join(os.tmpdir(), `cipherdrop-resume-${run}-${id}`);
  try {
    execFileSync(BIN, ['decrypt', '--key-file', path.join(server.dataDir, 'master.key'), '--key-name', 'cipherdrop-local-master',
      '--context', `object=${id}`, '--context', `owner=${owner}`, '--force', found[0], out], { stdio: 'pipe' });
    const hash = crypto.createHash('sha256');
    const fd = fs.openSync(out, 'r');
    const buf = Buffer.alloc(16 * MiB);
    for (let n; (n = fs.readSync(fd, buf)) > 0; ) hash.update(buf.subarray(0, n));
    fs.closeSync(fd);
    return hash.digest('hex');
  } finally {
    fs.rmSync(out, { force: true });
  }
}

/** Multipart uploads the local store still holds (s3s-fs keeps them under the data directory). */
function pendingMultipart(server) {
  // .upload-<id>.json and .upload_id-<id>.part-<n> (s3s-fs 0.14.1's names).
  const out = execFileSync('find', [server.dataDir, '-name', '.upload*']).toString().trim();
  return out ? out.split('\n') : [];
}

const isPartPut = (url, method) => method === 'PUT' && url.searchParams.has('partNumber');

/** Counts part PUTs the storage accepted, and can hold every later one (a stalled upload). */
function watchParts(proxy) {
  const state = { stored: 0, sent: 0, inflight: 0, holdAfter: Infinity, dropAfter: Infinity, dropAll: false };
  const release = [];
  const unroute = proxy.route(isPartPut, async (req, ctl) => {
    state.sent++;
    if (state.dropAll || state.stored >= state.dropAfter) return ctl.abort();
    if (state.stored >= state.holdAfter) {
      // Held until the test lets go, then dropped: it never reaches the storage.
      await new Promise((r) => release.push(r));
      return ctl.abort();
    }
    // Forwarded whole even when the browser goes away meanwhile (a reload, a crash):
    // the storage then has a part whose answer was lost, as it happens for real.
    state.inflight++;
    try {
      const res = await ctl.fetch();
      if (res.status === 200) state.stored++;
      return ctl.fulfill(res);
    } finally {
      state.inflight--;
    }
  });
  state.releaseHeld = () => release.splice(0).forEach((r) => r());
  /** Waits until no forwarded part is on its way to the storage. */
  state.settled = async () => {
    for (let i = 0; i < 600 && state.inflight > 0; i++) await new Promise((r) => setTimeout(r, 100));
  };
  state.stop = () => {
    state.releaseHeld();
    unroute();
  };
  return state;
}

async function hidePickers(b) {
  // The tests pick files through the <input>: a native picker cannot be driven.
  await b.evaluate(() => {
    delete window.showOpenFilePicker;
    delete window.showSaveFilePicker;
  });
}

/**
 * Reloads as a person does while an upload runs: the page asks before leaving and
 * the person leaves. A WebDriver navigation to the same address accepts that prompt
 * in every engine (a script's location.reload() leaves it open, and Firefox then
 * blocks every command).
 */
async function reloadPage(b, parts) {
  // The page asks before leaving (page.test.mjs checks it); the person says leave.
  // Firefox's driver leaves that prompt open and waits, so it is answered here.
  await b.evaluate(() => window.addEventListener('beforeunload', (e) => e.stopImmediatePropagation(), { capture: true }));
  // The connection goes with the page: held part requests fail.
  parts.dropAll = true;
  parts.releaseHeld();
  await b.goto(await b.url());
  parts.dropAll = false;
  parts.holdAfter = Infinity;
}

async function signIn(b, url, user) {
  await b.goto(url);
  await hidePickers(b);
  const name = await b.find('#user', WAIT);
  await name.type(user);
  await (await b.find('#dev-login button[type=submit]')).click();
  await b.waitForText(`Signed in as ${user}`, WAIT);
}

async function upload(b, file) {
  const input = await b.find('#files', { visible: false });
  await input.setFiles([file]);
}

/** Waits for the unfinished-upload entry of the file named `name`; its object id. */
async function unfinished(b, name) {
  return b.waitFor(
    (n) => document.querySelector(`[data-unfinished-id][data-name="${CSS.escape(n)}"]`)?.getAttribute('data-unfinished-id'),
    name,
    { ...WAIT, message: `an unfinished upload of ${name} is offered` },
  );
}

async function resume(b, id, file) {
  await (await b.find(`[data-unfinished-id="${id}"] button`, { text: 'Resume' })).click();
  if (file) {
    const input = await b.find(`[data-unfinished-id="${id}"] input[type=file]`, { visible: false });
    await input.setFiles([file]);
  }
}

const fileRow = (b, name, wait = WAIT) =>
  b.waitFor((n) => document.querySelector(`#files-body tr[data-name="${CSS.escape(n)}"]`)?.getAttribute('data-id'), name, {
    ...wait,
    message: `${name} is listed`,
  });

describe(`uploads that survive a reload, a crash and a lost network (${ENGINE})`, () => {
  let tmp;
  let server;
  let shortServer;
  let proxy;
  const user = `resume-${run}`;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-resume-'));
    server = await startServer(path.join(tmp, 'data'));
    shortServer = await startServer(path.join(tmp, 'short-data'), ['--upload-ttl', '60']);
    proxy = await startProxy();
  });

  after(async () => {
    await proxy?.close();
    await server?.stop();
    await shortServer?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // Started first and checked last: by then its 60-second upload token has expired.
  let expiring;
  it('starts an upload on a server whose uploads live 60 s, and loses it to a reload', async () => {
    const file = path.join(tmp, `expiring-${run}.bin`);
    randomFile(file, 12 * MiB);
    const b = await launch({ proxy: proxy.address });
    const parts = watchParts(proxy);
    parts.holdAfter = 1;
    try {
      await signIn(b, shortServer.url, user);
      await upload(b, file);
      const start = Date.now();
      while (parts.sent < 2 && Date.now() - start < 60_000) await b.sleep(200);
      await reloadPage(b, parts);
      await hidePickers(b);
      const id = await unfinished(b, path.basename(file));
      expiring = { browser: b, file, id, startedAt: Date.now() };
    } finally {
      parts.stop();
    }
  });

  it(`resumes a ${BIG_MIB} MiB upload interrupted by a reload at about half, sending only the missing parts`, async () => {
    const file = path.join(tmp, `big-${run}.bin`);
    const size = BIG_MIB * MiB;
    const sha = randomFile(file, size);
    const total = Math.ceil(size / PART);
    const b = await launch({ proxy: proxy.address });
    const parts = watchParts(proxy);
    try {
      await signIn(b, server.url, user);
      parts.holdAfter = Math.floor(total / 2);
      await upload(b, file);
      const start = Date.now();
      while (parts.stored < parts.holdAfter && Date.now() - start < 600_000) await b.sleep(250);
      // Parts already on their way when the hold began get through too.
      assert.ok(parts.stored >= parts.holdAfter && parts.stored < total, `about half of the parts were stored (${parts.stored} of ${total})`);
      await b.sleep(500); // the held parts are in flight: the reload cuts them
      await reloadPage(b, parts);
      await hidePickers(b);
      const id = await unfinished(b, path.basename(file));
      await parts.settled();
      const storedBefore = parts.stored;
      const sentBefore = parts.sent;
      await resume(b, id, file);
      const got = await fileRow(b, path.basename(file), BIG_WAIT);
      assert.equal(got, id, 'the resumed upload is the same object');
      assert.equal(parts.sent - sentBefore, total - storedBefore, `only the ${total - storedBefore} missing parts were sent`);
      assert.equal(parts.stored, total);
      assert.equal(storedSha(server, user, id), sha, 'the stored object decrypts to the file');
      assert.equal(await b.exists(`[data-unfinished-id="${id}"]`), false, 'nothing is left to resume');
    } finally {
      parts.stop();
      await b.close();
    }
  });

  const noProfile = HAS.persistentProfile
    ? false
    : 'this engine under WebDriver keeps no website data across a restart (MiniBrowser in automation mode), so a killed browser cannot come back to its IndexedDB';
  it('resumes in a new browser (same profile) after the browser was killed mid-upload', { skip: noProfile }, async () => {
    const file = path.join(tmp, `crash-${run}.bin`);
    const sha = randomFile(file, 42 * MiB);
    const total = Math.ceil((42 * MiB) / PART);
    const profile = fs.mkdtempSync(path.join(tmp, 'profile-'));
    const parts = watchParts(proxy);
    let b = await launch({ proxy: proxy.address, profile });
    try {
      await signIn(b, server.url, user);
      parts.holdAfter = 3;
      await upload(b, file);
      const start = Date.now();
      while (parts.stored < 3 && Date.now() - start < 120_000) await b.sleep(200);
      // Give IndexedDB a moment to commit the third part's record, then crash.
      await b.sleep(1000);
      await b.kill();
      parts.releaseHeld();
      parts.holdAfter = Infinity;
      // Parts already on their way when the hold began may have been stored too.
      await parts.settled();
      const storedBefore = parts.stored;
      b = await launch({ proxy: proxy.address, profile });
      await signIn(b, server.url, user);
      const id = await unfinished(b, path.basename(file));
      const sentBefore = parts.sent;
      await resume(b, id, file);
      assert.equal(await fileRow(b, path.basename(file)), id);
      assert.equal(parts.sent - sentBefore, total - storedBefore, 'only the missing parts were sent');
      assert.equal(storedSha(server, user, id), sha);
    } finally {
      parts.stop();
      await b.close();
    }
  });

  it('keeps an upload whose network went away, and finishes it when the network is back', async () => {
    const file = path.join(tmp, `offline-${run}.bin`);
    const sha = randomFile(file, 42 * MiB);
    const b = await launch({ proxy: proxy.address });
    const parts = watchParts(proxy);
    try {
      await signIn(b, server.url, user);
      // The network drops mid-upload: once two parts are stored, every part request
      // fails, retries included (those already on their way get through).
      parts.dropAfter = 2;
      await upload(b, file);
      const id = await unfinished(b, path.basename(file)).catch(async (e) => {
        await b.screenshot(path.join(ROOT, 'tests/artifacts', `resume-offline-${ENGINE}.png`));
        throw e;
      });
      parts.dropAfter = Infinity;
      await resume(b, id, file);
      assert.equal(await fileRow(b, path.basename(file)), id);
      assert.equal(storedSha(server, user, id), sha);
    } finally {
      parts.stop();
      await b.close();
    }
  });

  it('refuses to resume with a different file of the same size, and sends nothing', async () => {
    const file = path.join(tmp, `original-${run}.bin`);
    randomFile(file, 17 * MiB);
    const b = await launch({ proxy: proxy.address });
    const parts = watchParts(proxy);
    try {
      await signIn(b, server.url, user);
      parts.holdAfter = 1;
      await upload(b, file);
      const start = Date.now();
      while (parts.sent < 2 && Date.now() - start < 60_000) await b.sleep(200);
      await reloadPage(b, parts);
      await hidePickers(b);
      const id = await unfinished(b, path.basename(file));
      const sentBefore = parts.sent;
      // Same size, another date.
      const other = path.join(tmp, 'other', path.basename(file));
      fs.mkdirSync(path.dirname(other), { recursive: true });
      randomFile(other, 17 * MiB);
      await resume(b, id, other);
      await b.waitForText(/not the (same )?file/i, WAIT);
      // Same size and the same date: only the first sealed chunk tells them apart.
      const st = fs.statSync(file);
      fs.utimesSync(other, st.atime, st.mtime);
      await resume(b, id, other);
      await b.waitFor((n) => document.body.innerText.match(/not the (same )?file/gi)?.length >= 1, null, WAIT);
      await b.sleep(1000);
      assert.equal(parts.sent, sentBefore, 'no part was sent for a different file');
      assert.equal(await b.exists(`[data-unfinished-id="${id}"]`), true, 'the upload can still be resumed with the right file');
      await resume(b, id, file);
      assert.equal(await fileRow(b, path.basename(file)), id);
    } finally {
      parts.stop();
      await b.close();
    }
  });

  it('refuses to resume an upload whose token expired, and leaves nothing behind', async () => {
    assert.ok(expiring, 'the expiring upload was started');
    const b = expiring.browser;
    try {
      const wait = expiring.startedAt + 62_000 - Date.now();
      if (wait > 0) await b.sleep(wait);
      const before = proxy.requests.length;
      await resume(b, expiring.id, expiring.file);
      await b.waitForText(/can no longer be resumed/i, WAIT);
      assert.equal(
        proxy.requests.slice(before).filter((r) => r.method === 'PUT').length,
        0,
        'nothing was sent to the storage',
      );
      await b.waitGone(`[data-unfinished-id="${expiring.id}"]`, WAIT);
      assert.deepEqual(pendingMultipart(shortServer), [], 'the multipart upload was aborted');
    } finally {
      await b.close();
    }
  });
});
