// Headless Chromium for the end-to-end tests: Debian's /usr/bin/chromium driven by
// playwright-core (never `npx playwright install`), a fresh profile every launch.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/**
 * Launches Chromium with a fresh --user-data-dir.
 * @param {{ width?: number, height?: number, blobDownloads?: boolean, serviceWorkers?: 'allow' | 'block' }} [opts]
 *   blobDownloads: hide the File System Access API, so the page saves through a
 *   normal download (which Playwright can catch): streamed by its service worker,
 *   or from a Blob when service workers are blocked (serviceWorkers: 'block').
 * The result's `downloads` is the directory downloads land in.
 */
export async function launch({ width = 1280, height = 900, blobDownloads = true, serviceWorkers = 'allow' } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-e2e-chromium-'));
  const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'cipherdrop-e2e-downloads-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    acceptDownloads: true,
    downloadsPath: downloads,
    viewport: { width, height },
    serviceWorkers,
  });
  if (blobDownloads) {
    await context.addInitScript(() => {
      delete window.showSaveFilePicker;
    });
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    if (process.env.CIPHERDROP_TEST_VERBOSE) console.error(`[page ${m.type()}] ${m.text()}`);
  });
  return {
    context,
    page,
    problems,
    downloads,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
      fs.rmSync(downloads, { recursive: true, force: true });
    },
  };
}
