//! Self-managed secrets: the user holds the key (or a passphrase) in the browser and
//! the backend never sees it.
//!
//! - A 32-byte key: crypto-core's `raw-aes` keyring (provider info = the key's name).
//! - A passphrase: Argon2id stretches it, with a fresh random salt per wrap, into a
//!   key-encryption key that wraps the data key exactly as `raw-aes` does
//!   (AES-256-GCM, AAD = the canonical encryption context). The wrapped key's
//!   provider id is [`PASSPHRASE_PROVIDER`] and its provider info holds the Argon2id
//!   parameters and salt as text, `argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt hex>`,
//!   so a reader can derive the same key. The header tag authenticates them.

use argon2::{Algorithm, Argon2, Params, Version};
use cipherdrop_core::keyring::{RAW_AES, RAW_AES_BLOB_LEN};
use cipherdrop_core::{DataKey, EncryptionContext, Error, Keyring as _, RawAesKeyring, WrappedKey};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::convert::{context_from_js, key32, wrapped_key_to_js, wrapped_keys_from_js};
use crate::error::{core_error, invalid};

/// Provider id of data keys wrapped under a passphrase.
pub const PASSPHRASE_PROVIDER: &str = "passphrase-argon2id";

/// Argon2id cost defaults: 64 MiB, 3 passes, 1 lane (above OWASP's 19 MiB / 2 passes).
const DEFAULT_M_KIB: u32 = 64 * 1024;
const DEFAULT_T: u32 = 3;
const DEFAULT_P: u32 = 1;
/// Decrypt-side caps, checked before any memory is allocated for Argon2id.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 16;
const MAX_P: u32 = 16;
/// Encrypt-side floor (tests may go lower only through the reader, never the writer).
const MIN_M_KIB: u32 = 8;
const SALT_LEN: usize = 16;
/// The raw-aes key name used inside a passphrase wrap.
const INNER_NAME: &str = "passphrase";

#[wasm_bindgen(typescript_custom_section)]
const PARAMS_TS: &str = r#"
/** Argon2id costs for a passphrase keyring (defaults: 65536 KiB, 3 passes, 1 lane). */
export interface PassphraseParams {
  /** Memory in KiB (8 ..= 1048576). */
  memoryKib?: number;
  /** Passes (1 ..= 16). */
  iterations?: number;
  /** Lanes (1 ..= 16). */
  parallelism?: number;
}
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Costs {
    m: u32,
    t: u32,
    p: u32,
}

impl Costs {
    fn check(self) -> Result<Self, Error> {
        if !(MIN_M_KIB..=MAX_M_KIB).contains(&self.m)
            || !(1..=MAX_T).contains(&self.t)
            || !(1..=MAX_P).contains(&self.p)
        {
            return Err(Error::LimitExceeded("Argon2id parameters out of range"));
        }
        Ok(self)
    }

    fn derive(self, passphrase: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, Error> {
        let params = Params::new(self.m, self.t, self.p, Some(32))
            .map_err(|_| Error::LimitExceeded("Argon2id parameters out of range"))?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, out.as_mut())
            .map_err(|_| Error::LimitExceeded("Argon2id refused the passphrase or salt"))?;
        Ok(out)
    }
}

fn encode_info(c: Costs, salt: &[u8; SALT_LEN]) -> Vec<u8> {
    let hex: String = salt.iter().map(|b| format!("{b:02x}")).collect();
    format!("argon2id$v=19$m={},t={},p={}${hex}", c.m, c.t, c.p).into_bytes()
}

fn decode_info(info: &[u8]) -> Result<(Costs, Vec<u8>), Error> {
    const BAD: Error =
        Error::MalformedHeader("the passphrase wrap's Argon2id parameters are unreadable");
    let s = core::str::from_utf8(info).map_err(|_| BAD)?;
    let mut it = s.split('$');
    if it.next() != Some("argon2id") || it.next() != Some("v=19") {
        return Err(BAD);
    }
    let mut costs = Costs { m: 0, t: 0, p: 0 };
    for kv in it.next().ok_or(BAD)?.split(',') {
        let (k, v) = kv.split_once('=').ok_or(BAD)?;
        let v: u32 = v.parse().map_err(|_| BAD)?;
        match k {
            "m" => costs.m = v,
            "t" => costs.t = v,
            "p" => costs.p = v,
            _ => return Err(BAD),
        }
    }
    let hex = it.next().ok_or(BAD)?;
    if it.next().is_some() || hex.len() != 2 * SALT_LEN {
        return Err(BAD);
    }
    let salt = (0..SALT_LEN)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or(BAD)?, 16).map_err(|_| BAD))
        .collect::<Result<Vec<u8>, Error>>()?;
    Ok((costs.check()?, salt))
}

enum Secret {
    Key(RawAesKeyring),
    Passphrase {
        passphrase: Zeroizing<Vec<u8>>,
        costs: Costs,
    },
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
            Secret::Passphrase { .. } => "passphrase",
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
            Secret::Passphrase { passphrase, costs } => {
                let mut salt = [0u8; SALT_LEN];
                cipherdrop_core::fill_random(&mut salt)?;
                let kek = costs.derive(passphrase, &salt)?;
                let mut w = RawAesKeyring::new(INNER_NAME, *kek).wrap(data_key, context)?;
                w.provider_id = PASSPHRASE_PROVIDER.into();
                w.provider_info = encode_info(*costs, &salt);
                w.validate()?;
                Ok(w)
            }
        }
    }

    pub(crate) fn unwrap_key(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, Error> {
        match &self.secret {
            Secret::Key(k) => k.unwrap(wrapped, context),
            Secret::Passphrase { passphrase, .. } => {
                for w in wrapped
                    .iter()
                    .filter(|w| w.provider_id == PASSPHRASE_PROVIDER)
                {
                    let (costs, salt) = decode_info(&w.provider_info)?;
                    if w.blob.len() != RAW_AES_BLOB_LEN {
                        continue;
                    }
                    let kek = costs.derive(passphrase, &salt)?;
                    let inner = WrappedKey {
                        provider_id: RAW_AES.into(),
                        provider_info: INNER_NAME.as_bytes().to_vec(),
                        blob: w.blob.clone(),
                    };
                    if let Ok(dk) = RawAesKeyring::new(INNER_NAME, *kek).unwrap(&[inner], context) {
                        return Ok(dk);
                    }
                }
                Err(Error::WrongKey)
            }
        }
    }
}

fn param(obj: &JsValue, key: &str, default: u32) -> Result<u32, JsValue> {
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
        let costs = Costs {
            m: param(&params, "memoryKib", DEFAULT_M_KIB)?,
            t: param(&params, "iterations", DEFAULT_T)?,
            p: param(&params, "parallelism", DEFAULT_P)?,
        }
        .check()
        .map_err(core_error)?;
        Ok(Self {
            secret: Secret::Passphrase {
                passphrase: Zeroizing::new(passphrase.as_bytes().to_vec()),
                costs,
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn params_round_trip() {
        let c = Costs {
            m: 65536,
            t: 3,
            p: 1,
        };
        let info = encode_info(c, &[0xab; 16]);
        assert_eq!(
            core::str::from_utf8(&info).ok(),
            Some("argon2id$v=19$m=65536,t=3,p=1$abababababababababababababababab")
        );
        assert_eq!(decode_info(&info), Ok((c, vec![0xab; 16])));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn hostile_params_are_refused_before_hashing() {
        for bad in [
            "argon2id$v=19$m=4194304,t=3,p=1$abababababababababababababababab",
            "argon2id$v=19$m=65536,t=99,p=1$abababababababababababababababab",
            "argon2id$v=19$m=65536,t=3,p=1$abab",
            "argon2i$v=19$m=65536,t=3,p=1$abababababababababababababababab",
        ] {
            assert!(decode_info(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
