//! The object store: a small trait over S3, one implementation over `aws-sdk-s3`
//! used for AWS, for moto and for the embedded local store alike.
//!
//! The store only ever sees ciphertext, opaque random keys and the opaque
//! (browser-encrypted) name metadata. Presigned requests are returned to callers and
//! never logged.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use axum::http::StatusCode;
use serde::Serialize;

use crate::error::ApiError;

/// User-metadata key (S3 `x-amz-meta-…`) holding the browser-encrypted file name.
pub const NAME_METADATA_KEY: &str = "cd-name";

/// Why the object store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such object (or it is not under the caller's prefix).
    #[error("no such object")]
    NotFound,
    /// No such multipart upload.
    #[error("no such upload")]
    NoSuchUpload,
    /// The store refused a part list (missing part, wrong ETag, part too small).
    #[error("the store refused the parts: {0}")]
    InvalidParts(String),
    /// The store is unreachable or failing (detail for the log).
    #[error("the object store is unavailable")]
    Unavailable(String),
    /// Anything else (detail for the log).
    #[error("the object store failed")]
    Other(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::object_not_found(),
            StoreError::NoSuchUpload => ApiError::upload_not_found(),
            StoreError::InvalidParts(ref detail) => ApiError::bad_request(
                "invalid_parts",
                format!(
                    "the storage refused the list of parts ({detail}); check part numbers and ETags"
                ),
            ),
            StoreError::Unavailable(d) => ApiError::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the object storage is unavailable; try again later",
                d,
            ),
            StoreError::Other(d) => ApiError::internal(
                StatusCode::BAD_GATEWAY,
                "storage_error",
                "the object storage failed",
                d,
            ),
        }
    }
}

/// A presigned HTTP request for the browser: send exactly these headers.
#[derive(Debug, Clone, Serialize)]
pub struct Presigned {
    /// HTTP method.
    pub method: String,
    /// The URL (a secret while it is valid: never log it).
    pub url: String,
    /// Headers the request must carry (signed headers the browser can set).
    pub headers: BTreeMap<String, String>,
}

impl From<PresignedRequest> for Presigned {
    fn from(p: PresignedRequest) -> Self {
        let headers = p
            .headers()
            // The browser sets these itself and may not set them by hand; the signed
            // Content-Length is still enforced through the body it sends.
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("host")
            })
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self {
            method: p.method().to_owned(),
            url: p.uri().to_owned(),
            headers,
        }
    }
}

/// An object as listed.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    /// The full object key.
    pub key: String,
    /// Ciphertext length in bytes.
    pub size: u64,
    /// Last modification time.
    pub last_modified: Option<SystemTime>,
    /// The opaque encrypted name (only from `head`).
    pub name: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct ObjectPage {
    /// Objects in key order.
    pub objects: Vec<ObjectMeta>,
    /// Continue after this (opaque S3 continuation token).
    pub next: Option<String>,
}

/// A completed part reported by the browser.
#[derive(Debug, Clone)]
pub struct PartEtag {
    /// 1-based part number.
    pub part_number: i32,
    /// The ETag S3 returned for the part.
    pub etag: String,
}

/// Server-side encryption applied to everything presigned (a second layer).
#[derive(Debug, Clone, Default)]
pub enum ServerSideEncryptionMode {
    /// No header.
    #[default]
    None,
    /// SSE-S3 (`AES256`).
    Aes256,
    /// SSE-KMS, optionally with a customer managed key.
    AwsKms {
        /// `None` means the AWS managed key `aws/s3`.
        key_id: Option<String>,
    },
    /// SSE-C: the customer key is sent with every request.
    CustomerKey(SseCustomerKey),
}

/// An SSE-C key (base64 key and base64 MD5, as S3 wants them).
#[derive(Clone)]
pub struct SseCustomerKey {
    key_b64: String,
    md5_b64: String,
}

impl std::fmt::Debug for SseCustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseCustomerKey").finish_non_exhaustive()
    }
}

impl SseCustomerKey {
    /// From the raw 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let md5 = md5_digest(key);
        Self {
            key_b64: b64.encode(key),
            md5_b64: b64.encode(md5),
        }
    }
}

/// MD5 (for the SSE-C key digest S3 requires; not used for security).
fn md5_digest(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

/// The object store as the routes need it.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Presigned single `PUT` of exactly `content_length` bytes, with metadata signed in.
    async fn presign_put(
        &self,
        key: &str,
        content_length: u64,
        metadata: &BTreeMap<String, String>,
        expires_in: Duration,
    ) -> Result<Presigned, StoreError>;
    /// Starts a multipart upload; returns the store's upload id.
    async fn create_multipart(
        &self,
        key: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, StoreError>;
    /// Presigned `UploadPart` of exactly `content_length` bytes.
    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<Presigned, StoreError>;
    /// Completes a multipart upload.
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartEtag],
    ) -> Result<(), StoreError>;
    /// Aborts a multipart upload.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError>;
    /// Lists objects under `prefix`.
    async fn list(
        &self,
        prefix: &str,
        limit: i32,
        continuation: Option<String>,
    ) -> Result<ObjectPage, StoreError>;
    /// Metadata of one object ([`StoreError::NotFound`] when absent).
    async fn head(&self, key: &str) -> Result<ObjectMeta, StoreError>;
    /// Presigned `GET` (the browser may add a `Range` header).
    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<Presigned, StoreError>;
    /// Deletes an object.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Whether the bucket is reachable (for `/readyz`).
    async fn check(&self) -> Result<(), StoreError>;
}

/// [`ObjectStore`] over `aws-sdk-s3`.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    sse: ServerSideEncryptionMode,
}

impl S3Store {
    /// A store over `bucket` through `client`, applying `sse` to what it writes and presigns.
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        sse: ServerSideEncryptionMode,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            sse,
        }
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::expires_in(expires_in)
        .map_err(|e| StoreError::Other(format!("presigning config: {e}")))
}

fn length_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Other("length out of range".to_owned()))
}

/// Maps an SDK failure; `not_found` is what a 404 means for this call.
fn map_s3_error<E>(err: SdkError<E, HttpResponse>, not_found: StoreError) -> StoreError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let e = service.err();
            let code = e.code().unwrap_or("");
            match code {
                "NoSuchKey" | "NotFound" => return not_found,
                "NoSuchUpload" => return StoreError::NoSuchUpload,
                // s3s-fs answers AccessDenied for an upload id it no longer knows.
                "AccessDenied" if matches!(not_found, StoreError::NoSuchUpload) => {
                    return StoreError::NoSuchUpload;
                }
                "InvalidPart" | "InvalidPartOrder" | "EntityTooSmall" | "MalformedXML" => {
                    return StoreError::InvalidParts(code.to_owned());
                }
                _ => {}
            }
            let detail = format!("S3 {code} (HTTP {status}): {}", e.message().unwrap_or(""));
            match status {
                404 => not_found,
                500..=599 => StoreError::Unavailable(detail),
                _ => StoreError::Other(detail),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            StoreError::Unavailable("S3 unreachable (dispatch failure or timeout)".to_owned())
        }
        SdkError::ConstructionFailure(_) => {
            StoreError::Other("S3 request could not be built".to_owned())
        }
        _ => StoreError::Other("S3 response could not be read".to_owned()),
    }
}

macro_rules! apply_sse {
    ($builder:expr, $sse:expr, full) => {{
        let b = $builder;
        match $sse {
            ServerSideEncryptionMode::None => b,
            ServerSideEncryptionMode::Aes256 => {
                b.server_side_encryption(ServerSideEncryption::Aes256)
            }
            ServerSideEncryptionMode::AwsKms { key_id } => b
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(key_id.clone()),
            ServerSideEncryptionMode::CustomerKey(k) => b
                .sse_customer_algorithm("AES256")
                .sse_customer_key(k.key_b64.clone())
                .sse_customer_key_md5(k.md5_b64.clone()),
        }
    }};
    ($builder:expr, $sse:expr, customer_only) => {{
        let b = $builder;
        match $sse {
            ServerSideEncryptionMode::CustomerKey(k) => b
                .sse_customer_algorithm("AES256")
                .sse_customer_key(k.key_b64.clone())
                .sse_customer_key_md5(k.md5_b64.clone()),
            _ => b,
        }
    }};
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn presign_put(
        &self,
        key: &str,
        content_length: u64,
        metadata: &BTreeMap<String, String>,
        expires_in: Duration,
    ) -> Result<Presigned, StoreError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(length_i64(content_length)?)
            .content_type("application/octet-stream")
            .set_metadata(Some(metadata.clone().into_iter().collect()));
        let req = apply_sse!(req, &self.sse, full);
        let presigned = req
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| map_s3_error(e, StoreError::NotFound))?;
        Ok(presigned.into())
    }

    async fn create_multipart(
        &self,
        key: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        let req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/octet-stream")
            .set_metadata(Some(metadata.clone().into_iter().collect()));
        let req = apply_sse!(req, &self.sse, full);
        let out = req
            .send()
            .await
            .map_err(|e| map_s3_error(e, StoreError::NotFound))?;
        out.upload_id().map(str::to_owned).ok_or_else(|| {
            StoreError::Other("CreateMultipartUpload returned no upload id".to_owned())
        })
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<Presigned, StoreError> {
        let req = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .content_length(length_i64(content_length)?);
        let req = apply_sse!(req, &self.sse, customer_only);
        let presigned = req
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| map_s3_error(e, StoreError::NoSuchUpload))?;
        Ok(presigned.into())
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartEtag],
    ) -> Result<(), StoreError> {
        let parts = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.part_number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        let req = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        let req = apply_sse!(req, &self.sse, customer_only);
        match req.send().await {
            Ok(_) => Ok(()),
            // moto answers `<CompleteMultipartUploadResponse>` where the SDK expects
            // `…Result`: a 200 without an error code. The caller checks the object
            // with HEAD afterwards, so accept it here. (An S3 error inside a 200
            // carries a code and is not matched.)
            Err(SdkError::ServiceError(e))
                if e.raw().status().as_u16() == 200 && e.err().code().is_none() =>
            {
                tracing::debug!(
                    "CompleteMultipartUpload: 200 with an unparsable body; verifying with HEAD"
                );
                Ok(())
            }
            Err(e) => Err(map_s3_error(e, StoreError::NoSuchUpload)),
        }
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| map_s3_error(e, StoreError::NoSuchUpload))?;
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        limit: i32,
        continuation: Option<String>,
    ) -> Result<ObjectPage, StoreError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(limit)
            .set_continuation_token(continuation)
            .send()
            .await
            .map_err(|e| map_s3_error(e, StoreError::Other("bucket not found".to_owned())))?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(ObjectMeta {
                    key: o.key()?.to_owned(),
                    size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    last_modified: o
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                    name: None,
                })
            })
            .collect();
        let next = if out.is_truncated().unwrap_or(false) {
            out.next_continuation_token().map(str::to_owned)
        } else {
            None
        };
        Ok(ObjectPage { objects, next })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        let req = self.client.head_object().bucket(&self.bucket).key(key);
        let req = apply_sse!(req, &self.sse, customer_only);
        let out = req
            .send()
            .await
            .map_err(|e| map_s3_error(e, StoreError::NotFound))?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: out
                .content_length()
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            last_modified: out
                .last_modified()
                .and_then(|t| SystemTime::try_from(*t).ok()),
            name: out
                .metadata()
                .and_then(|m| m.get(NAME_METADATA_KEY))
                .cloned(),
        })
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<Presigned, StoreError> {
        let req = self.client.get_object().bucket(&self.bucket).key(key);
        let req = apply_sse!(req, &self.sse, customer_only);
        let presigned = req
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| map_s3_error(e, StoreError::NotFound))?;
        Ok(presigned.into())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_s3_error(e, StoreError::NotFound))?;
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| {
                map_s3_error(
                    e,
                    StoreError::Unavailable("the bucket does not exist".to_owned()),
                )
            })?;
        Ok(())
    }
}
