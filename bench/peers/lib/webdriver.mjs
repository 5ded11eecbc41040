// Firefox and WebKit for the peer benchmark, driven by the tests' classic W3C WebDriver
// client (tests/lib/browser.mjs: geckodriver + headless firefox-esr; WebKitGTK's
// WebKitWebDriver + MiniBrowser under Xvfb, started through xvfb-run), plus what Linux
// says about the engine's processes. They are found among the descendants of the
// WebDriver process (its process group), by executable and command line:
//   firefox: content = the web content processes (`firefox-esr -contentproc … tab`);
//            CPU = every firefox-esr process (main, content, socket, rdd, utility)
//   webkit:  content = WebKitWebProcess; CPU = MiniBrowser and its WebKit*Process
//            children (web, network, GPU)
// The driver's own processes (geckodriver, WebKitWebDriver, xvfb-run, Xvfb) count in
// neither.
import fs from 'node:fs';
import path from 'node:path';
import { launch as launchBrowser } from '../../../tests/lib/browser.mjs';
import { stat, tree } from './chromium.mjs';

/** What `contentPids()` counts, per engine (for the JSON). */
export const CONTENT_PROCESSES = {
  firefox: 'Firefox web content processes (firefox-esr -contentproc … tab)',
  webkit: 'WebKitWebProcess processes',
};

/** How each engine is driven (for the JSON). */
export const DRIVERS = {
  firefox: 'W3C WebDriver: geckodriver, firefox-esr -headless (tests/lib/browser.mjs)',
  webkit: 'W3C WebDriver: WebKitWebDriver, MiniBrowser under Xvfb via xvfb-run (tests/lib/browser.mjs)',
};

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** 'content', 'browser' (another process of the engine) or null (not the engine's). */
function kindOf(engine, cmd) {
  const exe = path.basename(cmd[0] ?? '');
  if (engine === 'webkit') {
    if (exe === 'WebKitWebProcess') return 'content';
    if (exe === 'MiniBrowser' || (exe.startsWith('WebKit') && exe !== 'WebKitWebDriver')) return 'browser';
    return null;
  }
  if (!/^firefox/.test(exe)) return null;
  return cmd.includes('-contentproc') && / tab(\s|$)/.test(cmd.join(' ')) ? 'content' : 'browser';
}

/**
 * Launches `engine` (firefox or webkit) on a blank page; returns { browser (the
 * tests' Browser: goto, evaluate, collectProblems, …), driverPid, contentPids(),
 * cpuSeconds(), close() }. cpuSeconds() sums user + system time of the engine's
 * processes alive at the call.
 */
export async function launch(engine) {
  const browser = await launchBrowser({ engine });
  const driverPid = browser.driver.child.pid;
  const processes = () => tree(driverPid).map((pid) => ({ pid, kind: kindOf(engine, cmdline(pid)) })).filter((p) => p.kind);
  return {
    browser,
    driverPid,
    contentPids: () => processes().filter((p) => p.kind === 'content').map((p) => p.pid),
    cpuSeconds: () => processes().reduce((sum, p) => sum + (stat(p.pid)?.cpu ?? 0), 0),
    close: () => browser.close(),
  };
}
