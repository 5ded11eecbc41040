//! CipherDrop in the browser: [`cipherdrop_core`] compiled to WebAssembly.
//!
//! This crate is the low-level half of the npm package `cipherdrop`; the JavaScript
//! half (`wasm/js/`) adds streams, the WebCrypto fast path, a Web Worker and the
//! client of the backend API. Everything exported here has a camelCase JavaScript
//! name and throws `Error`s whose `code` is [`cipherdrop_core::Error::code`].
//!
//! - [`read_header`] / [`header_length`]: a file's header without any key;
//! - [`Encryptor`]: builds the header and seals chunks (any order, for parallel parts);
//! - [`Decryptor`]: checks a header (context, key commitment, tag) and opens chunks;
//! - [`StreamEncryptor`] / [`StreamDecryptor`]: whole streams in wasm (crypto-core's);
//! - [`ChunkCipher`]: the wasm AES-256-GCM used when WebCrypto is missing;
//! - [`Keyring`]: self-managed secrets, a 32-byte key or a passphrase (Argon2id);
//! - [`argon2id`]: raw Argon2id within FORMAT.md 2.4's caps (a sharing link's password);
//! - [`ciphertext_size`], [`plaintext_size`], [`plan_parts`]: size arithmetic.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Errors are documented as TSDoc `@throws` lines, which wasm-bindgen copies into the
// `.d.ts` that JavaScript users read; a Rust `# Errors` heading would not render there.
#![allow(clippy::missing_errors_doc)]

mod argon2id;
mod cipher;
mod convert;
mod decryptor;
mod encryptor;
mod error;
mod header;
mod keyring;
mod sizes;
mod stream;

pub use argon2id::argon2id;
pub use cipher::{ChunkCipher, chunk_nonce};
pub use decryptor::Decryptor;
pub use encryptor::Encryptor;
pub use error::ERROR_NAME;
pub use header::{header_length, read_header};
pub use keyring::{Keyring, PASSPHRASE_PROVIDER};
pub use sizes::{ciphertext_size, plaintext_size, plan_parts};
pub use stream::{StreamDecryptor, StreamEncryptor};
