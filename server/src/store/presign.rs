//! Presigning without the SDK's per-call orchestrator.
//!
//! `aws-sdk-s3`'s `.presigned(..)` runs the whole operation pipeline for every URL:
//! it layers the client config, runs the interceptors, resolves the endpoint and
//! the identity, and only then signs. Profiling "start an upload" showed that
//! pipeline as most of the backend's CPU per request (about 100 µs of the ~130 µs),
//! with the actual SigV4 signing a small part of it.
//!
//! [`DirectPresigner`] signs with `aws-sigv4` (the crate the SDK itself signs with),
//! with the SDK's S3 presigning settings, against an endpoint prefix and signing
//! region learned once from the SDK. It **checks itself** before it is used: at the
//! first presign it presigns a PUT (with metadata and the configured server-side
//! encryption), an `UploadPart` and a GET through both the SDK and itself, with the
//! same fixed probe credentials and time, and is only used when every one is
//! byte-for-byte identical (URL and headers). Otherwise the store keeps presigning
//! through the SDK. Keys or upload ids needing percent-encoding also go through the
//! SDK (the server's own keys never do).

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::{Presigned, ServerSideEncryptionMode, StoreError};

/// Temporary credentials are refreshed this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// What to presign; the same description drives the SDK path and the direct path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// `PutObject` of exactly `content_length` bytes with user metadata.
    Put {
        /// Object key.
        key: &'a str,
        /// Signed `Content-Length`.
        content_length: u64,
        /// User metadata (`x-amz-meta-…`).
        metadata: &'a BTreeMap<String, String>,
    },
    /// `UploadPart` of exactly `content_length` bytes.
    Part {
        /// Object key.
        key: &'a str,
        /// Multipart upload id.
        upload_id: &'a str,
        /// 1-based part number.
        part_number: i32,
        /// Signed `Content-Length`.
        content_length: u64,
    },
    /// `GetObject`.
    Get {
        /// Object key.
        key: &'a str,
    },
}

impl Target<'_> {
    fn key(&self) -> &str {
        match self {
            Target::Put { key, .. } | Target::Part { key, .. } | Target::Get { key } => key,
        }
    }
}

/// Unreserved URI characters: never percent-encoded by the SDK, so a key or query
/// value made only of these (and `/` in keys) appears in the URL as it is.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn plain_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| unreserved(b) || b == b'/')
}

fn plain_value(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(unreserved)
}

/// A header value the SDK passes through unchanged (visible ASCII and inner spaces).
fn plain_header_value(v: &str) -> bool {
    v.bytes().all(|b| (0x20..0x7f).contains(&b)) && v.trim() == v
}

/// The headers server-side encryption adds: all of them on writes, only the SSE-C
/// customer key on part uploads and reads (like the SDK builders in `store.rs`).
/// The SSE-C key is the one of the object's owner (`SseCustomerKey::for_object_key`).
fn sse_headers(
    sse: &ServerSideEncryptionMode,
    full: bool,
    key: &str,
) -> Vec<(&'static str, String)> {
    match sse {
        ServerSideEncryptionMode::CustomerKey(k) => {
            let k = k.for_object_key(key);
            vec![
                (
                    "x-amz-server-side-encryption-customer-algorithm",
                    "AES256".to_owned(),
                ),
                (
                    "x-amz-server-side-encryption-customer-key",
                    k.key_b64.clone(),
                ),
                (
                    "x-amz-server-side-encryption-customer-key-md5",
                    k.md5_b64.clone(),
                ),
            ]
        }
        _ if !full => Vec::new(),
        ServerSideEncryptionMode::None => Vec::new(),
        ServerSideEncryptionMode::Aes256 => {
            vec![("x-amz-server-side-encryption", "AES256".to_owned())]
        }
        ServerSideEncryptionMode::AwsKms { key_id } => {
            let mut h = vec![("x-amz-server-side-encryption", "aws:kms".to_owned())];
            if let Some(id) = key_id {
                h.push(("x-amz-server-side-encryption-aws-kms-key-id", id.clone()));
            }
            h
        }
    }
}

/// Credentials from the SDK's provider, fetched once and kept until shortly before
/// they expire (static credentials never expire).
struct CredentialCache {
    provider: SharedCredentialsProvider,
    current: RwLock<Option<Identity>>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache").finish_non_exhaustive()
    }
}

impl CredentialCache {
    fn fresh(&self) -> Option<Identity> {
        let current = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current
            .as_ref()
            .filter(|id| {
                id.expiration()
                    .is_none_or(|exp| exp > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
            })
            .cloned()
    }

    async fn get(&self) -> Result<Identity, StoreError> {
        if let Some(id) = self.fresh() {
            return Ok(id);
        }
        // One refresh at a time; the others find its result.
        let _refreshing = self.refresh.lock().await;
        if let Some(id) = self.fresh() {
            return Ok(id);
        }
        let creds = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| StoreError::Unavailable(format!("S3 credentials: {e}")))?;
        let id = Identity::from(creds);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(id.clone());
        Ok(id)
    }
}

/// Presigns S3 requests with `aws-sigv4` directly (see the module docs).
#[derive(Debug)]
pub(crate) struct DirectPresigner {
    /// Everything before the key: `http://host:port/bucket/` (path style) or
    /// `https://bucket.s3.region.amazonaws.com/`.
    base: String,
    /// Signing region (from the SDK's signature scope).
    region: String,
    /// Server-side encryption (its headers depend on the object's owner).
    sse: ServerSideEncryptionMode,
    credentials: CredentialCache,
}

/// The key the probes presign (never requested).
pub(crate) const PROBE_KEY: &str = "cipherdrop-presign-probe/k";

impl DirectPresigner {
    /// Learns the endpoint prefix and region from `probe_get`, the SDK's presigned
    /// GET of [`PROBE_KEY`]; `None` when its shape is not a plain SigV4 S3 URL.
    pub(crate) fn from_probe(
        probe_get: &Presigned,
        sse: &ServerSideEncryptionMode,
        provider: SharedCredentialsProvider,
    ) -> Option<Self> {
        let (base, query) = probe_get.url.split_once('?')?;
        let base = base.strip_suffix(PROBE_KEY)?;
        if !base.ends_with('/') || base.contains(['?', '#', '%']) {
            return None;
        }
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        };
        if param("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
            return None;
        }
        // AKID/DATE/REGION/SERVICE/aws4_request, '/' encoded as %2F.
        let scope: Vec<&str> = param("X-Amz-Credential")?.split("%2F").collect();
        let [_, _, region, "s3", "aws4_request"] = scope.as_slice() else {
            return None;
        };
        if !plain_value(region) {
            return None;
        }
        Some(Self {
            base: base.to_owned(),
            region: (*region).to_owned(),
            sse: sse.clone(),
            credentials: CredentialCache {
                provider,
                current: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(()),
            },
        })
    }

    /// Whether this presigner builds `target` exactly like the SDK would; `false`
    /// means: presign it through the SDK.
    pub(crate) fn handles(target: &Target<'_>) -> bool {
        if !plain_key(target.key()) {
            return false;
        }
        match target {
            Target::Put { metadata, .. } => metadata.iter().all(|(k, v)| {
                k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !k.is_empty()
                    && plain_header_value(v)
            }),
            Target::Part { upload_id, .. } => plain_value(upload_id),
            Target::Get { .. } => true,
        }
    }

    /// Presigns `target` with the provider's current credentials, valid from now.
    pub(crate) async fn presign(
        &self,
        target: &Target<'_>,
        expires_in: Duration,
    ) -> Result<Presigned, StoreError> {
        let identity = self.credentials.get().await?;
        self.sign(target, &identity, expires_in, SystemTime::now())
    }

    /// Presigns `target` for `identity` at `time` (pure; the probe check uses it).
    pub(crate) fn sign(
        &self,
        target: &Target<'_>,
        identity: &Identity,
        expires_in: Duration,
        time: SystemTime,
    ) -> Result<Presigned, StoreError> {
        let (method, url, headers) = self.unsigned(target);
        let mut settings = SigningSettings::default();
        // What the SDK uses for S3 presigning: no double encoding, no path
        // normalization, UNSIGNED-PAYLOAD, the signature in the query string, the
        // session token (if any) signed in the query string.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name("s3")
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| StoreError::Other(format!("presigning: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| StoreError::Other(format!("presigning: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| StoreError::Other(format!("presigning: {e}")))?
            .into_parts();
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(())
            .map_err(|e| StoreError::Other(format!("presigning: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(Presigned {
            method: method.to_owned(),
            url: request.uri().to_string(),
            // The browser sets Content-Length (signed) and Host itself.
            headers: headers
                .into_iter()
                .filter(|(name, _)| name != "content-length")
                .collect(),
        })
    }

    /// Method, URL without signature, and the headers to sign.
    fn unsigned(&self, target: &Target<'_>) -> (&'static str, String, Vec<(String, String)>) {
        let mut url = String::with_capacity(self.base.len() + 160);
        url.push_str(&self.base);
        url.push_str(target.key());
        let mut headers: Vec<(String, String)> = Vec::with_capacity(8);
        let method = match target {
            Target::Put {
                content_length,
                metadata,
                ..
            } => {
                url.push_str("?x-id=PutObject");
                headers.push(("content-length".to_owned(), content_length.to_string()));
                headers.push((
                    "content-type".to_owned(),
                    "application/octet-stream".to_owned(),
                ));
                // Create only: a replay of this URL after the upload cannot replace it.
                headers.push(("if-none-match".to_owned(), "*".to_owned()));
                for (k, v) in *metadata {
                    headers.push((format!("x-amz-meta-{k}"), v.clone()));
                }
                for (k, v) in sse_headers(&self.sse, true, target.key()) {
                    headers.push((k.to_owned(), v));
                }
                "PUT"
            }
            Target::Part {
                upload_id,
                part_number,
                content_length,
                ..
            } => {
                url.push_str("?x-id=UploadPart&partNumber=");
                url.push_str(&part_number.to_string());
                url.push_str("&uploadId=");
                url.push_str(upload_id);
                headers.push(("content-length".to_owned(), content_length.to_string()));
                for (k, v) in sse_headers(&self.sse, false, target.key()) {
                    headers.push((k.to_owned(), v));
                }
                "PUT"
            }
            Target::Get { .. } => {
                url.push_str("?x-id=GetObject");
                for (k, v) in sse_headers(&self.sse, false, target.key()) {
                    headers.push((k.to_owned(), v));
                }
                "GET"
            }
        };
        (method, url, headers)
    }
}

/// Fixed credentials for the self-check (never sent anywhere).
pub(crate) fn probe_credentials(session_token: bool) -> Credentials {
    Credentials::new(
        "AKIDCIPHERDROPPROBE",
        "cipherdrop-presign-probe-secret",
        session_token.then(|| "cipherdrop-probe-session-token".to_owned()),
        None,
        "cipherdrop-presign-probe",
    )
}
