//! The data key: a 256-bit secret that never encrypts content itself.

use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a data key in bytes.
pub const DATA_KEY_LEN: usize = 32;

/// A 256-bit data key. Per-object keys are derived from it (see [`crate::kdf`]), so
/// one data key may safely protect many objects.
///
/// Zeroized on drop; `Debug` never prints the bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// Wraps existing key bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Copies a key from a slice.
    ///
    /// # Errors
    /// [`crate::Error::WrongKey`] when the slice is not exactly 32 bytes.
    pub fn try_from_slice(bytes: &[u8]) -> crate::Result<Self> {
        let arr: [u8; DATA_KEY_LEN] = bytes.try_into().map_err(|_| crate::Error::WrongKey)?;
        Ok(Self(arr))
    }

    /// A fresh random key from the operating system (or the browser).
    ///
    /// # Errors
    /// [`crate::Error::Randomness`] when no randomness is available.
    #[cfg(feature = "getrandom")]
    pub fn generate() -> crate::Result<Self> {
        let mut k = [0u8; DATA_KEY_LEN];
        crate::fill_random(&mut k)?;
        Ok(Self(k))
    }

    /// The key bytes. Handle with care: never log them.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl PartialEq for DataKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for DataKey {}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_does_not_print_the_key() {
        let k = DataKey::from_bytes([0xAB; 32]);
        let s = format!("{k:?}");
        assert!(
            !s.contains("171") && !s.to_lowercase().contains("ab"),
            "{s}"
        );
    }

    #[test]
    fn equality_compares_bytes() {
        assert_eq!(DataKey::from_bytes([1; 32]), DataKey::from_bytes([1; 32]));
        assert_ne!(DataKey::from_bytes([1; 32]), DataKey::from_bytes([2; 32]));
    }
}
