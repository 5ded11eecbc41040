//! Building the running server from [`ServeArgs`]: local mode (embedded store,
//! local keyring, development login) or AWS mode (S3, KMS), same code paths.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region, SharedCredentialsProvider};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{Authenticator, OidcSettings};
use crate::config::{BackendArgs, ServeArgs, SseArg};
use crate::embedded::{self, EmbeddedStore};
use crate::keys::KeyService;
use crate::keys::cache::CachingKeyService;
use crate::keys::kms::KmsKeyService;
use crate::keys::local::LocalKeyService;
use crate::keys::recovery::WithRecovery;
use crate::state::AppState;
use crate::store::{ObjectStore, S3Store, ServerSideEncryptionMode, SseCustomerKey};
use crate::upload_token::UploadTokens;

/// Length of the server secret.
pub const SERVER_SECRET_LEN: usize = 32;

/// A server ready to run.
#[derive(Debug)]
pub struct Prepared {
    /// The state for [`crate::run`].
    pub state: Arc<AppState>,
    /// The bound API listener.
    pub listener: TcpListener,
    /// Its address.
    pub addr: SocketAddr,
    /// The embedded store, in the local mode.
    pub embedded: Option<EmbeddedStore>,
    /// Which key service is in use ("raw-aes", "aws-kms").
    pub key_provider: String,
    /// Where `/metrics` is served (`--metrics-listen`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
}

impl Prepared {
    /// The URL to open.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// A future that resolves when `rx` sees `true` (or its sender is gone).
pub async fn shutdown_signal(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            break;
        }
    }
}

fn local_credentials(access_key: &str, secret_key: &str) -> Credentials {
    Credentials::new(access_key, secret_key, None, None, "cipherdrop-local")
}

/// An S3 client for the embedded store at `endpoint` with its static credentials.
pub fn local_s3_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(local_credentials(access_key, secret_key))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The store and key service `serve` and `rotate` share.
#[derive(Debug)]
pub struct Backend {
    /// The object store (S3, moto or the embedded store).
    pub s3: S3Store,
    /// The embedded store, in the local mode.
    pub embedded: Option<EmbeddedStore>,
    /// The key service (with the recovery recipient, when configured).
    pub keys: Arc<dyn KeyService>,
    /// Origins the page's browser sends ciphertext to (for its CSP).
    pub store_origins: Vec<String>,
}

/// How [`open_backend`] sets up what only one command needs.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// Where the embedded store listens (local mode).
    pub local_s3_listen: SocketAddr,
    /// Origins the embedded store allows by CORS.
    pub origins: Vec<String>,
    /// The data-key cache in front of KMS, if any.
    pub cache: Option<crate::keys::cache::CacheLimits>,
    /// Whether to log that new objects are wrapped to the recovery recipient.
    pub announce_recovery: bool,
}

/// Opens the object store (starting the embedded one in the local mode, until
/// `shutdown` turns `true`) and the key service from `args`.
///
/// # Errors
/// When a listener, file or service cannot be set up.
pub async fn open_backend(
    args: &BackendArgs,
    options: &BackendOptions,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Backend> {
    let data_dir = args.data_dir()?;
    let origins = &options.origins;
    let sse = match args.sse {
        SseArg::None => ServerSideEncryptionMode::None,
        SseArg::Aes256 => ServerSideEncryptionMode::Aes256,
        SseArg::AwsKms => ServerSideEncryptionMode::AwsKms {
            key_id: args.sse_kms_key_id.clone(),
        },
        SseArg::SseC => {
            let path = args
                .sse_c_key_file
                .as_ref()
                .context("--sse sse-c needs --sse-c-key-file")?;
            let bytes = crate::secret_file::load_exact(path, 32)?;
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            ServerSideEncryptionMode::CustomerKey(SseCustomerKey::new(&key))
        }
    };

    // AWS configuration only when something AWS is asked for (the local mode must
    // not wait on credential lookups).
    let needs_aws = args.bucket.is_some() || args.kms_key_id.is_some();
    let sdk = if needs_aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &args.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &args.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        // An unresponsive S3 or KMS must not hold requests until the request
        // timeout: each call gets its own deadline, inside REQUEST_TIMEOUT, and a
        // timeout reaches the caller as a retryable 503.
        loader = loader.timeout_config(aws_timeouts());
        Some(loader.load().await)
    } else {
        None
    };

    // Where the page's browser sends ciphertext: allowed by the page's CSP.
    let mut store_origins = Vec::new();
    let (store, embedded): (S3Store, Option<EmbeddedStore>) = match (&args.bucket, &sdk) {
        (Some(bucket), Some(sdk)) => {
            let s3 = aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(args.force_path_style || args.endpoint_url.is_some())
                .build();
            let client = aws_sdk_s3::Client::from_conf(s3);
            store_origins.push(match &args.endpoint_url {
                Some(url) => url_origin(url).context("bad --endpoint-url")?,
                // Virtual-hosted and path-style S3 URLs are all under amazonaws.com.
                None => "https://*.amazonaws.com".to_owned(),
            });
            let mut store = S3Store::new(client, bucket.clone(), sse);
            if let Some(provider) = sdk.credentials_provider() {
                store = store.with_presigning_credentials(provider);
            }
            (store, None)
        }
        _ => {
            let s3_listener = TcpListener::bind(options.local_s3_listen)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on {} for the local store",
                        options.local_s3_listen
                    )
                })?;
            let root: PathBuf = data_dir.join("objects");
            let running = embedded::start(
                &root,
                s3_listener,
                origins,
                shutdown_signal(shutdown.clone()),
            )?;
            store_origins.push(running.endpoint_url());
            let client = local_s3_client(
                &running.endpoint_url(),
                &running.credentials.access_key,
                &running.credentials.secret_key,
            );
            let credentials = SharedCredentialsProvider::new(local_credentials(
                &running.credentials.access_key,
                &running.credentials.secret_key,
            ));
            (
                S3Store::new(client, embedded::LOCAL_BUCKET, sse)
                    .with_presigning_credentials(credentials),
                Some(running),
            )
        }
    };

    let keys: Arc<dyn KeyService> = match (&args.kms_key_id, &sdk) {
        (Some(key_id), Some(sdk)) => {
            let kms_conf = aws_sdk_kms::config::Builder::from(sdk)
                .timeout_config(kms_timeouts())
                .build();
            let kms = KmsKeyService::new(aws_sdk_kms::Client::from_conf(kms_conf), key_id.clone())
                .with_previous_keys(args.kms_previous_key_id.clone());
            match options.cache {
                Some(limits) => Arc::new(CachingKeyService::new(kms, limits)),
                None => Arc::new(kms),
            }
        }
        _ => Arc::new(LocalKeyService::load_dir(&data_dir)?),
    };
    let keys: Arc<dyn KeyService> = match args.recovery_recipient {
        Some(recipient) => {
            if options.announce_recovery {
                tracing::warn!(
                %recipient,
                "every new object is also wrapped to the recovery recipient: its private key \
                 opens them without this server or KMS (crypto-shredding no longer covers them)"
                );
            }
            Arc::new(WithRecovery::new(keys, recipient))
        }
        None => keys,
    };

    Ok(Backend {
        s3: store,
        embedded,
        keys,
        store_origins,
    })
}

/// Binds listeners, opens or creates the data directory's secrets, starts the
/// embedded store when needed and builds the state. Everything started stops when
/// `shutdown` turns `true`.
///
/// # Errors
/// On bad configuration or when a listener, file or service cannot be set up.
pub async fn prepare(
    args: &ServeArgs,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Prepared> {
    let limits = args.validate()?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let data_dir = args.data_dir()?;

    // The page's origins, for the embedded store's CORS.
    let mut origins = vec![format!("http://{addr}")];
    if addr.ip().is_loopback() {
        origins.push(format!("http://localhost:{}", addr.port()));
    }
    origins.extend(args.public_origins.iter().cloned());

    let Backend {
        s3,
        embedded,
        keys,
        mut store_origins,
    } = open_backend(
        &args.backend,
        &BackendOptions {
            local_s3_listen: args.local_s3_listen,
            origins,
            cache: args.cache_limits(),
            announce_recovery: true,
        },
        shutdown.clone(),
    )
    .await?;
    let store: Arc<dyn ObjectStore> = Arc::new(s3);

    let secret = match (&args.server_secret_file, embedded.is_some()) {
        (Some(path), _) => crate::secret_file::load_exact(path, SERVER_SECRET_LEN)?,
        (None, true) => {
            crate::secret_file::load_or_create(&data_dir.join("server.secret"), SERVER_SECRET_LEN)?
        }
        (None, false) => {
            tracing::warn!(
                "no --server-secret-file: tokens are signed with a random per-process secret; \
                 replicas will not accept each other's tokens and a restart signs everyone out"
            );
            let mut s = zeroize::Zeroizing::new(vec![0u8; SERVER_SECRET_LEN]);
            getrandom::fill(&mut s).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            s
        }
    };

    // The page signs in against the issuer from the browser (discovery, token
    // exchange): its origin, and any extra ones named, are allowed by the CSP too.
    if let Some(issuer) = &args.oidc_issuer {
        store_origins.push(url_origin(issuer).context("bad --oidc-issuer")?);
    }
    for origin in &args.connect_origins {
        store_origins.push(url_origin(origin).context("bad --connect-origins")?);
    }
    let oidc = match (&args.oidc_issuer, &args.oidc_audience) {
        (Some(issuer), Some(audience)) => Some(OidcSettings {
            issuer: issuer.clone(),
            audience: audience.clone(),
            client_id: args
                .oidc_client_id
                .clone()
                .unwrap_or_else(|| audience.clone()),
            jwks_url: args.oidc_jwks_url.clone(),
            share_claim: args
                .oidc_share_claim
                .clone()
                .unwrap_or_else(|| crate::auth::DEFAULT_SHARE_CLAIM.to_owned()),
        }),
        _ => None,
    };
    let web_dir = match &args.web_dir {
        Some(d) => {
            anyhow::ensure!(d.is_dir(), "--web-dir {} is not a directory", d.display());
            Some(d.clone())
        }
        None => Some(PathBuf::from("web/dist")).filter(|d| d.join("index.html").is_file()),
    };
    let key_provider = keys.provider_id().to_owned();
    let dev_login_warning = args.dev_login_warning();
    if let Some(warning) = &dev_login_warning {
        tracing::warn!("{warning}");
        eprintln!("\n*** WARNING: {warning} ***\n");
    }
    let state = Arc::new(AppState {
        auth: Authenticator::new(args.dev_login_enabled(), &secret, oidc)
            .with_dev_login_warning(dev_login_warning),
        keys,
        store,
        uploads: UploadTokens::new(&secret, Duration::from_secs(args.upload_ttl)),
        limits,
        web_dir,
        store_origins,
    });
    let metrics_addr = match args.metrics_listen {
        Some(at) => {
            let metrics = TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} for /metrics"))?;
            let metrics_addr = metrics.local_addr()?;
            let app = crate::routes::metrics_routes(Arc::clone(&state));
            let stop = shutdown_signal(shutdown.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics, app).with_graceful_shutdown(stop).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
            Some(metrics_addr)
        }
        None => None,
    };
    Ok(Prepared {
        state,
        listener,
        addr,
        embedded,
        key_provider,
        metrics_addr,
    })
}

/// `cipherdrop serve`: prepare, print the URL, serve until Ctrl-C or SIGTERM.
///
/// # Errors
/// When preparing or serving fails.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (tx, rx) = watch::channel(false);
    let prepared = prepare(&args, rx.clone()).await?;
    let mode = if prepared.embedded.is_some() {
        "local"
    } else {
        "aws"
    };
    tracing::info!(
        addr = %prepared.addr,
        mode,
        key_provider = %prepared.key_provider,
        dev_login = prepared.state.auth.dev_login_enabled(),
        local_store = prepared.embedded.as_ref().map(|e| e.addr.to_string()),
        metrics = prepared.metrics_addr.map(|a| a.to_string()),
        "cipherdrop is serving"
    );
    println!("CipherDrop is running at {}", prepared.url());
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    crate::run(prepared.listener, prepared.state, shutdown_signal(rx)).await?;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Deadlines for S3 calls: connect quickly, and finish inside the API's request
/// timeout (a large CompleteMultipartUpload may take many seconds on S3).
fn aws_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_timeout(crate::REQUEST_TIMEOUT - Duration::from_secs(5))
        .build()
}

/// Deadlines for KMS calls, which are small: a KMS that does not answer within
/// seconds is treated as unavailable (503) instead of holding the request.
fn kms_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build()
}

/// `scheme://host[:port]` of a URL, for the page's CSP.
fn url_origin(url: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("{url} is not a URL (expected http(s)://host[:port])"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    anyhow::ensure!(
        matches!(scheme, "http" | "https")
            && !host.is_empty()
            && !host.contains(['@', ' ', ';', '\'']),
        "{url} is not an http(s) URL with a host"
    );
    Ok(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::url_origin;

    #[test]
    fn endpoint_origins() {
        assert_eq!(
            url_origin("http://127.0.0.1:5000").ok().as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            url_origin("https://s3.example.com/some/path?x=1")
                .ok()
                .as_deref(),
            Some("https://s3.example.com")
        );
        assert!(url_origin("ftp://x").is_err());
        assert!(url_origin("http://a b").is_err());
        assert!(url_origin("nonsense").is_err());
    }
}
