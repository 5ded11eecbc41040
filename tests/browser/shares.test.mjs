// Sharing through the npm client against a real `cipherdrop serve` (local mode), in
// the browser named by CIPHERDROP_BROWSER: links (create, open without a token,
// verified download, password right / wrong / missing, download limit, withdrawal,
// deleted file, altered and cut fragments, the owner's list with its URL recovered)
// and grants to another user (grant, sharedWithMe with the name, downloadShared,
// revoke). The link's derivation is also checked here in Node, independently of
// the package (docs/API.md "Sharing links"), and the secret and password are looked
// for in every request the page made and in every file the server stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { launch, ROOT } from '../lib/browser.mjs';

const BIN = process.env.CIPHERDROP_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? '/root/.cache/cipherdrop-target', 'debug/cipherdrop');
const MiB = 1024 * 1024;

let server;
let base;
let dir;
let browser;
let page;
let alice;
let bob;
let serverLog = '';

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function walk(d) {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
}

async function login(user) {
  const res = await fetch(`${base}/auth/dev-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
  assert.equal(res.status, 200, `dev-login ${user}`);
  return (await res.json()).token;
}

before(async () => {
  assert.ok(fs.existsSync(BIN), `no cipherdrop binary at ${BIN} (set CIPHERDROP_BIN)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-shares-'));
  const web = path.join(dir, 'web');
  fs.mkdirSync(web);
  fs.writeFileSync(path.join(web, 'index.html'), '<!doctype html><title>shares test</title><p>shares test</p><script type="module" src="/boot.js"></script>');
  fs.writeFileSync(path.join(web, 'boot.js'), "import * as cd from '/pkg/index.js';\nwindow.cd = cd;\nwindow.cdReady = true;\n");
  fs.symlinkSync(path.join(ROOT, 'wasm/pkg'), path.join(web, 'pkg'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    BIN,
    ['serve', '--listen', `127.0.0.1:${port}`, '--local-s3-listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data'), '--web-dir', web, '--chunk-size', String(64 * 1024)],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } },
  );
  server.stderr.on('data', (d) => (serverLog += d));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 300 || server.exitCode !== null) throw new Error(`cipherdrop serve did not start:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  alice = await login('alice');
  bob = await login('bob');
  browser = await launch();
  page = browser;
  await page.goto(`${base}/`);
  await page.waitFor(() => window.cdReady);
  await page.evaluate(() => {
    window.__workers = [];
    const NativeWorker = window.Worker;
    window.Worker = class extends NativeWorker {
      constructor(url, options) {
        super(url, options);
        window.__workers.push(new URL(url, location.href).href);
      }
    };
    window.randomBytes = (size) => {
      const plain = new Uint8Array(size);
      for (let off = 0; off < size; off += 65536) crypto.getRandomValues(plain.subarray(off, Math.min(size, off + 65536)));
      return plain;
    };
    window.sha256hex = async (b) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', b)), (x) => x.toString(16).padStart(2, '0')).join('');
    // Every request the page's clients make (url and body), to look for secrets in.
    window.__sent = [];
    window.recordingFetch = (url, init) => {
      window.__sent.push({ url: String(url), body: typeof init?.body === 'string' ? init.body : '', headers: JSON.stringify(init?.headers ?? {}) });
      return fetch(url, init);
    };
    // A recipient's failure as data: its code, attemptsLeft, class and message.
    window.outcome = (p) =>
      p.then(
        () => ({ code: 'none' }),
        (e) => ({ code: e.code ?? e.name, attemptsLeft: e.attemptsLeft, name: e.name, message: e.message }),
      );
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Uploads `size` random bytes as `name` for alice; the object id and the plaintext's SHA-256. */
async function upload(name, size) {
  return page.evaluate(
    async ({ token, name, size }) => {
      const plain = window.randomBytes(size);
      const client = new window.cd.CipherDropClient({ baseUrl: location.origin, token, fetch: window.recordingFetch });
      const o = await client.upload(new File([plain], name));
      return { id: o.id, sha: await window.sha256hex(plain) };
    },
    { token: alice, name, size },
  );
}

/** docs/API.md's derivation, in Node: auth and seal_key of a link secret (and Argon2id output). */
function deriveInNode(shareId, secret, pw) {
  const ikm = pw ? Buffer.concat([secret, pw]) : secret;
  const salt = Buffer.from(shareId, 'hex');
  const expand = (info) => Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from(info), 32));
  return { auth: expand('CipherDrop v1 share auth'), sealKey: expand('CipherDrop v1 share seal') };
}

test('a link: created by the owner, opened without an account, verified download; the derivation as documented', async () => {
  const file = await upload('holiday photos.zip', 3 * MiB + 777);
  const made = await page.evaluate(
    async ({ token, id }) => {
      const client = new window.cd.CipherDropClient({ baseUrl: location.origin, token, fetch: window.recordingFetch });
      const link = await client.createShareLink(id, { expiresIn: 3600 });
      const listed = await client.listShareLinks(id);
      return { link, listed };
    },
    { token: alice, id: file.id },
  );
  const { link } = made;
  assert.match(link.url, new RegExp(`^${base}/s/[0-9a-f]{32}#[A-Za-z0-9_-]{43}$`));
  assert.equal(link.url.slice(base.length + 3, base.length + 35), link.shareId);
  assert.equal(link.objectId, file.id);
  assert.equal(link.password, false);
  assert.equal(link.maxDownloads, null);
  assert.equal(link.downloadsLeft, null);
  assert.equal(link.expired, false);
  assert.ok(Math.abs(link.expiresAt - link.createdAt - 3600) <= 1, `expires ${link.expiresAt - link.createdAt} s after creation`);
  assert.equal(made.listed.length, 1);
  assert.equal(made.listed[0].url, link.url, 'the owner\'s list recovers the whole link');

  // A recipient: no token, only the link.
  const got = await page.evaluate(
    async ({ url }) => {
      const info = await window.cd.shareLinkInfo(url, { fetch: window.recordingFetch });
      const shared = await window.cd.CipherDropClient.openShareLink(url, { fetch: window.recordingFetch });
      const progress = [];
      const plain = await window.cd.collect(await shared.download({ onProgress: (p) => progress.push(p) }));
      const again = await window.cd.collect(await shared.download());
      return {
        info,
        name: shared.name,
        size: shared.size,
        downloadsLeft: shared.downloadsLeft,
        sha: await window.sha256hex(plain),
        again: await window.sha256hex(again),
        last: progress[progress.length - 1],
      };
    },
    { url: link.url },
  );
  assert.deepEqual(got.info, { shareId: link.shareId, passwordRequired: false });
  assert.equal(got.name, 'holiday photos.zip');
  assert.equal(got.size, 3 * MiB + 777);
  assert.equal(got.downloadsLeft, null);
  assert.equal(got.sha, file.sha, 'the shared download differs from the upload');
  assert.equal(got.again, file.sha);
  assert.equal(got.last.received, got.last.total);

  // Node, independently: the link's auth opens the link, and seal_key opens `sealed`
  // with the documented AAD, holding the documented JSON.
  const secret = Buffer.from(link.url.split('#')[1], 'base64url');
  const { auth, sealKey } = deriveInNode(link.shareId, secret);
  const res = await fetch(`${base}/api/shares/${link.shareId}/open`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth: auth.toString('base64') }) });
  assert.equal(res.status, 200);
  const opened = await res.json();
  assert.equal(opened.object_id, file.id);
  const sealed = Buffer.from(opened.sealed, 'base64');
  const decipher = crypto.createDecipheriv('aes-256-gcm', sealKey, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(`CipherDrop v1 share\0${link.shareId}\0${opened.owner}\0${file.id}`));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const payload = JSON.parse(Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]).toString());
  assert.deepEqual(Object.keys(payload).sort(), ['content_key', 'header_key', 'name', 'size']);
  assert.equal(payload.name, 'holiday photos.zip');
  assert.equal(payload.size, 3 * MiB + 777);
  assert.equal(Buffer.from(payload.content_key, 'base64').length, 32);

  // The secret never left the page: in no request, and in no file the server stored.
  const sent = await page.evaluate(() => window.__sent);
  const fragment = link.url.split('#')[1];
  const forms = [fragment, secret.toString('base64'), secret.toString('hex')];
  for (const r of sent) for (const f of forms) assert.ok(!`${r.url} ${r.body} ${r.headers}`.includes(f), `the secret was sent: ${r.url}`);
  assert.ok(sent.some((r) => r.url.includes(`/api/shares/${link.shareId}/open`)), 'the recording saw the recipient\'s requests');
  for (const p of walk(path.join(dir, 'data'))) {
    const text = fs.readFileSync(p).toString('latin1');
    for (const f of forms) assert.ok(!text.includes(f), `the secret is stored in ${p}`);
  }
  assert.ok(!serverLog.includes(fragment), 'the secret is in the server log');
  assert.deepEqual(await browser.collectProblems(), []);
});

test('a link with a password: right, wrong (attempts left), missing; Argon2id in the keyring worker', async () => {
  const file = await upload('tax return.pdf', 200_000);
  const before = (await page.evaluate(() => window.__workers)).length;
  const r = await page.evaluate(
    async ({ token, id }) => {
      const { cd } = window;
      const client = new cd.CipherDropClient({ baseUrl: location.origin, token, fetch: window.recordingFetch });
      const link = await client.createShareLink(id, { password: 'correct horse battery staple' });
      const info = await cd.shareLinkInfo(link.url);
      const missing = await window.outcome(cd.openShareLink(link.url));
      const wrong = await window.outcome(cd.openShareLink(link.url, { password: 'Correct horse battery staple', fetch: window.recordingFetch }));
      const wrong2 = await window.outcome(cd.openShareLink(link.url, { password: 'tr0ub4dor&3' }));
      const shared = await cd.openShareLink(link.url, { password: 'correct horse battery staple', fetch: window.recordingFetch });
      const plain = await cd.collect(await shared.download());
      return { link, info, missing, wrong, wrong2, name: shared.name, sha: await window.sha256hex(plain) };
    },
    { token: alice, id: file.id },
  );
  assert.equal(r.link.password, true);
  assert.equal(r.info.passwordRequired, true);
  assert.equal(r.missing.code, 'PASSWORD_REQUIRED');
  assert.equal(r.wrong.code, 'WRONG_PASSWORD');
  assert.equal(r.wrong.attemptsLeft, 9);
  assert.equal(r.wrong2.code, 'WRONG_PASSWORD');
  assert.equal(r.wrong2.attemptsLeft, 8);
  assert.match(r.wrong2.message, /8 attempts left/);
  assert.equal(r.name, 'tax return.pdf');
  assert.equal(r.sha, file.sha);
  const workers = (await page.evaluate(() => window.__workers)).slice(before);
  // One Argon2id for the owner, and one per opening with a password (3).
  assert.equal(workers.filter((u) => u.endsWith('/pkg/keyring-worker.js')).length, 4, `workers: ${workers}`);
  const sent = await page.evaluate(() => window.__sent);
  for (const s of sent) {
    for (const pw of ['correct horse battery staple', 'Correct horse battery staple']) assert.ok(!`${s.url} ${s.body}`.includes(pw), `the password was sent: ${s.url}`);
  }
});

test('Argon2id costs above FORMAT.md 2.4\'s caps are refused before anything runs', async () => {
  const r = await page.evaluate(async () => {
    const { cd } = window;
    const salt = new Uint8Array(16);
    const direct = [];
    for (const params of [{ memoryKib: 65537 }, { iterations: 5 }, { parallelism: 5 }]) {
      try {
        cd.argon2id('pw', salt, params);
        direct.push('ran');
      } catch (e) {
        direct.push(e.code);
      }
    }
    const small = Array.from(cd.argon2id('password', new TextEncoder().encode('somesalt'), { memoryKib: 256, iterations: 2, parallelism: 1 }), (b) => b.toString(16).padStart(2, '0')).join('');
    // A server answering a link whose password asks for 1 GiB.
    const hostile = async (url, init) => {
      if (String(url).endsWith('/api/shares/00112233445566778899aabbccddeeff')) {
        return new Response(JSON.stringify({ share_id: '00112233445566778899aabbccddeeff', password: { salt: btoa('0123456789abcdef'), m: 1 << 20, t: 3, p: 1 } }), { headers: { 'content-type': 'application/json' } });
      }
      return fetch(url, init);
    };
    const link = `${location.origin}/s/00112233445566778899aabbccddeeff#${'A'.repeat(42)}E`;
    const open = await window.outcome(cd.openShareLink(link, { password: 'x', fetch: hostile }));
    return { direct, small, open: open.code };
  });
  assert.deepEqual(r.direct, ['LIMIT_EXCEEDED', 'LIMIT_EXCEEDED', 'LIMIT_EXCEEDED']);
  // The reference implementation's own test (phc-winner-argon2 src/test.c: Argon2id
  // v=19, m=256 KiB, t=2, p=1, "password", "somesalt").
  assert.equal(r.small, '9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe');
  assert.equal(r.open, 'LIMIT_EXCEEDED');
});

test('links end: expiry, download limit, withdrawal, deleted file; altered and cut fragments', async () => {
  const file = await upload('minutes.txt', 5000);
  const r = await page.evaluate(
    async ({ token, id }) => {
      const { cd } = window;
      const client = new cd.CipherDropClient({ baseUrl: location.origin, token });
      const once = await client.createShareLink(id, { maxDownloads: 1 });
      const shared = await cd.openShareLink(once.url);
      const left = shared.downloadsLeft;
      await cd.collect(await shared.download());
      const afterLeft = shared.downloadsLeft;
      const second = await window.outcome(shared.download());
      const reopen = await window.outcome(cd.openShareLink(once.url));
      const listedOnce = (await client.listShareLinks(id)).find((l) => l.shareId === once.shareId);

      // Expired: a link of one second, opened after two.
      const brief = await client.createShareLink(id, { expiresIn: 1 });
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const expired = await window.outcome(cd.openShareLink(brief.url));
      const listedExpired = (await client.listShareLinks(id)).find((l) => l.shareId === brief.shareId);

      const revoked = await client.createShareLink(id);
      await client.revokeShareLink(revoked.shareId);
      const afterRevoke = await window.outcome(cd.openShareLink(revoked.url));

      const link = await client.createShareLink(id);
      const [head, frag] = link.url.split('#');
      const flip = (c) => (c === 'A' ? 'B' : 'A');
      const altered = `${head}#${frag.slice(0, 10)}${flip(frag[10])}${frag.slice(11)}`;
      const changed = await window.outcome(cd.openShareLink(altered));
      const cut = await window.outcome(cd.openShareLink(`${head}#${frag.slice(0, 30)}`));
      const none = await window.outcome(cd.openShareLink(head));
      const badId = await window.outcome(cd.openShareLink(`${location.origin}/s/not-an-id#${frag}`));
      const cutInfo = await window.outcome(cd.shareLinkInfo(`${head}#${frag.slice(0, 42)}`));
      const still = (await cd.openShareLink(link.url)).name;
      await client.delete(id);
      const deleted = await window.outcome(cd.openShareLink(link.url));
      return { left, afterLeft, second, reopen, listedOnce, expired, listedExpired, afterRevoke, changed, cut, none, badId, cutInfo, still, deleted };
    },
    { token: alice, id: file.id },
  );
  assert.equal(r.left, 1);
  assert.equal(r.afterLeft, 0);
  assert.equal(r.second.code, 'LINK_UNAVAILABLE');
  assert.equal(r.reopen.code, 'LINK_UNAVAILABLE');
  assert.equal(r.listedOnce.downloads, 1);
  assert.equal(r.listedOnce.downloadsLeft, 0);
  assert.equal(r.expired.code, 'LINK_UNAVAILABLE');
  assert.equal(r.listedExpired.expired, true);
  assert.equal(r.afterRevoke.code, 'LINK_UNAVAILABLE');
  assert.equal(r.changed.code, 'LINK_CHANGED');
  assert.equal(r.cut.code, 'INVALID_LINK');
  assert.equal(r.none.code, 'INVALID_LINK');
  assert.equal(r.badId.code, 'INVALID_LINK');
  assert.equal(r.cutInfo.code, 'INVALID_LINK');
  assert.equal(r.still, 'minutes.txt');
  assert.equal(r.deleted.code, 'LINK_UNAVAILABLE');
  for (const e of [r.second, r.changed, r.cut]) assert.equal(e.name, 'CipherDropError');
  assert.deepEqual(await browser.collectProblems(), []);
});

test('sealed bytes bound to their link: moved to another file or link they do not open', async () => {
  const file = await upload('bound.txt', 1000);
  const r = await page.evaluate(
    async ({ token, id }) => {
      const { cd } = window;
      // A server that answers `open` for this link with another object id: the AAD
      // no longer matches what `sealed` was sealed to.
      const otherObject = (url, init) =>
        fetch(url, init).then(async (res) => {
          if (!String(url).endsWith('/open') || !res.ok) return res;
          const body = await res.json();
          body.object_id = body.object_id.replace(/^./, (c) => (c === '0' ? '1' : '0'));
          return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
        });
      // A server that swaps the owner's copies of two links' secrets.
      const swapped = (url, init) =>
        fetch(url, init).then(async (res) => {
          if (!/\/shares$/.test(String(url)) || (init?.method ?? 'GET') !== 'GET') return res;
          const body = await res.json();
          const [a, b] = body.shares;
          [a.owner_sealed, b.owner_sealed] = [b.owner_sealed, a.owner_sealed];
          return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
        });
      const client = new cd.CipherDropClient({ baseUrl: location.origin, token });
      const one = await client.createShareLink(id);
      const two = await client.createShareLink(id);
      const moved = await window.outcome(cd.openShareLink(one.url, { fetch: otherObject }));
      const honest = (await client.listShareLinks(id)).map((l) => l.url);
      const lying = new cd.CipherDropClient({ baseUrl: location.origin, token, fetch: swapped });
      const urls = (await lying.listShareLinks(id)).map((l) => l.url);
      await client.delete(id);
      return { moved, honest, urls, expect: [one.url, two.url] };
    },
    { token: alice, id: file.id },
  );
  assert.equal(r.moved.code, 'LINK_CHANGED');
  assert.deepEqual([...r.honest].sort(), [...r.expect].sort()); // same second: any order
  assert.deepEqual(r.urls, [null, null], 'an owner_sealed moved to another link was opened');
});

test('grants: bob sees the name, downloads the same bytes; revoked, he gets 404', async () => {
  const file = await upload('design notes.md', 150_000);
  const r = await page.evaluate(
    async ({ alice, bob, id }) => {
      const { cd } = window;
      const a = new cd.CipherDropClient({ baseUrl: location.origin, token: alice });
      const b = new cd.CipherDropClient({ baseUrl: location.origin, token: bob });
      const g = await a.grant(id, 'bob');
      const grants = await a.listGrants(id);
      const mine = await b.sharedWithMe();
      const item = mine.find((x) => x.objectId === id);
      const plain = await cd.collect(await b.downloadShared(item.owner, id));
      const sha = await window.sha256hex(plain);
      await a.revokeGrant(id, g.granteeId);
      const afterGrants = await a.listGrants(id);
      const afterMine = await b.sharedWithMe();
      const dl = await b.downloadShared(item.owner, id).then(() => 'found', (e) => `${e.name} ${e.status} ${e.code}`);
      return { g, grants, item, sha, afterGrants: afterGrants.length, afterMine: afterMine.length, dl };
    },
    { alice, bob, id: file.id },
  );
  assert.equal(r.g.grantee, 'bob');
  assert.match(r.g.granteeId, /^[0-9a-f]{32}$/);
  assert.equal(r.g.objectId, file.id);
  assert.deepEqual(r.grants.map((x) => x.granteeId), [r.g.granteeId]);
  assert.equal(r.item.name, 'design notes.md');
  assert.equal(r.item.plaintextSize, 150_000);
  assert.equal(r.item.from, 'alice');
  assert.equal(r.sha, file.sha);
  assert.equal(r.afterGrants, 0);
  assert.equal(r.afterMine, 0);
  assert.equal(r.dl, 'ApiError 404 not_found');
  // The server stored the name sealed only: no file it wrote holds it.
  for (const p of walk(path.join(dir, 'data'))) assert.ok(!fs.readFileSync(p).toString('latin1').includes('design notes'), `the name is stored in plain in ${p}`);
  assert.deepEqual(await browser.collectProblems(), []);
});
