//! The key service: where data keys come from and go back to.
//!
//! Two implementations sit behind [`KeyService`]: AWS KMS ([`kms::KmsKeyService`])
//! and a local master key ([`local::LocalKeyService`], crypto-core's `raw-aes`
//! keyring). [`cache::CachingKeyService`] wraps either with a bounded per-owner
//! data-key cache.
//!
//! The context passed here is always the object's full encryption context,
//! `{"owner": ..., "object": ...}`, built by the server from the authenticated caller
//! and the object id (never taken from a request). Each implementation binds the part
//! it names in [`KeyService::binding_context`]: KMS binds only `owner` (so one data
//! key, wrapped once, can serve many objects of one owner: each object derives its
//! own content key from its message id, and the file header binds the object id);
//! the local `raw-aes` keyring binds the whole context, like crypto-core's
//! `Opener::with_keyring` expects.

pub mod cache;
pub mod kms;
pub mod local;
pub mod recovery;

use async_trait::async_trait;
use axum::http::StatusCode;
use cipherdrop_core::{DataKey, EncryptionContext, WrappedKey, X25519Recipient};

use crate::error::ApiError;

/// Why the key service could not produce or open a data key.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The master key is disabled (KMS `DisabledException`, or a key pending deletion).
    #[error("the key for this file is disabled")]
    KeyDisabled,
    /// The master key does not exist (deleted, wrong id).
    #[error("the key for this file no longer exists")]
    KeyNotFound,
    /// The wrapped key does not open under this caller's context (wrong owner,
    /// tampered blob, another key).
    #[error("you are not allowed to read this file (the key service refused to unwrap its key)")]
    AccessDenied,
    /// None of the wrapped keys is for a provider this server has.
    #[error("no wrapped key of this file can be opened by this server's key service")]
    NoUsableWrappedKey,
    /// The key service is unreachable, throttling or failing.
    #[error("the key service is unavailable")]
    Unavailable(String),
    /// Anything else (detail for the log only).
    #[error("the key service failed")]
    Other(String),
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::KeyDisabled => ApiError::forbidden("key_disabled", e.to_string()),
            KeyError::KeyNotFound => ApiError::forbidden("key_not_found", e.to_string()),
            KeyError::AccessDenied => ApiError::forbidden("key_access_denied", e.to_string()),
            KeyError::NoUsableWrappedKey => {
                ApiError::bad_request("no_usable_wrapped_key", e.to_string())
            }
            KeyError::Unavailable(ref d) => ApiError::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                "key_service_unavailable",
                "the key service is unavailable; try again later",
                d.clone(),
            ),
            KeyError::Other(ref d) => ApiError::internal(
                StatusCode::BAD_GATEWAY,
                "key_service_error",
                "the key service failed",
                d.clone(),
            ),
        }
    }
}

/// A fresh data key: the plaintext (for the browser) and its wrapped form (for the header).
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The plaintext data key.
    pub data_key: DataKey,
    /// The data key wrapped by the key service under the owner context.
    pub wrapped: WrappedKey,
}

/// Generates and unwraps data keys. Implementations must bind `context` so that a
/// key wrapped for one owner cannot be unwrapped under another owner's context.
#[async_trait]
pub trait KeyService: Send + Sync + std::fmt::Debug {
    /// A short name for logs and `/readyz` ("aws-kms", "raw-aes").
    fn provider_id(&self) -> &str;

    /// A new data key wrapped under `context`. `plaintext_len` is the size of the
    /// object it will encrypt (used by the cache's byte limit).
    ///
    /// # Errors
    /// [`KeyError`] when the key service refuses or fails.
    async fn generate(
        &self,
        context: &EncryptionContext,
        plaintext_len: u64,
    ) -> Result<GeneratedKey, KeyError>;

    /// Opens the first wrapped key this service can open under `context`.
    ///
    /// # Errors
    /// [`KeyError::AccessDenied`] when the context does not match,
    /// [`KeyError::NoUsableWrappedKey`] when no key is for this provider, others on failure.
    async fn unwrap(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError>;

    /// Wraps an existing `data_key` under `context` with the current key (the newest
    /// local master key, the configured KMS key): exactly the binding
    /// [`KeyService::generate`] uses. For re-wrapping (`cipherdrop rotate`).
    ///
    /// # Errors
    /// [`KeyError`] when the key service refuses or fails.
    async fn wrap(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        let _ = (data_key, context);
        Err(KeyError::Other(format!(
            "the {} key service cannot wrap an existing data key",
            self.provider_id()
        )))
    }

    /// The provider info new wrapped keys carry (the newest local master key's
    /// name, the KMS key's ARN): an entry with [`KeyService::provider_id`] and this
    /// info is under the current key.
    ///
    /// # Errors
    /// [`KeyError`] when it cannot be learned (KMS `DescribeKey` failed).
    async fn current_key_info(&self) -> Result<Vec<u8>, KeyError> {
        Err(KeyError::Other(format!(
            "the {} key service does not name its current key",
            self.provider_id()
        )))
    }

    /// Whether the key service is reachable and the key usable (for `/readyz`).
    ///
    /// # Errors
    /// [`KeyError`] describing why not.
    async fn check(&self) -> Result<(), KeyError>;

    /// The part of `context` this service binds into a wrapped key (the cache keys
    /// data keys on it).
    fn binding_context(&self, context: &EncryptionContext) -> EncryptionContext {
        context.clone()
    }

    /// Counters for `/metrics` and the benchmark.
    fn stats(&self) -> KeyStats {
        KeyStats::default()
    }

    /// The recovery recipient (`--recovery-recipient`) every new object is also
    /// wrapped to, if one is configured ([`recovery::WithRecovery`]). The server only
    /// ever wraps to it: it holds no private key, so `unwrap` never opens that entry.
    fn recovery_recipient(&self) -> Option<&X25519Recipient> {
        None
    }
}

/// Call counters of a key service (and its cache, when there is one).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct KeyStats {
    /// Data keys generated by the underlying service.
    pub generate_calls: u64,
    /// Unwrap calls made to the underlying service.
    pub unwrap_calls: u64,
    /// Data keys served from the cache.
    pub cache_hits: u64,
}

/// Context key naming the owner.
pub const CONTEXT_OWNER: &str = "owner";
/// Context key naming the object.
pub const CONTEXT_OBJECT: &str = "object";

/// The encryption context of an object: `{"owner": owner, "object": object}`.
///
/// # Errors
/// When a value is not a valid context value (server-built ids always are).
pub fn object_context(owner: &str, object: &str) -> Result<EncryptionContext, ApiError> {
    let mut ctx = EncryptionContext::new();
    ctx.insert(CONTEXT_OWNER, owner)
        .and_then(|()| ctx.insert(CONTEXT_OBJECT, object))
        .map_err(|e| {
            ApiError::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
                e.to_string(),
            )
        })?;
    Ok(ctx)
}

/// Only the `owner` entry of `context` (what KMS binds).
pub fn owner_only(context: &EncryptionContext) -> EncryptionContext {
    let mut out = EncryptionContext::new();
    if let Some(owner) = context.get(CONTEXT_OWNER) {
        // Copying a value that was already valid cannot fail.
        let _ = out.insert(CONTEXT_OWNER, owner);
    }
    out
}
