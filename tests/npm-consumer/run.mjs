// Loads the built consumer app (dist/) in the browser named by CIPHERDROP_BROWSER
// (tests/lib/browser.mjs) and checks what it did.
import assert from 'node:assert/strict';
import path from 'node:path';
import { serveStatic } from '../browser/lib/server.mjs';
import { launch, ENGINE } from '../lib/browser.mjs';

const dist = path.join(path.dirname(new URL(import.meta.url).pathname), 'dist');
const server = await serveStatic({ '/': dist });
const browser = await launch();
try {
  await browser.goto(`${server.url}/`);
  const text = await browser.waitFor(() => document.querySelector('#result[data-done]')?.textContent, null, { timeout: 60_000 });
  assert.ok(!text.startsWith('error'), text);
  const r = JSON.parse(text);
  assert.equal(r.webcrypto, true);
  assert.equal(r.roundTrip, true);
  assert.equal(r.range, true);
  assert.equal(r.ciphertextLength, r.expectedLength);
  assert.equal(r.plaintextLength, 3 * 1024 * 1024 + 12345);
  assert.equal(r.wrappedKey, 'raw-aes');
  assert.equal(r.damaged, 'DECRYPTION_FAILED');
  assert.deepEqual(await browser.collectProblems(), []);
  console.log(`npm consumer (${ENGINE}): ${text}`);
  console.log('1 passed, 0 failed');
} finally {
  await browser.close();
  await server.close();
}
