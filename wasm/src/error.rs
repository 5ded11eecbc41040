//! Errors as JavaScript sees them: an `Error` named `CipherDropError` with the
//! core's human message and its stable `code`.

use wasm_bindgen::JsValue;

/// The `name` of every error this package throws.
pub const ERROR_NAME: &str = "CipherDropError";

/// Code for arguments of the wrong type or out of range (not a format error).
pub(crate) const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";

/// A JavaScript `Error` with `name = "CipherDropError"` and `code`.
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name(ERROR_NAME);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

/// Converts a format error.
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(core_error)`
pub(crate) fn core_error(e: cipherdrop_core::Error) -> JsValue {
    js_error(e.code(), &e.to_string())
}

/// An invalid argument: `what` says which and why.
pub(crate) fn invalid(what: &str) -> JsValue {
    js_error(INVALID_ARGUMENT, what)
}
