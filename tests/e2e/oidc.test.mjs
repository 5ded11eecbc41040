// End-to-end: signing in to the page through OIDC (authorization code + PKCE) with a
// tiny fake issuer served here on loopback, in the browser named by CIPHERDROP_BROWSER. Starts its own `cipherdrop serve`
// (local mode, development login off, --oidc-issuer = the fake issuer):
//   CIPHERDROP_BIN      the cipherdrop binary
//   CIPHERDROP_WEB_DIR  the built page (web/dist)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { launch, ENGINE } from '../lib/browser.mjs';
import { startServe } from '../lib/serve.mjs';

const BIN = process.env.CIPHERDROP_BIN;
const WEB_DIR = process.env.CIPHERDROP_WEB_DIR;
const ARTIFACTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../artifacts');
if (!BIN || !WEB_DIR) throw new Error('set CIPHERDROP_BIN and CIPHERDROP_WEB_DIR (scripts/test-e2e.sh does)');

const AUDIENCE = 'cipherdrop-e2e-api';
const CLIENT_ID = 'cipherdrop-e2e-page';
const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** A minimal OIDC provider: discovery, JWKS, /authorize (signs "carol" in at once), /token. */
function startIssuer() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'e2e-1', alg: 'RS256', use: 'sig' };
  const codes = new Map();
  const seen = { authorize: [], token: [] };
  const sign = (claims) => {
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: jwk.kid }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${b64url(crypto.sign('sha256', Buffer.from(`${head}.${body}`), privateKey))}`;
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, issuer.url);
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type' };
    const json = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json', ...cors });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, POST' });
      return res.end();
    }
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: issuer.url,
        authorization_endpoint: `${issuer.url}/authorize`,
        token_endpoint: `${issuer.url}/token`,
        jwks_uri: `${issuer.url}/jwks`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/authorize') {
      const q = Object.fromEntries(url.searchParams);
      seen.authorize.push(q);
      const back = new URL(q.redirect_uri);
      back.searchParams.set('state', q.state);
      if (q.client_id !== CLIENT_ID || q.response_type !== 'code' || q.code_challenge_method !== 'S256') {
        back.searchParams.set('error', 'invalid_request');
      } else {
        const code = b64url(crypto.randomBytes(16));
        codes.set(code, q);
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let raw = '';
      for await (const c of req) raw += c;
      const f = Object.fromEntries(new URLSearchParams(raw));
      seen.token.push(f);
      const q = codes.get(f.code);
      codes.delete(f.code); // one use
      const challenge = f.code_verifier && b64url(crypto.createHash('sha256').update(f.code_verifier).digest());
      if (!q || f.grant_type !== 'authorization_code' || f.client_id !== q.client_id || f.redirect_uri !== q.redirect_uri || challenge !== q.code_challenge) {
        return json(400, { error: 'invalid_grant', error_description: 'bad code or code_verifier' });
      }
      const now = Math.floor(Date.now() / 1000);
      const common = { iss: issuer.url, sub: 'carol', iat: now, exp: now + 600 };
      return json(200, {
        token_type: 'Bearer',
        expires_in: 600,
        access_token: sign({ ...common, aud: AUDIENCE }),
        id_token: sign({ ...common, aud: CLIENT_ID, nonce: q.nonce }),
      });
    }
    json(404, { error: 'not_found' });
  });
  const issuer = { server, seen, url: '' };
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      issuer.url = `http://127.0.0.1:${server.address().port}`;
      resolve(issuer);
    }),
  );
}

const startCipherdrop = (args) => startServe(BIN, ['serve', '--listen', '127.0.0.1:0', '--web-dir', WEB_DIR, ...args]);

describe('OIDC sign-in (authorization code + PKCE)', () => {
  let issuer;
  let server;
  let browser;
  let data;

  before(async () => {
    issuer = await startIssuer();
    data = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-e2e-oidc-'));
    server = await startCipherdrop([
      '--data-dir', data, '--dev-login', 'false',
      '--oidc-issuer', issuer.url, '--oidc-audience', AUDIENCE, '--oidc-client-id', CLIENT_ID,
    ]);
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    server?.child.kill();
    issuer?.server.close();
    if (data) fs.rmSync(data, { recursive: true, force: true });
  });

  it('redirects to the issuer with an S256 challenge and signs in with the exchanged token', async () => {
    const page = browser;
    await page.goto(server.url);
    await page.find('button', { text: 'Sign in with your organization' });
    assert.equal(await page.exists('input', { text: 'Your name' }), false, 'no development login');
    await page.screenshot(path.join(ARTIFACTS, `page-sign-in-oidc-${ENGINE}.png`));
    await page.click('button', { text: 'Sign in with your organization' });
    await page.waitForText('Signed in as carol', { within: '#account' });
    await page.find('h2', { text: 'Your files' });

    const [a] = issuer.seen.authorize;
    const [t] = issuer.seen.token;
    assert.equal(a.code_challenge_method, 'S256');
    assert.equal(a.redirect_uri, server.url);
    assert.equal(a.scope, 'openid');
    assert.match(a.state, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(t.code_verifier.length, 43, 'a 256-bit verifier');
    assert.notEqual(a.code_challenge, t.code_verifier, 'the challenge is not the verifier itself');
    // The address bar no longer holds the code; the token is kept for this tab only.
    assert.equal(await page.url(), server.url);
    const stored = await page.evaluate(() => ({
      token: sessionStorage.getItem('cipherdrop.token'),
      pending: sessionStorage.getItem('cipherdrop.oidc'),
      local: localStorage.length,
    }));
    assert.equal(JSON.parse(Buffer.from(stored.token.split('.')[1], 'base64url')).aud, AUDIENCE, 'the access token for the API');
    assert.equal(stored.pending, null);
    assert.equal(stored.local, 0);
    // The token works against the API and survives a reload.
    await page.reload();
    await page.waitForText('Signed in as carol', { within: '#account' });
  });

  it('refuses a return whose state does not match (no code exchange)', async () => {
    const page = browser;
    await page.click('button', { text: 'Sign out' });
    await page.find('button', { text: 'Sign in with your organization' });
    // A forged return: no sign-in started with this state.
    await page.goto(`${server.url}?code=forged&state=not-ours`);
    await page.waitForText(/its state does not match/);
    assert.equal(await page.exists('#account'), false, 'not signed in');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('cipherdrop.token')), null);
    assert.equal(await page.url(), server.url);
    assert.equal(issuer.seen.token.length, 1, 'no code exchange was attempted');
  });

  it('had no script errors and no CSP violations', async () => {
    assert.deepEqual(await browser.collectProblems(), []);
  });
});
