//! The local keyring: crypto-core's `raw-aes` keyring over a master key file.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use cipherdrop_core::{DataKey, EncryptionContext, WrappedKey};
use cipherdrop_core::{Keyring, RawAesKeyring};
use zeroize::Zeroizing;

use super::{GeneratedKey, KeyError, KeyService, KeyStats};

/// The provider id crypto-core writes for this keyring.
pub const PROVIDER_ID: &str = cipherdrop_core::keyring::RAW_AES;
/// The key name written as provider info.
pub const KEY_NAME: &str = "cipherdrop-local-master";
/// Length of the master key file.
pub const MASTER_KEY_LEN: usize = 32;

/// A [`KeyService`] holding one 256-bit master key in memory.
pub struct LocalKeyService {
    keyring: RawAesKeyring,
    generated: AtomicU64,
    unwrapped: AtomicU64,
}

impl std::fmt::Debug for LocalKeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyService").finish_non_exhaustive()
    }
}

impl LocalKeyService {
    /// A keyring over `master` (named [`KEY_NAME`]).
    pub fn new(master: [u8; MASTER_KEY_LEN]) -> Self {
        Self {
            keyring: RawAesKeyring::new(KEY_NAME, master),
            generated: AtomicU64::new(0),
            unwrapped: AtomicU64::new(0),
        }
    }

    /// Loads the master key from `path`, creating it (mode 0600, 32 random bytes)
    /// when it does not exist.
    ///
    /// # Errors
    /// When the file cannot be read or created, or has the wrong length.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        let key = crate::secret_file::load_or_create(path, MASTER_KEY_LEN)?;
        let mut master = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        master.copy_from_slice(&key);
        Ok(Self::new(*master))
    }
}

#[async_trait]
impl KeyService for LocalKeyService {
    fn provider_id(&self) -> &str {
        PROVIDER_ID
    }

    async fn generate(
        &self,
        context: &EncryptionContext,
        _plaintext_len: u64,
    ) -> Result<GeneratedKey, KeyError> {
        let data_key = DataKey::generate().map_err(|e| KeyError::Other(e.to_string()))?;
        let wrapped = self
            .keyring
            .wrap(&data_key, context)
            .map_err(|e| KeyError::Other(e.to_string()))?;
        self.generated.fetch_add(1, Ordering::Relaxed);
        Ok(GeneratedKey { data_key, wrapped })
    }

    async fn unwrap(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        if !wrapped.iter().any(|w| w.provider_id == PROVIDER_ID) {
            return Err(KeyError::NoUsableWrappedKey);
        }
        self.unwrapped.fetch_add(1, Ordering::Relaxed);
        // Every failure here means "this key does not open under this context".
        self.keyring
            .unwrap(wrapped, context)
            .map_err(|_| KeyError::AccessDenied)
    }

    async fn check(&self) -> Result<(), KeyError> {
        Ok(())
    }

    fn stats(&self) -> KeyStats {
        KeyStats {
            generate_calls: self.generated.load(Ordering::Relaxed),
            unwrap_calls: self.unwrapped.load(Ordering::Relaxed),
            cache_hits: 0,
        }
    }
}
