// Loads the WebAssembly module once, at import (top-level await), so every
// low-level function is synchronous afterwards. Bundlers (Vite, webpack 5, Rollup)
// emit the .wasm file as an asset from the `new URL(..., import.meta.url)` below.
import init from './cipherdrop_wasm.js';

await init({ module_or_path: new URL('./cipherdrop_wasm_bg.wasm', import.meta.url) });

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
} from './cipherdrop_wasm.js';
