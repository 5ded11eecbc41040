//! A recovery recipient (`cipherdrop serve --recovery-recipient`): an X25519
//! public key (`x25519-hpke`, FORMAT.md 2.5) that every new object is also wrapped
//! to, so its private key, kept offline, opens any object with neither the backend
//! nor KMS (`cipherdrop decrypt --identity`). Off by default.
//!
//! It deliberately defeats crypto-shredding: disabling or deleting the KMS key (or
//! the master key) no longer makes the objects wrapped to the recovery key
//! unreadable while that private key exists.
//!
//! [`WithRecovery`] passes every call to the key service it wraps and only names the
//! recipient; `routes::uploads::start` adds the wrapped entry. Unwrapping ignores it:
//! the KMS and local services only try entries of their own provider.

use std::sync::Arc;

use async_trait::async_trait;
use cipherdrop_core::{DataKey, EncryptionContext, WrappedKey, X25519Recipient};

use super::{GeneratedKey, KeyError, KeyService, KeyStats};

/// A key service plus the recovery recipient new objects are wrapped to.
#[derive(Debug)]
pub struct WithRecovery {
    inner: Arc<dyn KeyService>,
    recipient: X25519Recipient,
}

impl WithRecovery {
    /// `inner`, with `recipient` added to every new object.
    pub fn new(inner: Arc<dyn KeyService>, recipient: X25519Recipient) -> Self {
        Self { inner, recipient }
    }
}

#[async_trait]
impl KeyService for WithRecovery {
    fn provider_id(&self) -> &str {
        self.inner.provider_id()
    }

    async fn generate(
        &self,
        context: &EncryptionContext,
        plaintext_len: u64,
    ) -> Result<GeneratedKey, KeyError> {
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
        self.inner.stats()
    }

    fn recovery_recipient(&self) -> Option<&X25519Recipient> {
        Some(&self.recipient)
    }
}
