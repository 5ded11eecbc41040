// The page's source is web/src (index.html there), built to web/dist, which
// `cipherdrop serve --web-dir web/dist` serves. The package loads its wasm with
// top-level await, hence the es2022 target. Two pages: index.html (the owner's) and
// share.html (a share link's recipient, served at /s/<share_id>).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const page = (name) => fileURLToPath(new URL(`./src/${name}`, import.meta.url));

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
    rollupOptions: { input: { index: page('index.html'), share: page('share.html') } },
  },
});
