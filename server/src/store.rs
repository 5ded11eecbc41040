//! The object store: a small trait over S3, one implementation over `aws-sdk-s3`
//! used for AWS, for moto and for the embedded local store alike.
//!
//! The store only ever sees ciphertext, opaque random keys and the opaque
//! (browser-encrypted) name metadata. Presigned requests are returned to callers and
//! never logged.

mod presign;
pub mod rewrite;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::config::SharedCredentialsProvider;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use axum::http::StatusCode;
use serde::Serialize;

use self::presign::{DirectPresigner, PROBE_KEY, Target, probe_credentials};
use crate::error::ApiError;

/// User-metadata key (S3 `x-amz-meta-…`) holding the browser-encrypted file name.
pub const NAME_METADATA_KEY: &str = "cd-name";

/// User-metadata key of an upload record (see [`ObjectStore::create_record`]).
const RECORD_METADATA_KEY: &str = "cd-state";

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
    /// A conditional write found the key taken (`If-None-Match: *`, HTTP 412).
    #[error("the object already exists")]
    AlreadyExists,
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
            StoreError::AlreadyExists => ApiError::new(
                StatusCode::CONFLICT,
                "already_exists",
                "the object already exists",
            ),
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// A part the store holds for a multipart upload (from `ListParts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    /// 1-based part number.
    pub part_number: u32,
    /// The part's ETag as the store reports it (with its quotes).
    pub etag: String,
    /// Bytes stored.
    pub size: u64,
}

/// One page of `ListParts`.
struct ListPartsPage {
    parts: Vec<StoredPart>,
    /// The marker of the next page, when there is one.
    next: Option<String>,
}

impl ListPartsPage {
    /// Reads a `ListParts` answer the SDK refused (see `list_parts`): the text of
    /// `<PartNumber>`, `<ETag>`, `<Size>` in each `<Part>`, and the paging fields.
    fn from_xml(body: &str) -> Option<Self> {
        fn text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
            let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
            let len = xml[start..].find(&format!("</{tag}>"))?;
            Some(&xml[start..start + len])
        }
        let mut parts = Vec::new();
        let mut rest = body;
        while let Some(at) = rest.find("<Part>") {
            let end = rest[at..].find("</Part>")? + at;
            let part = &rest[at..end];
            parts.push(StoredPart {
                part_number: text(part, "PartNumber")?.trim().parse().ok()?,
                etag: text(part, "ETag")?
                    .replace("&quot;", "\"")
                    .replace("&#34;", "\""),
                size: text(part, "Size")?.trim().parse().ok()?,
            });
            rest = &rest[end..];
        }
        let next = (text(body, "IsTruncated") == Some("true"))
            .then(|| text(body, "NextPartNumberMarker").map(str::to_owned))
            .flatten();
        Some(Self { parts, next })
    }
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
    /// SSE-C: a customer key is sent with every request, each owner's own (see
    /// [`SseCustomerKey`]).
    CustomerKey(SseCustomerKey),
}

/// The configured SSE-C key. It is never sent as such: each owner's objects use
/// their own key, HKDF-SHA-256 over it with the owner id as info, so the key a
/// user's browser receives in presigned headers opens only that user's objects.
#[derive(Clone)]
pub struct SseCustomerKey {
    root: zeroize::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SseCustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseCustomerKey").finish_non_exhaustive()
    }
}

/// One owner's SSE-C key as S3 wants it: base64 key and base64 MD5.
pub(crate) struct CustomerKeyHeaders {
    pub(crate) key_b64: String,
    pub(crate) md5_b64: String,
}

/// Domain separation of the per-owner SSE-C keys.
const SSE_C_SALT: &[u8] = b"cipherdrop-sse-c-owner-v1";

impl SseCustomerKey {
    /// From the configured 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            root: zeroize::Zeroizing::new(*key),
        }
    }

    /// The raw SSE-C key of `owner`'s objects.
    pub fn owner_key(&self, owner: &str) -> zeroize::Zeroizing<[u8; 32]> {
        let mut okm = zeroize::Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(Some(SSE_C_SALT), self.root.as_slice())
            .expand(owner.as_bytes(), okm.as_mut_slice())
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        okm
    }

    /// The headers for the object at `key` (`users/<owner>/…` or
    /// `uploads/<owner>/…`: that owner's key; any other key: the key of owner "").
    pub(crate) fn for_object_key(&self, key: &str) -> CustomerKeyHeaders {
        use base64::Engine as _;
        let owner = match key.split('/').collect::<Vec<_>>().as_slice() {
            ["users" | "uploads", owner, _, ..] => *owner,
            _ => "",
        };
        let k = self.owner_key(owner);
        let b64 = base64::engine::general_purpose::STANDARD;
        CustomerKeyHeaders {
            key_b64: b64.encode(k.as_slice()),
            md5_b64: b64.encode(md5_digest(k.as_slice())),
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
    /// Presigned single `PUT` of exactly `content_length` bytes, with metadata and
    /// `If-None-Match: *` signed in: it creates the object and can never replace it
    /// (a replay after the upload answers 412).
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
    /// Every part of a multipart upload (all `ListParts` pages), in part order;
    /// [`StoreError::NoSuchUpload`] once it is completed or aborted.
    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<StoredPart>, StoreError>;
    /// Creates an empty object at `key` holding `state`, only if nothing is there
    /// (`If-None-Match: *`): [`StoreError::AlreadyExists`] otherwise. The store
    /// decides which of two racing writers wins, so this is a compare-and-set.
    async fn create_record(&self, key: &str, state: &str) -> Result<(), StoreError>;
    /// The state of the record at `key`, `None` when there is none.
    async fn read_record(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Creates a small object at `key` holding `body` (a share record), only if
    /// nothing is there (`If-None-Match: *`): [`StoreError::AlreadyExists`] otherwise.
    async fn create_blob(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError>;
    /// Writes a small object at `key` holding `body` (a grant record), replacing
    /// whatever is there.
    async fn put_blob(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError>;
    /// The bytes of the small object at `key` (at most `max_len`), `None` when
    /// there is none; a larger object is an error.
    async fn read_blob(&self, key: &str, max_len: usize) -> Result<Option<Vec<u8>>, StoreError>;
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
///
/// Presigned URLs are signed with `aws-sigv4` directly once that is checked to give
/// exactly the SDK's result (see `store/presign.rs`); everything else, and any
/// presign the direct path does not cover, goes through the SDK.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    sse: ServerSideEncryptionMode,
    /// The client's credentials, for the direct presigner (the SDK client does not
    /// hand its provider out).
    credentials: Option<SharedCredentialsProvider>,
    /// Set at the first presign: `None` when the direct path is not usable.
    direct: Arc<tokio::sync::OnceCell<Option<DirectPresigner>>>,
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
                // 409 ConditionalRequestConflict: another conditional write of
                // the key is in flight (S3); it will win or has won.
                "PreconditionFailed" | "ConditionalRequestConflict" => {
                    return StoreError::AlreadyExists;
                }
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
    ($builder:expr, $sse:expr, $key:expr, full) => {{
        let b = $builder;
        match $sse {
            ServerSideEncryptionMode::None => b,
            ServerSideEncryptionMode::Aes256 => {
                b.server_side_encryption(ServerSideEncryption::Aes256)
            }
            ServerSideEncryptionMode::AwsKms { key_id } => b
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(key_id.clone()),
            ServerSideEncryptionMode::CustomerKey(k) => {
                let h = k.for_object_key($key);
                b.sse_customer_algorithm("AES256")
                    .sse_customer_key(h.key_b64)
                    .sse_customer_key_md5(h.md5_b64)
            }
        }
    }};
    ($builder:expr, $sse:expr, $key:expr, customer_only) => {{
        let b = $builder;
        match $sse {
            ServerSideEncryptionMode::CustomerKey(k) => {
                let h = k.for_object_key($key);
                b.sse_customer_algorithm("AES256")
                    .sse_customer_key(h.key_b64)
                    .sse_customer_key_md5(h.md5_b64)
            }
            _ => b,
        }
    }};
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
            credentials: None,
            direct: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// Lets presigning bypass the SDK's per-call pipeline, signing with the same
    /// `provider` the client uses (see `store/presign.rs`; without it every presign
    /// goes through the SDK).
    #[must_use]
    pub fn with_presigning_credentials(mut self, provider: SharedCredentialsProvider) -> Self {
        self.credentials = Some(provider);
        self
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Whether presigning bypasses the SDK's orchestrator (decided at the first
    /// presign; for tests and logs).
    pub async fn presigns_directly(&self) -> bool {
        self.direct_presigner().await.is_some()
    }

    async fn direct_presigner(&self) -> Option<&DirectPresigner> {
        self.direct.get_or_init(|| self.calibrate()).await.as_ref()
    }

    async fn presign(
        &self,
        target: Target<'_>,
        expires_in: Duration,
    ) -> Result<Presigned, StoreError> {
        if DirectPresigner::handles(&target)
            && let Some(direct) = self.direct_presigner().await
        {
            return direct.presign(&target, expires_in).await;
        }
        self.presign_with_sdk(&self.client, target, presigning(expires_in)?)
            .await
    }

    /// The SDK's presigned request for `target` through `client`.
    async fn presign_with_sdk(
        &self,
        client: &aws_sdk_s3::Client,
        target: Target<'_>,
        config: PresigningConfig,
    ) -> Result<Presigned, StoreError> {
        let presigned = match target {
            Target::Put {
                key,
                content_length,
                metadata,
            } => {
                let req = client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .content_length(length_i64(content_length)?)
                    .content_type("application/octet-stream")
                    .if_none_match("*")
                    .set_metadata(Some(metadata.clone().into_iter().collect()));
                apply_sse!(req, &self.sse, key, full)
                    .presigned(config)
                    .await
                    .map_err(|e| map_s3_error(e, StoreError::NotFound))?
            }
            Target::Part {
                key,
                upload_id,
                part_number,
                content_length,
            } => {
                let req = client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(part_number)
                    .content_length(length_i64(content_length)?);
                apply_sse!(req, &self.sse, key, customer_only)
                    .presigned(config)
                    .await
                    .map_err(|e| map_s3_error(e, StoreError::NoSuchUpload))?
            }
            Target::Get { key } => {
                let req = client.get_object().bucket(&self.bucket).key(key);
                apply_sse!(req, &self.sse, key, customer_only)
                    .presigned(config)
                    .await
                    .map_err(|e| map_s3_error(e, StoreError::NotFound))?
            }
        };
        Ok(presigned.into())
    }

    /// Builds the direct presigner and checks it against the SDK: with fixed probe
    /// credentials (with and without a session token) and a fixed time, a PUT with
    /// metadata and this store's server-side encryption, an `UploadPart` and a GET
    /// must come out byte-for-byte identical both ways. `None` (SDK presigning)
    /// otherwise.
    async fn calibrate(&self) -> Option<DirectPresigner> {
        let provider = self.credentials.clone()?;
        let time = SystemTime::now();
        let expires_in = Duration::from_secs(900);
        let config = PresigningConfig::builder()
            .start_time(time)
            .expires_in(expires_in)
            .build()
            .ok()?;
        let mut metadata = BTreeMap::new();
        metadata.insert(NAME_METADATA_KEY.to_owned(), "cHJvYmUrLw==".to_owned());
        let targets = [
            Target::Put {
                key: PROBE_KEY,
                content_length: 1_049_000,
                metadata: &metadata,
            },
            Target::Part {
                key: PROBE_KEY,
                upload_id: "probe-upload_id.1~",
                part_number: 3,
                content_length: 5 << 20,
            },
            Target::Get { key: PROBE_KEY },
        ];
        let mut direct: Option<DirectPresigner> = None;
        for session_token in [true, false] {
            let credentials = probe_credentials(session_token);
            let client = aws_sdk_s3::Client::from_conf(
                self.client
                    .config()
                    .to_builder()
                    .credentials_provider(credentials.clone())
                    .build(),
            );
            let d = match direct {
                Some(ref d) => d,
                None => {
                    let get = self
                        .presign_with_sdk(&client, Target::Get { key: PROBE_KEY }, config.clone())
                        .await
                        .ok()?;
                    let Some(d) = DirectPresigner::from_probe(&get, &self.sse, provider.clone())
                    else {
                        tracing::info!(
                            "presigning through the SDK: unfamiliar endpoint or signature"
                        );
                        return None;
                    };
                    direct.insert(d)
                }
            };
            let identity = credentials.into();
            for target in &targets {
                let sdk = self
                    .presign_with_sdk(&client, *target, config.clone())
                    .await
                    .ok()?;
                let own = d.sign(target, &identity, expires_in, time).ok()?;
                if sdk != own {
                    tracing::warn!(
                        "presigning through the SDK: the direct presigner disagrees with it"
                    );
                    return None;
                }
            }
        }
        tracing::debug!("presigning directly with aws-sigv4 (checked against the SDK)");
        direct
    }

    /// Writes a small JSON record at `key`: with `create` only when nothing is there
    /// yet (`If-None-Match: *`), else over whatever is there.
    async fn write_blob(&self, key: &str, body: Vec<u8>, create: bool) -> Result<(), StoreError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .set_if_none_match(create.then(|| "*".to_owned()))
            .content_type("application/json")
            .body(aws_sdk_s3::primitives::ByteStream::from(body));
        apply_sse!(req, &self.sse, key, full)
            .send()
            .await
            .map_err(|e| map_s3_error(e, StoreError::NotFound))?;
        Ok(())
    }
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
        let target = Target::Put {
            key,
            content_length,
            metadata,
        };
        self.presign(target, expires_in).await
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
        let req = apply_sse!(req, &self.sse, key, full);
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
        let target = Target::Part {
            key,
            upload_id,
            part_number,
            content_length,
        };
        self.presign(target, expires_in).await
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
        let req = apply_sse!(req, &self.sse, key, customer_only);
        // Assembling a large object can take S3 minutes: this call gets the
        // deadline of "complete upload", not the one of every other S3 call.
        let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_timeout(crate::COMPLETE_TIMEOUT - Duration::from_secs(5))
            .build();
        let req = req
            .customize()
            .config_override(aws_sdk_s3::config::Builder::default().timeout_config(timeouts));
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

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<StoredPart>, StoreError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let req = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take());
            let page = match apply_sse!(req, &self.sse, key, customer_only).send().await {
                Ok(out) => ListPartsPage {
                    parts: out
                        .parts()
                        .iter()
                        .filter_map(|p| {
                            Some(StoredPart {
                                part_number: u32::try_from(p.part_number()?).ok()?,
                                etag: p.e_tag()?.to_owned(),
                                size: p.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                            })
                        })
                        .collect(),
                    next: out
                        .next_part_number_marker()
                        .filter(|_| out.is_truncated().unwrap_or(false))
                        .map(str::to_owned),
                },
                // moto answers `<ListPartsResponse>` where the SDK expects
                // `<ListPartsResult>` (as for CompleteMultipartUpload): a 200
                // without an error code. Read that body here.
                Err(SdkError::ServiceError(e))
                    if e.raw().status().as_u16() == 200 && e.err().code().is_none() =>
                {
                    e.raw()
                        .body()
                        .bytes()
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(ListPartsPage::from_xml)
                        .ok_or_else(|| {
                            StoreError::Other("ListParts: unreadable answer".to_owned())
                        })?
                }
                Err(e) => return Err(map_s3_error(e, StoreError::NoSuchUpload)),
            };
            parts.extend(page.parts);
            match page.next {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        parts.sort_by_key(|p| p.part_number);
        parts.dedup_by_key(|p| p.part_number);
        Ok(parts)
    }

    async fn create_record(&self, key: &str, state: &str) -> Result<(), StoreError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/octet-stream")
            .metadata(RECORD_METADATA_KEY, state)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b""));
        apply_sse!(req, &self.sse, key, full)
            .send()
            .await
            .map_err(|e| map_s3_error(e, StoreError::NotFound))?;
        Ok(())
    }

    async fn create_blob(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.write_blob(key, body, true).await
    }

    async fn put_blob(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.write_blob(key, body, false).await
    }

    async fn read_blob(&self, key: &str, max_len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let req = self.client.get_object().bucket(&self.bucket).key(key);
        let out = match apply_sse!(req, &self.sse, key, customer_only).send().await {
            Ok(out) => out,
            Err(e) => {
                return match map_s3_error(e, StoreError::NotFound) {
                    StoreError::NotFound => Ok(None),
                    e => Err(e),
                };
            }
        };
        if out
            .content_length()
            .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > max_len))
        {
            return Err(StoreError::Other(format!(
                "the record at {key} is larger than {max_len} bytes"
            )));
        }
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading {key}: {e}")))?
            .into_bytes();
        if bytes.len() > max_len {
            return Err(StoreError::Other(format!(
                "the record at {key} is larger than {max_len} bytes"
            )));
        }
        Ok(Some(bytes.to_vec()))
    }

    async fn read_record(&self, key: &str) -> Result<Option<String>, StoreError> {
        let req = self.client.head_object().bucket(&self.bucket).key(key);
        match apply_sse!(req, &self.sse, key, customer_only).send().await {
            Ok(out) => Ok(Some(
                out.metadata()
                    .and_then(|m| m.get(RECORD_METADATA_KEY))
                    .cloned()
                    .unwrap_or_default(),
            )),
            Err(e) => match map_s3_error(e, StoreError::NotFound) {
                StoreError::NotFound => Ok(None),
                e => Err(e),
            },
        }
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
        let req = apply_sse!(req, &self.sse, key, customer_only);
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
        self.presign(Target::Get { key }, expires_in).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::{Credentials, ProvideCredentials as _, Region};

    fn credentials(token: bool) -> Credentials {
        Credentials::new(
            "AKIDTEST",
            "test-secret",
            token.then(|| "test-session-token".to_owned()),
            None,
            "test",
        )
    }

    fn client(endpoint: Option<&str>, region: &str, token: bool) -> aws_sdk_s3::Client {
        let mut b = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials(token));
        if let Some(url) = endpoint {
            b = b.endpoint_url(url).force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(b.build())
    }

    fn store(
        endpoint: Option<&str>,
        region: &str,
        token: bool,
        sse: ServerSideEncryptionMode,
    ) -> S3Store {
        S3Store::new(client(endpoint, region, token), "cd-bucket", sse)
            .with_presigning_credentials(SharedCredentialsProvider::new(credentials(token)))
    }

    fn sse_modes() -> Vec<ServerSideEncryptionMode> {
        vec![
            ServerSideEncryptionMode::None,
            ServerSideEncryptionMode::Aes256,
            ServerSideEncryptionMode::AwsKms { key_id: None },
            ServerSideEncryptionMode::AwsKms {
                key_id: Some("arn:aws:kms:eu-west-1:111122223333:key/abcd-ef".to_owned()),
            },
            ServerSideEncryptionMode::CustomerKey(SseCustomerKey::new(&[9; 32])),
        ]
    }

    /// The direct presigner must produce exactly the SDK's URL and headers, for
    /// targets other than the probes too, with the real (not probe) credentials.
    #[tokio::test]
    async fn direct_presigning_is_byte_identical_to_the_sdk() {
        let mut metadata = BTreeMap::new();
        metadata.insert(NAME_METADATA_KEY.to_owned(), "bmFtZQ+/xyz=".to_owned());
        let no_metadata = BTreeMap::new();
        let key = "users/88da07c2f672f59b6eb4a76f86457575/d06bc4c8770c8d5857c551c2e22aaa7f";
        let targets = [
            Target::Put {
                key,
                content_length: 600_338,
                metadata: &metadata,
            },
            Target::Put {
                key,
                content_length: 0,
                metadata: &no_metadata,
            },
            Target::Part {
                key,
                upload_id: "2~iCw_lDY8VdG-Hs.x",
                part_number: 10_000,
                content_length: 5_243_200,
            },
            Target::Get { key },
        ];
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_905_734);
        let expires_in = Duration::from_secs(600);
        for (endpoint, region) in [
            (Some("http://127.0.0.1:45123"), "us-east-1"),
            (Some("https://s3.example.test"), "eu-central-1"),
            (None, "eu-west-1"),
            (None, "us-east-1"),
        ] {
            for token in [false, true] {
                for sse in sse_modes() {
                    let store = store(endpoint, region, token, sse.clone());
                    let c = store.client.clone();
                    let direct = store.direct_presigner().await.unwrap_or_else(|| {
                        panic!("direct path off for {endpoint:?} {region} {sse:?}")
                    });
                    let identity = credentials(token)
                        .provide_credentials()
                        .await
                        .expect("credentials")
                        .into();
                    let config = PresigningConfig::builder()
                        .start_time(time)
                        .expires_in(expires_in)
                        .build()
                        .expect("config");
                    for t in &targets {
                        let sdk = store
                            .presign_with_sdk(&c, *t, config.clone())
                            .await
                            .expect("sdk");
                        let own = direct.sign(t, &identity, expires_in, time).expect("direct");
                        assert_eq!(
                            sdk, own,
                            "{endpoint:?} {region} token={token} {sse:?} {t:?}"
                        );
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn presigned_put_signs_length_type_metadata_and_short_expiry() {
        let store = store(
            Some("http://127.0.0.1:45123"),
            "us-east-1",
            false,
            ServerSideEncryptionMode::None,
        );
        assert!(store.presigns_directly().await);
        let mut metadata = BTreeMap::new();
        metadata.insert(NAME_METADATA_KEY.to_owned(), "bmFtZQ==".to_owned());
        let p = store
            .presign_put("users/o/x", 1234, &metadata, Duration::from_secs(900))
            .await
            .expect("presign");
        assert_eq!(p.method, "PUT");
        assert!(
            p.url
                .starts_with("http://127.0.0.1:45123/cd-bucket/users/o/x?x-id=PutObject&")
        );
        assert!(p.url.contains("X-Amz-Expires=900&"));
        assert!(p.url.contains(
            "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match%3Bx-amz-meta-cd-name&"
        ));
        assert_eq!(
            p.headers.get("if-none-match").map(String::as_str),
            Some("*")
        );
        assert_eq!(
            p.headers.get("x-amz-meta-cd-name").map(String::as_str),
            Some("bmFtZQ==")
        );
        assert!(!p.headers.contains_key("content-length"));
    }

    #[test]
    fn list_parts_answers_the_sdk_refuses_are_read() {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<ListPartsResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><NextPartNumberMarker>2</NextPartNumberMarker><IsTruncated>true</IsTruncated><Part><PartNumber>1</PartNumber><ETag>"e09c"</ETag><Size>10</Size></Part><Part><PartNumber>2</PartNumber><ETag>&quot;ab&quot;</ETag><Size>5242880</Size></Part></ListPartsResponse>"#;
        let page = ListPartsPage::from_xml(body).expect("parsed");
        assert_eq!(
            page.parts,
            [
                StoredPart {
                    part_number: 1,
                    etag: "\"e09c\"".to_owned(),
                    size: 10
                },
                StoredPart {
                    part_number: 2,
                    etag: "\"ab\"".to_owned(),
                    size: 5_242_880
                }
            ]
        );
        assert_eq!(page.next.as_deref(), Some("2"));
        let last = body.replace("<IsTruncated>true", "<IsTruncated>false");
        assert_eq!(ListPartsPage::from_xml(&last).expect("parsed").next, None);
    }

    #[test]
    fn keys_and_ids_needing_encoding_go_through_the_sdk() {
        let md = BTreeMap::new();
        let plain = Target::Get { key: "users/a/b" };
        assert!(DirectPresigner::handles(&plain));
        for key in ["users/a b", "users/ä", "users/a+b", "users/a?b", ""] {
            assert!(!DirectPresigner::handles(&Target::Get { key }), "{key:?}");
            let put = Target::Put {
                key,
                content_length: 1,
                metadata: &md,
            };
            assert!(!DirectPresigner::handles(&put), "{key:?}");
        }
        for upload_id in ["a+b", "a/b", "a=b", "a%2F", ""] {
            let part = Target::Part {
                key: "users/a/b",
                upload_id,
                part_number: 1,
                content_length: 1,
            };
            assert!(!DirectPresigner::handles(&part), "{upload_id:?}");
        }
        let mut odd = BTreeMap::new();
        odd.insert(NAME_METADATA_KEY.to_owned(), " padded ".to_owned());
        let put = Target::Put {
            key: "users/a/b",
            content_length: 1,
            metadata: &odd,
        };
        assert!(!DirectPresigner::handles(&put));
    }
}
