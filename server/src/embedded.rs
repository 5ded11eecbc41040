//! The embedded S3-compatible store of the local mode: `s3s-fs` on a loopback
//! listener, under tower-http's CORS layer, with an access key and secret made up
//! at start, so presigned signatures, expiry and signed lengths ARE verified.
//!
//! [`LocalS3`] wraps `s3s-fs` where it is laxer than S3, so the local mode behaves
//! like S3 for what CipherDrop relies on:
//! - `ListParts` in s3s-fs answers for any upload id (even a finished one) and
//!   gives no ETags; here it answers `NoSuchUpload` for an unknown upload and
//!   gives each part's ETag (the MD5 of the part, as s3s-fs's `UploadPart` does).
//! - `CompleteMultipartUpload` in s3s-fs forgets the upload before it reads the
//!   parts, so a missing part destroyed the upload (and was a 500), and it never
//!   compared ETags; here missing parts and wrong ETags are refused first with
//!   `InvalidPart`, as S3 does, and the upload stays resumable.
//!
//! - `UploadPart` in s3s-fs refuses a part of an unknown (finished, aborted)
//!   upload before it reads the body, and the connection closes under the
//!   sender's write: a browser sees a network error, not a refusal. Here the
//!   body (its length is signed, so bounded) is read first and the answer is
//!   `NoSuchUpload` (404), as S3 answers.
//!
//! - A presigned request carrying an `x-amz-*` header its signature does not
//!   cover (an `x-amz-meta-*` added by the sender, say) is accepted by s3s-fs;
//!   S3 refuses it (403 `AccessDenied`, "There were headers present in the
//!   request which were not signed"), and so does [`refuse_unsigned_amz_headers`].
//!
//! `PutObject` with `If-None-Match: *` or `If-Match: <ETag>`, and
//! `CompleteMultipartUpload` with `If-Match`, are checked by s3s-fs itself (412
//! `PreconditionFailed`), as by S3, but not atomically: two racing creates both
//! pass the check, and a `DELETE` or `PUT` between the check and the write would
//! be undone. Here every write of one key (`PutObject`, `CompleteMultipartUpload`,
//! `CopyObject` to it, `DeleteObject`) runs one after the other, so a conditional
//! write sees the version it replaces (re-wrapping, `store::rewrite`, relies on it).
//! `CompleteMultipartUpload` over an existing object in s3s-fs keeps the old
//! object's checksums (a GET then fails the client's check); here they are dropped.
//! `UploadPartCopy` in s3s-fs ignores `x-amz-copy-source-if-match`; here it is
//! checked (412 when the source's ETag differs, 404 when it is gone), under the
//! source key's turn.
//!
//! Refused requests (bad signature, expired URL, 412…) are logged at INFO by
//! [`log_store_responses`], without the URL; s3s logs every refusal as ERROR and
//! whole requests at DEBUG, so its events stay off at every level
//! (`crate::logging::secret_guard`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::error_handling::HandleError;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use s3s::auth::SimpleAuth;
use s3s::dto::{
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput,
    CopySource, DeleteObjectInput, DeleteObjectOutput, ETagCondition, HeadObjectInput,
    ListPartsInput, ListPartsOutput, PutObjectInput, PutObjectOutput, UploadPartCopyInput,
    UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Name of the bucket the local mode uses.
pub const LOCAL_BUCKET: &str = "cipherdrop";

/// Credentials of the embedded store (valid for this process only).
#[derive(Clone)]
pub struct LocalCredentials {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
}

impl std::fmt::Debug for LocalCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl LocalCredentials {
    /// Fresh random credentials.
    ///
    /// # Errors
    /// When the system has no randomness.
    pub fn generate() -> anyhow::Result<Self> {
        let mut a = [0u8; 10];
        let mut s = [0u8; 30];
        getrandom::fill(&mut a).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        getrandom::fill(&mut s).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(Self {
            access_key: format!("CD{}", hex::encode_upper(a)),
            secret_key: hex::encode(s),
        })
    }
}

/// A running embedded store.
#[derive(Debug)]
pub struct EmbeddedStore {
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    /// Its credentials.
    pub credentials: LocalCredentials,
}

impl EmbeddedStore {
    /// `http://ADDR`, the endpoint for the S3 client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The CORS layer in front of the store: the page's origins may `PUT` ciphertext,
/// `GET` it (with `Range`) and read `ETag` (needed to complete multipart uploads).
///
/// # Errors
/// When an origin is not a valid header value.
pub fn cors_layer(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let origins = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).with_context(|| format!("bad CORS origin {o:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::HEAD,
            Method::DELETE,
        ])
        .allow_headers([
            HeaderName::from_static("content-type"),
            HeaderName::from_static("range"),
            HeaderName::from_static("if-none-match"),
            HeaderName::from_static("x-amz-meta-cd-name"),
            HeaderName::from_static("x-amz-server-side-encryption"),
            HeaderName::from_static("x-amz-server-side-encryption-aws-kms-key-id"),
            HeaderName::from_static("x-amz-server-side-encryption-customer-algorithm"),
            HeaderName::from_static("x-amz-server-side-encryption-customer-key"),
            HeaderName::from_static("x-amz-server-side-encryption-customer-key-md5"),
            HeaderName::from_static("x-amz-content-sha256"),
            HeaderName::from_static("x-amz-date"),
        ])
        .expose_headers([
            HeaderName::from_static("etag"),
            HeaderName::from_static("content-length"),
            HeaderName::from_static("content-range"),
        ])
        .max_age(std::time::Duration::from_secs(600)))
}

/// Starts the store over `root` (created if missing, with the bucket directory)
/// on `listener`, allowing `origins` by CORS. It runs until `shutdown` resolves.
///
/// # Errors
/// When the directory cannot be created or `s3s-fs` refuses it.
pub fn start(
    root: &Path,
    listener: TcpListener,
    origins: &[String],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<EmbeddedStore> {
    std::fs::create_dir_all(root.join(LOCAL_BUCKET))
        .with_context(|| format!("cannot create {}", root.display()))?;
    // One process per store: the per-key write order (LocalS3) only holds inside
    // one process, so `serve` and `rotate` never share a store directory.
    let lock_path = root.join(".cipherdrop.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        anyhow::bail!(
            "another cipherdrop process (serve or rotate) is using the local store at {}; \
             stop it first (in the local mode the store lives inside that process)",
            root.display()
        );
    }
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| anyhow::anyhow!("cannot open the local store at {}: {e:?}", root.display()))?;
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot open {}", root.display()))?;
    let credentials = LocalCredentials::generate()?;
    let service = {
        let mut b = S3ServiceBuilder::new(LocalS3::new(fs, root));
        b.set_auth(SimpleAuth::from_single(
            credentials.access_key.clone(),
            credentials.secret_key.clone(),
        ));
        b.build()
    };
    let service = HandleError::new(service, |e: s3s::HttpError| async move {
        tracing::warn!(error = ?e, "embedded store error");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let app = Router::new()
        .fallback_service(service)
        .layer(axum::middleware::from_fn(refuse_unsigned_amz_headers))
        .layer(axum::middleware::from_fn(log_store_responses))
        .layer(cors_layer(origins)?);
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        // Held while the store runs.
        let _lock = lock;
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "embedded store stopped");
        }
    });
    Ok(EmbeddedStore { addr, credentials })
}

/// Logs what the store answered: a refusal (4xx: a bad or expired signature, a
/// key that exists…) is the caller's problem, not the server's, so INFO; 5xx is
/// ERROR. Never the URL (a presigned URL is a secret while valid).
async fn log_store_responses(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let response = next.run(req).await;
    let status = response.status();
    if status.is_server_error() {
        tracing::error!(%method, status = status.as_u16(), "embedded store failed");
    } else if status.is_client_error() {
        tracing::info!(%method, status = status.as_u16(), "embedded store refused a request");
    }
    response
}

/// Refuses a presigned request (SigV4 in the query) that carries an `x-amz-*`
/// header not listed in its `X-Amz-SignedHeaders`, as S3 does: otherwise a
/// holder of the URL could add metadata (or any `x-amz-*` option) the server
/// never signed.
async fn refuse_unsigned_amz_headers(req: Request, next: Next) -> Response {
    let signed_headers = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("X-Amz-SignedHeaders="))
            .map(|v| {
                v.replace("%3B", ";")
                    .replace("%3b", ";")
                    .to_ascii_lowercase()
            })
    });
    if let Some(signed) = signed_headers {
        let signed: Vec<&str> = signed.split(';').collect();
        let unsigned: Vec<&str> = req
            .headers()
            .keys()
            .map(HeaderName::as_str)
            .filter(|name| name.starts_with("x-amz-") && !signed.contains(name))
            .collect();
        if !unsigned.is_empty() {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
                 <Message>There were headers present in the request which were not signed</Message>\
                 <HeadersNotSigned>{}</HeadersNotSigned></Error>",
                unsigned.join(", ")
            );
            return Response::builder()
                .status(StatusCode::FORBIDDEN)
                .header(axum::http::header::CONTENT_TYPE, "application/xml")
                .body(axum::body::Body::from(body))
                .unwrap_or_else(|_| StatusCode::FORBIDDEN.into_response());
        }
    }
    next.run(req).await
}

/// `s3s-fs` with S3's checks on multipart uploads (see the module docs). It
/// relies on s3s-fs 0.14's file layout under `root`: `.upload-<id>.json` while an
/// upload is open, `.upload_id-<id>.part-<n>` for its parts.
struct LocalS3 {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
    /// One lock per key with a write in flight.
    writing: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl LocalS3 {
    fn new(fs: s3s_fs::FileSystem, root: PathBuf) -> Self {
        Self {
            fs,
            root,
            writing: std::sync::Mutex::default(),
        }
    }

    fn writing(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `write` when no other write of `bucket/key` runs (see the module docs).
    async fn one_writer<T>(&self, bucket: &str, key: &str, write: impl Future<Output = T>) -> T {
        let name = format!("{bucket}/{key}");
        let lock = Arc::clone(self.writing().entry(name.clone()).or_default());
        let result = {
            let _one_at_a_time = lock.lock().await;
            write.await
        };
        drop(lock);
        let mut writing = self.writing();
        if writing
            .get(&name)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            writing.remove(&name);
        }
        result
    }
    /// The open upload's id, or `NoSuchUpload` (as S3 answers).
    fn open_upload(&self, upload_id: &str) -> S3Result<uuid_like::UploadId> {
        let id = uuid_like::UploadId::parse(upload_id).ok_or_else(|| s3_error!(NoSuchUpload))?;
        if self.root.join(format!(".upload-{}.json", id.0)).is_file() {
            Ok(id)
        } else {
            Err(s3_error!(NoSuchUpload))
        }
    }

    fn part_path(&self, id: &uuid_like::UploadId, part_number: i32) -> PathBuf {
        self.root
            .join(format!(".upload_id-{}.part-{part_number}", id.0))
    }

    /// The part's ETag value (MD5 hex, no quotes); `None` when it was never sent.
    async fn part_etag(&self, path: PathBuf) -> S3Result<Option<String>> {
        tokio::task::spawn_blocking(move || {
            use md5::Digest as _;
            use std::io::Read as _;
            let mut file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let mut md5 = md5::Md5::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                md5.update(&buf[..n]);
            }
            Ok(Some(hex::encode(md5.finalize())))
        })
        .await
        .map_err(|e| s3_error!(InternalError, "hashing a part: {e}"))?
        .map_err(|e| s3_error!(InternalError, "reading a part: {e}"))
    }
}

/// s3s-fs names uploads by UUID; only such ids can name an upload.
mod uuid_like {
    /// A canonical (lowercase, hyphenated) UUID string.
    pub(super) struct UploadId(pub(super) String);

    impl UploadId {
        pub(super) fn parse(s: &str) -> Option<Self> {
            let ok = s.len() == 36
                && s.bytes().enumerate().all(|(i, b)| match i {
                    8 | 13 | 18 | 23 => b == b'-',
                    _ => b.is_ascii_hexdigit(),
                });
            ok.then(|| Self(s.to_ascii_lowercase()))
        }
    }
}

/// Methods passed on to s3s-fs unchanged. Written out in the form
/// `#[async_trait]` gives trait methods, since the attribute cannot see into a
/// macro call.
macro_rules! delegate {
    ($($op:ident($input:ident) -> $output:ident;)*) => {
        $(
            fn $op<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<s3s::dto::$input>,
            ) -> std::pin::Pin<
                Box<
                    dyn Future<Output = S3Result<S3Response<s3s::dto::$output>>>
                        + Send
                        + 'async_trait,
                >,
            >
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                self.fs.$op(req)
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for LocalS3 {
    delegate! {
        create_bucket(CreateBucketInput) -> CreateBucketOutput;
        delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
        delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
        get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
        get_object(GetObjectInput) -> GetObjectOutput;
        head_bucket(HeadBucketInput) -> HeadBucketOutput;
        head_object(HeadObjectInput) -> HeadObjectOutput;
        list_buckets(ListBucketsInput) -> ListBucketsOutput;
        list_objects(ListObjectsInput) -> ListObjectsOutput;
        list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
        create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
        abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        self.one_writer(&bucket, &key, self.fs.put_object(req))
            .await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        self.one_writer(&bucket, &key, self.fs.delete_object(req))
            .await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        self.one_writer(&bucket, &key, self.fs.copy_object(req))
            .await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let Some(condition) = req.input.copy_source_if_match.clone() else {
            return self.fs.upload_part_copy(req).await;
        };
        let CopySource::Bucket { bucket, key, .. } = &req.input.copy_source else {
            return Err(s3_error!(NotImplemented));
        };
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.one_writer(&bucket, &key, async {
            let head = S3Request {
                input: HeadObjectInput {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    ..HeadObjectInput::default()
                },
                method: req.method.clone(),
                uri: req.uri.clone(),
                headers: req.headers.clone(),
                extensions: axum::http::Extensions::default(),
                credentials: req.credentials.clone(),
                region: req.region.clone(),
                service: req.service.clone(),
                trailing_headers: None,
            };
            let current = self.fs.head_object(head).await?.output.e_tag;
            let matches = match (&condition, &current) {
                (ETagCondition::Any, Some(_)) => true,
                (ETagCondition::ETag(want), Some(have)) => have.strong_cmp(want),
                (_, None) => false,
            };
            if !matches {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
            self.fs.upload_part_copy(req).await
        })
        .await
    }

    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        if let Err(e) = self.open_upload(&req.input.upload_id) {
            if let Some(mut body) = req.input.body.take() {
                use futures_util::StreamExt as _;
                while let Some(chunk) = body.next().await {
                    if chunk.is_err() {
                        break;
                    }
                }
            }
            return Err(e);
        }
        self.fs.upload_part(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let id = self.open_upload(&req.input.upload_id)?;
        let mut resp = self.fs.list_parts(req).await?;
        let mut parts = resp.output.parts.take().unwrap_or_default();
        for part in &mut parts {
            let Some(n) = part.part_number else { continue };
            part.e_tag = self
                .part_etag(self.part_path(&id, n))
                .await?
                .map(s3s::dto::ETag::Strong);
        }
        parts.retain(|p| p.e_tag.is_some());
        parts.sort_by_key(|p| p.part_number);
        resp.output.parts = Some(parts);
        Ok(resp)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        self.one_writer(&bucket, &key, async {
            let done = self.complete_checked(req).await?;
            self.forget_old_checksums(&bucket, &key).await?;
            Ok(done)
        })
        .await
    }
}

impl LocalS3 {
    /// After a multipart upload replaced an object: s3s-fs keeps the replaced
    /// object's whole-object checksums in its internal record (it only updates the
    /// ETag), and a GET would then send them with the new bytes (clients refuse
    /// the body). Only the new ETag is kept.
    async fn forget_old_checksums(&self, bucket: &str, key: &str) -> S3Result<()> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let path = self.root.join(format!(
            ".bucket-{}.object-{}.internal.json",
            b64.encode(bucket),
            b64.encode(key)
        ));
        let Ok(text) = tokio::fs::read(&path).await else {
            return Ok(());
        };
        let mut info: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&text).map_err(|e| s3_error!(InternalError, "{e}"))?;
        if info.len() <= 1 {
            return Ok(());
        }
        info.retain(|k, _| k == "e_tag");
        let text = serde_json::to_vec(&info).map_err(|e| s3_error!(InternalError, "{e}"))?;
        tokio::fs::write(&path, text)
            .await
            .map_err(|e| s3_error!(InternalError, "writing {}: {e}", path.display()))
    }

    /// `CompleteMultipartUpload` with S3's part checks (see the module docs).
    async fn complete_checked(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let id = self.open_upload(&req.input.upload_id)?;
        let listed = req
            .input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.as_ref())
            .map(Vec::as_slice)
            .unwrap_or_default();
        for part in listed {
            let n = part
                .part_number
                .ok_or_else(|| s3_error!(InvalidPart, "a part has no number"))?;
            let stored = self.part_etag(self.part_path(&id, n)).await?;
            let given = part.e_tag.as_ref().map(|e| e.value().trim_matches('"'));
            if stored.is_none() || stored.as_deref() != given {
                return Err(s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."
                ));
            }
        }
        self.fs.complete_multipart_upload(req).await
    }
}
