//! The local keyring: crypto-core's `raw-aes` keyring over named master key files.
//!
//! On disk, in the data directory:
//! - `master.key`: the first master key (32 bytes, mode 0600), named
//!   [`KEY_NAME`] in headers. Created at the first start, as it always was.
//! - `master-keys/<N>.key` (`N` = 2, 3, …, written as four digits): later master
//!   keys, added by `cipherdrop rotate --new-master-key`, named
//!   `cipherdrop-local-master-<N>`.
//!
//! New objects are wrapped with the newest key (the highest `N`); any of them
//! opens. A data directory without `master-keys/` is what older versions wrote
//! and behaves as before.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use cipherdrop_core::{DataKey, EncryptionContext, WrappedKey};
use cipherdrop_core::{Keyring, RawAesKeyring};
use zeroize::Zeroizing;

use super::{GeneratedKey, KeyError, KeyService, KeyStats};

/// The provider id crypto-core writes for this keyring.
pub const PROVIDER_ID: &str = cipherdrop_core::keyring::RAW_AES;
/// The name of the first master key (`master.key`), written as provider info.
pub const KEY_NAME: &str = "cipherdrop-local-master";
/// Length of a master key file.
pub const MASTER_KEY_LEN: usize = 32;
/// The first master key's file in the data directory.
pub const FIRST_KEY_FILE: &str = "master.key";
/// The directory (in the data directory) of later master keys.
pub const KEYS_DIR: &str = "master-keys";

/// The header name of master key number `n` (1 = `master.key`).
pub fn key_name(n: u32) -> String {
    if n <= 1 {
        KEY_NAME.to_owned()
    } else {
        format!("{KEY_NAME}-{n}")
    }
}

/// A [`KeyService`] holding one or more 256-bit master keys in memory.
pub struct LocalKeyService {
    /// Oldest first; the last one wraps new keys.
    keys: Vec<RawAesKeyring>,
    generated: AtomicU64,
    unwrapped: AtomicU64,
}

impl std::fmt::Debug for LocalKeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyService")
            .field("current", &self.current().name())
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl LocalKeyService {
    /// A keyring over `master` alone (named [`KEY_NAME`]).
    pub fn new(master: [u8; MASTER_KEY_LEN]) -> Self {
        Self::from_keyrings(vec![RawAesKeyring::new(KEY_NAME, master)])
            .expect("one keyring is not empty")
    }

    /// A keyring over `keys`, oldest first: the last wraps new data keys.
    ///
    /// # Errors
    /// When `keys` is empty.
    pub fn from_keyrings(keys: Vec<RawAesKeyring>) -> anyhow::Result<Self> {
        anyhow::ensure!(!keys.is_empty(), "a local keyring needs a master key");
        Ok(Self {
            keys,
            generated: AtomicU64::new(0),
            unwrapped: AtomicU64::new(0),
        })
    }

    /// Loads the single master key from `path`, creating it (mode 0600, 32 random
    /// bytes) when it does not exist.
    ///
    /// # Errors
    /// When the file cannot be read or created, or has the wrong length.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        Ok(Self::new(load_key(path, true)?))
    }

    /// Loads every master key of `data_dir` (see the module docs), creating
    /// `master.key` when it does not exist.
    ///
    /// # Errors
    /// When a file cannot be read or created, or has the wrong length.
    pub fn load_dir(data_dir: &Path) -> anyhow::Result<Self> {
        let mut keys = vec![RawAesKeyring::new(
            KEY_NAME,
            load_key(&data_dir.join(FIRST_KEY_FILE), true)?,
        )];
        for (n, path) in later_keys(data_dir)? {
            keys.push(RawAesKeyring::new(key_name(n), load_key(&path, false)?));
        }
        Self::from_keyrings(keys)
    }

    /// Adds a new master key to `data_dir` (`master-keys/<N>.key`, mode 0600, the
    /// next number), which becomes the newest. Returns its name. `master.key`
    /// must exist (the keyring in use).
    ///
    /// # Errors
    /// When `master.key` is missing or a file cannot be written.
    pub fn add_master_key(data_dir: &Path) -> anyhow::Result<String> {
        let first = data_dir.join(FIRST_KEY_FILE);
        if !first.is_file() {
            bail!(
                "{} does not exist: this data directory has no local keyring yet (start \
                 `cipherdrop serve` once, or check --data-dir)",
                first.display()
            );
        }
        let next = later_keys(data_dir)?.last().map_or(2, |(n, _)| n + 1);
        let path = data_dir.join(KEYS_DIR).join(format!("{next:04}.key"));
        // load_or_create never overwrites, and the number is new.
        crate::secret_file::load_or_create(&path, MASTER_KEY_LEN)?;
        Ok(key_name(next))
    }

    /// The keyring new data keys are wrapped with.
    fn current(&self) -> &RawAesKeyring {
        self.keys.last().expect("never empty (from_keyrings)")
    }

    /// The name of the newest master key.
    pub fn current_name(&self) -> &str {
        self.current().name()
    }

    /// The names of every master key held, oldest first.
    pub fn names(&self) -> Vec<&str> {
        self.keys.iter().map(RawAesKeyring::name).collect()
    }
}

/// Reads a master key file (creating it when `create`).
fn load_key(path: &Path, create: bool) -> anyhow::Result<[u8; MASTER_KEY_LEN]> {
    let key = if create {
        crate::secret_file::load_or_create(path, MASTER_KEY_LEN)?
    } else {
        crate::secret_file::load_exact(path, MASTER_KEY_LEN)?
    };
    let mut master = Zeroizing::new([0u8; MASTER_KEY_LEN]);
    master.copy_from_slice(&key);
    Ok(*master)
}

/// `master-keys/<N>.key` files, by number; other files are refused (a key under
/// an unexpected name would silently not be used).
fn later_keys(data_dir: &Path) -> anyhow::Result<Vec<(u32, PathBuf)>> {
    let dir = data_dir.join(KEYS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        let n = path
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.strip_suffix(".key"))
            .filter(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n >= 2);
        match n {
            Some(n) => keys.push((n, path)),
            // Temporary files of a key being written (secret_file) are skipped.
            None if path
                .file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with('.')) => {}
            None => bail!(
                "{} is not a master key file name (expected 0002.key, 0003.key, ...); move it away",
                path.display()
            ),
        }
    }
    keys.sort_by_key(|(n, _)| *n);
    Ok(keys)
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
        let wrapped = self.wrap(&data_key, context).await?;
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
        // Every failure here means "this key does not open under this context";
        // each keyring only tries the entries naming it.
        self.keys
            .iter()
            .rev()
            .find_map(|k| k.unwrap(wrapped, context).ok())
            .ok_or(KeyError::AccessDenied)
    }

    async fn wrap(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        self.current()
            .wrap(data_key, context)
            .map_err(|e| KeyError::Other(e.to_string()))
    }

    async fn current_key_info(&self) -> Result<Vec<u8>, KeyError> {
        Ok(self.current_name().as_bytes().to_vec())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EncryptionContext {
        EncryptionContext::from_pairs([("object", "o"), ("owner", "a")]).expect("valid")
    }

    #[tokio::test]
    async fn newest_key_wraps_and_every_key_opens() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let first = LocalKeyService::load_dir(dir.path()).expect("created");
        assert_eq!(first.names(), [KEY_NAME]);
        let old = first.generate(&ctx(), 1).await.expect("generated");
        // A data directory of an older version: the same key under the same name.
        let legacy =
            LocalKeyService::load_or_create(&dir.path().join(FIRST_KEY_FILE)).expect("loads");
        assert!(
            legacy
                .unwrap(std::slice::from_ref(&old.wrapped), &ctx())
                .await
                .is_ok()
        );

        assert_eq!(
            LocalKeyService::add_master_key(dir.path()).expect("added"),
            "cipherdrop-local-master-2"
        );
        assert_eq!(
            LocalKeyService::add_master_key(dir.path()).expect("added"),
            "cipherdrop-local-master-3"
        );
        let ring = LocalKeyService::load_dir(dir.path()).expect("loads");
        assert_eq!(ring.current_name(), "cipherdrop-local-master-3");
        let new = ring.generate(&ctx(), 1).await.expect("generated");
        assert_eq!(new.wrapped.provider_info, b"cipherdrop-local-master-3");
        assert_eq!(
            ring.current_key_info().await.expect("named"),
            b"cipherdrop-local-master-3"
        );
        let opened = ring
            .unwrap(std::slice::from_ref(&old.wrapped), &ctx())
            .await
            .expect("opens");
        assert_eq!(opened.as_bytes(), old.data_key.as_bytes());
        let rewrapped = ring.wrap(&old.data_key, &ctx()).await.expect("wraps");
        let opened = ring
            .unwrap(std::slice::from_ref(&rewrapped), &ctx())
            .await
            .expect("opens");
        assert_eq!(opened.as_bytes(), old.data_key.as_bytes());
        // The old keyring alone cannot open what the new key wrapped.
        assert!(matches!(
            first.unwrap(&[rewrapped], &ctx()).await,
            Err(KeyError::AccessDenied)
        ));

        std::fs::write(dir.path().join(KEYS_DIR).join("junk.txt"), b"x").expect("writable");
        assert!(LocalKeyService::load_dir(dir.path()).is_err());
    }

    #[test]
    fn adding_needs_the_first_key() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        assert!(LocalKeyService::add_master_key(dir.path()).is_err());
    }
}
