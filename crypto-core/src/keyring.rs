//! Wrapped data keys and the keyrings that make and open them.
//!
//! A header carries a list of wrapped data keys, each `(provider id, provider info,
//! blob)`, so one object can be opened by several keys (KMS and a recovery key, say).
//! This crate implements the `raw-aes` provider (and, with the `passphrase`
//! feature, `passphrase-argon2id` in [`crate::passphrase`]; with `x25519-hpke`, HPKE to
//! an X25519 public key in [`crate::x25519`]); the `aws-kms` provider
//! (info = key ARN, blob = KMS `CiphertextBlob`) is produced and opened by the
//! server, which records it the same way.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::Tag;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::wire::Reader;
use crate::{DataKey, EncryptionContext, Error, Result};

/// Most wrapped keys one header may carry.
pub const MAX_WRAPPED_KEYS: usize = 16;
/// Longest provider id, in bytes.
pub const MAX_PROVIDER_ID_LEN: usize = 64;
/// Longest provider info, in bytes.
pub const MAX_PROVIDER_INFO_LEN: usize = 1024;
/// Longest wrapped key blob, in bytes.
pub const MAX_BLOB_LEN: usize = 4096;

/// Provider id of keys wrapped by [`RawAesKeyring`].
pub const RAW_AES: &str = "raw-aes";
/// Provider id of keys wrapped by AWS KMS (info = key ARN, blob = `CiphertextBlob`).
pub const AWS_KMS: &str = "aws-kms";

/// One wrapped (encrypted) copy of an object's data key.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Who can unwrap it: `raw-aes`, `aws-kms`, ... (1 to 64 printable ASCII bytes).
    pub provider_id: String,
    /// Which key of that provider (a key name, a KMS key ARN); up to 1024 bytes.
    pub provider_info: Vec<u8>,
    /// The wrapped data key itself; 1 to 4096 bytes.
    pub blob: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("provider_id", &self.provider_id)
            .field(
                "provider_info",
                &String::from_utf8_lossy(&self.provider_info),
            )
            .field("blob_len", &self.blob.len())
            .finish()
    }
}

impl WrappedKey {
    /// Checks the field limits.
    ///
    /// # Errors
    /// [`Error::InvalidWrappedKey`] naming the field that is out of bounds.
    pub fn validate(&self) -> Result<()> {
        let id = self.provider_id.as_bytes();
        if id.is_empty() || id.len() > MAX_PROVIDER_ID_LEN {
            return Err(Error::InvalidWrappedKey(
                "the provider id must be 1 to 64 bytes",
            ));
        }
        if !id.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(Error::InvalidWrappedKey(
                "the provider id must be printable ASCII",
            ));
        }
        if self.provider_info.len() > MAX_PROVIDER_INFO_LEN {
            return Err(Error::InvalidWrappedKey(
                "the provider info is longer than 1024 bytes",
            ));
        }
        if self.blob.is_empty() || self.blob.len() > MAX_BLOB_LEN {
            return Err(Error::InvalidWrappedKey("the blob must be 1 to 4096 bytes"));
        }
        Ok(())
    }

    pub(crate) fn encoded_len(&self) -> usize {
        6 + self.provider_id.len() + self.provider_info.len() + self.blob.len()
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        for field in [self.provider_id.as_bytes(), &self.provider_info, &self.blob] {
            let len =
                u16::try_from(field.len()).expect("validate() bounds every field below u16::MAX");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let id_len = usize::from(r.u16()?);
        if id_len > MAX_PROVIDER_ID_LEN {
            return Err(Error::LimitExceeded(
                "a wrapped key's provider id is longer than 64 bytes",
            ));
        }
        if id_len == 0 {
            return Err(Error::MalformedHeader(
                "a wrapped key's provider id is empty",
            ));
        }
        let id = r.bytes(id_len)?;
        if !id.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(Error::MalformedHeader(
                "a wrapped key's provider id is not printable ASCII",
            ));
        }
        let info_len = usize::from(r.u16()?);
        if info_len > MAX_PROVIDER_INFO_LEN {
            return Err(Error::LimitExceeded(
                "a wrapped key's provider info is longer than 1024 bytes",
            ));
        }
        let info = r.bytes(info_len)?;
        let blob_len = usize::from(r.u16()?);
        if blob_len > MAX_BLOB_LEN {
            return Err(Error::LimitExceeded(
                "a wrapped key's blob is longer than 4096 bytes",
            ));
        }
        if blob_len == 0 {
            return Err(Error::MalformedHeader("a wrapped key's blob is empty"));
        }
        let blob = r.bytes(blob_len)?;
        Ok(Self {
            provider_id: String::from_utf8_lossy(id).into_owned(),
            provider_info: info.to_vec(),
            blob: blob.to_vec(),
        })
    }
}

/// Something that wraps a data key for the header and unwraps it again.
pub trait Keyring {
    /// Wraps `data_key`, binding `context`.
    ///
    /// # Errors
    /// Whatever the key provider reports.
    fn wrap(&self, data_key: &DataKey, context: &EncryptionContext) -> Result<WrappedKey>;

    /// Opens the first of `wrapped` that belongs to this keyring.
    ///
    /// # Errors
    /// [`Error::WrongKey`] when none of them opens (not ours, or changed, or a
    /// different context).
    fn unwrap(&self, wrapped: &[WrappedKey], context: &EncryptionContext) -> Result<DataKey>;

    /// True for a key a person can guess (a passphrase). Then a data key it unwraps
    /// that fails the key commitment is reported as [`Error::WrongKey`], like a blob
    /// that does not open, so a crafted header cannot tell a reader's guesses apart
    /// by the error (FORMAT.md 2.4).
    fn is_guessable(&self) -> bool {
        false
    }
}

/// `raw-aes`: a 256-bit master key wraps each data key with AES-256-GCM.
///
/// Blob = 12-byte random nonce || AES-256-GCM(master, nonce, data key, AAD =
/// canonical encryption context) (32 bytes) || 16-byte tag; 60 bytes. Provider info
/// is the key's name, so a header says which master key it needs.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RawAesKeyring {
    #[zeroize(skip)]
    name: String,
    key: [u8; 32],
}

/// Length of a `raw-aes` blob.
pub const RAW_AES_BLOB_LEN: usize = 12 + 32 + 16;

impl RawAesKeyring {
    /// A keyring for the master key `key`, recorded in headers as `name`.
    #[must_use]
    pub fn new(name: impl Into<String>, key: [u8; 32]) -> Self {
        Self {
            name: name.into(),
            key,
        }
    }

    /// The key's name (recorded as provider info).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wraps with a caller-chosen nonce. Only for known-answer tests: a nonce must
    /// never repeat under one master key.
    ///
    /// # Errors
    /// [`Error::InvalidWrappedKey`] when the name is longer than 1024 bytes.
    pub fn wrap_with_nonce(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
        nonce: [u8; 12],
    ) -> Result<WrappedKey> {
        let blob = seal_data_key(&self.key, data_key, context, nonce)?;
        let wrapped = WrappedKey {
            provider_id: String::from(RAW_AES),
            provider_info: self.name.as_bytes().to_vec(),
            blob,
        };
        wrapped.validate()?;
        Ok(wrapped)
    }
}

impl fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Keyring for RawAesKeyring {
    #[cfg(feature = "getrandom")]
    fn wrap(&self, data_key: &DataKey, context: &EncryptionContext) -> Result<WrappedKey> {
        let mut nonce = [0u8; 12];
        crate::fill_random(&mut nonce)?;
        self.wrap_with_nonce(data_key, context, nonce)
    }

    #[cfg(not(feature = "getrandom"))]
    fn wrap(&self, _data_key: &DataKey, _context: &EncryptionContext) -> Result<WrappedKey> {
        Err(Error::Randomness)
    }

    fn unwrap(&self, wrapped: &[WrappedKey], context: &EncryptionContext) -> Result<DataKey> {
        let cipher = Aes256Gcm::new(&self.key.into());
        let aad = context.canonical_bytes();
        wrapped
            .iter()
            .filter(|w| w.provider_id == RAW_AES && w.provider_info == self.name.as_bytes())
            .find_map(|w| open_data_key(&cipher, &aad, &w.blob))
            .ok_or(Error::WrongKey)
    }
}

/// The `raw-aes` blob (FORMAT.md 2.3): `nonce || AES-256-GCM(kek, nonce, data key,
/// AAD = canonical context)`. Shared with the passphrase provider, whose
/// key-encryption key comes from Argon2id instead of a key file.
pub(crate) fn seal_data_key(
    kek: &[u8; 32],
    data_key: &DataKey,
    context: &EncryptionContext,
    nonce: [u8; 12],
) -> Result<Vec<u8>> {
    let cipher = Aes256Gcm::new(kek.into());
    let mut blob = Vec::with_capacity(RAW_AES_BLOB_LEN);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(data_key.as_bytes());
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(nonce),
            &context.canonical_bytes(),
            (&mut blob[12..]).into(),
        )
        .map_err(|_| Error::InvalidWrappedKey("AES-GCM refused to wrap the key"))?;
    blob.extend_from_slice(&tag);
    Ok(blob)
}

/// Opens a blob made by [`seal_data_key`]; `None` when it is not 60 bytes or does
/// not verify (another key, another context, changed).
pub(crate) fn open_data_key(cipher: &Aes256Gcm, aad: &[u8], blob: &[u8]) -> Option<DataKey> {
    if blob.len() != RAW_AES_BLOB_LEN {
        return None;
    }
    let nonce = Nonce::try_from(&blob[..12]).expect("length checked above");
    let tag = Tag::<Aes256Gcm>::try_from(&blob[44..]).expect("length checked above");
    let mut key = [0u8; 32];
    key.copy_from_slice(&blob[12..44]);
    let opened = cipher
        .decrypt_inout_detached(&nonce, aad, (&mut key[..]).into(), &tag)
        .is_ok()
        .then(|| DataKey::from_bytes(key));
    key.zeroize();
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(owner: &str) -> EncryptionContext {
        EncryptionContext::from_pairs([("owner", owner)]).expect("valid")
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let kr = RawAesKeyring::new("master", [9; 32]);
        let dk = DataKey::from_bytes([3; 32]);
        let w = kr.wrap_with_nonce(&dk, &ctx("a"), [1; 12]).expect("wraps");
        assert_eq!(w.blob.len(), RAW_AES_BLOB_LEN);
        assert_eq!(kr.unwrap(&[w], &ctx("a")).expect("unwraps"), dk);
    }

    #[test]
    fn unwrap_refuses_other_context_key_and_name() {
        let kr = RawAesKeyring::new("master", [9; 32]);
        let dk = DataKey::from_bytes([3; 32]);
        let w = kr.wrap_with_nonce(&dk, &ctx("a"), [1; 12]).expect("wraps");
        assert_eq!(
            kr.unwrap(core::slice::from_ref(&w), &ctx("b")),
            Err(Error::WrongKey)
        );
        let other = RawAesKeyring::new("master", [8; 32]);
        assert_eq!(
            other.unwrap(core::slice::from_ref(&w), &ctx("a")),
            Err(Error::WrongKey)
        );
        let renamed = RawAesKeyring::new("backup", [9; 32]);
        assert_eq!(renamed.unwrap(&[w], &ctx("a")), Err(Error::WrongKey));
    }

    #[test]
    fn unwrap_skips_keys_of_other_providers() {
        let kr = RawAesKeyring::new("master", [9; 32]);
        let dk = DataKey::from_bytes([3; 32]);
        let kms = WrappedKey {
            provider_id: AWS_KMS.into(),
            provider_info: b"arn:x".to_vec(),
            blob: alloc::vec![1; 100],
        };
        let w = kr.wrap_with_nonce(&dk, &ctx("a"), [1; 12]).expect("wraps");
        assert_eq!(kr.unwrap(&[kms, w], &ctx("a")).expect("second opens"), dk);
    }
}
