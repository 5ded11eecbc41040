//! A bounded, per-owner data-key cache in front of a [`KeyService`].
//!
//! Reusing a data key across objects is safe because every object derives its own
//! content key from a random message id (FORMAT.md). Each cached key is bounded by
//! age, by the number of objects it protects and by the plaintext bytes it protects;
//! the cache itself holds at most `capacity` owners. Unwrapping is never cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cipherdrop_core::{DataKey, EncryptionContext, WrappedKey};

use super::{GeneratedKey, KeyError, KeyService, KeyStats};

/// Limits of the cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    /// A cached data key is not handed out once it is this old.
    pub max_age: Duration,
    /// A cached data key protects at most this many objects.
    pub max_objects: u64,
    /// A cached data key protects at most this many plaintext bytes.
    pub max_bytes: u64,
    /// At most this many owners (contexts) are cached; the oldest entry goes first.
    pub capacity: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_objects: 10_000,
            max_bytes: 1 << 40,
            capacity: 10_000,
        }
    }
}

#[derive(Debug)]
struct Entry {
    key: GeneratedKey,
    created: Instant,
    objects: u64,
    bytes: u64,
}

/// A [`KeyService`] that reuses one data key per context within [`CacheLimits`].
#[derive(Debug)]
pub struct CachingKeyService<K> {
    inner: K,
    limits: CacheLimits,
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
    hits: AtomicU64,
}

impl<K: KeyService> CachingKeyService<K> {
    /// Wraps `inner`.
    pub fn new(inner: K, limits: CacheLimits) -> Self {
        Self {
            inner,
            limits,
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
        }
    }

    fn lookup(&self, id: &[u8], plaintext_len: u64) -> Option<GeneratedKey> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get_mut(id)?;
        let fresh = entry.created.elapsed() < self.limits.max_age;
        let objects_left = entry.objects < self.limits.max_objects;
        let bytes_left = entry
            .bytes
            .checked_add(plaintext_len)
            .is_some_and(|b| b <= self.limits.max_bytes);
        if fresh && objects_left && bytes_left {
            entry.objects += 1;
            entry.bytes += plaintext_len;
            return Some(entry.key.clone());
        }
        entries.remove(id);
        None
    }

    fn store(&self, id: Vec<u8>, key: &GeneratedKey, plaintext_len: u64) {
        if plaintext_len > self.limits.max_bytes
            || self.limits.max_objects < 2
            || self.limits.capacity == 0
        {
            return; // nothing left to share
        }
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.limits.capacity && !entries.contains_key(&id) {
            let max_age = self.limits.max_age;
            entries.retain(|_, e| e.created.elapsed() < max_age);
            if entries.len() >= self.limits.capacity
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.created)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            id,
            Entry {
                key: key.clone(),
                created: Instant::now(),
                objects: 1,
                bytes: plaintext_len,
            },
        );
    }

    /// Number of cached owners (for tests).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl<K: KeyService> KeyService for CachingKeyService<K> {
    fn provider_id(&self) -> &str {
        self.inner.provider_id()
    }

    async fn generate(
        &self,
        context: &EncryptionContext,
        plaintext_len: u64,
    ) -> Result<GeneratedKey, KeyError> {
        let id = self.inner.binding_context(context).canonical_bytes();
        if let Some(hit) = self.lookup(&id, plaintext_len) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let fresh = self.inner.generate(context, plaintext_len).await?;
        self.store(id, &fresh, plaintext_len);
        Ok(fresh)
    }

    async fn unwrap(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.inner.unwrap(wrapped, context).await
    }

    async fn check(&self) -> Result<(), KeyError> {
        self.inner.check().await
    }

    fn binding_context(&self, context: &EncryptionContext) -> EncryptionContext {
        self.inner.binding_context(context)
    }

    fn stats(&self) -> KeyStats {
        KeyStats {
            cache_hits: self.hits.load(Ordering::Relaxed),
            ..self.inner.stats()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::local::LocalKeyService;

    /// The local keyring, but binding only the owner, like KMS.
    #[derive(Debug)]
    struct OwnerBound(LocalKeyService);

    #[async_trait]
    impl KeyService for OwnerBound {
        fn provider_id(&self) -> &str {
            "test"
        }
        async fn generate(
            &self,
            context: &EncryptionContext,
            len: u64,
        ) -> Result<GeneratedKey, KeyError> {
            self.0
                .generate(&crate::keys::owner_only(context), len)
                .await
        }
        async fn unwrap(
            &self,
            wrapped: &[WrappedKey],
            context: &EncryptionContext,
        ) -> Result<DataKey, KeyError> {
            self.0
                .unwrap(wrapped, &crate::keys::owner_only(context))
                .await
        }
        async fn check(&self) -> Result<(), KeyError> {
            Ok(())
        }
        fn binding_context(&self, context: &EncryptionContext) -> EncryptionContext {
            crate::keys::owner_only(context)
        }
        fn stats(&self) -> KeyStats {
            self.0.stats()
        }
    }

    fn ctx(owner: &str) -> EncryptionContext {
        // A different object each time: the cache must still reuse per owner.
        static N: AtomicU64 = AtomicU64::new(0);
        let object = N.fetch_add(1, Ordering::Relaxed).to_string();
        crate::keys::object_context(owner, &object).expect("valid context")
    }

    fn cache(limits: CacheLimits) -> CachingKeyService<OwnerBound> {
        CachingKeyService::new(OwnerBound(LocalKeyService::new([7; 32])), limits)
    }

    #[tokio::test]
    async fn reuses_a_key_per_owner_only() {
        let c = cache(CacheLimits::default());
        let a1 = c.generate(&ctx("a"), 10).await.expect("a1");
        let a2 = c.generate(&ctx("a"), 10).await.expect("a2");
        let b1 = c.generate(&ctx("b"), 10).await.expect("b1");
        assert_eq!(a1.data_key, a2.data_key);
        assert_ne!(a1.data_key, b1.data_key);
        assert_eq!(c.stats().generate_calls, 2);
        assert_eq!(c.stats().cache_hits, 1);
    }

    #[tokio::test]
    async fn object_limit_forces_a_new_key() {
        let c = cache(CacheLimits {
            max_objects: 2,
            ..CacheLimits::default()
        });
        let k1 = c.generate(&ctx("a"), 1).await.expect("k1");
        let k2 = c.generate(&ctx("a"), 1).await.expect("k2");
        let k3 = c.generate(&ctx("a"), 1).await.expect("k3");
        assert_eq!(k1.data_key, k2.data_key);
        assert_ne!(k2.data_key, k3.data_key);
    }

    #[tokio::test]
    async fn byte_limit_forces_a_new_key() {
        let c = cache(CacheLimits {
            max_bytes: 100,
            ..CacheLimits::default()
        });
        let k1 = c.generate(&ctx("a"), 60).await.expect("k1");
        let k2 = c.generate(&ctx("a"), 60).await.expect("k2");
        assert_ne!(k1.data_key, k2.data_key);
        // Larger than the limit: never cached at all.
        let k3 = c.generate(&ctx("b"), 101).await.expect("k3");
        let k4 = c.generate(&ctx("b"), 1).await.expect("k4");
        assert_ne!(k3.data_key, k4.data_key);
    }

    #[tokio::test]
    async fn age_limit_forces_a_new_key() {
        let c = cache(CacheLimits {
            max_age: Duration::ZERO,
            ..CacheLimits::default()
        });
        let k1 = c.generate(&ctx("a"), 1).await.expect("k1");
        let k2 = c.generate(&ctx("a"), 1).await.expect("k2");
        assert_ne!(k1.data_key, k2.data_key);
    }

    #[tokio::test]
    async fn capacity_evicts_the_oldest_owner() {
        let c = cache(CacheLimits {
            capacity: 2,
            ..CacheLimits::default()
        });
        for owner in ["a", "b", "c"] {
            c.generate(&ctx(owner), 1).await.expect("key");
        }
        assert_eq!(c.len(), 2);
    }
}
