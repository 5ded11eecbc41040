//! The embedded S3-compatible store of the local mode: `s3s-fs` on a loopback
//! listener, under tower-http's CORS layer, with an access key and secret made up
//! at start, so presigned signatures, expiry and signed lengths ARE verified.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use axum::Router;
use axum::error_handling::HandleError;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
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
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| anyhow::anyhow!("cannot open the local store at {}: {e:?}", root.display()))?;
    let credentials = LocalCredentials::generate()?;
    let service = {
        let mut b = S3ServiceBuilder::new(fs);
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
        .layer(cors_layer(origins)?);
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "embedded store stopped");
        }
    });
    Ok(EmbeddedStore { addr, credentials })
}
