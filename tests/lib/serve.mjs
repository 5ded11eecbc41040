// Starts `cipherdrop serve` for a test or a bench and waits until it printed its URL.
// The caller gives every argument (always a loopback `--listen`, usually port 0).

import { spawn } from 'node:child_process';

/**
 * Runs `bin` with `args` and resolves once it printed "CipherDrop is running at URL".
 * Rejects, with everything it printed, when it exits first or says nothing in time.
 * @returns {Promise<{url: string, child: import('node:child_process').ChildProcess,
 *   log: () => string, stop: () => Promise<void>}>}
 */
export async function startServe(bin, args, { timeoutMs = 30_000, keepLog = 200_000 } = {}) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`cipherdrop serve did not start in ${timeoutMs / 1000} s:\n${log}`));
    }, timeoutMs);
    const onData = (d) => {
      log = (log + d).slice(-keepLog);
      const m = /CipherDrop is running at (http\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${bin}: ${e.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cipherdrop serve exited (${code}):\n${log}`));
    });
  });
  const stop = () => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : (child.once('exit', () => r()), child.kill())));
  return { url, child, log: () => log, stop };
}
