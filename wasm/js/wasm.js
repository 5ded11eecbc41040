// Loads the WebAssembly module once, at import (top-level await), so every
// low-level function is synchronous afterwards. Bundlers (Vite, webpack 5, Rollup)
// emit the .wasm file as an asset from the `new URL(..., import.meta.url)` below;
// browsers fetch it from that URL.
//
// Node (20+) cannot fetch a `file:` URL, so there the bytes are read from the
// package's own directory. The specifier of node:fs is a variable and the import is
// marked ignored so that bundlers building for the browser neither resolve nor
// stub it: in a browser the branch is never taken.
import init from './cipherdrop_wasm.js';

const wasmUrl = new URL('./cipherdrop_wasm_bg.wasm', import.meta.url);

async function nodeWasmBytes(url) {
  const fsModule = 'node:fs/promises';
  const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule);
  return readFile(url);
}

const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

await init({ module_or_path: inNode && wasmUrl.protocol === 'file:' ? await nodeWasmBytes(wasmUrl) : wasmUrl });

export {
  readHeader,
  headerLength,
  ciphertextSize,
  plaintextSize,
  planParts,
  chunkNonce,
  Encryptor,
  Decryptor,
  ChunkCipher,
  Keyring,
  StreamEncryptor,
  StreamDecryptor,
  argon2id,
} from './cipherdrop_wasm.js';
