//! Push-style streams entirely in wasm (crypto-core's `StreamSealer` and
//! `StreamOpener`): the reference the JavaScript `TransformStream`s are tested
//! against, and a path that needs neither WebCrypto nor JavaScript framing.

use cipherdrop_core::{StreamOpener, StreamSealer};
use wasm_bindgen::prelude::*;

use crate::error::{core_error, invalid};

/// Encrypts pushed plaintext; the header comes out with the first output.
#[wasm_bindgen]
#[derive(Debug)]
pub struct StreamEncryptor {
    inner: Option<StreamSealer>,
}

impl StreamEncryptor {
    pub(crate) fn new(inner: StreamSealer) -> Self {
        Self { inner: Some(inner) }
    }
}

#[wasm_bindgen]
impl StreamEncryptor {
    /// Encrypts what can be encrypted of `plaintext` and returns the file bytes that
    /// are ready (a chunk is held back until it is known not to be the last).
    ///
    /// @throws CipherDropError `LENGTH_MISMATCH` past the declared length,
    /// `INVALID_ARGUMENT` after `finish()`.
    pub fn push(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, JsValue> {
        let s = self
            .inner
            .as_mut()
            .ok_or_else(|| invalid("the stream is finished"))?;
        let mut out = Vec::with_capacity(plaintext.len() + 64);
        s.push(plaintext, &mut out).map_err(core_error)?;
        Ok(out)
    }

    /// Seals the final chunk and returns the last bytes. Nothing can follow.
    ///
    /// @throws CipherDropError `LENGTH_MISMATCH` when fewer bytes than declared were pushed.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsValue> {
        let s = self
            .inner
            .take()
            .ok_or_else(|| invalid("the stream is finished"))?;
        let mut out = Vec::new();
        s.finish(&mut out).map_err(core_error)?;
        Ok(out)
    }
}

/// Decrypts pushed chunk bytes (everything after the header): returns only
/// plaintext whose chunk has verified.
#[wasm_bindgen]
#[derive(Debug)]
pub struct StreamDecryptor {
    inner: Option<StreamOpener>,
}

impl StreamDecryptor {
    pub(crate) fn new(inner: StreamOpener) -> Self {
        Self { inner: Some(inner) }
    }
}

#[wasm_bindgen]
impl StreamDecryptor {
    /// Opens every complete chunk in `bytes` (after bytes held from earlier calls)
    /// and returns their verified plaintext. When a chunk fails after others in the
    /// same call verified, those are returned first and the next call throws.
    ///
    /// @throws CipherDropError `DECRYPTION_FAILED`, `TRAILING_DATA`; after an error
    /// every later call throws it again.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
        let s = self
            .inner
            .as_mut()
            .ok_or_else(|| invalid("the stream is finished"))?;
        let mut out = Vec::with_capacity(bytes.len());
        match s.push(bytes, &mut out) {
            Ok(()) => Ok(out),
            // Verified plaintext is released; the opener is poisoned and repeats the
            // error on the next push or finish.
            Err(_) if !out.is_empty() => Ok(out),
            Err(e) => Err(core_error(e)),
        }
    }

    /// Ends the stream: succeeds only once the final chunk has verified, returning
    /// any last plaintext.
    ///
    /// @throws CipherDropError `TRUNCATED` when the input ended before the final
    /// chunk, `DECRYPTION_FAILED`.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsValue> {
        let s = self
            .inner
            .take()
            .ok_or_else(|| invalid("the stream is finished"))?;
        let mut out = Vec::new();
        s.finish(&mut out).map_err(core_error)?;
        Ok(out)
    }
}
