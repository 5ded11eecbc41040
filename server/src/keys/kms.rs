//! AWS KMS as the key service: `GenerateDataKey` (AES_256) and `Decrypt`, always with
//! the configured key id and the owner's encryption context.
//!
//! While objects move to a new key (`cipherdrop rotate`), `--kms-previous-key-id`
//! names keys the service may still decrypt with: an entry whose key ARN (its
//! provider info) is one of those keys is decrypted naming that key; any other
//! entry names the current key, so KMS refuses blobs of every other key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use cipherdrop_core::{DataKey, EncryptionContext, WrappedKey};

use super::{GeneratedKey, KeyError, KeyService, KeyStats};

/// The provider id written into file headers for KMS-wrapped keys.
pub const PROVIDER_ID: &str = cipherdrop_core::keyring::AWS_KMS;

/// Which part of the encryption context is sent to KMS as its `EncryptionContext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KmsContextScope {
    /// Only `owner` (the server: one data key can serve many objects of one owner).
    #[default]
    Owner,
    /// Every entry (the command line: KMS checks the whole `--context`).
    Whole,
}

/// A [`KeyService`] backed by one KMS key.
#[derive(Debug)]
pub struct KmsKeyService {
    client: aws_sdk_kms::Client,
    key_id: String,
    /// Keys that may still decrypt (ids, ARNs or aliases as configured).
    previous: Vec<String>,
    /// The current key's ARN and the previous keys' ARNs, learned once by `DescribeKey`.
    arns: tokio::sync::OnceCell<KeyArns>,
    scope: KmsContextScope,
    generated: AtomicU64,
    unwrapped: AtomicU64,
}

/// Key ARNs as KMS reports them (what headers carry as provider info).
#[derive(Debug)]
struct KeyArns {
    current: String,
    /// `(ARN, configured id)` of each previous key.
    previous: Vec<(String, String)>,
}

impl KmsKeyService {
    /// Uses `key_id` (key id, key ARN, alias name or alias ARN) through `client`.
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
            previous: Vec::new(),
            arns: tokio::sync::OnceCell::new(),
            scope: KmsContextScope::Owner,
            generated: AtomicU64::new(0),
            unwrapped: AtomicU64::new(0),
        }
    }

    /// Lets `Decrypt` also use `previous` keys, for entries made under them
    /// (`--kms-previous-key-id`).
    #[must_use]
    pub fn with_previous_keys(mut self, previous: Vec<String>) -> Self {
        self.previous = previous;
        self
    }

    /// The ARN KMS reports for `key_id` (`DescribeKey`).
    async fn describe_arn(&self, key_id: &str) -> Result<String, KeyError> {
        let out = self
            .client
            .describe_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| map_kms_error(e, false))?;
        out.key_metadata()
            .and_then(|m| m.arn())
            .map(str::to_owned)
            .ok_or_else(|| KeyError::Other("DescribeKey returned no ARN".to_owned()))
    }

    /// The ARNs of the current and previous keys (asked once, then kept; a
    /// failure is not kept, so the next call asks again).
    async fn arns(&self) -> Result<&KeyArns, KeyError> {
        self.arns
            .get_or_try_init(|| async {
                let current = self.describe_arn(&self.key_id).await?;
                let mut previous = Vec::new();
                for id in &self.previous {
                    previous.push((self.describe_arn(id).await?, id.clone()));
                }
                Ok(KeyArns { current, previous })
            })
            .await
    }

    /// The key id to name when decrypting `w`: a previous key when `w` was made
    /// under it, else the current key.
    async fn decrypting_key<'a>(&'a self, w: &WrappedKey) -> Result<&'a str, KeyError> {
        if self.previous.is_empty() {
            return Ok(&self.key_id);
        }
        let arns = self.arns().await?;
        Ok(arns
            .previous
            .iter()
            .find(|(arn, _)| arn.as_bytes() == w.provider_info.as_slice())
            .map_or(self.key_id.as_str(), |(_, id)| id.as_str()))
    }

    /// Sends `scope` of the context to KMS instead of only the owner.
    #[must_use]
    pub fn with_context_scope(mut self, scope: KmsContextScope) -> Self {
        self.scope = scope;
        self
    }

    /// The KMS `EncryptionContext` (see [`KeyService::binding_context`]).
    fn kms_context(&self, context: &EncryptionContext) -> HashMap<String, String> {
        self.binding_context(context)
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// Refuses an AWS managed key (`alias/aws/...`, or its alias ARN): KMS lets only the
/// AWS service that owns such a key use it (its key policy allows use only through
/// that service), so `GenerateDataKey` and `Decrypt` from CipherDrop are denied.
///
/// # Errors
/// A message naming what to use instead.
pub fn refuse_aws_managed_key(key_id: &str) -> anyhow::Result<()> {
    let alias = key_id.rsplit_once(':').map_or(key_id, |(_, tail)| tail);
    if alias.starts_with("alias/aws/") {
        anyhow::bail!(
            "{key_id} is an AWS managed key, which only its own AWS service may use: KMS \
             refuses GenerateDataKey and Decrypt from an application. Create a customer \
             managed key (aws kms create-key) and pass its id or alias; for S3's own \
             encryption with the AWS managed key use --sse aws:kms instead"
        );
    }
    Ok(())
}

/// Maps a KMS failure to a [`KeyError`]; `decrypting` says whether a refusal is the
/// caller's (a wrong context on `Decrypt`) or the server's configuration.
fn map_kms_error<E>(err: SdkError<E, HttpResponse>, decrypting: bool) -> KeyError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let server_side = service.raw().status().is_server_error();
            let code = e.code().unwrap_or("Unknown");
            let detail = format!("KMS {code}: {}", e.message().unwrap_or(""));
            match code {
                "DisabledException" | "KMSInvalidStateException" => KeyError::KeyDisabled,
                "NotFoundException" => KeyError::KeyNotFound,
                "InvalidCiphertextException" | "IncorrectKeyException" if decrypting => {
                    KeyError::AccessDenied
                }
                "AccessDeniedException" if decrypting => KeyError::AccessDenied,
                "KeyUnavailableException"
                | "DependencyTimeoutException"
                | "KMSInternalException"
                | "ThrottlingException"
                | "LimitExceededException" => KeyError::Unavailable(detail),
                // Any other 5xx (a bare 503 from a proxy, say) is KMS trouble, not ours.
                _ if server_side => KeyError::Unavailable(detail),
                _ => KeyError::Other(detail),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            KeyError::Unavailable("KMS unreachable (dispatch failure or timeout)".to_owned())
        }
        SdkError::ResponseError(r) if r.raw().status().is_server_error() => {
            KeyError::Unavailable("KMS answered with an unreadable server error".to_owned())
        }
        other => KeyError::Other(format!("KMS call failed: {}", error_kind(&other))),
    }
}

fn error_kind<E, R>(e: &SdkError<E, R>) -> &'static str {
    match e {
        SdkError::ConstructionFailure(_) => "construction failure",
        SdkError::TimeoutError(_) => "timeout",
        SdkError::DispatchFailure(_) => "dispatch failure",
        SdkError::ResponseError(_) => "unreadable response",
        SdkError::ServiceError(_) => "service error",
        _ => "unknown",
    }
}

#[async_trait]
impl KeyService for KmsKeyService {
    fn provider_id(&self) -> &str {
        PROVIDER_ID
    }

    async fn generate(
        &self,
        context: &EncryptionContext,
        _plaintext_len: u64,
    ) -> Result<GeneratedKey, KeyError> {
        self.generated.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(self.kms_context(context)))
            .send()
            .await
            .map_err(|e| map_kms_error(e, false))?;
        let plaintext = out
            .plaintext()
            .ok_or_else(|| KeyError::Other("GenerateDataKey returned no plaintext".to_owned()))?;
        let data_key = DataKey::try_from_slice(plaintext.as_ref()).map_err(|_| {
            KeyError::Other("GenerateDataKey returned a key of the wrong length".to_owned())
        })?;
        let blob = out
            .ciphertext_blob()
            .ok_or_else(|| KeyError::Other("GenerateDataKey returned no ciphertext".to_owned()))?;
        // The key ARN KMS reports, so a reader knows which key to ask.
        let key_arn = out.key_id().unwrap_or(&self.key_id);
        Ok(GeneratedKey {
            data_key,
            wrapped: WrappedKey {
                provider_id: PROVIDER_ID.to_owned(),
                provider_info: key_arn.as_bytes().to_vec(),
                blob: blob.as_ref().to_vec(),
            },
        })
    }

    async fn unwrap(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let mut last = KeyError::NoUsableWrappedKey;
        for w in wrapped.iter().filter(|w| w.provider_id == PROVIDER_ID) {
            // Always name a key we hold (the current one, or the previous one the
            // entry names): KMS then refuses blobs made under any other key.
            let key_id = match self.decrypting_key(w).await {
                Ok(k) => k,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            self.unwrapped.fetch_add(1, Ordering::Relaxed);
            let result = self
                .client
                .decrypt()
                .key_id(key_id)
                .ciphertext_blob(Blob::new(w.blob.clone()))
                .set_encryption_context(Some(self.kms_context(context)))
                .send()
                .await;
            match result {
                Ok(out) => {
                    let plaintext = out.plaintext().ok_or_else(|| {
                        KeyError::Other("Decrypt returned no plaintext".to_owned())
                    })?;
                    return DataKey::try_from_slice(plaintext.as_ref()).map_err(|_| {
                        KeyError::Other("Decrypt returned a key of the wrong length".to_owned())
                    });
                }
                Err(e) => last = map_kms_error(e, true),
            }
        }
        Err(last)
    }

    async fn wrap(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        // KMS Encrypt under the same key and encryption context as GenerateDataKey,
        // so the entry opens exactly like a generated one.
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(data_key.as_bytes().to_vec()))
            .set_encryption_context(Some(self.kms_context(context)))
            .send()
            .await
            .map_err(|e| map_kms_error(e, false))?;
        let blob = out
            .ciphertext_blob()
            .ok_or_else(|| KeyError::Other("Encrypt returned no ciphertext".to_owned()))?;
        let key_arn = out.key_id().unwrap_or(&self.key_id);
        Ok(WrappedKey {
            provider_id: PROVIDER_ID.to_owned(),
            provider_info: key_arn.as_bytes().to_vec(),
            blob: blob.as_ref().to_vec(),
        })
    }

    async fn current_key_info(&self) -> Result<Vec<u8>, KeyError> {
        Ok(self.arns().await?.current.as_bytes().to_vec())
    }

    async fn check(&self) -> Result<(), KeyError> {
        let out = self
            .client
            .describe_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| map_kms_error(e, false))?;
        match out.key_metadata().and_then(|m| m.enabled().then_some(())) {
            Some(()) => Ok(()),
            None => Err(KeyError::KeyDisabled),
        }
    }

    fn binding_context(&self, context: &EncryptionContext) -> EncryptionContext {
        match self.scope {
            KmsContextScope::Owner => super::owner_only(context),
            KmsContextScope::Whole => context.clone(),
        }
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
    use super::refuse_aws_managed_key;

    #[test]
    fn aws_managed_keys_are_refused_with_what_to_use_instead() {
        for id in [
            "alias/aws/s3",
            "arn:aws:kms:us-east-1:111122223333:alias/aws/kms",
        ] {
            let e = refuse_aws_managed_key(id).expect_err(id).to_string();
            assert!(e.contains("customer managed key"), "{e}");
        }
        for id in [
            "alias/cipherdrop",
            "alias/awsome",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(refuse_aws_managed_key(id).is_ok(), "{id}");
        }
    }

    use aws_sdk_kms::error::ErrorMetadata;
    use aws_sdk_kms::operation::generate_data_key::GenerateDataKeyError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn service_error(
        status: u16,
        code: Option<&str>,
    ) -> SdkError<GenerateDataKeyError, HttpResponse> {
        let mut meta = ErrorMetadata::builder();
        if let Some(c) = code {
            meta = meta.code(c);
        }
        let err = GenerateDataKeyError::generic(meta.build());
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("valid status"),
            SdkBody::empty(),
        );
        SdkError::service_error(err, raw)
    }

    #[test]
    fn a_bare_server_error_is_unavailable_not_ours() {
        assert!(matches!(
            map_kms_error(service_error(503, None), false),
            KeyError::Unavailable(_)
        ));
        assert!(matches!(
            map_kms_error(service_error(500, Some("Weird")), false),
            KeyError::Unavailable(_)
        ));
    }

    #[test]
    fn known_codes_keep_their_meaning() {
        assert!(matches!(
            map_kms_error(service_error(400, Some("DisabledException")), false),
            KeyError::KeyDisabled
        ));
        assert!(matches!(
            map_kms_error(service_error(400, Some("ThrottlingException")), false),
            KeyError::Unavailable(_)
        ));
        assert!(matches!(
            map_kms_error(service_error(400, Some("Weird")), false),
            KeyError::Other(_)
        ));
    }
}
