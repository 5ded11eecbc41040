// One way to drive Chromium, Firefox and WebKit in the tests: classic W3C WebDriver
// over HTTP (chromedriver, geckodriver, WebKitGTK's WebKitWebDriver + MiniBrowser
// under Xvfb), no client library. A test file is written once against this API and
// runs in the engine named by CIPHERDROP_BROWSER (scripts/test-browser.sh and
// scripts/test-e2e.sh set it for each engine of CIPHERDROP_BROWSERS / --browser).
//
// API (all methods async unless marked):
//   ENGINE                       the engine this process tests (CIPHERDROP_BROWSER, default chromium)
//   launch({ engine, width, height, profile, proxy, hideFilePicker })
//       -> Browser. profile: a directory to keep the browser's storage in (reuse it in
//       a second launch to test what survives a restart); default a fresh temporary one.
//       proxy: 'host:port' of an HTTP proxy for every request, loopback included
//       (see ./proxy.mjs; e.g. fail a service worker's script there to test a page
//       without one, the same way in every engine).
//       hideFilePicker: delete window.showSaveFilePicker after each load (Chromium has it).
//   Browser: engine, profile, downloads (the directory it saves downloads in), problems (string[]: uncaught errors, unhandled rejections,
//       console.error, CSP violations, collected by a probe the harness installs after
//       every load), close({ keepProfile }), kill() (SIGKILL the driver and the browser:
//       a crash), and the page methods:
//     goto(url), reload(), url(), title()
//     evaluate(fn, arg)          runs `async fn(arg)` in the page's realm (Firefox: over
//                                WebDriver BiDi, so node needs --experimental-websocket
//                                on Node 20); JSON in, JSON out
//     waitFor(fn, arg, { timeout, message })  polls evaluate until truthy; its value
//     find(css, { text, timeout, visible })   -> Element (waits for it); text: string
//                                (contained) or RegExp, matched against the element's
//                                text, aria-label, value or label text
//     click(css, { text })       find + click, again if the page redrew the element meanwhile
//     exists(css, { text })      boolean, no wait
//     waitGone(css, { text, timeout })   until no visible element matches (hidden or removed)
//     waitForText(text|RegExp, { within: css, timeout })
//     Element: click(), type(text) (clears first), setFiles(paths), text(), attr(name),
//       visible(), evaluate(fn, arg) (fn(element, arg) in the page)
//     screenshot(path)           viewport PNG
//     setViewport(width, height)
//     dialog() -> { text } | null; waitForDialog({ timeout }) -> { text };
//       acceptDialog(); dismissDialog()   user prompts (confirm, alert)
//     sleep(ms)
//   Engine features: HAS (this engine's: fileSystemAccess, downloadsDir, persistentProfile).
//   Downloads: saved without asking into Browser.downloads in all three (WebKit: GLib's
//   download directory, pointed there); check the bytes there.
//   Not in classic WebDriver, replaced: request interception -> ./proxy.mjs; console
//   errors -> the probe (problems); init scripts -> evaluate() after load (or serve the
//   page what it needs); beforeunload prompts are accepted by the driver itself.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ENGINES = ['chromium', 'firefox', 'webkit'];
export const ENGINE = process.env.CIPHERDROP_BROWSER ?? 'chromium';
if (!ENGINES.includes(ENGINE)) throw new Error(`CIPHERDROP_BROWSER=${ENGINE}: not one of ${ENGINES.join(', ')}`);

/** The repository root. */
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** What each engine offers that the tests need to know about. */
// persistentProfile: storage (IndexedDB) survives a relaunch on the same profile,
// even after kill(). Tried: Chromium and Firefox keep IndexedDB after a SIGKILL and
// relaunch; WebKitGTK's MiniBrowser in --automation mode keeps nothing (its website
// data is ephemeral: nothing is written under the profile), so a "browser restarted"
// test cannot run there. localStorage written just before a kill() was lost in all three.
export const HAS = {
  chromium: { fileSystemAccess: true, downloadsDir: true, persistentProfile: true },
  firefox: { fileSystemAccess: false, downloadsDir: true, persistentProfile: true },
  webkit: { fileSystemAccess: false, downloadsDir: true, persistentProfile: false },
}[ENGINE];

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMEDRIVER = process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver';
const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const GECKODRIVER = process.env.GECKODRIVER ?? findOnPath('geckodriver', [path.join(os.homedir(), '.cargo/bin/geckodriver')]);
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

function findOnPath(name, extra = []) {
  for (const dir of [...(process.env.PATH ?? '').split(':'), ...extra.map(path.dirname)]) {
    const p = path.join(dir, name);
    if (dir && fs.existsSync(p)) return p;
  }
  return name;
}

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Drivers run in their own process groups (so kill() takes the browser down with its
// driver); if this process ends without closing them — a test timing out, Ctrl-C —
// they would outlive it. Kill what is still running on the way out.
const LIVE_DRIVERS = new Set();
const killLiveDrivers = () => {
  for (const child of LIVE_DRIVERS) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  LIVE_DRIVERS.clear();
};
process.on('exit', killLiveDrivers);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killLiveDrivers();
    process.kill(process.pid, signal);
  });
}

/** Starts the engine's WebDriver server in its own process group; resolves when it answers. */
async function startDriver(engine, env) {
  const port = await freePort();
  let cmd;
  let args;
  if (engine === 'chromium') [cmd, args] = [CHROMEDRIVER, [`--port=${port}`]];
  // Firefox's BiDi WebSocket defaults to port 9222: a second browser needs its own.
  else if (engine === 'firefox') [cmd, args] = [GECKODRIVER, ['--port', String(port), '--host', '127.0.0.1', '--websocket-port', String(await freePort())]];
  else [cmd, args] = ['xvfb-run', ['-a', '-s', '-screen 0 1600x1200x24', WEBKIT_DRIVER, `--port=${port}`]];
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  LIVE_DRIVERS.add(child);
  child.on('exit', () => LIVE_DRIVERS.delete(child));
  let log = '';
  const keep = (d) => {
    log = (log + d).slice(-20000);
    if (process.env.CIPHERDROP_TEST_VERBOSE) process.stderr.write(`[${engine} driver] ${d}`);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${base}/status`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || i > 300) throw new Error(`${cmd} did not start:\n${log}`);
    await sleep(100);
  }
  return { child, base, log: () => log };
}

function capabilities(engine, { profile, downloads, width, height, proxy }) {
  if (engine === 'chromium') {
    const args = [...CHROMIUM_ARGS, `--user-data-dir=${profile}`, `--window-size=${width},${height}`];
    if (proxy) args.push(`--proxy-server=http://${proxy}`, '--proxy-bypass-list=<-loopback>');
    return {
      browserName: 'chrome',
      'goog:chromeOptions': {
        binary: CHROMIUM,
        args,
        prefs: {
          'download.default_directory': downloads,
          'download.prompt_for_download': false,
          'download.directory_upgrade': true,
          'safebrowsing.enabled': false,
        },
      },
    };
  }
  if (engine === 'firefox') {
    const prefs = {
      'browser.download.dir': downloads,
      'browser.download.folderList': 2,
      'browser.download.useDownloadDir': true,
      'browser.download.always_ask_before_handling_new_types': false,
      'browser.download.manager.showWhenStarting': false,
      'browser.download.alwaysOpenPanel': false,
      'dom.disable_beforeunload': false,
      'network.proxy.allow_hijacking_localhost': true,
      'browser.shell.checkDefaultBrowser': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'app.update.disabledForTesting': true,
    };
    if (proxy) {
      const [host, port] = proxy.split(':');
      Object.assign(prefs, {
        'network.proxy.type': 1,
        'network.proxy.http': host,
        'network.proxy.http_port': Number(port),
        'network.proxy.no_proxies_on': '',
      });
    }
    return {
      browserName: 'firefox',
      // BiDi only for evaluate() (see Browser.evaluate): classic WebDriver runs scripts
      // in a sandbox over the page in Firefox, where the page's classes are other objects.
      webSocketUrl: true,
      'moz:firefoxOptions': { binary: FIREFOX, args: ['-headless', '-profile', profile, `--width=${width}`, `--height=${height}`], prefs },
    };
  }
  const args = ['--automation'];
  if (proxy) args.push(`--proxy=http://${proxy}`, '--ignore-host=');
  return { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args } };
}

class WebDriverError extends Error {}

/** The probe installed after every load: collects problems into window.__cdProbe. */
const PROBE = `(() => {
  if (window.__cdProbe) return;
  const problems = [];
  window.__cdProbe = problems;
  addEventListener('error', (e) => problems.push('page error: ' + (e.error && e.error.stack ? e.error.message : e.message)));
  addEventListener('unhandledrejection', (e) => problems.push('unhandled rejection: ' + (e.reason && e.reason.message ? e.reason.message : String(e.reason))));
  addEventListener('securitypolicyviolation', (e) => problems.push('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
  const error = console.error;
  console.error = function (...a) { problems.push('console: ' + a.map((x) => (x && x.message) || String(x)).join(' ')); return error.apply(this, a); };
})()`;

export class Element {
  constructor(browser, id, css) {
    this.browser = browser;
    this.id = id;
    this.css = css;
  }
  #cmd(method, p, body) {
    return this.browser.cmd(method, `/element/${this.id}${p}`, body);
  }
  async click() {
    await this.#cmd('POST', '/click', {});
  }
  /** Clears the field, then types `text`. */
  async type(text) {
    await this.#cmd('POST', '/clear', {});
    await this.#cmd('POST', '/value', { text: String(text) });
  }
  /** Gives an <input type=file> these files (absolute paths). */
  async setFiles(paths) {
    const list = Array.isArray(paths) ? paths : [paths];
    await this.#cmd('POST', '/value', { text: list.map((p) => path.resolve(p)).join('\n') });
  }
  async text() {
    return this.evaluate((el) => el.textContent);
  }
  async attr(name) {
    return this.evaluate((el, n) => el.getAttribute(n), name);
  }
  async visible() {
    return this.evaluate((el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && getComputedStyle(el).visibility !== 'hidden');
  }
  /** Runs `fn(element, arg)` in the page. */
  async evaluate(fn, arg) {
    const r = await this.browser.cmd('POST', '/execute/sync', {
      script: `const el = arguments[0]; const arg = arguments[1]; return JSON.stringify({ v: (${fn.toString()})(el, arg) ?? null });`,
      args: [{ 'element-6066-11e4-a52e-4f735466cecf': this.id }, arg ?? null],
    });
    return JSON.parse(r).v;
  }
}

/** In the page: elements matching css (and text), visible ones first. */
const FIND = (arg) => {
  const { css, text, textIsRegex, flags, mark, visible } = arg;
  const re = textIsRegex ? new RegExp(text, flags) : null;
  const texts = (el) => [el.textContent, el.getAttribute('aria-label'), el.value, ...[...(el.labels ?? [])].map((l) => l.textContent)]
    .filter((t) => typeof t === 'string').map((t) => t.replace(/\s+/g, ' ').trim());
  const matches = (el) => text === null || texts(el).some((t) => (re ? re.test(t) : t.includes(text)));
  const isVisible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && getComputedStyle(el).visibility !== 'hidden';
  const all = [...document.querySelectorAll(css)].filter(matches);
  const found = visible === false ? all[0] : all.find(isVisible);
  if (!found) return false;
  if (mark) found.setAttribute('data-cd-test', mark);
  return true;
};

// eslint-disable-next-line no-new-func
const NOT_FOUND = new Function('a', `return !(${FIND.toString()})(a);`);

export class Browser {
  constructor(engine, driver, session, opts) {
    this.engine = engine;
    this.driver = driver;
    this.session = session;
    this.profile = opts.profile;
    this.downloads = opts.downloads;
    this.ownProfile = opts.ownProfile;
    this.hideFilePicker = opts.hideFilePicker;
    this.problems = [];
    this.marks = 0;
  }

  async cmd(method, p, body) {
    const res = await fetch(`${this.driver.base}/session/${this.session}${p}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({ value: { error: `HTTP ${res.status}`, message: '' } }));
    if (!res.ok || (json.value && json.value.error)) {
      throw new WebDriverError(`${this.engine} ${method} ${p}: ${json.value?.error}: ${json.value?.message}`);
    }
    return json.value;
  }

  /** Installs the problem probe and the launch options' page changes (after each load). */
  async afterLoad() {
    await this.collectProblems();
    const hide = this.hideFilePicker;
    await this.cmd('POST', '/execute/sync', {
      script: `${PROBE}; if (${hide}) delete window.showSaveFilePicker;`,
      args: [],
    });
  }

  async collectProblems() {
    try {
      const got = await this.cmd('POST', '/execute/sync', { script: 'const p = window.__cdProbe || []; const out = p.splice(0); return JSON.stringify(out);', args: [] });
      this.problems.push(...JSON.parse(got));
    } catch {
      // the page is going away, or a prompt is open
    }
    return this.problems;
  }

  async goto(url) {
    await this.collectProblems();
    await this.cmd('POST', '/url', { url });
    await this.afterLoad();
  }
  /**
   * Reloads as the page's own location.reload() does (a normal reload). WebDriver's
   * Refresh in Firefox reloads bypassing service workers, and the page's frames then
   * bypass them too, which no user's reload does.
   */
  async reload() {
    await this.collectProblems();
    await this.evaluate(() => {
      window.__cdReloading = true;
      setTimeout(() => location.reload(), 0);
    });
    await this.waitFor(() => !window.__cdReloading && document.readyState === 'complete', null, { message: 'the reloaded page' });
    await this.afterLoad();
  }
  async url() {
    return this.cmd('GET', '/url');
  }
  async title() {
    return this.cmd('GET', '/title');
  }

  /** Runs `async fn(arg)` in the page; resolves to its JSON-serialised result. */
  async evaluate(fn, arg) {
    let json;
    if (this.bidi) {
      // Firefox: BiDi script.callFunction runs in the page's own realm.
      const declaration = `async function (argJson) {
  try {
    const v = await (${fn.toString()})(JSON.parse(argJson));
    return JSON.stringify({ ok: true, v: v === undefined ? null : v });
  } catch (e) {
    return JSON.stringify({ ok: false, name: e && e.name, message: e && e.message, stack: e && e.stack, s: String(e) });
  }
}`;
      const context = await this.cmd('GET', '/window');
      const r = await this.bidi.send('script.callFunction', {
        functionDeclaration: declaration,
        awaitPromise: true,
        target: { context },
        arguments: [{ type: 'string', value: JSON.stringify(arg ?? null) }],
        resultOwnership: 'none',
      });
      if (r.type !== 'success') throw new Error(`in the page (${this.engine}): ${r.exceptionDetails?.text ?? JSON.stringify(r)}`);
      json = r.result.value;
    } else {
      const script = `const done = arguments[arguments.length - 1];
Promise.resolve().then(() => (${fn.toString()})(arguments[0])).then(
  (v) => done(JSON.stringify({ ok: true, v: v === undefined ? null : v })),
  (e) => done(JSON.stringify({ ok: false, name: e && e.name, message: e && e.message, stack: e && e.stack, s: String(e) })));`;
      json = await this.cmd('POST', '/execute/async', { script, args: [arg ?? null] });
    }
    const r = JSON.parse(json);
    if (!r.ok) {
      const err = new Error(`in the page (${this.engine}): ${r.name}: ${r.message ?? r.s}\n${r.stack ?? ''}`);
      err.pageName = r.name;
      throw err;
    }
    return r.v;
  }

  /** Opens the session's BiDi WebSocket (Firefox); needs a global WebSocket (node --experimental-websocket on Node 20). */
  async connectBidi(url) {
    if (typeof WebSocket !== 'function') throw new Error('Firefox tests need a global WebSocket: run node with --experimental-websocket (Node 20) or Node 22+');
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`${this.engine}: cannot open ${url}`));
    });
    const pending = new Map();
    let next = 0;
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      const p = msg.id !== undefined && pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.type === 'error') p.reject(new WebDriverError(`${this.engine} ${p.method}: ${msg.error}: ${msg.message}`));
      else p.resolve(msg.result);
    };
    ws.onclose = () => {
      for (const p of pending.values()) p.reject(new WebDriverError(`${this.engine}: the BiDi connection closed`));
      pending.clear();
    };
    this.bidi = {
      ws,
      send: (method, params) =>
        new Promise((resolve, reject) => {
          const id = ++next;
          pending.set(id, { resolve, reject, method });
          ws.send(JSON.stringify({ id, method, params }));
        }),
    };
  }

  /** Polls `fn(arg)` in the page until it returns something truthy; returns that. */
  async waitFor(fn, arg, { timeout = 60_000, interval = 100, message } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
      try {
        last = await this.evaluate(fn, arg);
        if (last) return last;
      } catch (e) {
        last = e.message;
        // An exception thrown by fn is a failure; the driver failing to run a script
        // (a page loading, a context going away) is waited out.
        if (e.pageName !== undefined) throw e;
      }
      if (Date.now() > end) throw new Error(`${this.engine}: timed out after ${timeout} ms waiting for ${message ?? fn.toString()} (last: ${JSON.stringify(last)})`);
      await sleep(interval);
    }
  }

  #findArg(css, text) {
    const isRe = text instanceof RegExp;
    return { css, text: text === undefined ? null : isRe ? text.source : String(text), textIsRegex: isRe, flags: isRe ? text.flags : '' };
  }

  /** Waits for an element matching css (and text); returns it. */
  async find(css, { text, timeout = 60_000, visible = true } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      const mark = `m${++this.marks}`;
      await this.waitFor(FIND, { ...this.#findArg(css, text), mark, visible }, { timeout: Math.max(1, end - Date.now()), message: `${css}${text === undefined ? '' : ` with text ${text}`}` });
      try {
        const el = await this.cmd('POST', '/element', { using: 'css selector', value: `[data-cd-test="${mark}"]` });
        return new Element(this, el['element-6066-11e4-a52e-4f735466cecf'], css);
      } catch (e) {
        // The page replaced the element in between (a list redrawn): look again.
        if (!/no such element/.test(e.message) || Date.now() > end) throw e;
      }
    }
  }
  /** find() then click(), looking again when the page replaced the element in between. */
  async click(css, opts = {}) {
    for (let i = 0; ; i++) {
      const el = await this.find(css, opts);
      try {
        return await el.click();
      } catch (e) {
        if (!/stale element|no such element/.test(e.message) || i > 20) throw e;
      }
    }
  }
  async exists(css, { text, visible = true } = {}) {
    return this.evaluate(FIND, { ...this.#findArg(css, text), visible, mark: null });
  }
  async waitGone(css, { text, timeout = 60_000 } = {}) {
    const arg = { ...this.#findArg(css, text), visible: true, mark: null };
    await this.waitFor(NOT_FOUND, arg, { timeout, message: `${css}${text === undefined ? '' : ` with text ${text}`} gone` });
  }
  async waitForText(text, { within = 'body', timeout = 60_000 } = {}) {
    return this.find(within, { text, timeout, visible: true });
  }

  async screenshot(file) {
    const b64 = await this.cmd('GET', '/screenshot');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from(b64, 'base64'));
  }
  async setViewport(width, height) {
    // The window's outer size; headless Chromium and Firefox have no chrome around the page.
    await this.cmd('POST', '/window/rect', { width, height });
  }

  /** The open user prompt (alert, confirm, beforeunload), or null. */
  async dialog() {
    try {
      return { text: await this.cmd('GET', '/alert/text') };
    } catch (e) {
      if (/no such alert/.test(e.message)) return null;
      throw e;
    }
  }
  /** Waits for a user prompt (confirm, alert) to open; returns { text }. */
  async waitForDialog({ timeout = 10_000 } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      const d = await this.dialog();
      if (d) return d;
      if (Date.now() > end) throw new Error(`${this.engine}: no dialog opened within ${timeout} ms`);
      await sleep(50);
    }
  }
  async acceptDialog() {
    await this.cmd('POST', '/alert/accept', {});
  }
  async dismissDialog() {
    await this.cmd('POST', '/alert/dismiss', {});
  }
  sleep(ms) {
    return sleep(ms);
  }

  async close({ keepProfile = false } = {}) {
    await this.collectProblems();
    this.bidi?.ws.close();
    try {
      await fetch(`${this.driver.base}/session/${this.session}`, { method: 'DELETE' });
    } catch {
      // already gone
    }
    await this.#stopDriver('SIGTERM');
    if (this.ownProfile && !keepProfile) fs.rmSync(this.profile, { recursive: true, force: true });
    fs.rmSync(this.downloads, { recursive: true, force: true });
  }
  /** Kills the browser and its driver at once (SIGKILL), as a crash would; the profile stays. */
  async kill() {
    this.bidi?.ws.close();
    await this.#stopDriver('SIGKILL');
  }
  async #stopDriver(signal) {
    const { child } = this.driver;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, signal);
    } catch {
      // gone
    }
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/**
 * Starts the engine with a profile directory; returns a Browser on a blank page.
 * @param {{ engine?: string, width?: number, height?: number, profile?: string, proxy?: string,
 *   hideFilePicker?: boolean }} [opts]
 */
export async function launch({ engine = ENGINE, width = 1280, height = 900, profile, proxy, hideFilePicker = false } = {}) {
  const ownProfile = !profile;
  profile ??= fs.mkdtempSync(path.join(os.tmpdir(), `cipherdrop-${engine}-profile-`));
  fs.mkdirSync(profile, { recursive: true });
  const downloads = fs.mkdtempSync(path.join(os.tmpdir(), `cipherdrop-${engine}-downloads-`));
  // WebKitGTK keeps its data under XDG_DATA_HOME/XDG_CACHE_HOME: point them into the
  // profile directory (HOME too, where GLib falls back for the download directory).
  const env = engine === 'webkit'
    ? { XDG_DATA_HOME: path.join(profile, 'data'), XDG_CACHE_HOME: path.join(profile, 'cache'), XDG_CONFIG_HOME: path.join(profile, 'config'), HOME: profile }
    : {};
  if (engine === 'webkit') {
    // MiniBrowser saves downloads to GLib's download directory, read from user-dirs.dirs.
    fs.mkdirSync(env.XDG_CONFIG_HOME, { recursive: true });
    fs.writeFileSync(path.join(env.XDG_CONFIG_HOME, 'user-dirs.dirs'), `XDG_DOWNLOAD_DIR="${downloads}"\n`);
  }
  const driver = await startDriver(engine, env);
  const caps = capabilities(engine, { profile, downloads, width, height, proxy });
  let session;
  let wsUrl;
  try {
    const res = await fetch(`${driver.base}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ capabilities: { alwaysMatch: { ...caps, unhandledPromptBehavior: 'ignore' } } }),
    });
    const json = await res.json();
    if (!res.ok || json.value?.error) throw new Error(`${engine}: new session: ${json.value?.error}: ${json.value?.message}\n${driver.log()}`);
    session = json.value.sessionId;
    wsUrl = json.value.capabilities?.webSocketUrl;
  } catch (e) {
    try {
      process.kill(-driver.child.pid, 'SIGKILL');
    } catch {
      // gone
    }
    throw e;
  }
  const b = new Browser(engine, driver, session, { profile, downloads, ownProfile, hideFilePicker });
  if (wsUrl) await b.connectBidi(wsUrl);
  await b.cmd('POST', '/timeouts', { script: 600_000, pageLoad: 120_000, implicit: 0 });
  if (engine !== 'chromium') await b.cmd('POST', '/window/rect', { width, height }).catch(() => {});
  return b;
}
