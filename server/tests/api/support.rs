//! Test harness: the real server on port 0, in the local mode or against moto
//! (S3 + KMS), an HTTP client, an OIDC issuer, and real encryption with crypto-core.

#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use cipherdrop_core::{EncryptionContext, Header, ObjectKeys, Opener, Sealer, WrappedKey};
use cipherdrop_server::auth::Authenticator;
use cipherdrop_server::config::ServeArgs;
use cipherdrop_server::keys::KeyService;
use cipherdrop_server::keys::cache::{CacheLimits, CachingKeyService};
use cipherdrop_server::keys::kms::KmsKeyService;
use cipherdrop_server::serve::{prepare, shutdown_signal};
use cipherdrop_server::state::{AppState, Limits};
use cipherdrop_server::store::{S3Store, ServerSideEncryptionMode};
use cipherdrop_server::upload_token::UploadTokens;
use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::watch;

/// Part size used by tests: the 5 MiB minimum, so 3 parts need only ~11 MiB.
pub const TEST_PART_SIZE: u64 = 5 * 1024 * 1024;

#[derive(Parser)]
struct ServeCli {
    #[command(flatten)]
    args: ServeArgs,
}

/// `cipherdrop serve` flags (`argv[0]` is "serve") as `ServeArgs`.
pub fn serve_args(argv: &[&str]) -> ServeArgs {
    ServeCli::try_parse_from(argv).unwrap().args
}

/// Which backend a server runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded s3s-fs + local keyring.
    Local,
    /// moto as S3 and KMS.
    Moto,
}

/// A running server; stops (and stops moto) when dropped.
pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub state: Arc<AppState>,
    pub backend: Backend,
    /// Where `/metrics` is served (`--metrics-listen`).
    pub metrics: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
    pub moto: Option<Moto>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Logs to the test output, filtered by `RUST_LOG` (nothing by default) and, as
/// `cipherdrop serve` does, by the secret guard.
fn init_logs() {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::FilterExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::from_default_env()
        .and(cipherdrop_server::logging::secret_guard());
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(filter),
        )
        .try_init();
}

fn http_client() -> reqwest::Client {
    init_logs();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

impl TestServer {
    /// The local mode, as `cipherdrop serve` builds it, plus `extra` flags.
    pub async fn local(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let part_size = TEST_PART_SIZE.to_string();
        let mut argv = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--part-size",
            &part_size,
        ];
        argv.extend_from_slice(extra);
        let args = ServeCli::try_parse_from(argv).unwrap().args;
        let (tx, rx) = watch::channel(false);
        let prepared = prepare(&args, rx.clone()).await.unwrap();
        let base = format!("http://{}", prepared.addr);
        let metrics = prepared.metrics_addr;
        let state = Arc::clone(&prepared.state);
        tokio::spawn(cipherdrop_server::run(
            prepared.listener,
            prepared.state,
            shutdown_signal(rx),
        ));
        Self {
            base,
            http: http_client(),
            state,
            backend: Backend::Local,
            metrics,
            shutdown: tx,
            _dir: dir,
            moto: None,
        }
    }

    /// Against moto as S3 and KMS (KMS behind the data-key cache), or `None` when
    /// moto is not installed outside CI.
    pub async fn moto() -> Option<Self> {
        let moto = Moto::start()?;
        let keys = moto.kms_key_service().await;
        Some(Self::with_parts(Some(moto), keys, None).await)
    }

    /// A server over moto's S3 with the given key service (moto must be given).
    pub async fn with_parts(
        moto: Option<Moto>,
        keys: Arc<dyn KeyService>,
        oidc: Option<cipherdrop_server::auth::OidcSettings>,
    ) -> Self {
        let moto = match moto {
            Some(m) => m,
            None => Moto::start().expect("moto_server is needed"),
        };
        let dir = tempfile::tempdir().unwrap();
        let secret = [42u8; 32];
        let state = Arc::new(AppState {
            auth: Authenticator::new(true, &secret, oidc),
            keys,
            store: Arc::new(S3Store::new(
                moto.s3_client(),
                moto.bucket.clone(),
                ServerSideEncryptionMode::None,
            )),
            uploads: UploadTokens::new(&secret, Duration::from_secs(3600)),
            limits: Limits {
                part_size: TEST_PART_SIZE,
                ..Limits::default()
            },
            web_dir: None,
            store_origins: Vec::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = watch::channel(false);
        tokio::spawn(cipherdrop_server::run(
            listener,
            Arc::clone(&state),
            shutdown_signal(rx),
        ));
        Self {
            base,
            http: http_client(),
            state,
            backend: Backend::Moto,
            metrics: None,
            shutdown: tx,
            _dir: dir,
            moto: Some(moto),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs in through the development login.
    pub async fn login(&self, user: &str) -> String {
        let (status, body) = self
            .post("/auth/dev-login", None, &json!({ "user": user }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    /// `POST /api/uploads` as a freshly signed-in user.
    pub async fn post_as_new_user(&self, body: &Value) -> (StatusCode, Value) {
        let t = self.login("someone").await;
        self.post("/api/uploads", Some(&t), body).await
    }

    /// Starts an upload and checks it was accepted.
    pub async fn start_upload(&self, token: &str, body: &Value) -> Value {
        let (status, started) = self.post("/api/uploads", Some(token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{started}");
        started
    }

    /// Encrypts `plaintext` as the browser would, sends it where `started` says
    /// (single PUT or every part), and completes the upload. Returns the ciphertext.
    pub async fn upload(&self, token: &str, started: &Value, plaintext: &[u8]) -> Vec<u8> {
        let ciphertext = encrypt(started, plaintext);
        assert_eq!(
            ciphertext.len() as u64,
            started["ciphertext_length"].as_u64().unwrap()
        );
        let object_id = started["object_id"].as_str().unwrap();
        let upload_token = started["upload_token"].as_str().unwrap();
        let parts_json = match started["upload"]["kind"].as_str().unwrap() {
            "single" => {
                let status = send_presigned(
                    &self.http,
                    &started["upload"]["request"],
                    ciphertext.clone(),
                )
                .await
                .0;
                assert_eq!(status, StatusCode::OK);
                json!([])
            }
            "multipart" => {
                // Sign every part through the API, 100 at a time (as the client
                // does for the parts the start answer did not sign).
                let count = started["upload"]["part_count"].as_u64().unwrap();
                let mut done = Vec::new();
                let all: Vec<u64> = (1..=count).collect();
                for numbers in all.chunks(100) {
                    let (status, signed) = self
                        .post(
                            &format!("/api/uploads/{object_id}/parts"),
                            Some(token),
                            &json!({ "upload_token": upload_token, "part_numbers": numbers }),
                        )
                        .await;
                    assert_eq!(status, StatusCode::OK, "{signed}");
                    for p in signed["parts"].as_array().unwrap() {
                        let off = usize::try_from(p["offset"].as_u64().unwrap()).unwrap();
                        let len = usize::try_from(p["length"].as_u64().unwrap()).unwrap();
                        let (status, etag) = send_presigned(
                            &self.http,
                            &p["request"],
                            ciphertext[off..off + len].to_vec(),
                        )
                        .await;
                        assert_eq!(status, StatusCode::OK);
                        done.push(
                            json!({ "part_number": p["part_number"], "etag": etag.unwrap() }),
                        );
                    }
                }
                Value::Array(done)
            }
            other => panic!("unknown upload kind {other}"),
        };
        let (status, info) = self
            .post(
                &format!("/api/uploads/{object_id}/complete"),
                Some(token),
                &json!({ "upload_token": upload_token, "parts": parts_json }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{info}");
        assert_eq!(info["size"].as_u64().unwrap(), ciphertext.len() as u64);
        {
            // A repeated "complete" (the browser retries when the answer is lost)
            // finds the upload gone (or its record "completed") and the object
            // there: the same answer.
            let (status, again) = self
                .post(
                    &format!("/api/uploads/{object_id}/complete"),
                    Some(token),
                    &json!({ "upload_token": upload_token, "parts": parts_json }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{again}");
            assert_eq!(again, info);
        }
        ciphertext
    }

    /// Downloads an object through its presigned GET.
    pub async fn download(&self, token: &str, object_id: &str) -> Vec<u8> {
        let (status, dl) = self
            .get(&format!("/api/objects/{object_id}/download"), Some(token))
            .await;
        assert_eq!(status, StatusCode::OK, "{dl}");
        let req = &dl["request"];
        let mut r = self.http.get(req["url"].as_str().unwrap());
        for (k, v) in req["headers"].as_object().unwrap() {
            r = r.header(k, v.as_str().unwrap());
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.unwrap().to_vec()
    }

    /// Asks the server for the keys of `ciphertext`'s object (sending its
    /// header, as the browser does) and decrypts it with them alone.
    pub async fn decrypt(&self, token: &str, object_id: &str, ciphertext: &[u8]) -> Vec<u8> {
        let header = Header::parse(ciphertext).unwrap();
        let (status, key) = self.object_keys(token, object_id, header.as_bytes()).await;
        assert_eq!(status, StatusCode::OK, "{key}");
        let keys = object_keys_from(&key["object_keys"]);
        let expected = context_from(&key["encryption_context"]);
        let body_start = header.len();
        let opener = Opener::with_object_keys(header, &keys, &expected).unwrap();
        let mut stream = opener.into_stream();
        let mut out = Vec::new();
        stream.push(&ciphertext[body_start..], &mut out).unwrap();
        stream.finish(&mut out).unwrap();
        out
    }

    /// `POST /api/objects/{object_id}/keys` with `header`.
    pub async fn object_keys(
        &self,
        token: &str,
        object_id: &str,
        header: &[u8],
    ) -> (StatusCode, Value) {
        self.post(
            &format!("/api/objects/{object_id}/keys"),
            Some(token),
            &json!({ "header": B64.encode(header) }),
        )
        .await
    }
}

async fn read(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, body)
}

/// Sends `body` with a presigned request from the API; returns the status and ETag.
pub async fn send_presigned(
    http: &reqwest::Client,
    req: &Value,
    body: Vec<u8>,
) -> (StatusCode, Option<String>) {
    let method = reqwest::Method::from_bytes(req["method"].as_str().unwrap().as_bytes()).unwrap();
    let mut r = http
        .request(method, req["url"].as_str().unwrap())
        .body(body);
    for (k, v) in req["headers"].as_object().unwrap() {
        r = r.header(k, v.as_str().unwrap());
    }
    let resp = r.send().await.unwrap();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status(), etag)
}

/// Sends a presigned `GET` from the API; returns the body (asserting 200).
pub async fn send_presigned_get(http: &reqwest::Client, req: &Value) -> Vec<u8> {
    assert_eq!(req["method"], "GET", "{req}");
    let mut r = http.get(req["url"].as_str().unwrap());
    for (k, v) in req["headers"].as_object().unwrap() {
        r = r.header(k, v.as_str().unwrap());
    }
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes().await.unwrap().to_vec()
}

pub fn wrapped_json(w: &WrappedKey) -> Value {
    json!({
        "provider_id": w.provider_id,
        "provider_info": B64.encode(&w.provider_info),
        "blob": B64.encode(&w.blob),
    })
}

pub fn context_from(v: &Value) -> EncryptionContext {
    let mut ctx = EncryptionContext::new();
    for (k, v) in v.as_object().unwrap() {
        ctx.insert(k.clone(), v.as_str().unwrap()).unwrap();
    }
    ctx
}

/// The `object_keys` of an API answer.
pub fn object_keys_from(v: &Value) -> ObjectKeys {
    let key = |name: &str| -> [u8; 32] {
        B64.decode(v[name].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    ObjectKeys::from_bytes(key("content_key"), key("header_key"))
}

/// The `header` of an API answer, parsed (exactly `header_length` bytes).
pub fn header_from(answer: &Value) -> Header {
    let bytes = B64.decode(answer["header"].as_str().unwrap()).unwrap();
    assert_eq!(
        bytes.len() as u64,
        answer["header_length"].as_u64().unwrap()
    );
    let header = Header::parse(&bytes).unwrap();
    assert_eq!(header.len(), bytes.len());
    header
}

/// Encrypts `plaintext` with what "start upload" returned, as the browser does:
/// the server's header and the object's keys (the tag is checked), no data key.
pub fn encrypt(started: &Value, plaintext: &[u8]) -> Vec<u8> {
    let header = header_from(started);
    assert_eq!(
        header.context(),
        &context_from(&started["encryption_context"])
    );
    let keys = object_keys_from(&started["object_keys"]);
    let sealer = Sealer::with_object_keys(header, &keys).unwrap();
    let mut stream = sealer.into_stream();
    let mut out = Vec::with_capacity(plaintext.len() + 4096);
    stream.push(plaintext, &mut out).unwrap();
    stream.finish(&mut out).unwrap();
    out
}

/// Deterministic test bytes.
pub fn test_bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i % 251).to_le_bytes()[0]
                .wrapping_mul(31)
                .wrapping_add(seed)
        })
        .collect()
}

/// A free loopback port (bound and released; moto binds it right after).
fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `moto_server` child process on loopback, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> Option<String> {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("moto_server"))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

impl Moto {
    /// Starts moto; `None` when it is not installed and this is not CI (in CI a
    /// missing moto fails the test).
    pub fn start() -> Option<Self> {
        let Some(bin) = moto_binary() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto_server not found: pip install 'moto[server]' (or set MOTO_SERVER)"
            );
            eprintln!("SKIPPED: moto_server not found (pip install 'moto[server]')");
            return None;
        };
        for _attempt in 0..3 {
            let port = free_port();
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("moto_server starts");
            let mut moto = Self {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket: "cipherdrop-test".to_owned(),
            };
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if matches!(moto.child.try_wait(), Ok(Some(_))) {
                    break; // exited (port taken?): try another port
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Some(moto);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = moto.child.kill();
        }
        panic!("moto_server did not start");
    }

    fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                Credentials::new("testing", "testing", None, None, "moto"),
            ))
            .endpoint_url(&self.endpoint)
            .build()
    }

    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk_config())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn kms_client(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk_config())
    }

    /// Creates the bucket (idempotent) and a new KMS key; returns the key id.
    pub async fn setup(&self) -> String {
        let _ = self
            .s3_client()
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await;
        let key = self.kms_client().create_key().send().await.unwrap();
        key.key_metadata().unwrap().key_id().to_owned()
    }

    /// The KMS key service (behind the cache) over a fresh key.
    pub async fn kms_key_service(&self) -> Arc<dyn KeyService> {
        let key_id = self.setup().await;
        Arc::new(CachingKeyService::new(
            KmsKeyService::new(self.kms_client(), key_id),
            CacheLimits::default(),
        ))
    }
}

/// An OIDC issuer on loopback: discovery + JWKS with one Ed25519 key.
pub struct Issuer {
    pub url: String,
    pkcs8: Vec<u8>,
    shutdown: watch::Sender<bool>,
    /// How many times its JWKS was fetched.
    pub jwks_fetches: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

pub const ISSUER_KID: &str = "test-key-1";

fn ed25519_pkcs8() -> Vec<u8> {
    use aws_lc_rs::signature::Ed25519KeyPair;
    Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .unwrap()
        .as_ref()
        .to_vec()
}

impl Issuer {
    pub async fn start() -> Self {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
        let pkcs8 = ed25519_pkcs8();
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        let x = B64URL.encode(pair.public_key().as_ref());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": ISSUER_KID, "alg": "EdDSA", "use": "sig"}]});
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks.json")});
        let jwks_fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&jwks_fetches);
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/jwks.json",
                axum::routing::get(move || async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // A slow issuer, so concurrent sign-ins overlap its fetch.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    axum::Json(jwks)
                }),
            );
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal(rx))
                .await;
        });
        Self {
            url,
            pkcs8,
            shutdown: tx,
            jwks_fetches,
        }
    }

    /// A token with these claims (`iss` added) under key id `kid`, signed by this
    /// issuer's key.
    pub fn signed(&self, mut claims: Value, kid: &str) -> String {
        claims["iss"] = json!(self.url);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&self.pkcs8),
        )
        .unwrap()
    }

    /// A token signed by this issuer's key (or, with `foreign_key`, by another key
    /// under the same `kid`).
    pub fn token(&self, sub: &str, aud: &str, exp_offset: i64, foreign_key: bool) -> String {
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        let claims =
            json!({"iss": self.url, "aud": aud, "sub": sub, "iat": now, "exp": now + exp_offset});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(ISSUER_KID.to_owned());
        let der = if foreign_key {
            ed25519_pkcs8()
        } else {
            self.pkcs8.clone()
        };
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&der),
        )
        .unwrap()
    }
}
