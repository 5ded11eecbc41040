//! Raw Argon2id, for a sharing link's password (docs/API.md "Sharing links").
//!
//! A link's costs come from the server (`GET /api/shares/{id}`), so the recipient
//! checks them against FORMAT.md 2.4's caps (crypto-core's [`Argon2idParams`]:
//! at most 65536 KiB, 4 passes, 4 lanes) before Argon2id allocates anything: a
//! server cannot make a browser spend more than one capped run.

use argon2::{Algorithm, Argon2, Params, Version};
use cipherdrop_core::Argon2idParams;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::error::{core_error, invalid, js_error};
use crate::keyring::param;

/// Argon2id (version 0x13) of `password` (its UTF-8 bytes) with `salt` (8 to 64
/// bytes; a link's is 16): 32 bytes. `params` are the costs (default 65536 KiB, 3 passes, 1 lane), within
/// FORMAT.md 2.4's caps.
///
/// @throws CipherDropError `INVALID_ARGUMENT` for an empty password or a salt of
/// another length, `LIMIT_EXCEEDED` for costs out of range (above 65536 KiB,
/// 4 passes or 4 lanes, or below Argon2's minimums).
#[wasm_bindgen]
pub fn argon2id(
    password: &str,
    salt: &[u8],
    #[wasm_bindgen(unchecked_param_type = "PassphraseParams | undefined")] params: JsValue,
) -> Result<Vec<u8>, JsValue> {
    if password.is_empty() {
        return Err(invalid("the password is empty"));
    }
    if !(8..=64).contains(&salt.len()) {
        return Err(invalid("the Argon2id salt must be 8 to 64 bytes"));
    }
    let d = Argon2idParams::DEFAULT;
    // The caps are checked here, before anything is allocated.
    let costs = Argon2idParams::new(
        param(&params, "memoryKib", d.memory_kib())?,
        param(&params, "iterations", d.passes())?,
        param(&params, "parallelism", d.lanes())?,
    )
    .map_err(core_error)?;
    let p = Params::new(costs.memory_kib(), costs.passes(), costs.lanes(), Some(32))
        .map_err(|_| js_error("LIMIT_EXCEEDED", "Argon2id refused these costs"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into(password.as_bytes(), salt, out.as_mut())
        .map_err(|_| js_error("LIMIT_EXCEEDED", "Argon2id could not run (out of memory?)"))?;
    Ok(out.to_vec())
}
