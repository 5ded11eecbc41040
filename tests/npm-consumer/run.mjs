// Loads the built consumer app (dist/) in headless Chromium and checks what it did.
import assert from 'node:assert/strict';
import path from 'node:path';
import { serveStatic } from '../browser/lib/server.mjs';
import { launch } from '../browser/lib/browser.mjs';

const dist = path.join(path.dirname(new URL(import.meta.url).pathname), 'dist');
const server = await serveStatic({ '/': dist });
const browser = await launch();
try {
  await browser.page.goto(`${server.url}/`);
  await browser.page.waitForSelector('#result[data-done]', { timeout: 60_000 });
  const text = await browser.page.textContent('#result');
  assert.ok(!text.startsWith('error'), text);
  const r = JSON.parse(text);
  assert.equal(r.webcrypto, true);
  assert.equal(r.roundTrip, true);
  assert.equal(r.range, true);
  assert.equal(r.ciphertextLength, r.expectedLength);
  assert.equal(r.plaintextLength, 3 * 1024 * 1024 + 12345);
  assert.equal(r.wrappedKey, 'raw-aes');
  assert.equal(r.damaged, 'DECRYPTION_FAILED');
  assert.deepEqual(browser.errors.map(String), []);
  console.log(`npm consumer: ${text}`);
  console.log('1 passed, 0 failed');
} finally {
  await browser.close();
  await server.close();
}
