// A benchmark's temporary files, removed when the process ends however it ends:
// normally, on an uncaught error, on Ctrl-C (SIGINT), SIGTERM or SIGHUP. The shell
// wrappers (bench/lib.sh) also point TMPDIR at a directory of their own that they
// remove, so nothing is left even when node is killed with SIGKILL.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dirs = [];
const hooks = [];

function cleanup() {
  for (const hook of hooks.splice(0).reverse()) {
    try {
      hook();
    } catch {
      // best effort: the directories still go
    }
  }
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}
process.on('exit', cleanup);
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, removing the temporary files`);
    process.exit(code);
  });
}

/** A fresh directory under the system's temporary directory, removed at exit. */
export function scratchDir(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cipherdrop-${name}-`));
  dirs.push(dir);
  return dir;
}

/**
 * Runs `hook` (synchronous: e.g. kill a child process) when the process ends, before
 * the scratch directories are removed.
 */
export function atExit(hook) {
  hooks.push(hook);
}
