// Bundles page.js (the package from wasm/pkg and the peer libraries from npm) into
// dist/ with esbuild; the AWS client needs a Buffer global, injected from `buffer`.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const dist = path.join(here, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist);
await esbuild.build({
  entryPoints: [path.join(here, 'page.js')],
  bundle: true,
  format: 'esm',
  target: 'chrome120',
  outfile: path.join(dist, 'page.js'),
  inject: [path.join(here, 'lib/buffer-shim.js')],
  define: { global: 'globalThis' },
  logLevel: 'warning',
});
// wasm.js loads new URL('./cipherdrop_wasm_bg.wasm', import.meta.url): next to the bundle.
fs.copyFileSync(path.join(here, '../../wasm/pkg/cipherdrop_wasm_bg.wasm'), path.join(dist, 'cipherdrop_wasm_bg.wasm'));
