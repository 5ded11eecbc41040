//! Self-managed secrets: the user holds the key (or a passphrase) in the browser and
//! the backend never sees it.
//!
//! - A 32-byte key: crypto-core's `raw-aes` keyring (provider info = the key's name).
//! - A passphrase: crypto-core's `passphrase-argon2id` keyring ([`PASSPHRASE_PROVIDER`],
//!   `docs/FORMAT.md` 2.4). Argon2id stretches it, with a fresh random salt per wrap,
//!   into a key-encryption key that wraps the data key exactly as `raw-aes` does; the
//!   provider info holds the costs and salt, so the native `cipherdrop decrypt
//!   --passphrase-file` opens the same files.

use cipherdrop_core::{
    Argon2idParams, DataKey, EncryptionContext, Error, Keyring as _, PassphraseKeyring,
    RawAesKeyring, WrappedKey,
};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

use crate::convert::{context_from_js, key32, wrapped_key_to_js, wrapped_keys_from_js};
use crate::error::{core_error, invalid};

/// Provider id of data keys wrapped under a passphrase.
pub const PASSPHRASE_PROVIDER: &str = cipherdrop_core::passphrase::PASSPHRASE_ARGON2ID;

#[wasm_bindgen(typescript_custom_section)]
const PARAMS_TS: &str = r#"
/** Argon2id costs for a passphrase keyring (defaults: 65536 KiB, 3 passes, 1 lane). */
export interface PassphraseParams {
  /** Memory in KiB (8 per lane ..= 65536). */
  memoryKib?: number;
  /** Passes (1 ..= 4). */
  iterations?: number;
  /** Lanes (1 ..= 4). */
  parallelism?: number;
}
"#;

/// Both keep their secret zeroized on drop and out of `Debug` (crypto-core's keyrings).
enum Secret {
    Key(RawAesKeyring),
    Passphrase(PassphraseKeyring),
}

/// A secret the user holds: a 32-byte key or a passphrase. It wraps each file's
/// data key into the file's header and unwraps it again; the backend never sees it.
#[wasm_bindgen]
pub struct Keyring {
    secret: Secret,
}

impl core::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match self.secret {
            Secret::Key(_) => "key",
            Secret::Passphrase(_) => "passphrase",
        };
        f.debug_struct("Keyring")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub(crate) fn wrap_key(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, Error> {
        match &self.secret {
            Secret::Key(k) => k.wrap(data_key, context),
            Secret::Passphrase(p) => p.wrap(data_key, context),
        }
    }

    /// A passphrase: a data key it unwraps that fails the commitment is
    /// `WRONG_KEY` (FORMAT.md 2.4), as crypto-core's `Opener::with_keyring` does.
    pub(crate) const fn is_guessable(&self) -> bool {
        matches!(self.secret, Secret::Passphrase(_))
    }

    pub(crate) fn unwrap_key(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, Error> {
        match &self.secret {
            Secret::Key(k) => k.unwrap(wrapped, context),
            Secret::Passphrase(p) => p.unwrap(wrapped, context),
        }
    }
}

pub(crate) fn param(obj: &JsValue, key: &str, default: u32) -> Result<u32, JsValue> {
    if obj.is_undefined() || obj.is_null() {
        return Ok(default);
    }
    let v = js_sys::Reflect::get(obj, &JsValue::from_str(key))?;
    if v.is_undefined() {
        return Ok(default);
    }
    v.as_f64()
        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
        .map(|f| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked
            let n = f as u32;
            n
        })
        .ok_or_else(|| invalid(&format!("{key} must be a whole number")))
}

#[wasm_bindgen]
impl Keyring {
    /// A keyring for a 32-byte key the user holds (crypto-core's `raw-aes`),
    /// recorded in headers under `name` so a reader knows which key a file needs.
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` unless the key is 32 bytes.
    #[wasm_bindgen(js_name = fromKey)]
    pub fn from_key(name: &str, key: &[u8]) -> Result<Keyring, JsValue> {
        if name.is_empty() || name.len() > 1024 {
            return Err(invalid("the key name must be 1 to 1024 bytes"));
        }
        Ok(Self {
            secret: Secret::Key(RawAesKeyring::new(name, key32(key, "the key")?)),
        })
    }

    /// A keyring for a passphrase, stretched with Argon2id. `params` sets the costs
    /// of new wraps; a reader takes them from the file.
    ///
    /// @throws CipherDropError `INVALID_ARGUMENT` for an empty passphrase,
    /// `LIMIT_EXCEEDED` for costs out of range.
    #[wasm_bindgen(js_name = fromPassphrase)]
    pub fn from_passphrase(
        passphrase: &str,
        #[wasm_bindgen(unchecked_param_type = "PassphraseParams | undefined")] params: JsValue,
    ) -> Result<Keyring, JsValue> {
        if passphrase.is_empty() {
            return Err(invalid("the passphrase is empty"));
        }
        let d = Argon2idParams::DEFAULT;
        let params = Argon2idParams::new(
            param(&params, "memoryKib", d.memory_kib())?,
            param(&params, "iterations", d.passes())?,
            param(&params, "parallelism", d.lanes())?,
        )
        .map_err(core_error)?;
        Ok(Self {
            secret: Secret::Passphrase(PassphraseKeyring::new(passphrase.as_bytes(), params)),
        })
    }

    /// 32 fresh random bytes: a new key for {@link Keyring.fromKey}, or a data key.
    ///
    /// @throws CipherDropError `RANDOMNESS` when the browser gives none.
    #[wasm_bindgen(js_name = generateKey)]
    pub fn generate_key() -> Result<Vec<u8>, JsValue> {
        let mut k = [0u8; 32];
        cipherdrop_core::fill_random(&mut k).map_err(core_error)?;
        Ok(k.to_vec())
    }

    /// Wraps `dataKey` for a file with this `context` (the keyring's own key stays here).
    ///
    /// @throws CipherDropError `INVALID_CONTEXT`, `RANDOMNESS`.
    #[wasm_bindgen(unchecked_return_type = "WrappedKey")]
    pub fn wrap(
        &self,
        data_key: &[u8],
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] context: JsValue,
    ) -> Result<Object, JsValue> {
        let dk = DataKey::from_bytes(key32(data_key, "the data key")?);
        let ctx = context_from_js(&context)?;
        Ok(wrapped_key_to_js(
            &self.wrap_key(&dk, &ctx).map_err(core_error)?,
        ))
    }

    /// Opens the first of `wrappedKeys` that this keyring can open and returns the data key.
    ///
    /// @throws CipherDropError `WRONG_KEY` when none opens (another key or passphrase,
    /// or another context).
    pub fn unwrap(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WrappedKey[]")] wrapped_keys: &Array,
        #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] context: JsValue,
    ) -> Result<Vec<u8>, JsValue> {
        let wrapped = wrapped_keys_from_js(wrapped_keys)?;
        let ctx = context_from_js(&context)?;
        Ok(self
            .unwrap_key(&wrapped, &ctx)
            .map_err(core_error)?
            .as_bytes()
            .to_vec())
    }
}
