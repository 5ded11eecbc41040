//! `cipherdrop serve` settings: every flag has an environment variable, and bad
//! combinations fail at start with a message saying what to change.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use cipherdrop_core::ChunkSize;

use crate::keys::cache::CacheLimits;
use crate::state::Limits;

/// Server-side encryption applied to presigned requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SseArg {
    /// None (the default: client-side encryption only).
    None,
    /// SSE-S3 (`AES256`).
    Aes256,
    /// SSE-KMS (`aws:kms`), with `--sse-kms-key-id` or the AWS managed key.
    #[value(name = "aws:kms")]
    AwsKms,
    /// SSE-C with the key in `--sse-c-key-file`.
    #[value(name = "sse-c")]
    SseC,
}

/// Where objects are stored and how their data keys are wrapped: the flags
/// `cipherdrop serve` and `cipherdrop rotate` share.
#[derive(Debug, Clone, clap::Args)]
pub struct BackendArgs {
    /// Data directory (local store, master keys, server secret). Default:
    /// $XDG_DATA_HOME/cipherdrop or ~/.local/share/cipherdrop.
    #[arg(long, env = "CIPHERDROP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// S3 bucket. Without it the embedded local store is used.
    #[arg(long, env = "CIPHERDROP_BUCKET")]
    pub bucket: Option<String>,

    /// KMS key (id, ARN, alias/NAME) for data keys. Without it the local keyring is used.
    #[arg(long, env = "CIPHERDROP_KMS_KEY_ID")]
    pub kms_key_id: Option<String>,

    /// A previous KMS key (id, ARN, alias/NAME) whose wrapped keys may still be
    /// opened while `cipherdrop rotate` moves objects to --kms-key-id; repeat for
    /// several. New objects always use --kms-key-id. Needs --kms-key-id.
    #[arg(
        long,
        env = "CIPHERDROP_KMS_PREVIOUS_KEY_IDS",
        value_delimiter = ',',
        value_name = "ID"
    )]
    pub kms_previous_key_id: Vec<String>,

    /// Endpoint for S3 and KMS (an S3-compatible store, moto, ...). Needs --bucket.
    #[arg(long, env = "CIPHERDROP_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// AWS region (default: from the AWS configuration).
    #[arg(long, env = "CIPHERDROP_REGION")]
    pub region: Option<String>,

    /// Use path-style S3 URLs (needed by most S3-compatible stores; on with --endpoint-url).
    #[arg(long, env = "CIPHERDROP_FORCE_PATH_STYLE")]
    pub force_path_style: bool,

    /// Server-side encryption signed into presigned PUTs (a second layer).
    #[arg(long, env = "CIPHERDROP_SSE", value_enum, default_value = "none")]
    pub sse: SseArg,

    /// KMS key for `--sse aws:kms` (default: the AWS managed key aws/s3).
    #[arg(long, env = "CIPHERDROP_SSE_KMS_KEY_ID")]
    pub sse_kms_key_id: Option<String>,

    /// File with the 32-byte SSE-C key for `--sse sse-c`.
    #[arg(long, env = "CIPHERDROP_SSE_C_KEY_FILE")]
    pub sse_c_key_file: Option<PathBuf>,

    /// Recovery recipient: an X25519 public key (cdpub1..., from `cipherdrop keygen
    /// --x25519`) that every new object is also wrapped to (provider x25519-hpke).
    /// Its private key, kept offline, opens those objects with neither this server
    /// nor KMS (`cipherdrop decrypt --identity`) — so disabling or deleting the KMS
    /// key no longer shreds them. Off by default.
    #[arg(long, env = "CIPHERDROP_RECOVERY_RECIPIENT", value_name = "PUBKEY", value_parser = crate::cli::parse_recipient)]
    pub recovery_recipient: Option<cipherdrop_core::X25519Recipient>,
}

impl BackendArgs {
    /// Whether the embedded store is used.
    pub fn local_store(&self) -> bool {
        self.bucket.is_none()
    }

    /// The data directory.
    ///
    /// # Errors
    /// When no default can be found (no `HOME`).
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return Ok(PathBuf::from(x).join("cipherdrop"));
        }
        let home = std::env::var_os("HOME").context("no --data-dir given and HOME is not set")?;
        Ok(PathBuf::from(home).join(".local/share/cipherdrop"))
    }

    /// Checks the storage and key flags.
    ///
    /// # Errors
    /// With a message naming the flag to change.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(key_id) = &self.kms_key_id {
            crate::keys::kms::refuse_aws_managed_key(key_id)?;
        }
        for key_id in &self.kms_previous_key_id {
            crate::keys::kms::refuse_aws_managed_key(key_id)?;
        }
        if !self.kms_previous_key_id.is_empty() && self.kms_key_id.is_none() {
            bail!("--kms-previous-key-id needs --kms-key-id (the key new objects use)");
        }
        if self.endpoint_url.is_some() && self.bucket.is_none() {
            bail!(
                "--endpoint-url needs --bucket (without a bucket the embedded local store is used)"
            );
        }
        match self.sse {
            SseArg::SseC if self.sse_c_key_file.is_none() => {
                bail!("--sse sse-c needs --sse-c-key-file")
            }
            SseArg::AwsKms => {}
            _ if self.sse_kms_key_id.is_some() => bail!("--sse-kms-key-id needs --sse aws:kms"),
            _ => {}
        }
        if self.sse_c_key_file.is_some() && self.sse != SseArg::SseC {
            bail!("--sse-c-key-file needs --sse sse-c");
        }
        Ok(())
    }
}

/// `cipherdrop serve`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Run the backend: data keys from KMS (or a local keyring) and presigned S3 URLs",
    long_about = "Run the backend: data keys from KMS (or a local keyring) and presigned S3 URLs.\n\n\
        With no AWS settings it runs everything on this machine: an embedded S3-compatible \
        store on loopback, a local master key in the data directory, and the development \
        login. With --bucket (and optionally --kms-key-id, --endpoint-url) it uses S3 and KMS \
        through the standard AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)."
)]
pub struct ServeArgs {
    #[command(flatten)]
    pub backend: BackendArgs,

    /// Address of the web page and API.
    #[arg(long, env = "CIPHERDROP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory of the web page. Default: ./web/dist (the built page) when it exists, else a built-in page.
    #[arg(long, env = "CIPHERDROP_WEB_DIR")]
    pub web_dir: Option<PathBuf>,

    /// Loopback address of the embedded store in the local mode (port 0: any free port).
    #[arg(
        long,
        env = "CIPHERDROP_LOCAL_S3_LISTEN",
        default_value = "127.0.0.1:0"
    )]
    pub local_s3_listen: SocketAddr,

    /// Extra origins allowed by the embedded store's CORS (the page's own origin is
    /// always allowed). Comma-separated.
    #[arg(long, env = "CIPHERDROP_PUBLIC_ORIGINS", value_delimiter = ',')]
    pub public_origins: Vec<String>,

    /// Extra origins the page may connect to (its CSP `connect-src`), beyond its own,
    /// the object store and the OIDC issuer: e.g. an OIDC token endpoint on another
    /// origin than the issuer. Comma-separated.
    #[arg(long, env = "CIPHERDROP_CONNECT_ORIGINS", value_delimiter = ',')]
    pub connect_origins: Vec<String>,

    /// Development login (any user name, no password): on by default only in the local mode.
    #[arg(long, env = "CIPHERDROP_DEV_LOGIN")]
    pub dev_login: Option<bool>,

    /// OIDC issuer whose JWTs are accepted (user = `sub`).
    #[arg(long, env = "CIPHERDROP_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// Audience OIDC tokens must carry (required with --oidc-issuer).
    #[arg(long, env = "CIPHERDROP_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,

    /// OAuth client id of the web page's sign-in (authorization code + PKCE, a public
    /// client registered with the issuer, redirect URI = the page's URL). Default:
    /// the audience.
    #[arg(long, env = "CIPHERDROP_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// JWKS URL (default: discovered from the issuer).
    #[arg(long, env = "CIPHERDROP_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,

    /// File with the server secret (32 bytes) that signs session and upload tokens.
    /// Replicas must share it. Default: created in the data directory in the local
    /// mode; a random one per process otherwise (tokens die with the process).
    #[arg(long, env = "CIPHERDROP_SERVER_SECRET_FILE")]
    pub server_secret_file: Option<PathBuf>,

    /// Lifetime of presigned URLs, in seconds.
    #[arg(long, env = "CIPHERDROP_PRESIGN_EXPIRY", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub presign_expiry: u64,

    /// Lifetime of an upload (its token), in seconds.
    #[arg(long, env = "CIPHERDROP_UPLOAD_TTL", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(60..=604_800))]
    pub upload_ttl: u64,

    /// Largest file accepted, in bytes (plaintext).
    #[arg(long, env = "CIPHERDROP_MAX_OBJECT_SIZE", default_value_t = 1 << 40)]
    pub max_object_size: u64,

    /// Files whose ciphertext is larger than this many bytes are uploaded in parts.
    #[arg(long, env = "CIPHERDROP_MULTIPART_THRESHOLD", default_value_t = 16 << 20)]
    pub multipart_threshold: u64,

    /// Target multipart part size in bytes (at least 5 MiB; rounded to whole chunks).
    #[arg(long, env = "CIPHERDROP_PART_SIZE", default_value_t = cipherdrop_core::sizes::DEFAULT_PART_SIZE)]
    pub part_size: u64,

    /// Default chunk size in bytes (a power of two, 4096 to 16777216).
    #[arg(long, env = "CIPHERDROP_CHUNK_SIZE", default_value_t = ChunkSize::DEFAULT.bytes())]
    pub chunk_size: u64,

    /// Data-key cache (KMS only): seconds a data key is reused; 0 turns the cache off.
    #[arg(long, env = "CIPHERDROP_KEY_CACHE_MAX_AGE", default_value_t = 300)]
    pub key_cache_max_age: u64,

    /// Data-key cache: objects one data key may protect.
    #[arg(
        long,
        env = "CIPHERDROP_KEY_CACHE_MAX_OBJECTS",
        default_value_t = 10_000
    )]
    pub key_cache_max_objects: u64,

    /// Data-key cache: plaintext bytes one data key may protect.
    #[arg(long, env = "CIPHERDROP_KEY_CACHE_MAX_BYTES", default_value_t = 1 << 40)]
    pub key_cache_max_bytes: u64,

    /// Data-key cache: owners cached at once.
    #[arg(long, env = "CIPHERDROP_KEY_CACHE_CAPACITY", default_value_t = 10_000)]
    pub key_cache_capacity: usize,

    /// Log format.
    #[arg(
        long,
        env = "CIPHERDROP_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// Log output format (filter with `RUST_LOG`, default `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl ServeArgs {
    /// Whether the embedded store is used.
    pub fn local_store(&self) -> bool {
        self.backend.local_store()
    }

    /// Whether the development login is on.
    pub fn dev_login_enabled(&self) -> bool {
        self.dev_login.unwrap_or(self.local_store())
    }

    /// The data directory.
    ///
    /// # Errors
    /// When no default can be found (no `HOME`).
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        self.backend.data_dir()
    }

    /// Checks combinations; returns the request limits.
    ///
    /// # Errors
    /// With a message naming the flag to change.
    pub fn validate(&self) -> anyhow::Result<Limits> {
        self.backend.validate()?;
        if self.oidc_issuer.is_some() != self.oidc_audience.is_some() {
            bail!("--oidc-issuer and --oidc-audience go together");
        }
        if self.oidc_client_id.is_some() && self.oidc_issuer.is_none() {
            bail!("--oidc-client-id needs --oidc-issuer");
        }
        if self.oidc_jwks_url.is_some() && self.oidc_issuer.is_none() {
            bail!("--oidc-jwks-url needs --oidc-issuer");
        }
        if !self.dev_login_enabled() && self.oidc_issuer.is_none() {
            bail!(
                "nobody could sign in: set --oidc-issuer/--oidc-audience, or --dev-login true (development only)"
            );
        }
        if let Some(issuer) = &self.oidc_issuer
            && !(issuer.starts_with("https://")
                || issuer.starts_with("http://127.")
                || issuer.starts_with("http://localhost"))
        {
            bail!("--oidc-issuer must be an https:// URL");
        }
        let chunk = ChunkSize::from_u64(self.chunk_size).map_err(|_| {
            anyhow::anyhow!("--chunk-size must be a power of two from 4096 to 16777216")
        })?;
        if self.part_size < cipherdrop_core::sizes::MIN_PART_SIZE
            || self.part_size > cipherdrop_core::sizes::MAX_PART_SIZE
        {
            bail!("--part-size must be from 5 MiB to 5 GiB");
        }
        if self.multipart_threshold > cipherdrop_core::sizes::MAX_PART_SIZE {
            bail!("--multipart-threshold must be at most 5 GiB (the largest single PUT)");
        }
        Ok(Limits {
            max_object_size: self.max_object_size,
            multipart_threshold: self.multipart_threshold,
            part_size: self.part_size,
            default_chunk_size: chunk,
            presign_expiry: Duration::from_secs(self.presign_expiry),
            ..Limits::default()
        })
    }

    /// The data-key cache limits, or `None` when the cache is off.
    pub fn cache_limits(&self) -> Option<CacheLimits> {
        (self.key_cache_max_age > 0).then_some(CacheLimits {
            max_age: Duration::from_secs(self.key_cache_max_age),
            max_objects: self.key_cache_max_objects,
            max_bytes: self.key_cache_max_bytes,
            capacity: self.key_cache_capacity,
        })
    }
}
