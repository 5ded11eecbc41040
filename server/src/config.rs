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

    /// Let --local-s3-listen be a non-loopback address (the embedded store then
    /// takes presigned requests from the network). Off by default.
    #[arg(long, env = "CIPHERDROP_LOCAL_S3_PUBLIC")]
    pub local_s3_public: bool,

    /// Extra origins allowed by the embedded store's CORS (the page's own origin is
    /// always allowed). Comma-separated.
    #[arg(long, env = "CIPHERDROP_PUBLIC_ORIGINS", value_delimiter = ',')]
    pub public_origins: Vec<String>,

    /// Extra origins the page may connect to (its CSP `connect-src`), beyond its own,
    /// the object store and the OIDC issuer: e.g. an OIDC token endpoint on another
    /// origin than the issuer. Comma-separated.
    #[arg(long, env = "CIPHERDROP_CONNECT_ORIGINS", value_delimiter = ',')]
    pub connect_origins: Vec<String>,

    /// Development login (any user name, no password): on by default only in the
    /// local mode with every listener on a loopback address and no OIDC issuer.
    /// `true` anywhere else lets anyone who reaches the server sign in as any user
    /// (a warning at start and on /auth/config says so).
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

    /// JWKS URL (default: discovered from the issuer). https, like the issuer. A key
    /// removed at the issuer stops being accepted within 10 minutes.
    #[arg(long, env = "CIPHERDROP_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,

    /// The token claim that is a user's handle: what others type to share a file
    /// with them [default: email]. A string claim; with `email`, a token whose
    /// `email_verified` is false gives no handle and addresses are compared
    /// lowercased. Users without one can share but not be shared with.
    #[arg(long, env = "CIPHERDROP_OIDC_SHARE_CLAIM", value_name = "CLAIM")]
    pub oidc_share_claim: Option<String>,

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

    /// Longest a share link may live, in days (a link's default is 7 days, or this
    /// when it is shorter).
    #[arg(long, env = "CIPHERDROP_SHARE_MAX_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=365))]
    pub share_max_days: u64,

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

    /// Requests per second each user may make to /api/*, and each client address
    /// to /auth/* and to /api/* without a valid token (sign-in, share links); 0: no
    /// limit. Over it the answer is 429 with Retry-After.
    #[arg(long, env = "CIPHERDROP_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,

    /// Requests a user (or address) may make at once before --rate-limit applies.
    #[arg(long, env = "CIPHERDROP_RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,

    /// A load balancer or reverse proxy (IP address or network, e.g. 10.0.0.0/8)
    /// whose X-Forwarded-For names the client for the per-address rate limit.
    /// Without it the limit is per TCP peer, so behind a proxy all clients share
    /// the proxy's. Repeat or comma-separate for several.
    #[arg(
        long,
        env = "CIPHERDROP_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "ADDR_OR_NET",
        value_parser = crate::rate_limit::parse_trusted_proxy
    )]
    pub trusted_proxy: Vec<ipnet::IpNet>,

    /// Storage quota per user, in bytes of stored (encrypted) files; an upload that
    /// would go over it is refused with 413. No quota by default.
    #[arg(long, env = "CIPHERDROP_QUOTA_BYTES")]
    pub quota_bytes: Option<u64>,

    /// Serve Prometheus `/metrics` on this address (e.g. 127.0.0.1:9090), a
    /// listener of its own. Off by default; the API's listener never serves it.
    #[arg(long, env = "CIPHERDROP_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

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

    /// Whether every listener is on a loopback address (so only this machine can
    /// reach the server).
    pub fn loopback_only(&self) -> bool {
        self.listen.ip().is_loopback()
            && (!self.local_store() || self.local_s3_listen.ip().is_loopback())
    }

    /// Whether the development login is on by default: the local mode, every
    /// listener on loopback, and no OIDC issuer.
    pub fn dev_login_safe(&self) -> bool {
        self.local_store() && self.loopback_only() && self.oidc_issuer.is_none()
    }

    /// Whether the development login is on.
    pub fn dev_login_enabled(&self) -> bool {
        self.dev_login.unwrap_or_else(|| self.dev_login_safe())
    }

    /// The warning to print and publish when the development login is on where it
    /// would not be by default, or `None`.
    pub fn dev_login_warning(&self) -> Option<String> {
        if !self.dev_login_enabled() || self.dev_login_safe() {
            return None;
        }
        let why = if !self.loopback_only() {
            format!(
                "the server listens on {}, not only on loopback",
                self.listen
            )
        } else if self.oidc_issuer.is_some() {
            "an OIDC issuer is configured as well".to_owned()
        } else {
            "the server is not in the local mode".to_owned()
        };
        Some(format!(
            "DEVELOPMENT LOGIN IS ON and {why}: anyone who reaches this server can sign in \
             as any user, with no password, and read that user's files. Use it for \
             development only (--dev-login false turns it off)."
        ))
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
        if let Some(claim) = &self.oidc_share_claim {
            if self.oidc_issuer.is_none() {
                bail!("--oidc-share-claim needs --oidc-issuer");
            }
            if claim.is_empty() || claim.len() > 128 || claim.chars().any(char::is_control) {
                bail!(
                    "--oidc-share-claim must name a token claim (1 to 128 characters, such as \
                     email or preferred_username)"
                );
            }
        }
        if self.local_store() && !self.local_s3_listen.ip().is_loopback() && !self.local_s3_public {
            bail!(
                "--local-s3-listen {} is not a loopback address: the embedded store stays on \
                 this machine unless you also give --local-s3-public",
                self.local_s3_listen
            );
        }
        if !self.dev_login_enabled() && self.oidc_issuer.is_none() {
            if self.local_store() && !self.loopback_only() {
                bail!(
                    "nobody could sign in: the development login is off by default because {} is \
                     not a loopback address. Set --oidc-issuer/--oidc-audience, listen on \
                     127.0.0.1, or give --dev-login true (then anyone who reaches the server \
                     can sign in as any user: development only)",
                    self.listen
                );
            }
            bail!(
                "nobody could sign in: set --oidc-issuer/--oidc-audience, or --dev-login true (development only)"
            );
        }
        for (flag, url) in [
            ("--oidc-issuer", &self.oidc_issuer),
            ("--oidc-jwks-url", &self.oidc_jwks_url),
        ] {
            if let Some(url) = url
                && !crate::auth::oidc_url_allowed(url)
            {
                bail!(
                    "{flag} must be an https:// URL (plain http only to this machine: \
                     127.0.0.1, [::1] or localhost), got {url:?}"
                );
            }
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
            rate_limit_per_second: self.rate_limit,
            rate_limit_burst: self.rate_limit_burst,
            trusted_proxies: self.trusted_proxy.clone(),
            quota_bytes: self.quota_bytes,
            share_max_ttl: Duration::from_secs(self.share_max_days * 86_400),
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

#[cfg(test)]
mod tests {
    use super::ServeArgs;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["serve", "--data-dir", "/nonexistent"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).expect("flags parse").args
    }

    const OIDC: &[&str] = &[
        "--oidc-issuer",
        "https://issuer.example",
        "--oidc-audience",
        "cd",
    ];

    #[test]
    fn dev_login_is_on_by_default_only_on_loopback_without_oidc() {
        for listen in ["127.0.0.1:8080", "[::1]:0", "127.3.4.5:1"] {
            let a = args(&["--listen", listen]);
            assert!(a.dev_login_enabled(), "{listen}");
            assert_eq!(a.dev_login_warning(), None);
            assert!(a.validate().is_ok());
        }
        // A listener beyond loopback: off, and with nothing else nobody could sign in.
        for listen in ["0.0.0.0:8080", "[::]:8080", "192.168.1.5:80"] {
            let a = args(&["--listen", listen]);
            assert!(!a.dev_login_enabled(), "{listen}");
            let e = a.validate().expect_err("nobody could sign in").to_string();
            assert!(e.contains("not a loopback address"), "{e}");
            assert!(e.contains("--dev-login true"), "{e}");
        }
        // An OIDC issuer: off.
        let mut with_oidc = vec!["--listen", "127.0.0.1:0"];
        with_oidc.extend_from_slice(OIDC);
        let a = args(&with_oidc);
        assert!(!a.dev_login_enabled());
        assert!(a.validate().is_ok());
        // The AWS mode: off (as before).
        let a = args(&["--bucket", "b"]);
        assert!(!a.dev_login_enabled());
        // The embedded store beyond loopback (opted in): off.
        let a = args(&["--local-s3-listen", "0.0.0.0:0", "--local-s3-public"]);
        assert!(!a.dev_login_enabled());
    }

    #[test]
    fn dev_login_forced_beyond_loopback_warns() {
        let a = args(&["--listen", "0.0.0.0:8080", "--dev-login", "true"]);
        assert!(a.dev_login_enabled());
        assert!(a.validate().is_ok());
        let w = a.dev_login_warning().expect("a warning");
        assert!(
            w.contains("DEVELOPMENT LOGIN IS ON") && w.contains("0.0.0.0:8080"),
            "{w}"
        );

        let mut with_oidc = vec!["--dev-login", "true"];
        with_oidc.extend_from_slice(OIDC);
        let w = args(&with_oidc).dev_login_warning().expect("a warning");
        assert!(w.contains("OIDC"), "{w}");

        let w = args(&["--bucket", "b", "--dev-login", "true"])
            .dev_login_warning()
            .expect("a warning");
        assert!(w.contains("local mode"), "{w}");

        // Asked for where it is the default anyway: no warning.
        assert_eq!(args(&["--dev-login", "true"]).dev_login_warning(), None);
        // Turned off: no warning.
        let a = args(&["--listen", "0.0.0.0:1", "--dev-login", "false"]);
        assert_eq!(a.dev_login_warning(), None);
    }

    #[test]
    fn oidc_urls_are_https_or_this_machine() {
        for (flag, url) in [
            ("--oidc-issuer", "http://127.evil.example"),
            ("--oidc-issuer", "http://localhost.evil.example"),
            ("--oidc-issuer", "http://issuer.example"),
            ("--oidc-jwks-url", "http://keys.example/jwks"),
        ] {
            let mut argv = vec![flag, url];
            if flag != "--oidc-issuer" {
                argv.extend(["--oidc-issuer", "https://issuer.example"]);
            }
            argv.extend(["--oidc-audience", "cd"]);
            let e = args(&argv).validate().expect_err(url).to_string();
            assert!(e.contains(flag), "{e}");
        }
        let mut ok = vec!["--oidc-issuer", "http://127.0.0.1:9000/realms/x"];
        ok.extend([
            "--oidc-audience",
            "cd",
            "--oidc-jwks-url",
            "http://[::1]:9000/k",
        ]);
        assert!(args(&ok).validate().is_ok());
    }

    #[test]
    fn the_share_claim_goes_with_an_issuer() {
        let e = args(&["--oidc-share-claim", "preferred_username"])
            .validate()
            .expect_err("without an issuer")
            .to_string();
        assert!(e.contains("--oidc-share-claim needs --oidc-issuer"), "{e}");
        let with = |claim: &'static str| {
            let mut argv = vec!["--oidc-share-claim", claim];
            argv.extend_from_slice(OIDC);
            args(&argv).validate()
        };
        assert!(with("preferred_username").is_ok());
        assert!(with("").is_err());
    }

    #[test]
    fn embedded_store_stays_on_loopback_unless_opted_out() {
        let e = args(&["--local-s3-listen", "0.0.0.0:9000"])
            .validate()
            .expect_err("refused")
            .to_string();
        assert!(e.contains("--local-s3-public"), "{e}");
        let a = args(&[
            "--local-s3-listen",
            "0.0.0.0:9000",
            "--local-s3-public",
            "--dev-login",
            "true",
        ]);
        assert!(a.validate().is_ok());
        assert!(a.dev_login_warning().is_some());
        // Only the local mode has an embedded store.
        assert!(
            args(&[
                "--bucket",
                "b",
                "--local-s3-listen",
                "0.0.0.0:9000",
                "--dev-login",
                "true"
            ])
            .validate()
            .is_ok()
        );
    }
}
