//! Size arithmetic: exact ciphertext and plaintext lengths, and multipart plans.

use cipherdrop_core::sizes::{self, DEFAULT_PART_SIZE};
use cipherdrop_core::{ChunkSize, Layout, Part};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

use crate::convert::{set, to_f64, to_u64};
use crate::error::core_error;

#[wasm_bindgen(typescript_custom_section)]
const PART_TS: &str = r#"
/** One multipart part: whole chunks (and the header, for part 1). Ranges are half-open. */
export interface PartPlan {
  /** S3 part number, from 1. */
  number: number;
  /** First chunk index in this part. */
  firstChunk: number;
  /** One past the last chunk index in this part. */
  endChunk: number;
  /** Ciphertext byte range of the part within the file: its bytes are `[start, end)`. */
  start: number;
  /** End of the ciphertext range (exclusive). */
  end: number;
  /** Ciphertext bytes in this part (its Content-Length). */
  length: number;
  /** Plaintext bytes this part encrypts: `[plaintextStart, plaintextEnd)`. */
  plaintextStart: number;
  /** End of the plaintext range (exclusive). */
  plaintextEnd: number;
}
"#;

pub(crate) fn chunk_size(n: u32) -> Result<ChunkSize, JsValue> {
    ChunkSize::new(n).map_err(core_error)
}

/// Exact ciphertext length of `plaintextLength` bytes at `chunkSize`: the header's
/// `headerLength` (default 0: chunk bytes only) plus the plaintext plus 16 bytes per chunk.
///
/// @throws CipherDropError `INVALID_CHUNK_SIZE`, `TOO_LARGE`.
#[wasm_bindgen(js_name = ciphertextSize)]
pub fn ciphertext_size(
    plaintext_length: f64,
    chunk_size_bytes: u32,
    header_length: Option<f64>,
) -> Result<f64, JsValue> {
    let h = to_u64(header_length.unwrap_or(0.0), "headerLength")?;
    let n = sizes::ciphertext_len(
        h,
        to_u64(plaintext_length, "plaintextLength")?,
        chunk_size(chunk_size_bytes)?,
    )
    .map_err(core_error)?;
    to_f64(n)
}

/// Plaintext length of a file of `ciphertextLength` bytes (its header of
/// `headerLength` bytes included) at `chunkSize`.
///
/// @throws CipherDropError `TRUNCATED` when no plaintext has that ciphertext length.
#[wasm_bindgen(js_name = plaintextSize)]
pub fn plaintext_size(
    ciphertext_length: f64,
    chunk_size_bytes: u32,
    header_length: Option<f64>,
) -> Result<f64, JsValue> {
    let h = to_u64(header_length.unwrap_or(0.0), "headerLength")?;
    let n = sizes::plaintext_len(
        h,
        to_u64(ciphertext_length, "ciphertextLength")?,
        chunk_size(chunk_size_bytes)?,
    )
    .map_err(core_error)?;
    to_f64(n)
}

pub(crate) fn part_to_js(p: &Part) -> Result<Object, JsValue> {
    let obj = Object::new();
    set(&obj, "number", p.number);
    set(&obj, "firstChunk", to_f64(p.chunks.start)?);
    set(&obj, "endChunk", to_f64(p.chunks.end)?);
    set(&obj, "start", to_f64(p.ciphertext.start)?);
    set(&obj, "end", to_f64(p.ciphertext.end)?);
    set(&obj, "length", to_f64(p.len())?);
    set(&obj, "plaintextStart", to_f64(p.plaintext.start)?);
    set(&obj, "plaintextEnd", to_f64(p.plaintext.end)?);
    Ok(obj)
}

pub(crate) fn parts_to_js(layout: &Layout, target: Option<f64>) -> Result<Array, JsValue> {
    let target = target.map_or(Ok(DEFAULT_PART_SIZE), |t| to_u64(t, "targetPartSize"))?;
    let out = Array::new();
    for p in layout.plan_parts(target).map_err(core_error)? {
        out.push(&JsValue::from(part_to_js(&p)?));
    }
    Ok(out)
}

/// Cuts a file into S3 multipart parts of whole chunks: every part but the last at
/// least 5 MiB and about `targetPartSize` (default 8 MiB), at most 10,000 parts.
///
/// @throws CipherDropError `INVALID_CHUNK_SIZE`, `TOO_LARGE`.
#[wasm_bindgen(js_name = planParts, unchecked_return_type = "PartPlan[]")]
pub fn plan_parts(
    header_length: f64,
    chunk_size_bytes: u32,
    plaintext_length: f64,
    target_part_size: Option<f64>,
) -> Result<Array, JsValue> {
    let layout = Layout::new(
        to_u64(header_length, "headerLength")?,
        chunk_size(chunk_size_bytes)?,
        to_u64(plaintext_length, "plaintextLength")?,
    )
    .map_err(core_error)?;
    parts_to_js(&layout, target_part_size)
}
