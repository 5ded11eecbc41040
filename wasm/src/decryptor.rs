//! The reader side: a verified header, then chunks opened in any order.

use cipherdrop_core::{DataKey, Header, Layout, ObjectKeys, Opener};
use js_sys::Object;
use wasm_bindgen::prelude::*;

use crate::convert::{context_from_js, key32, set, to_f64, to_u64};
use crate::error::{core_error, invalid};
use crate::header::header_info;
use crate::keyring::Keyring;
use crate::stream::StreamDecryptor;

/// Decrypts one file. Creating it checks, before anything is decrypted, that the
/// header's context is the expected one, that the data key matches the header's key
/// commitment, and that the header's tag verifies.
///
/// Chunk positions come from the header's plaintext length; for a file written
/// without one, pass the file's total `ciphertextLength`.
#[wasm_bindgen]
pub struct Decryptor {
    opener: Opener,
    layout: Option<Layout>,
}

impl core::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decryptor")
            .field("opener", &self.opener)
            .finish()
    }
}

/// The layout of a header that has been verified: called only with an [`Opener`]'s
/// header, so no unauthenticated field (length, chunk size) decides anything (or
/// which error is reported) before the context, commitment and tag checks.
fn layout_of(h: &Header, ciphertext_length: Option<u64>) -> Result<Option<Layout>, JsValue> {
    Ok(match ciphertext_length {
        Some(n) => Some(h.layout_for_ciphertext_len(n).map_err(core_error)?),
        None => h.layout(),
    })
}

fn length_arg(ciphertext_length: Option<f64>) -> Result<Option<u64>, JsValue> {
    ciphertext_length
        .map(|n| to_u64(n, "ciphertextLength"))
        .transpose()
}

impl Decryptor {
    fn from_opener(opener: Opener, ciphertext_length: Option<u64>) -> Result<Self, JsValue> {
        let layout = layout_of(opener.header(), ciphertext_length)?;
        Ok(Self { opener, layout })
    }

    fn layout(&self) -> Result<Layout, JsValue> {
        self.layout.ok_or_else(|| {
            invalid("the file's length is not recorded in its header: give the Decryptor its ciphertextLength")
        })
    }
}

#[wasm_bindgen]
impl Decryptor {
    /// A decryptor from the header's bytes (the file's start; extra bytes are
    /// ignored), the unwrapped data key and the context the caller expects.
    ///
    /// @throws CipherDropError `CONTEXT_MISMATCH`, `COMMITMENT_MISMATCH`,
    /// `HEADER_AUTH_FAILED`, `TRUNCATED`, or any header error.
    #[wasm_bindgen(constructor)]
    pub fn new(
        header: &[u8],
        data_key: &[u8],
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] expected_context: JsValue,
        ciphertext_length: Option<f64>,
    ) -> Result<Decryptor, JsValue> {
        let length = length_arg(ciphertext_length)?;
        let h = Header::parse(header).map_err(core_error)?;
        let dk = DataKey::from_bytes(key32(data_key, "the data key")?);
        let opener =
            Opener::new(h, &dk, &context_from_js(&expected_context)?).map_err(core_error)?;
        Self::from_opener(opener, length)
    }

    /// A decryptor from the header's bytes and the keys of that one object
    /// (`contentKey`, `headerKey`, 32 bytes each), as the backend's `keys` answer
    /// gives them: the header's context must be `expectedContext` and its tag must
    /// verify with `headerKey`. The backend checked the key commitment (it alone
    /// has the data key).
    ///
    /// @throws CipherDropError `CONTEXT_MISMATCH`, `HEADER_AUTH_FAILED`,
    /// `TRUNCATED`, `INVALID_ARGUMENT`, or any header error.
    #[wasm_bindgen(js_name = withObjectKeys)]
    pub fn with_object_keys(
        header: &[u8],
        content_key: &[u8],
        header_key: &[u8],
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] expected_context: JsValue,
        ciphertext_length: Option<f64>,
    ) -> Result<Decryptor, JsValue> {
        let length = length_arg(ciphertext_length)?;
        let h = Header::parse(header).map_err(core_error)?;
        let keys = ObjectKeys::from_bytes(
            key32(content_key, "the content key")?,
            key32(header_key, "the header key")?,
        );
        let opener = Opener::with_object_keys(h, &keys, &context_from_js(&expected_context)?)
            .map_err(core_error)?;
        Self::from_opener(opener, length)
    }

    /// A decryptor that unwraps the data key with a key or passphrase the user holds.
    ///
    /// @throws CipherDropError `WRONG_KEY`, or as the constructor.
    #[wasm_bindgen(js_name = withKeyring)]
    pub fn with_keyring(
        header: &[u8],
        keyring: &Keyring,
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] expected_context: JsValue,
        ciphertext_length: Option<f64>,
    ) -> Result<Decryptor, JsValue> {
        let length = length_arg(ciphertext_length)?;
        let h = Header::parse(header).map_err(core_error)?;
        let ctx = context_from_js(&expected_context)?;
        if h.context() != &ctx {
            return Err(core_error(cipherdrop_core::Error::ContextMismatch));
        }
        let dk = keyring
            .unwrap_key(h.wrapped_keys(), &ctx)
            .map_err(core_error)?;
        let opener = Opener::new(h, &dk, &ctx)
            .map_err(|e| match e {
                cipherdrop_core::Error::CommitmentMismatch if keyring.is_guessable() => {
                    cipherdrop_core::Error::WrongKey
                }
                e => e,
            })
            .map_err(core_error)?;
        Self::from_opener(opener, length)
    }

    /// The verified header's fields.
    #[wasm_bindgen(getter, unchecked_return_type = "HeaderInfo")]
    pub fn header(&self) -> Result<Object, JsValue> {
        header_info(self.opener.header())
    }

    /// Header length in bytes: the first chunk starts here.
    #[wasm_bindgen(getter, js_name = headerLength)]
    pub fn header_length(&self) -> usize {
        self.opener.header().len()
    }

    /// Plaintext bytes per chunk.
    #[wasm_bindgen(getter, js_name = chunkSize)]
    pub fn chunk_size(&self) -> u32 {
        self.opener.header().chunk_size().get()
    }

    /// The plaintext length, when known (recorded, or from `ciphertextLength`).
    #[wasm_bindgen(getter, js_name = plaintextLength)]
    pub fn plaintext_length(&self) -> Option<f64> {
        self.layout.and_then(|l| to_f64(l.plaintext_len()).ok())
    }

    /// The file's total length, when known.
    #[wasm_bindgen(getter, js_name = ciphertextLength)]
    pub fn ciphertext_length(&self) -> Option<f64> {
        self.layout.and_then(|l| to_f64(l.ciphertext_len()).ok())
    }

    /// Number of chunks, when known.
    #[wasm_bindgen(getter, js_name = chunkCount)]
    pub fn chunk_count(&self) -> Option<f64> {
        self.layout.and_then(|l| to_f64(l.chunk_count()).ok())
    }

    /// True when `index` is the final chunk.
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` when the length is unknown.
    #[wasm_bindgen(js_name = isFinal)]
    pub fn is_final(&self, index: f64) -> Result<bool, JsValue> {
        Ok(self.layout()?.is_final(to_u64(index, "index")?))
    }

    /// Opens chunk `index` (`ciphertext ‖ tag`) and returns its plaintext only when
    /// its tag verifies. `isFinal` defaults to what the length says.
    ///
    /// @throws CipherDropError `DECRYPTION_FAILED` (changed, moved or foreign
    /// chunk), `TRUNCATED`, `LIMIT_EXCEEDED`, `INVALID_ARGUMENT`.
    #[wasm_bindgen(js_name = openChunk)]
    pub fn open_chunk(
        &self,
        index: f64,
        sealed: &[u8],
        is_final: Option<bool>,
    ) -> Result<Vec<u8>, JsValue> {
        let final_flag = match is_final {
            Some(f) => f,
            None => self.is_final(index)?,
        };
        let mut buf = sealed.to_vec();
        let n = self
            .opener
            .open_chunk(to_u64(index, "index")?, final_flag, &mut buf)
            .map_err(core_error)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The nonce of chunk `index`, for WebCrypto (`isFinal` as in `openChunk`).
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` when the final flag is unknown.
    #[wasm_bindgen(js_name = chunkNonce)]
    pub fn chunk_nonce(&self, index: f64, is_final: Option<bool>) -> Result<Vec<u8>, JsValue> {
        let final_flag = match is_final {
            Some(f) => f,
            None => self.is_final(index)?,
        };
        crate::cipher::chunk_nonce(index, final_flag)
    }

    /// The content key, for WebCrypto. Never log or store it.
    #[wasm_bindgen(js_name = contentKey)]
    pub fn content_key(&self) -> Vec<u8> {
        self.opener.content_key().to_vec()
    }

    /// Byte range `{ start, end }` (end exclusive) of chunk `index` within the file.
    ///
    /// @throws CipherDropError `OUT_OF_RANGE` past the last chunk.
    #[wasm_bindgen(js_name = chunkRange, unchecked_return_type = "{ start: number; end: number }")]
    pub fn chunk_range(&self, index: f64) -> Result<Object, JsValue> {
        let r = self
            .layout()?
            .chunk_ciphertext_range(to_u64(index, "index")?)
            .map_err(core_error)?;
        let obj = Object::new();
        set(&obj, "start", to_f64(r.start)?);
        set(&obj, "end", to_f64(r.end)?);
        Ok(obj)
    }

    /// Random access: which chunks hold plaintext bytes `[start, end)` and which file
    /// bytes to fetch for them (an HTTP `Range: bytes=start-(end-1)`).
    ///
    /// @throws CipherDropError `OUT_OF_RANGE` for an empty range or one past the end.
    #[wasm_bindgen(
        js_name = rangeFor,
        unchecked_return_type = "{ firstChunk: number; endChunk: number; start: number; end: number }"
    )]
    pub fn range_for(&self, start: f64, end: f64) -> Result<Object, JsValue> {
        let l = self.layout()?;
        let p = to_u64(start, "start")?..to_u64(end, "end")?;
        let chunks = l
            .chunks_for_plaintext_range(p.clone())
            .map_err(core_error)?;
        let bytes = l.ciphertext_range_for_plaintext(p).map_err(core_error)?;
        let obj = Object::new();
        set(&obj, "firstChunk", to_f64(chunks.start)?);
        set(&obj, "endChunk", to_f64(chunks.end)?);
        set(&obj, "start", to_f64(bytes.start)?);
        set(&obj, "end", to_f64(bytes.end)?);
        Ok(obj)
    }

    /// Turns this decryptor into a push-style stream in wasm (consumes it): push the
    /// bytes after the header. Uses the header's recorded length, if any.
    #[wasm_bindgen(js_name = intoStream)]
    pub fn into_stream(self) -> StreamDecryptor {
        StreamDecryptor::new(self.opener.into_stream())
    }
}
