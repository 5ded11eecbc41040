//! Reading a header without any key.

use cipherdrop_core::Header;
use cipherdrop_core::header::header_len_from_prefix;
use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::convert::{context_to_js, set, to_f64, wrapped_key_to_js};
use crate::error::core_error;

#[wasm_bindgen(typescript_custom_section)]
const HEADER_INFO_TS: &str = r#"
/** A file's header fields, read without any key (nothing here is verified yet). */
export interface HeaderInfo {
  /** Format version (1). */
  version: number;
  /** Algorithm suite id (1: AES-256-GCM, HKDF-SHA-512, key commitment). */
  suite: number;
  /** Header length in bytes: the first chunk starts here. */
  headerLength: number;
  /** Plaintext bytes per chunk. */
  chunkSize: number;
  /** Plaintext length when the writer recorded it. */
  plaintextLength?: number;
  /** Total file length (header and chunks) when the plaintext length is recorded. */
  ciphertextLength?: number;
  /** Number of chunks when the plaintext length is recorded. */
  chunkCount?: number;
  /** The 32-byte message id (public; the key-derivation salt). */
  messageId: Uint8Array;
  /** The encryption context (who owns the file, which object it is). */
  context: Record<string, string>;
  /** The wrapped data keys. */
  wrappedKeys: WrappedKey[];
}
/** One wrapped copy of a file's data key. */
export interface WrappedKey {
  /** Who can unwrap it: "aws-kms", "raw-aes", "passphrase-argon2id", ... */
  providerId: string;
  /** Which key of that provider (a key ARN, a key name, Argon2id parameters). */
  providerInfo: Uint8Array | string;
  /** The wrapped key itself. */
  blob: Uint8Array;
}
"#;

/// Parses a header into a plain object.
pub(crate) fn header_info(h: &Header) -> Result<Object, JsValue> {
    let obj = Object::new();
    set(&obj, "version", h.version());
    set(&obj, "suite", h.suite());
    set(&obj, "headerLength", to_f64(h.len() as u64)?);
    set(&obj, "chunkSize", h.chunk_size().get());
    if let Some(layout) = h.layout() {
        set(&obj, "plaintextLength", to_f64(layout.plaintext_len())?);
        set(&obj, "ciphertextLength", to_f64(layout.ciphertext_len())?);
        set(&obj, "chunkCount", to_f64(layout.chunk_count())?);
    }
    set(&obj, "messageId", Uint8Array::from(&h.message_id()[..]));
    set(&obj, "context", context_to_js(h.context()));
    let keys = Array::new();
    for w in h.wrapped_keys() {
        keys.push(&wrapped_key_to_js(w));
    }
    set(&obj, "wrappedKeys", keys);
    Ok(obj)
}

/// Reads the header at the start of `bytes` (which may go on with chunks) without
/// any key. Nothing is authenticated yet: a {@link Decryptor} does that.
///
/// @throws CipherDropError `TRUNCATED` when `bytes` ends inside the header,
/// `NOT_CIPHERDROP`, `UNSUPPORTED_VERSION`, `MALFORMED_HEADER`, `LIMIT_EXCEEDED`, ...
#[wasm_bindgen(js_name = readHeader, unchecked_return_type = "HeaderInfo")]
pub fn read_header(bytes: &[u8]) -> Result<Object, JsValue> {
    header_info(&Header::parse(bytes).map_err(core_error)?)
}

/// The header length, from the first 15 bytes of a file: read this many bytes,
/// then call {@link readHeader}.
///
/// @throws CipherDropError `TRUNCATED` with fewer than 15 bytes, `NOT_CIPHERDROP`,
/// `UNSUPPORTED_VERSION`, `UNSUPPORTED_SUITE`, `LIMIT_EXCEEDED`.
#[wasm_bindgen(js_name = headerLength)]
pub fn header_length(prefix: &[u8]) -> Result<u32, JsValue> {
    let n = header_len_from_prefix(prefix).map_err(core_error)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}
