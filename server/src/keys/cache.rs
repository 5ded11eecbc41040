//! A bounded, per-owner data-key cache in front of a [`KeyService`].
//!
//! Reusing a data key across objects is safe because every object derives its own
//! content key from a random message id (FORMAT.md). Each cached key is bounded by
//! age, by the number of objects it protects and by the plaintext bytes it protects;
//! the cache itself holds at most `capacity` owners. Unwrapping is never cached.
//!
//! **Single flight**: when an owner has no usable cached key (none yet, or it just
//! reached a limit), one request asks the key service and the owner's other requests
//! wait for it (at most [`DEFAULT_MAX_WAIT`]) instead of all calling it at once. If
//! that call fails, the waiters get the same error; if the request that was calling
//! is cancelled, the next waiter calls instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cipherdrop_core::{DataKey, EncryptionContext, WrappedKey};
use tokio::sync::watch;

use super::{GeneratedKey, KeyError, KeyService, KeyStats};

/// Longest a request waits for another request's call to the key service.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(10);

/// Rounds of "wait, then look again" before a request gives up sharing and asks the
/// key service for a key of its own (only when keys are used up as fast as they
/// arrive, e.g. a tiny object limit under heavy concurrency).
const MAX_ROUNDS: usize = 4;

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

/// What the waiters of a call learn: `None` while it runs, then whether it worked
/// (on success they take the key from the cache like any other request).
type Outcome = Option<Result<(), KeyError>>;

#[derive(Debug)]
struct Flight {
    /// Tells this call apart from a later one for the same owner.
    id: u64,
    outcome: watch::Receiver<Outcome>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Vec<u8>, Entry>,
    /// Calls to the key service in progress, per binding context.
    flights: HashMap<Vec<u8>, Flight>,
}

/// A [`KeyService`] that reuses one data key per context within [`CacheLimits`],
/// with at most one call to the underlying service per context at a time.
#[derive(Debug)]
pub struct CachingKeyService<K> {
    inner: K,
    limits: CacheLimits,
    max_wait: Duration,
    state: Mutex<Inner>,
    next_flight: AtomicU64,
    hits: AtomicU64,
}

/// Whether the caller takes a usable key, calls the key service, or waits.
enum Role<'a> {
    Hit(GeneratedKey),
    Lead(FlightGuard<'a>),
    Wait(watch::Receiver<Outcome>),
}

/// Held by the request calling the key service. Dropping it (done, or cancelled
/// mid-call) ends the flight, so nobody waits on a call nobody makes: waiters of a
/// cancelled call see the channel close and try again.
struct FlightGuard<'a> {
    state: &'a Mutex<Inner>,
    owner: &'a [u8],
    id: u64,
    outcome: watch::Sender<Outcome>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only this flight: a later one for the same owner is left alone.
        if state
            .flights
            .get(self.owner)
            .is_some_and(|f| f.id == self.id)
        {
            state.flights.remove(self.owner);
        }
    }
}

impl<K: KeyService> CachingKeyService<K> {
    /// Wraps `inner`.
    pub fn new(inner: K, limits: CacheLimits) -> Self {
        Self {
            inner,
            limits,
            max_wait: DEFAULT_MAX_WAIT,
            state: Mutex::new(Inner::default()),
            next_flight: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// Sets how long a request waits for another request's call to the key service
    /// before it fails with [`KeyError::Unavailable`] (default [`DEFAULT_MAX_WAIT`]).
    #[must_use]
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a key for an object of `plaintext_len` bytes can be shared at all.
    fn shareable(&self, plaintext_len: u64) -> bool {
        plaintext_len <= self.limits.max_bytes
            && self.limits.max_objects >= 2
            && self.limits.capacity > 0
    }

    /// Takes one use of the cached key for `id`, if it has one left; drops a key
    /// that has reached a limit.
    fn take(
        &self,
        entries: &mut HashMap<Vec<u8>, Entry>,
        id: &[u8],
        plaintext_len: u64,
    ) -> Option<GeneratedKey> {
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

    /// Caches a fresh key, already used once for `plaintext_len` bytes.
    fn store(
        &self,
        entries: &mut HashMap<Vec<u8>, Entry>,
        id: Vec<u8>,
        key: &GeneratedKey,
        plaintext_len: u64,
    ) {
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

    /// A usable cached key, else the role in the owner's call to the key service.
    fn role<'a>(&'a self, id: &'a [u8], plaintext_len: u64) -> Role<'a> {
        let mut state = self.lock();
        if let Some(hit) = self.take(&mut state.entries, id, plaintext_len) {
            return Role::Hit(hit);
        }
        if let Some(flight) = state.flights.get(id) {
            return Role::Wait(flight.outcome.clone());
        }
        let (tx, rx) = watch::channel(None);
        let flight_id = self.next_flight.fetch_add(1, Ordering::Relaxed);
        state.flights.insert(
            id.to_vec(),
            Flight {
                id: flight_id,
                outcome: rx,
            },
        );
        Role::Lead(FlightGuard {
            state: &self.state,
            owner: id,
            id: flight_id,
            outcome: tx,
        })
    }

    /// Calls the key service as the owner's leader: caches the key, tells the waiters.
    async fn lead(
        &self,
        id: &[u8],
        guard: FlightGuard<'_>,
        context: &EncryptionContext,
        plaintext_len: u64,
    ) -> Result<GeneratedKey, KeyError> {
        let result = self.inner.generate(context, plaintext_len).await;
        if let Ok(key) = &result {
            let mut state = self.lock();
            self.store(&mut state.entries, id.to_vec(), key, plaintext_len);
        }
        guard
            .outcome
            .send_replace(Some(result.as_ref().map(|_| ()).map_err(Clone::clone)));
        drop(guard);
        result
    }

    /// Number of cached owners (for tests).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
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
        if !self.shareable(plaintext_len) {
            return self.inner.generate(context, plaintext_len).await;
        }
        let id = self.inner.binding_context(context).canonical_bytes();
        for _ in 0..MAX_ROUNDS {
            match self.role(&id, plaintext_len) {
                Role::Hit(key) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(key);
                }
                Role::Lead(guard) => return self.lead(&id, guard, context, plaintext_len).await,
                Role::Wait(mut outcome) => {
                    let waited =
                        tokio::time::timeout(self.max_wait, outcome.wait_for(Option::is_some))
                            .await;
                    match waited {
                        Err(_) => {
                            return Err(KeyError::Unavailable(format!(
                                "waited {:?} for another request's data key",
                                self.max_wait
                            )));
                        }
                        // The leader was cancelled before it had an answer: try
                        // again (one of the waiters becomes the leader).
                        Ok(Err(_)) => {}
                        Ok(Ok(done)) => {
                            if let Some(Err(e)) = &*done {
                                return Err(e.clone());
                            }
                            // Success: look again (the new key may be used up
                            // already by the other waiters).
                        }
                    }
                }
            }
        }
        // Keys are used up as fast as they arrive: this request gets its own.
        self.inner.generate(context, plaintext_len).await
    }

    async fn unwrap(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.inner.unwrap(wrapped, context).await
    }

    async fn wrap(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        self.inner.wrap(data_key, context).await
    }

    async fn current_key_info(&self) -> Result<Vec<u8>, KeyError> {
        self.inner.current_key_info().await
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

    /// A key service that counts `generate` calls and takes `delay` to answer
    /// (failing when `fail` is set), like KMS over a network.
    #[derive(Debug)]
    struct Counting {
        keys: OwnerBound,
        calls: AtomicU64,
        delay: Duration,
        fail: bool,
    }

    impl Counting {
        fn new(delay: Duration, fail: bool) -> Self {
            Self {
                keys: OwnerBound(LocalKeyService::new([8; 32])),
                calls: AtomicU64::new(0),
                delay,
                fail,
            }
        }
    }

    #[async_trait]
    impl KeyService for Counting {
        fn provider_id(&self) -> &str {
            "counting"
        }
        async fn generate(
            &self,
            context: &EncryptionContext,
            len: u64,
        ) -> Result<GeneratedKey, KeyError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if self.fail {
                return Err(KeyError::Unavailable("throttled".to_owned()));
            }
            self.keys.generate(context, len).await
        }
        async fn unwrap(
            &self,
            wrapped: &[WrappedKey],
            context: &EncryptionContext,
        ) -> Result<DataKey, KeyError> {
            self.keys.unwrap(wrapped, context).await
        }
        async fn check(&self) -> Result<(), KeyError> {
            Ok(())
        }
        fn binding_context(&self, context: &EncryptionContext) -> EncryptionContext {
            crate::keys::owner_only(context)
        }
    }

    fn counting(delay_ms: u64, fail: bool, limits: CacheLimits) -> CachingKeyService<Counting> {
        CachingKeyService::new(Counting::new(Duration::from_millis(delay_ms), fail), limits)
    }

    async fn concurrently(
        c: &CachingKeyService<Counting>,
        owners: &[&str],
        n: usize,
    ) -> Vec<Result<GeneratedKey, KeyError>> {
        let contexts: Vec<EncryptionContext> =
            (0..n).map(|i| ctx(owners[i % owners.len()])).collect();
        futures_util::future::join_all(contexts.iter().map(|cx| c.generate(cx, 1))).await
    }

    #[tokio::test]
    async fn concurrent_misses_for_one_owner_make_one_call() {
        let c = counting(50, false, CacheLimits::default());
        let keys = concurrently(&c, &["a"], 64).await;
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 1);
        let first = keys[0].as_ref().expect("key").data_key.clone();
        for k in &keys {
            assert_eq!(k.as_ref().expect("key").data_key, first);
        }
        assert_eq!(c.stats().cache_hits, 63);
    }

    #[tokio::test]
    async fn concurrent_misses_on_a_retired_key_make_one_call() {
        let c = counting(
            20,
            false,
            CacheLimits {
                max_objects: 1_000,
                ..CacheLimits::default()
            },
        );
        let _ = concurrently(&c, &["a"], 1_000).await; // uses the first key up
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 1);
        let keys = concurrently(&c, &["a"], 64).await;
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 2);
        assert!(keys.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn owners_do_not_wait_for_each_other() {
        let c = counting(20, false, CacheLimits::default());
        let keys = concurrently(&c, &["a", "b"], 64).await;
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 2);
        assert_ne!(
            keys[0].as_ref().expect("a").data_key,
            keys[1].as_ref().expect("b").data_key
        );
    }

    #[tokio::test]
    async fn waiters_get_the_leaders_error_without_calling() {
        let c = counting(20, true, CacheLimits::default());
        let keys = concurrently(&c, &["a"], 16).await;
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 1);
        for k in keys {
            assert!(matches!(k, Err(KeyError::Unavailable(_))), "{k:?}");
        }
        // Nothing stays stuck: the next request calls again.
        let _ = c.generate(&ctx("a"), 1).await;
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_over_to_a_waiter() {
        let c = counting(50, false, CacheLimits::default());
        let leader_cx = ctx("a");
        let waiter_cx = ctx("a");
        let leader = c.generate(&leader_cx, 1);
        let waiter = c.generate(&waiter_cx, 1);
        // The leader is dropped after 10 ms, in the middle of its call.
        let cancelled = tokio::time::timeout(Duration::from_millis(10), leader);
        let (cancelled, waited) = tokio::join!(cancelled, waiter);
        assert!(cancelled.is_err());
        waited.expect("the waiter calls itself");
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn waiting_is_bounded() {
        let c =
            counting(500, false, CacheLimits::default()).with_max_wait(Duration::from_millis(20));
        let keys = concurrently(&c, &["a"], 4).await;
        assert!(keys[0].is_ok(), "the leader waits for its own call");
        for k in &keys[1..] {
            assert!(matches!(k, Err(KeyError::Unavailable(_))), "{k:?}");
        }
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn limits_hold_under_concurrency() {
        let c = counting(
            5,
            false,
            CacheLimits {
                max_objects: 4,
                ..CacheLimits::default()
            },
        );
        let keys = concurrently(&c, &["a"], 64).await;
        let mut uses: HashMap<Vec<u8>, usize> = HashMap::new();
        for k in keys {
            *uses
                .entry(k.expect("key").data_key.as_bytes().to_vec())
                .or_default() += 1;
        }
        assert!(uses.values().all(|&n| n <= 4), "{:?}", uses.values());
        let calls = c.inner.calls.load(Ordering::SeqCst);
        assert!((16..64).contains(&calls), "{calls} calls");
    }

    #[tokio::test]
    async fn objects_too_large_to_share_skip_the_cache() {
        let c = counting(
            0,
            false,
            CacheLimits {
                max_bytes: 100,
                ..CacheLimits::default()
            },
        );
        let cx = ctx("a");
        let keys = futures_util::future::join_all((0..4).map(|_| c.generate(&cx, 101))).await;
        assert!(keys.iter().all(Result::is_ok));
        assert_eq!(c.inner.calls.load(Ordering::SeqCst), 4);
        assert!(c.is_empty());
    }
}
