//! Shared state of the running server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cipherdrop_core::ChunkSize;

use crate::auth::Authenticator;
use crate::keys::KeyService;
use crate::store::ObjectStore;
use crate::upload_token::UploadTokens;

/// Limits and defaults applied to requests.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest plaintext accepted for one object.
    pub max_object_size: u64,
    /// Ciphertext larger than this is uploaded as multipart (unless the caller asks).
    pub multipart_threshold: u64,
    /// Target multipart part size (crypto-core rounds it to whole chunks, ≥ 5 MiB).
    pub part_size: u64,
    /// Chunk size when the caller does not choose one.
    pub default_chunk_size: ChunkSize,
    /// How long presigned URLs are valid.
    pub presign_expiry: Duration,
    /// Part URLs handed out with "start upload".
    pub initial_part_urls: usize,
    /// Most part URLs one "sign parts" request may ask for.
    pub max_part_urls_per_request: usize,
    /// Longest accepted encrypted name (base64 characters).
    pub max_name_len: usize,
    /// Requests per second per user on `/api/*`, and per client address on the
    /// routes without a valid token (0: no limit).
    pub rate_limit_per_second: u32,
    /// Requests a user (or address) may make at once before the rate applies.
    pub rate_limit_burst: u32,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Bytes of stored objects per user (`None`: no quota).
    pub quota_bytes: Option<u64>,
    /// Longest a share link may live (`--share-max-days`).
    pub share_max_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_object_size: 1 << 40,
            multipart_threshold: 16 << 20,
            part_size: cipherdrop_core::sizes::DEFAULT_PART_SIZE,
            default_chunk_size: ChunkSize::DEFAULT,
            presign_expiry: Duration::from_secs(900),
            initial_part_urls: 32,
            max_part_urls_per_request: 100,
            max_name_len: 1024,
            rate_limit_per_second: 0,
            rate_limit_burst: 0,
            trusted_proxies: Vec::new(),
            quota_bytes: None,
            share_max_ttl: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct AppState {
    /// Token verification and the development login.
    pub auth: Authenticator,
    /// Where data keys come from.
    pub keys: Arc<dyn KeyService>,
    /// Where ciphertext goes.
    pub store: Arc<dyn ObjectStore>,
    /// Signs upload tokens.
    pub uploads: UploadTokens,
    /// Request limits.
    pub limits: Limits,
    /// Directory of the web page; `None` serves the built-in placeholder.
    pub web_dir: Option<PathBuf>,
    /// Origins the page may connect to besides its own (CSP `connect-src`): the
    /// object store, the OIDC issuer, and `--connect-origins`; nothing else.
    pub store_origins: Vec<String>,
}
