/**
 * cipherdrop: end-to-end encrypted files from the browser.
 *
 * The format (header, per-object key derivation, key commitment, nonces, the
 * final-chunk rule) is crypto-core compiled to WebAssembly; chunks are sealed with
 * WebCrypto AES-256-GCM where `crypto.subtle` exists (hardware AES) and with the
 * wasm AES-GCM otherwise — the same bytes either way.
 *
 * Importing the package loads the WebAssembly module (top-level await), so the
 * low-level functions below are synchronous.
 *
 * @packageDocumentation
 */

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
export type { HeaderInfo, WrappedKey, PassphraseParams, PartPlan } from './cipherdrop_wasm.js';

import type { Encryptor, Decryptor, Keyring, HeaderInfo, WrappedKey } from './cipherdrop_wasm.js';

/** Stable error codes: those of crypto-core plus a few raised in JavaScript. */
export type ErrorCode =
  | 'NOT_CIPHERDROP'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_SUITE'
  | 'MALFORMED_HEADER'
  | 'LIMIT_EXCEEDED'
  | 'INVALID_CHUNK_SIZE'
  | 'INVALID_CONTEXT'
  | 'INVALID_WRAPPED_KEY'
  | 'CONTEXT_MISMATCH'
  | 'WRONG_KEY'
  | 'COMMITMENT_MISMATCH'
  | 'HEADER_AUTH_FAILED'
  | 'DECRYPTION_FAILED'
  | 'TRUNCATED'
  | 'TRAILING_DATA'
  | 'TOO_LARGE'
  | 'LENGTH_MISMATCH'
  | 'OUT_OF_RANGE'
  | 'RANDOMNESS'
  | 'INVALID_ARGUMENT'
  | 'NO_WEBCRYPTO'
  | 'ABORTED'
  | 'DIFFERENT_FILE'
  | 'FILE_NEEDED'
  | 'UPLOAD_UNKNOWN'
  | 'INVALID_LINK'
  | 'PASSWORD_REQUIRED'
  | 'WRONG_PASSWORD'
  | 'LINK_CHANGED'
  | 'LINK_UNAVAILABLE'
  | (string & {});

/** Every error this package throws: an `Error` named `"CipherDropError"` with a stable `code`. */
export interface CipherDropError extends Error {
  name: 'CipherDropError';
  /** Machine-readable: `"DECRYPTION_FAILED"`, `"TRUNCATED"`, `"CONTEXT_MISMATCH"`, ... */
  code: ErrorCode;
  /** With `WRONG_PASSWORD`: wrong passwords the link still takes before it closes (0: closed). */
  attemptsLeft?: number;
}

/** The `name` of every error this package throws (`"CipherDropError"`). */
export const ERROR_NAME: 'CipherDropError';

/** True when `e` was thrown by this package (from wasm or JavaScript). */
export function isCipherDropError(e: unknown): e is CipherDropError;

/** Which AES-GCM implementation seals and opens chunks. `"auto"`: WebCrypto when available, else wasm. */
export type Engine = 'auto' | 'webcrypto' | 'wasm';

/** True when WebCrypto AES-GCM (`crypto.subtle`) is available here (a secure context). */
export function hasWebCrypto(): boolean;

/** Seals and opens chunks of one file with its content key and crypto-core's nonces. */
export interface ChunkAead {
  /** The implementation chosen. */
  readonly engine: 'webcrypto' | 'wasm';
  /** Seals chunk `index`: resolves to `ciphertext ‖ tag`. The input may be reused once this returns. */
  seal(index: number, isFinal: boolean, plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  /** Opens chunk `index`; rejects with `DECRYPTION_FAILED` unless its tag verifies. */
  open(index: number, isFinal: boolean, sealed: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  /** Releases the wasm cipher (no-op for WebCrypto). */
  free(): void;
}

/**
 * A chunk AEAD for a content key (from {@link Encryptor.contentKey} or {@link Decryptor.contentKey}).
 * @throws CipherDropError `NO_WEBCRYPTO` when `engine` is `"webcrypto"` and it is missing.
 */
export function createChunkAead(contentKey: Uint8Array, engine?: Engine): Promise<ChunkAead>;

/** Default plaintext bytes per chunk: 262144 (256 KiB), the fastest WebCrypto size measured. */
export const DEFAULT_CHUNK_SIZE: number;

/** How to encrypt: with a data key from the backend, or with a keyring the user holds. */
export interface EncryptOptions {
  /** The plaintext data key (32 bytes), e.g. from the backend's start-upload response. */
  dataKey?: Uint8Array;
  /** Its wrapped forms for the header (with `dataKey`). */
  wrappedKeys?: WrappedKey[];
  /** Self-managed secret mode: a fresh data key is made and wrapped with this keyring. */
  keyring?: Keyring;
  /** The encryption context bound into the header (who owns it, which object it is). */
  context?: Record<string, string>;
  /** Plaintext bytes per chunk: a power of two from 4096 to 16777216. Default {@link DEFAULT_CHUNK_SIZE}. */
  chunkSize?: number;
  /** The plaintext length, when known: recorded in the header, and the input must match it. */
  plaintextLength?: number;
  /** Use an existing wasm Encryptor instead of the options above. */
  encryptor?: Encryptor;
  /** AES-GCM implementation (default `"auto"`). */
  engine?: Engine;
  /** Chunks sealed concurrently (default 4). */
  inFlight?: number;
}

/**
 * Encrypts plaintext into a CipherDrop file: the header, then one sealed chunk
 * (`chunkSize + 16` bytes, the last shorter) per output `Uint8Array`.
 *
 * @example
 * ```ts
 * const enc = new EncryptStream({ dataKey, wrappedKeys, context, plaintextLength: file.size });
 * const ciphertext = file.stream().pipeThrough(enc);
 * ```
 * @throws (through the stream) CipherDropError `LENGTH_MISMATCH` when the input differs from `plaintextLength`.
 */
export class EncryptStream extends TransformStream<Uint8Array, Uint8Array> {
  /** @throws CipherDropError as {@link Encryptor}'s constructor. */
  constructor(options: EncryptOptions);
  /** The file's header (its first bytes). */
  readonly header: Uint8Array;
  /** Header length in bytes. */
  readonly headerLength: number;
  /** The file's total length, when `plaintextLength` was given. */
  readonly ciphertextLength: number | undefined;
  /** The wasm Encryptor (for `sealChunk`, `planParts`, ...). */
  readonly encryptor: Encryptor;
}

/** The keys of one object (32 bytes each), as a CipherDrop backend's `keys` answer gives them. */
export interface ObjectKeys {
  /** AES-256-GCM key of the chunks. */
  contentKey: Uint8Array;
  /** HMAC-SHA-256 key of the header tag. */
  headerKey: Uint8Array;
}

/** How to decrypt: the data key (or how to get it once the header is read), one object's keys, or a keyring. */
export interface DecryptOptions {
  /** The data key, or an async function given the (not yet verified) header that returns it. */
  dataKey?: Uint8Array | ((header: HeaderInfo) => Promise<Uint8Array> | Uint8Array);
  /**
   * The keys of this one object, or an async function given the (not yet verified)
   * header and its bytes that returns them (from a backend that checked the header's
   * key commitment: it alone has the data key). The header's context and tag are
   * still checked here; keys a function returns are wiped once used.
   */
  objectKeys?: ObjectKeys | ((header: HeaderInfo, headerBytes: Uint8Array) => Promise<ObjectKeys> | ObjectKeys);
  /** Self-managed secret mode: unwrap the data key with a key or passphrase the user holds. */
  keyring?: Keyring;
  /** The context the file must have; a file with another is refused (`CONTEXT_MISMATCH`). */
  context?: Record<string, string>;
  /** For files written without a recorded length: their total length (random access only). */
  ciphertextLength?: number;
  /** AES-GCM implementation (default `"auto"`). */
  engine?: Engine;
  /** Chunks opened concurrently (default 4). Output order is always the file's. */
  inFlight?: number;
}

/**
 * Decrypts a CipherDrop file into plaintext. A chunk's plaintext is emitted only
 * after its tag verifies; any damage errors the stream with a `code`, and a file
 * that ends before its final chunk errors with `TRUNCATED` instead of closing.
 */
export class DecryptStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor(options: DecryptOptions);
  /** Resolves with the verified header once it has been read and checked. */
  readonly header: Promise<HeaderInfo>;
}

/** Encrypts a whole `Uint8Array` or `Blob` (read as a stream) into one `Uint8Array`. */
export function encrypt(data: Uint8Array | Blob, options: EncryptOptions): Promise<Uint8Array<ArrayBuffer>>;

/** Decrypts a whole `Uint8Array` or `Blob` (read as a stream) into one `Uint8Array`. */
export function decrypt(data: Uint8Array | Blob, options: DecryptOptions): Promise<Uint8Array<ArrayBuffer>>;

/** Reads a stream to its end into one `Uint8Array`. */
export function collect(readable: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer>>;

/** Builds the wasm {@link Encryptor} that {@link EncryptStream} would use for these options. */
export function createEncryptor(options: EncryptOptions): Encryptor;

/**
 * As {@link createEncryptor}, but with a passphrase keyring the Argon2id wrap runs in a
 * Web Worker (`keyring-worker.js` next to the package) so the page's thread stays
 * responsive; on the calling thread where no worker can start (Node, a CSP without
 * `worker-src 'self'`). Pass the result as `encryptor` to {@link EncryptStream}.
 * `encrypt`, `decrypt`, `decryptRange` and {@link DecryptStream} do the same by
 * themselves; the synchronous APIs (`new EncryptStream({ keyring })`,
 * `Encryptor.withKeyring`, `Decryptor.withKeyring`, `Keyring#wrap`/`unwrap`) run
 * Argon2id on the calling thread.
 */
export function createEncryptorAsync(options: EncryptOptions): Promise<Encryptor>;

/** Where random access reads ciphertext from: a byte range `[start, end)`. */
export interface RangeSource {
  /** Total file length (needed only for files without a recorded length). */
  size?: number;
  /** Reads file bytes `[start, end)` (e.g. an HTTP `Range` request). */
  read(start: number, end: number): Promise<Uint8Array>;
}

/** Options of {@link decryptRange}: {@link DecryptOptions} and the plaintext range. */
export interface RangeOptions extends DecryptOptions {
  /** First plaintext byte. */
  start: number;
  /** One past the last plaintext byte. */
  end: number;
}

/**
 * Random access: decrypts plaintext bytes `[start, end)` reading only the header and
 * the chunks that hold them; each chunk is authenticated before any byte is returned.
 * @throws CipherDropError `OUT_OF_RANGE`, `DECRYPTION_FAILED`, or any header error.
 */
export function decryptRange(source: Blob | Uint8Array | RangeSource, options: RangeOptions): Promise<Uint8Array<ArrayBuffer>>;

/** An error answer of the backend API (docs/API.md): HTTP `status` and its stable `code`. */
export class ApiError extends Error {
  name: 'ApiError';
  /** HTTP status. */
  readonly status: number;
  /** The API's stable code: `"not_found"`, `"unauthorized"`, `"key_disabled"`, ... */
  readonly code: string;
  /** With `wrong_password` (a share link's): wrong passwords it still takes, 0 once closed. */
  readonly attemptsLeft?: number;
}

/** A presigned storage (S3) request failed after its retries: HTTP `status`, 0 when there was no answer. */
export class StorageError extends Error {
  name: 'StorageError';
  readonly status: number;
}

/** Stored name of the objects that hold a user's name keys (never listed by {@link CipherDropClient.list}). */
export const NAME_KEY_MARKER: string;

/** Options of {@link CipherDropClient}. */
export interface ClientOptions {
  /** The backend's origin (and path prefix), e.g. `"https://drop.example.com"`; default: this origin. */
  baseUrl?: string;
  /** A bearer token (development login or an OIDC JWT). */
  token: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
  /** Retries of a failed request (network error, 403 from storage, 408/429/5xx); default 4. */
  retries?: number;
  /** First backoff delay in ms (doubles each retry, with jitter, up to 8 s); default 250. */
  retryDelay?: number;
  /**
   * Seal and send parts in Web Workers (default true; falls back to this thread when
   * workers cannot start, e.g. under a CSP without `worker-src 'self'`). A worker
   * reads its 4 parts as one stream, seals each into a Blob and sends it itself, so
   * the page's thread never holds a part; it is then terminated, which frees their
   * memory at once. The worker sends to the storage, so the CSP that serves `worker.js` must
   * allow the storage origin in `connect-src`.
   */
  useWorker?: boolean;
  /**
   * Sealed parts held in memory at once by all uploads of this client, sealed and
   * waiting or being sent (default 5: 4 sent while the next is sealed). Parts are
   * about 8 MiB, so this bounds an upload's memory, however many files upload together.
   */
  partsInFlight?: number;
}

/** A stored file as the client shows it. */
export interface StoredFile {
  /** Object id (32 hex characters). */
  id: string;
  /** Stored (ciphertext) size in bytes. */
  size: number;
  /** RFC 3339 time of the upload. */
  lastModified: string;
  /**
   * The decrypted file name, or `null` when there is none or it cannot be read:
   * another key, or a name sealed for another object (names are bound to their
   * owner and object id, so one copied from another file's metadata is refused).
   */
  name: string | null;
  /** Plaintext size in bytes (sealed with the name), or `null` when not known. */
  plaintextSize: number | null;
}

/** Upload progress. */
export interface UploadProgress {
  phase: 'encrypting' | 'uploading' | 'completing' | 'done';
  /** Plaintext bytes sealed so far. */
  encrypted: number;
  /** Ciphertext bytes sent so far (goes back down when a request fails and is retried). */
  sent: number;
  /** Ciphertext bytes in all. */
  total: number;
  /** Plaintext bytes in all. */
  plaintextTotal: number;
}

/** Options of {@link CipherDropClient.upload}. */
export interface UploadOptions {
  /** The file name to store (encrypted); default `file.name` for a `File`. */
  name?: string;
  onProgress?: (progress: UploadProgress) => void;
  /** Aborts the upload (rejects with the signal's reason, an `AbortError` by default) and discards its parts. */
  signal?: AbortSignal;
  /** Parts sent at once (default 4; sealed one at a time, and never more than the client's `partsInFlight` held). */
  concurrency?: number;
  /** Chunk size for this file (default: the server's). */
  chunkSize?: number;
  /** Force multipart (`true`) or a single PUT (`false`); default: by size, as the server decides. */
  multipart?: boolean;
  /** Told of each retried part request. */
  onRetry?: (info: { part: number; attempt: number; error: Error }) => void;
  /**
   * Keep what is needed to resume this upload in IndexedDB (object id, upload token,
   * header, layout, parts done with their ETags, the file's size and date, a digest of
   * its first sealed chunk; never a key). An upload interrupted by network, storage or
   * server trouble is then kept at the server (its error has `resumable: true`) and
   * {@link CipherDropClient.resumeUpload} finishes it, even after a reload or a crash.
   * Ignored where IndexedDB is missing. Default false.
   */
  resumable?: boolean;
  /** With `resumable`: a File System Access handle to the file, kept so a resume needs no new pick (Chromium). */
  fileHandle?: FileSystemFileHandle;
}

/** An upload this browser started with `resumable: true` and has not finished. */
export interface UnfinishedUpload {
  /** Object id. */
  id: string;
  /** The file name, or `null`. */
  name: string | null;
  /** The file's size in bytes and its last-modified time (ms since the epoch). */
  size: number;
  lastModified: number | null;
  /** When the upload started and when it can no longer be resumed (ms since the epoch). */
  startedAt: number;
  expiresAt: number;
  /** Parts this browser saw stored, and parts in all (the storage's own list decides on resume). */
  partsDone: number;
  partsTotal: number;
  /** Ciphertext bytes in those parts, and in all. */
  sentBytes: number;
  totalBytes: number;
  /** The kept file handle, or `null` (the file must then be picked again). */
  fileHandle: FileSystemFileHandle | null;
}

/** Options of {@link CipherDropClient.download}. */
export interface DownloadOptions {
  /** Ciphertext bytes received so far and in all. */
  onProgress?: (progress: { received: number; total: number }) => void;
  signal?: AbortSignal;
}

/**
 * The client of a CipherDrop backend. Files are encrypted before they leave the
 * browser (read in slices, sealed in a Web Worker with WebCrypto, sent as multipart
 * parts in parallel with retries); the backend builds each file's header and hands
 * out only the keys of that one object (never a data key) and presigned URLs. File
 * names are encrypted too, bound to their object, with per-user name keys stored as
 * ordinary encrypted objects.
 *
 * @example
 * ```ts
 * const client = new CipherDropClient({ baseUrl, token });
 * const stored = await client.upload(file, { onProgress: (p) => bar.value = p.sent / p.total });
 * const plaintext = await client.download(stored.id); // ReadableStream of verified bytes
 * ```
 */
export class CipherDropClient {
  constructor(options: ClientOptions);
  /** Encrypts and uploads a file; resolves with the stored file. @throws ApiError, StorageError, CipherDropError, AbortError */
  upload(file: Blob, options?: UploadOptions): Promise<StoredFile>;
  /** A stream of the file's verified plaintext; it errors with a `code` on damage or truncation. @throws ApiError, StorageError */
  download(id: string, options?: DownloadOptions): Promise<ReadableStream<Uint8Array>>;
  /** Every file of the user, names decrypted. @throws ApiError */
  list(options?: { signal?: AbortSignal }): Promise<StoredFile[]>;
  /** One file, name decrypted. @throws ApiError (404 `not_found`) */
  get(id: string, options?: { signal?: AbortSignal }): Promise<StoredFile>;
  /** Deletes a file. @throws ApiError (404 `not_found`) */
  delete(id: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** The signed-in user: `{ user, owner }`. */
  whoami(signal?: AbortSignal): Promise<{ user: string; owner: string }>;
  /** The resumable uploads of this user that this browser has not finished, newest first (expired ones are dropped). */
  unfinishedUploads(options?: { signal?: AbortSignal }): Promise<UnfinishedUpload[]>;
  /**
   * Finishes an unfinished upload, sending only the parts the storage lacks.
   * `file` is the same file picked again, or a file handle; omit it when the upload kept a handle.
   * @throws CipherDropError `DIFFERENT_FILE` (size, date or first sealed chunk differ; nothing sent),
   * `FILE_NEEDED`, `UPLOAD_UNKNOWN`; ApiError 404 `upload_not_found` (expired or ended: start again; the record is dropped);
   * as {@link CipherDropClient.upload}.
   */
  resumeUpload(
    id: string,
    file?: Blob | FileSystemFileHandle,
    options?: Omit<UploadOptions, 'name' | 'chunkSize' | 'multipart' | 'resumable' | 'fileHandle'>,
  ): Promise<StoredFile>;
  /** Aborts an unfinished upload at the server (best effort) and forgets it here. */
  discardUpload(id: string, options?: { signal?: AbortSignal }): Promise<void>;

  /**
   * Makes a sharing link to one of the user's files: `<pageUrl>/s/<share id>#<secret>`.
   * The secret (and the password) never leave this browser; the server keeps the
   * file's keys, name and size sealed under a key derived from them. `url` is always set.
   * @throws ApiError (404 `not_found`, 400 `invalid_share`), StorageError, CipherDropError
   */
  createShareLink(objectId: string, options?: ShareLinkOptions): Promise<ShareLink>;
  /**
   * The links to one file, oldest first (expired ones too). `url` is recovered from
   * the link's `owner_sealed` with the user's name keys, `null` when it does not open here.
   */
  listShareLinks(objectId: string, options?: { signal?: AbortSignal; pageUrl?: string }): Promise<ShareLink[]>;
  /** Withdraws a link: it answers `LINK_UNAVAILABLE` from then on. @throws ApiError (404 `not_found`) */
  revokeShareLink(shareId: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Opens a sharing link; the same as the standalone {@link openShareLink}. */
  static openShareLink(url: string, options?: OpenShareLinkOptions): Promise<SharedFile>;
  /** Whether a link needs a password; the same as the standalone {@link shareLinkInfo}. */
  static shareLinkInfo(url: string, options?: ShareLinkInfoOptions): Promise<ShareLinkInfo>;

  /**
   * Gives another user of this server (by handle: their user name, or e-mail address
   * under OIDC) access to one file. The name and plaintext size are sealed for them
   * under a key derived from the file's header key (`sealed_meta`). Granting again
   * replaces it. @throws ApiError (404 `not_found`, 400 `invalid_grantee`)
   */
  grant(objectId: string, grantee: string, options?: { signal?: AbortSignal }): Promise<Grant>;
  /** The grants of one file, oldest first. */
  listGrants(objectId: string, options?: { signal?: AbortSignal }): Promise<Grant[]>;
  /** Withdraws a grant. @throws ApiError (404 `not_found`) */
  revokeGrant(objectId: string, granteeId: string, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * The files other users granted to this one, names opened (the keys of each file are
   * asked for, four files at a time); a file whose name cannot be opened has `name: null`.
   */
  sharedWithMe(options?: { signal?: AbortSignal }): Promise<SharedWithMe[]>;
  /** Verified plaintext of a file granted to this user, as {@link CipherDropClient.download}. @throws ApiError (404 `not_found`: no grant) */
  downloadShared(owner: string, objectId: string, options?: DownloadOptions): Promise<ReadableStream<Uint8Array>>;
}

/** Options of {@link CipherDropClient.createShareLink}. */
export interface ShareLinkOptions {
  /** Seconds until the link expires (default 7 days; at most the server's `--share-max-days`). */
  expiresIn?: number;
  /** Downloads allowed, 1 to 1000 (default: no limit). */
  maxDownloads?: number;
  /** A password the recipient must type (stretched with Argon2id, 64 MiB, 3 passes; in a Web Worker when one can start). */
  password?: string;
  /** Origin and path the link opens at (`<pageUrl>/s/<id>#…`); default the client's `baseUrl`, else `location.origin`. */
  pageUrl?: string;
  signal?: AbortSignal;
}

/** A sharing link as its owner sees it. */
export interface ShareLink {
  /** 32 lowercase hex characters. */
  shareId: string;
  objectId: string;
  /** The whole link with its secret; `null` when this browser cannot open the copy kept for the owner. */
  url: string | null;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds. */
  expiresAt: number;
  expired: boolean;
  maxDownloads: number | null;
  downloads: number;
  downloadsLeft: number | null;
  /** Whether the link has a password. */
  password: boolean;
}

/** Options of {@link openShareLink}. */
export interface OpenShareLinkOptions {
  /** The link's password, when it has one. */
  password?: string;
  /** The API's base; default the link's origin (and any path before `/s/`). */
  baseUrl?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** Options of {@link shareLinkInfo}. */
export interface ShareLinkInfoOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** What {@link shareLinkInfo} answers. */
export interface ShareLinkInfo {
  shareId: string;
  passwordRequired: boolean;
}

/** A file opened from a sharing link. */
export interface SharedFile {
  shareId: string;
  /** The file name, `null` when the owner's file had none. */
  name: string | null;
  /** Plaintext bytes. */
  size: number;
  /** Unix seconds. */
  expiresAt: number;
  /** Downloads left (updated by each `download`), `null` without a limit. */
  downloadsLeft: number | null;
  /**
   * A stream of the file's verified plaintext (as {@link CipherDropClient.download});
   * with a limit, each call counts one download. Progress is in ciphertext bytes.
   * @throws CipherDropError `LINK_UNAVAILABLE` (e.g. the last download was taken), StorageError
   */
  download(options?: DownloadOptions): Promise<ReadableStream<Uint8Array>>;
}

/** A grant of one file to another user. */
export interface Grant {
  /** The handle it was granted to. */
  grantee: string;
  /** 32 hex characters: what {@link CipherDropClient.revokeGrant} takes. */
  granteeId: string;
  objectId: string;
  /** Unix seconds. */
  createdAt: number;
}

/** A file another user granted to this one. */
export interface SharedWithMe {
  /** The owner's id (32 hex): what {@link CipherDropClient.downloadShared} takes. */
  owner: string;
  /** The owner's handle when they granted it, or `null`. */
  from: string | null;
  objectId: string;
  /** Ciphertext bytes. */
  size: number;
  /** RFC 3339. */
  lastModified: string;
  /** Unix seconds. */
  grantedAt: number;
  /** The file name, `null` when it cannot be opened. */
  name: string | null;
  /** Plaintext bytes, `null` when not known. */
  plaintextSize: number | null;
}

/**
 * Opens a sharing link `…/s/<share id>#<secret>` without an account: derives the
 * link's keys from the secret (and the password, Argon2id in a Web Worker when one
 * can start; the server's costs are refused above 65536 KiB, 4 passes, 4 lanes), opens
 * the sealed keys and name, and answers a {@link SharedFile}. Counts no download.
 * Neither the secret nor the password is sent anywhere.
 * @throws CipherDropError `INVALID_LINK` (no or short fragment, bad id),
 * `PASSWORD_REQUIRED`, `WRONG_PASSWORD` (with `attemptsLeft`; 0 once the link closed),
 * `LINK_CHANGED`, `LINK_UNAVAILABLE`, `LIMIT_EXCEEDED` (costs above the caps); ApiError otherwise.
 */
export function openShareLink(url: string, options?: OpenShareLinkOptions): Promise<SharedFile>;

/** Whether a sharing link needs a password (one request, no key derived). @throws as {@link openShareLink}. */
export function shareLinkInfo(url: string, options?: ShareLinkInfoOptions): Promise<ShareLinkInfo>;
