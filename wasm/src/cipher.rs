//! The chunk AEAD in wasm: the fallback where WebCrypto (`crypto.subtle`) is missing,
//! and the reference the WebCrypto path is tested against.

use aes_gcm::aead::{AeadInOut, Tag};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use cipherdrop_core::sizes::TAG_LEN;
use cipherdrop_core::stream;
use wasm_bindgen::prelude::*;

use crate::convert::{key32, to_u64};
use crate::error::{core_error, invalid};

/// The 12-byte nonce of chunk `index` (`0x000000 ‖ index as u64 BE ‖ final flag`),
/// from crypto-core: what WebCrypto's `AES-GCM` `iv` must be for that chunk.
///
/// @throws CipherDropError `INVALID_ARGUMENT` for a negative or fractional index.
#[wasm_bindgen(js_name = chunkNonce)]
pub fn chunk_nonce(index: f64, is_final: bool) -> Result<Vec<u8>, JsValue> {
    Ok(stream::chunk_nonce(to_u64(index, "index")?, is_final).to_vec())
}

/// AES-256-GCM over chunks with crypto-core's nonces, in wasm (no hardware AES:
/// about a sixth of WebCrypto's speed). Give it an {@link Encryptor}'s or a
/// {@link Decryptor}'s `contentKey()`.
#[wasm_bindgen]
pub struct ChunkCipher {
    cipher: Aes256Gcm,
}

impl core::fmt::Debug for ChunkCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChunkCipher").finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl ChunkCipher {
    /// A cipher for a 32-byte content key.
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` unless the key is 32 bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(content_key: &[u8]) -> Result<ChunkCipher, JsValue> {
        let key = key32(content_key, "the content key")?;
        Ok(Self {
            cipher: Aes256Gcm::new(&key.into()),
        })
    }

    /// Seals chunk `index`: returns `ciphertext ‖ tag` (16 bytes longer), the same
    /// bytes as `crypto.subtle.encrypt({ name: "AES-GCM", iv: chunkNonce(index, isFinal) }, ...)`.
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` for a bad index or a chunk over 16 MiB.
    pub fn seal(&self, index: f64, is_final: bool, plaintext: &[u8]) -> Result<Vec<u8>, JsValue> {
        let nonce = stream::chunk_nonce(to_u64(index, "index")?, is_final);
        if plaintext.len() > cipherdrop_core::ChunkSize::MAX.get() as usize {
            return Err(invalid("a chunk is at most 16 MiB"));
        }
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_inout_detached(&Nonce::from(nonce), &[], out.as_mut_slice().into())
            .map_err(|_| invalid("AES-GCM refused the chunk"))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens chunk `index` (`ciphertext ‖ tag`): returns the plaintext only when
    /// the tag verifies.
    ///
    /// @throws CipherDropError `DECRYPTION_FAILED` when it does not verify,
    /// `TRUNCATED` when shorter than a tag.
    pub fn open(&self, index: f64, is_final: bool, sealed: &[u8]) -> Result<Vec<u8>, JsValue> {
        let nonce = stream::chunk_nonce(to_u64(index, "index")?, is_final);
        let n = sealed
            .len()
            .checked_sub(TAG_LEN)
            .ok_or_else(|| core_error(cipherdrop_core::Error::Truncated))?;
        let mut body = sealed[..n].to_vec();
        let tag = Tag::<Aes256Gcm>::try_from(&sealed[n..]).map_err(|_| invalid("tag length"))?;
        self.cipher
            .decrypt_inout_detached(&Nonce::from(nonce), &[], body.as_mut_slice().into(), &tag)
            .map_err(|_| core_error(cipherdrop_core::Error::DecryptionFailed))?;
        Ok(body)
    }
}
