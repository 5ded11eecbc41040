//! Key derivation: per-object keys and the key commitment from one data key.
//!
//! ```text
//! PRK        = HKDF-Extract(SHA-512, salt = message_id, IKM = data_key)
//! content    = HKDF-Expand(PRK, "CipherDrop v1 content key" || version || suite_be16, 32)
//! header_key = HKDF-Expand(PRK, "CipherDrop v1 header key"  || version || suite_be16, 32)
//! commitment = HKDF-Expand(PRK, "CipherDrop v1 commitment"  || version || suite_be16, 32)
//! ```
//!
//! The random 32-byte message id makes every object's keys distinct, which is what
//! makes reusing (caching) a data key across objects safe. The version and suite
//! are bound into every label so a header cannot be reinterpreted under another
//! suite.

use hkdf::Hkdf;

use crate::cipher::ContentCipher;
use sha2::Sha512;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::header::{SUITE, VERSION};
use crate::{DataKey, Error, Result};

/// Length of a message id, in bytes.
pub const MESSAGE_ID_LEN: usize = 32;
/// Length of the key commitment, in bytes.
pub const COMMITMENT_LEN: usize = 32;

const CONTENT_LABEL: &[u8] = b"CipherDrop v1 content key";
const HEADER_LABEL: &[u8] = b"CipherDrop v1 header key";
const COMMIT_LABEL: &[u8] = b"CipherDrop v1 commitment";

/// The three values derived from a data key for one object.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DerivedKeys {
    content_key: [u8; 32],
    header_key: [u8; 32],
    commitment: [u8; COMMITMENT_LEN],
}

impl DerivedKeys {
    /// Derives the keys for the object with `message_id`.
    #[must_use]
    pub fn derive(data_key: &DataKey, message_id: &[u8; MESSAGE_ID_LEN]) -> Self {
        let hk = Hkdf::<Sha512>::new(Some(message_id), data_key.as_bytes());
        let mut keys = Self {
            content_key: [0; 32],
            header_key: [0; 32],
            commitment: [0; 32],
        };
        expand(&hk, CONTENT_LABEL, &mut keys.content_key);
        expand(&hk, HEADER_LABEL, &mut keys.header_key);
        expand(&hk, COMMIT_LABEL, &mut keys.commitment);
        keys
    }

    /// The AES-256-GCM key that seals the chunks.
    ///
    /// Exposed so a host can hand it to a faster AES-GCM implementation (WebCrypto);
    /// the format's nonces and final-chunk rule still come from this crate.
    #[must_use]
    pub const fn content_key(&self) -> &[u8; 32] {
        &self.content_key
    }

    /// The key commitment written into the header.
    #[must_use]
    pub const fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// Checks a header's commitment in constant time.
    ///
    /// # Errors
    /// [`Error::CommitmentMismatch`] when it differs.
    pub fn verify_commitment(&self, stored: &[u8; COMMITMENT_LEN]) -> Result<()> {
        if bool::from(self.commitment.ct_eq(stored)) {
            Ok(())
        } else {
            Err(Error::CommitmentMismatch)
        }
    }

    /// The HMAC-SHA-256 key of the header tag (FORMAT.md 4).
    pub(crate) const fn header_key(&self) -> &[u8; 32] {
        &self.header_key
    }

    /// The two keys of this object alone (FORMAT.md 3): what a reader or writer
    /// needs once the data key has been checked against the commitment.
    #[must_use]
    pub fn object_keys(&self) -> ObjectKeys {
        ObjectKeys {
            content_key: self.content_key,
            header_key: self.header_key,
        }
    }
}

/// One object's content key and header key, without the data key they come from.
///
/// The data key a key service hands out may be shared by many objects (a cache);
/// these two keys open only the object whose message id they were derived for. A
/// server that checked the data key against the header's commitment can give them
/// to a browser instead of the data key, so a leaked key opens one object, not its
/// siblings. The holder checks the header tag with them; it cannot check the
/// commitment (that needs the data key), so it trusts whoever derived them for that.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ObjectKeys {
    content_key: [u8; 32],
    header_key: [u8; 32],
}

impl ObjectKeys {
    /// The keys from their bytes (as a server sent them).
    #[must_use]
    pub const fn from_bytes(content_key: [u8; 32], header_key: [u8; 32]) -> Self {
        Self {
            content_key,
            header_key,
        }
    }

    /// The AES-256-GCM key of the chunks. Never log it.
    #[must_use]
    pub const fn content_key(&self) -> &[u8; 32] {
        &self.content_key
    }

    /// The HMAC-SHA-256 key of the header tag. Never log it.
    #[must_use]
    pub const fn header_key(&self) -> &[u8; 32] {
        &self.header_key
    }

    pub(crate) fn content_cipher(&self) -> ContentCipher {
        ContentCipher::new(&self.content_key)
    }
}

impl core::fmt::Debug for ObjectKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ObjectKeys").finish_non_exhaustive()
    }
}

impl core::fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DerivedKeys").finish_non_exhaustive()
    }
}

fn expand(hk: &Hkdf<Sha512>, label: &[u8], out: &mut [u8; 32]) {
    let [s0, s1] = SUITE.to_be_bytes();
    let info: [&[u8]; 2] = [label, &[VERSION, s0, s1]];
    hk.expand_multi_info(&info, out)
        .expect("32 bytes is far below HKDF-SHA-512's 16320-byte output limit");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_message_ids_give_different_keys() {
        let dk = DataKey::from_bytes([7; 32]);
        let a = DerivedKeys::derive(&dk, &[1; 32]);
        let b = DerivedKeys::derive(&dk, &[2; 32]);
        assert_ne!(a.content_key(), b.content_key());
        assert_ne!(a.commitment(), b.commitment());
        assert_ne!(
            a.content_key(),
            dk.as_bytes(),
            "the data key never encrypts content"
        );
    }

    #[test]
    fn the_three_outputs_differ() {
        let k = DerivedKeys::derive(&DataKey::from_bytes([0; 32]), &[0; 32]);
        assert_ne!(k.content_key, k.header_key);
        assert_ne!(k.content_key, k.commitment);
        assert_ne!(k.header_key, k.commitment);
    }

    #[test]
    fn commitment_check() {
        let k = DerivedKeys::derive(&DataKey::from_bytes([0; 32]), &[0; 32]);
        let c = *k.commitment();
        assert_eq!(k.verify_commitment(&c), Ok(()));
        let mut bad = c;
        bad[31] ^= 1;
        assert_eq!(k.verify_commitment(&bad), Err(Error::CommitmentMismatch));
    }
}
