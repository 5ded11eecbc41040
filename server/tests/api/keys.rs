//! Key-service errors reach the user as clear API errors (KMS refusals with moto;
//! a disabled or unreachable key through a test double, as moto does not enforce
//! disabled keys).

use std::sync::Arc;

use async_trait::async_trait;
use cipherdrop_core::{DataKey, EncryptionContext, WrappedKey};
use cipherdrop_server::keys::{GeneratedKey, KeyError, KeyService};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Moto, TestServer, test_bytes};

/// Delegates to moto's KMS until `broken` is set, then fails with `error()`.
#[derive(Debug)]
struct Breakable {
    inner: Arc<dyn KeyService>,
    broken: std::sync::atomic::AtomicU8,
    /// `check()` calls (from `/readyz`).
    checks: std::sync::atomic::AtomicUsize,
}

impl Breakable {
    fn error(&self) -> Option<KeyError> {
        match self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            1 => Some(KeyError::KeyDisabled),
            2 => Some(KeyError::KeyNotFound),
            3 => Some(KeyError::Unavailable("test: KMS down".to_owned())),
            _ => None,
        }
    }
}

#[async_trait]
impl KeyService for Breakable {
    fn provider_id(&self) -> &str {
        self.inner.provider_id()
    }
    async fn generate(
        &self,
        context: &EncryptionContext,
        len: u64,
    ) -> Result<GeneratedKey, KeyError> {
        match self.error() {
            Some(e) => Err(e),
            None => self.inner.generate(context, len).await,
        }
    }
    async fn unwrap(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        match self.error() {
            Some(e) => Err(e),
            None => self.inner.unwrap(wrapped, context).await,
        }
    }
    async fn check(&self) -> Result<(), KeyError> {
        self.checks
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match self.error() {
            Some(e) => Err(e),
            None => self.inner.check().await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_service_errors_are_clear() {
    let Some(moto) = Moto::start() else { return };
    let inner = moto.kms_key_service().await;
    let keys = Arc::new(Breakable {
        inner,
        broken: std::sync::atomic::AtomicU8::new(0),
        checks: std::sync::atomic::AtomicUsize::new(0),
    });
    let server = TestServer::with_parts(Some(moto), keys.clone(), None).await;
    let token = server.login("alice").await;
    let plaintext = test_bytes(1000, 5);
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let object_id = started["object_id"].as_str().unwrap().to_owned();
    let ciphertext = server.upload(&token, &started, &plaintext).await;
    let header = cipherdrop_core::Header::parse(&ciphertext).unwrap();
    assert_eq!(header.wrapped_keys()[0].provider_id, "aws-kms");

    for (mode, status, code, words) in [
        (1, StatusCode::FORBIDDEN, "key_disabled", "disabled"),
        (
            2,
            StatusCode::FORBIDDEN,
            "key_not_found",
            "no longer exists",
        ),
        (
            3,
            StatusCode::SERVICE_UNAVAILABLE,
            "key_service_unavailable",
            "unavailable",
        ),
    ] {
        keys.broken.store(mode, std::sync::atomic::Ordering::SeqCst);
        let (s, body) = server
            .post("/api/uploads", Some(&token), &json!({ "size": 10 }))
            .await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(words),
            "{body}"
        );
        let (s, body) = server
            .object_keys(&token, &object_id, header.as_bytes())
            .await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        let (s, body) = server.get("/readyz", None).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
    keys.broken.store(0, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        server.decrypt(&token, &object_id, &ciphertext).await,
        plaintext
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_refuses_another_owners_context() {
    let Some(moto) = Moto::start() else { return };
    let keys = moto.kms_key_service().await;
    let alice = cipherdrop_server::keys::object_context("alice-owner", "obj1").unwrap();
    let bob = cipherdrop_server::keys::object_context("bob-owner", "obj1").unwrap();
    let generated = keys.generate(&alice, 10).await.unwrap();
    let wrapped = [generated.wrapped];
    // Same owner, another object: KMS binds only the owner, so this opens.
    let alice2 = cipherdrop_server::keys::object_context("alice-owner", "obj2").unwrap();
    assert_eq!(
        keys.unwrap(&wrapped, &alice2).await.unwrap(),
        generated.data_key
    );
    // Another owner: moto's KMS refuses the context.
    assert!(matches!(
        keys.unwrap(&wrapped, &bob).await,
        Err(KeyError::AccessDenied)
    ));
    // A tampered blob is refused too.
    let mut bad = wrapped.clone();
    if let Some(b) = bad[0].blob.get_mut(40) {
        *b ^= 1;
    }
    assert!(keys.unwrap(&bad, &alice).await.is_err());
}

/// `/readyz` calls S3 and KMS: its answer is reused for a few seconds, so a
/// stream of unauthenticated requests costs one check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_are_cached() {
    use std::sync::atomic::Ordering;
    let Some(moto) = Moto::start() else { return };
    let inner = moto.kms_key_service().await;
    let keys = Arc::new(Breakable {
        inner,
        broken: std::sync::atomic::AtomicU8::new(0),
        checks: std::sync::atomic::AtomicUsize::new(0),
    });
    let server = TestServer::with_parts(Some(moto), keys.clone(), None).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (http, url) = (server.http.clone(), server.url("/readyz"));
        tasks.push(tokio::spawn(async move {
            http.get(url).send().await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(keys.checks.load(Ordering::SeqCst), 1);
    // KMS fails: the cached answer stands for a few seconds, then 503.
    keys.broken.store(3, Ordering::SeqCst);
    assert_eq!(server.get("/readyz", None).await.0, StatusCode::OK);
    assert_eq!(keys.checks.load(Ordering::SeqCst), 1);
    tokio::time::sleep(cipherdrop_server::routes::health::READY_CACHE_TTL).await;
    let (s, body) = server.get("/readyz", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["message"], "the key service is not reachable");
    assert_eq!(keys.checks.load(Ordering::SeqCst), 2);
}
