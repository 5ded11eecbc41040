//! The writer side: a header and sealed chunks, in any order.

use cipherdrop_core::{DataKey, Error, Header, Layout, ObjectKeys, Sealer};
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::convert::{context_from_js, key32, to_f64, to_u64, wrapped_keys_from_js};
use crate::error::{core_error, invalid};
use crate::keyring::Keyring;
use crate::sizes::{chunk_size, parts_to_js};
use crate::stream::StreamEncryptor;

/// Encrypts one file: builds its header (fresh random message id, so its own
/// content key) and seals chunk *i* on its own, so parts can be sealed in parallel.
///
/// Seal each index once: sealing one index twice with different bytes reuses a nonce.
/// To retry an upload, resend the same ciphertext or start a new `Encryptor`.
#[wasm_bindgen]
pub struct Encryptor {
    sealer: Sealer,
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor")
            .field("sealer", &self.sealer)
            .finish()
    }
}

fn length(plaintext_length: Option<f64>) -> Result<Option<u64>, JsValue> {
    plaintext_length
        .map(|n| to_u64(n, "plaintextLength"))
        .transpose()
}

impl Encryptor {
    fn layout(&self) -> Result<Layout, JsValue> {
        self.sealer
            .layout()
            .ok_or_else(|| invalid("the plaintext length was not given to this Encryptor"))
    }
}

#[wasm_bindgen]
impl Encryptor {
    /// An encryptor for a data key the caller has (from the backend: its plaintext
    /// and its wrapped forms), the file's encryption context, a chunk size (a power
    /// of two, 4 KiB to 16 MiB; 262144 is the default elsewhere) and, when known,
    /// the plaintext length (needed for {@link Encryptor.sealChunk} and part plans).
    ///
    /// @throws CipherDropError `INVALID_CHUNK_SIZE`, `INVALID_CONTEXT`,
    /// `INVALID_WRAPPED_KEY`, `LIMIT_EXCEEDED`, `TOO_LARGE`, `RANDOMNESS`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        data_key: &[u8],
        #[wasm_bindgen(unchecked_param_type = "WrappedKey[]")] wrapped_keys: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] context: JsValue,
        chunk_size_bytes: u32,
        plaintext_length: Option<f64>,
    ) -> Result<Encryptor, JsValue> {
        let dk = DataKey::from_bytes(key32(data_key, "the data key")?);
        let ctx = context_from_js(&context)?;
        let wrapped = wrapped_keys_from_js(&wrapped_keys)?;
        let sealer = Sealer::new(
            &dk,
            &ctx,
            &wrapped,
            chunk_size(chunk_size_bytes)?,
            length(plaintext_length)?,
        )
        .map_err(core_error)?;
        Ok(Self { sealer })
    }

    /// An encryptor that goes on with an upload begun earlier (after a reload): the
    /// header already sent, its data key and the context it must name. The header is
    /// verified (context, commitment, tag) before anything is sealed.
    ///
    /// Chunk *i* is sealed under the same nonce as before, so seal only chunks that
    /// never reached storage, from the very same file.
    ///
    /// @throws CipherDropError `MALFORMED_HEADER`, `CONTEXT_MISMATCH`,
    /// `COMMITMENT_MISMATCH`, `HEADER_AUTH_FAILED`, `INVALID_CONTEXT`.
    pub fn resume(
        header: &[u8],
        data_key: &[u8],
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] context: JsValue,
    ) -> Result<Encryptor, JsValue> {
        let h = Header::parse(header).map_err(core_error)?;
        if h.len() != header.len() {
            return Err(invalid("the header has bytes after its end"));
        }
        let dk = DataKey::from_bytes(key32(data_key, "the data key")?);
        let sealer = Sealer::resume(h, &dk, &context_from_js(&context)?).map_err(core_error)?;
        if sealer.layout().is_none() {
            return Err(invalid(
                "only a header with a recorded plaintext length can be resumed",
            ));
        }
        Ok(Self { sealer })
    }

    /// An encryptor for a header the backend built, with the keys of that one
    /// object (`contentKey`, `headerKey`, 32 bytes each): the backend's upload
    /// answer, or its resume answer for a header kept from before. The header must be
    /// exactly one header, name `expectedContext` and record its plaintext length;
    /// its tag is checked with `headerKey` before anything is sealed. The key
    /// commitment cannot be checked without the data key: the backend, which
    /// derived the keys from it, checked it.
    ///
    /// Chunk *i* is sealed under the same nonce every time: on a resume, seal only
    /// chunks that never reached storage, from the very same file.
    ///
    /// @throws CipherDropError `MALFORMED_HEADER`, `CONTEXT_MISMATCH`,
    /// `HEADER_AUTH_FAILED`, `INVALID_CONTEXT`, `INVALID_ARGUMENT`.
    #[wasm_bindgen(js_name = withObjectKeys)]
    pub fn with_object_keys(
        header: &[u8],
        content_key: &[u8],
        header_key: &[u8],
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] expected_context: JsValue,
    ) -> Result<Encryptor, JsValue> {
        let h = Header::parse(header).map_err(core_error)?;
        if h.len() != header.len() {
            return Err(invalid("the header has bytes after its end"));
        }
        if h.context() != &context_from_js(&expected_context)? {
            return Err(core_error(Error::ContextMismatch));
        }
        let keys = ObjectKeys::from_bytes(
            key32(content_key, "the content key")?,
            key32(header_key, "the header key")?,
        );
        let sealer = Sealer::with_object_keys(h, &keys).map_err(core_error)?;
        if sealer.layout().is_none() {
            return Err(invalid(
                "only a header with a recorded plaintext length can be sealed in parts",
            ));
        }
        Ok(Self { sealer })
    }

    /// An encryptor with a fresh random data key, wrapped by `keyring` (a key or a
    /// passphrase the user holds): self-managed secret mode.
    ///
    /// @throws CipherDropError as the constructor.
    #[wasm_bindgen(js_name = withKeyring)]
    pub fn with_keyring(
        keyring: &Keyring,
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] context: JsValue,
        chunk_size_bytes: u32,
        plaintext_length: Option<f64>,
    ) -> Result<Encryptor, JsValue> {
        let ctx = context_from_js(&context)?;
        let dk = DataKey::generate().map_err(core_error)?;
        let wrapped = keyring.wrap_key(&dk, &ctx).map_err(core_error)?;
        let sealer = Sealer::new(
            &dk,
            &ctx,
            &[wrapped],
            chunk_size(chunk_size_bytes)?,
            length(plaintext_length)?,
        )
        .map_err(core_error)?;
        Ok(Self { sealer })
    }

    /// The header: the file's first bytes.
    #[wasm_bindgen(getter)]
    pub fn header(&self) -> Vec<u8> {
        self.sealer.header().as_bytes().to_vec()
    }

    /// Header length in bytes.
    #[wasm_bindgen(getter, js_name = headerLength)]
    pub fn header_length(&self) -> usize {
        self.sealer.header().len()
    }

    /// Plaintext bytes per chunk.
    #[wasm_bindgen(getter, js_name = chunkSize)]
    pub fn chunk_size(&self) -> u32 {
        self.sealer.header().chunk_size().get()
    }

    /// The plaintext length, when given.
    #[wasm_bindgen(getter, js_name = plaintextLength)]
    pub fn plaintext_length(&self) -> Option<f64> {
        self.sealer
            .layout()
            .and_then(|l| to_f64(l.plaintext_len()).ok())
    }

    /// Total file length (header and chunks), when the plaintext length was given.
    #[wasm_bindgen(getter, js_name = ciphertextLength)]
    pub fn ciphertext_length(&self) -> Option<f64> {
        self.sealer
            .layout()
            .and_then(|l| to_f64(l.ciphertext_len()).ok())
    }

    /// Number of chunks, when the plaintext length was given.
    #[wasm_bindgen(getter, js_name = chunkCount)]
    pub fn chunk_count(&self) -> Option<f64> {
        self.sealer
            .layout()
            .and_then(|l| to_f64(l.chunk_count()).ok())
    }

    /// Seals chunk `index` (exactly that chunk's plaintext: `chunkSize` bytes, fewer
    /// for the final one) and returns `ciphertext ‖ tag`.
    ///
    /// @throws CipherDropError `LENGTH_MISMATCH` for a chunk of the wrong length or
    /// without a plaintext length, `OUT_OF_RANGE` past the last chunk.
    #[wasm_bindgen(js_name = sealChunk)]
    pub fn seal_chunk(&self, index: f64, plaintext: &[u8]) -> Result<Vec<u8>, JsValue> {
        let mut out = Vec::with_capacity(plaintext.len() + 16);
        self.sealer
            .seal_chunk_into(to_u64(index, "index")?, plaintext, &mut out)
            .map_err(core_error)?;
        Ok(out)
    }

    /// True when `index` is the final chunk.
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` without a plaintext length.
    #[wasm_bindgen(js_name = isFinal)]
    pub fn is_final(&self, index: f64) -> Result<bool, JsValue> {
        Ok(self.layout()?.is_final(to_u64(index, "index")?))
    }

    /// The nonce of chunk `index` (for WebCrypto). `isFinal` defaults to what the
    /// plaintext length says; give it for streams of unknown length.
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` without either.
    #[wasm_bindgen(js_name = chunkNonce)]
    pub fn chunk_nonce(&self, index: f64, is_final: Option<bool>) -> Result<Vec<u8>, JsValue> {
        let final_flag = match is_final {
            Some(f) => f,
            None => self.is_final(index)?,
        };
        crate::cipher::chunk_nonce(index, final_flag)
    }

    /// The content key that seals the chunks, for WebCrypto (`importKey("raw", ...)`,
    /// AES-GCM). The format (header, nonces, final chunk) still comes from here.
    /// Never log or store it.
    #[wasm_bindgen(js_name = contentKey)]
    pub fn content_key(&self) -> Vec<u8> {
        self.sealer.content_key().to_vec()
    }

    /// Multipart part plan for this file (see {@link planParts}).
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` without a plaintext length, `TOO_LARGE`.
    #[wasm_bindgen(js_name = planParts, unchecked_return_type = "PartPlan[]")]
    pub fn plan_parts(&self, target_part_size: Option<f64>) -> Result<Array, JsValue> {
        parts_to_js(&self.layout()?, target_part_size)
    }

    /// Turns this encryptor into a push-style stream in wasm (consumes it; the
    /// header comes out with the first `push` or `finish`).
    #[wasm_bindgen(js_name = intoStream)]
    pub fn into_stream(self) -> StreamEncryptor {
        StreamEncryptor::new(self.sealer.into_stream())
    }
}
