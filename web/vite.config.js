// The page's source is web/src (index.html there), built to web/dist, which
// `cipherdrop serve --web-dir web/dist` serves. The package loads its wasm with
// top-level await, hence the es2022 target.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'src',
  base: './',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    // Keep the wasm a separate file: a data: URL would need a looser CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
