//! JavaScript values to format types and back.

use cipherdrop_core::{EncryptionContext, WrappedKey};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{core_error, invalid};

/// Largest integer a JavaScript number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A byte count or index given as a JavaScript number.
pub(crate) fn to_u64(n: f64, what: &str) -> Result<u64, JsValue> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_SAFE_INTEGER {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked just above
        Ok(n as u64)
    } else {
        Err(invalid(&format!(
            "{what} must be a whole number from 0 to 2^53 - 1"
        )))
    }
}

/// A byte count or index for JavaScript (every value the format allows is below 2^53
/// in practice: 2^32 chunks of at most 16 MiB is 2^56, so check).
pub(crate) fn to_f64(n: u64) -> Result<f64, JsValue> {
    #[allow(clippy::cast_precision_loss)] // checked below
    let f = n as f64;
    if f <= MAX_SAFE_INTEGER {
        Ok(f)
    } else {
        Err(invalid("a size exceeds 2^53 - 1 bytes"))
    }
}

/// Sets `obj[key] = value`. Setting a property on a plain object never fails.
pub(crate) fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

fn get(obj: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(obj, &JsValue::from_str(key))
}

/// An encryption context from a plain object of strings (`{ owner: "alice" }`) or a `Map`.
pub(crate) fn context_from_js(value: &JsValue) -> Result<EncryptionContext, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(EncryptionContext::new());
    }
    let entries: Array = if let Some(map) = value.dyn_ref::<js_sys::Map>() {
        Array::from(&map.entries().into())
    } else if value.is_object() {
        Object::entries(value.unchecked_ref())
    } else {
        return Err(invalid("the context must be an object of string values"));
    };
    let mut ctx = EncryptionContext::new();
    for entry in entries.iter() {
        let pair: Array = entry.unchecked_into();
        let (k, v) = (pair.get(0).as_string(), pair.get(1).as_string());
        match (k, v) {
            (Some(k), Some(v)) => ctx.insert(k, v).map_err(core_error)?,
            _ => return Err(invalid("the context must be an object of string values")),
        }
    }
    Ok(ctx)
}

/// The context as a plain object of strings.
pub(crate) fn context_to_js(ctx: &EncryptionContext) -> Object {
    let obj = Object::new();
    for (k, v) in ctx.iter() {
        set(&obj, k, v);
    }
    obj
}

/// Bytes from a `Uint8Array` (or a string, UTF-8 encoded).
fn bytes_from_js(value: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    if let Some(s) = value.as_string() {
        Ok(s.into_bytes())
    } else if let Some(a) = value.dyn_ref::<Uint8Array>() {
        Ok(a.to_vec())
    } else {
        Err(invalid(&format!("{what} must be a Uint8Array or a string")))
    }
}

/// Wrapped keys from an array of `{ providerId, providerInfo, blob }`.
pub(crate) fn wrapped_keys_from_js(value: &JsValue) -> Result<Vec<WrappedKey>, JsValue> {
    let arr: &Array = value
        .dyn_ref()
        .ok_or_else(|| invalid("wrappedKeys must be an array"))?;
    let mut out = Vec::with_capacity(arr.length() as usize);
    for item in arr.iter() {
        let provider_id = get(&item, "providerId")?
            .as_string()
            .ok_or_else(|| invalid("a wrapped key's providerId must be a string"))?;
        let provider_info = match get(&item, "providerInfo")? {
            v if v.is_undefined() => Vec::new(),
            v => bytes_from_js(&v, "a wrapped key's providerInfo")?,
        };
        let blob = bytes_from_js(&get(&item, "blob")?, "a wrapped key's blob")?;
        let w = WrappedKey {
            provider_id,
            provider_info,
            blob,
        };
        w.validate().map_err(core_error)?;
        out.push(w);
    }
    Ok(out)
}

/// One wrapped key as `{ providerId, providerInfo, blob }`.
pub(crate) fn wrapped_key_to_js(w: &WrappedKey) -> Object {
    let obj = Object::new();
    set(&obj, "providerId", w.provider_id.as_str());
    set(
        &obj,
        "providerInfo",
        Uint8Array::from(w.provider_info.as_slice()),
    );
    set(&obj, "blob", Uint8Array::from(w.blob.as_slice()));
    obj
}

/// A 32-byte key from a `Uint8Array`.
pub(crate) fn key32(bytes: &[u8], what: &str) -> Result<[u8; 32], JsValue> {
    bytes
        .try_into()
        .map_err(|_| invalid(&format!("{what} must be exactly 32 bytes")))
}
