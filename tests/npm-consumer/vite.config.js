import { defineConfig } from 'vite';

export default defineConfig({
  // The package loads its .wasm through new URL(..., import.meta.url): keep it out
  // of the dev server's dependency pre-bundling (the production build needs nothing).
  optimizeDeps: { exclude: ['cipherdrop'] },
  build: { target: 'es2022' },
});
