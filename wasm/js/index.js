// cipherdrop: end-to-end encrypted files from the browser. See index.d.ts for the API.
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
} from './wasm.js';
export { hasWebCrypto, createChunkAead } from './aead.js';
export { ERROR_NAME, isCipherDropError } from './errors.js';
export {
  DEFAULT_CHUNK_SIZE,
  EncryptStream,
  DecryptStream,
  createEncryptor,
  createEncryptorAsync,
  encrypt,
  decrypt,
  decryptRange,
  collect,
} from './streams.js';
export { CipherDropClient, ApiError, StorageError, NAME_KEY_MARKER } from './client.js';
export { openShareLink, shareLinkInfo } from './shares.js';
