//! A simulated user: signs in with the development login, encrypts with crypto-core
//! exactly as the browser does (the data key, context and wrapped key the API
//! returns; parts cut by `Layout::plan_parts`), uploads through the presigned
//! requests, downloads, decrypts and compares SHA-256, lists and deletes — retrying
//! with backoff whatever is retryable, and recording every failure it sees.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cipherdrop_core::{Header, ObjectKeys, Opener, Part, Sealer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::support::context_from;

/// An operation gives up after retrying this long (longer than any injected fault).
const GIVE_UP_AFTER: Duration = Duration::from_secs(90);
/// Files a user keeps; older (verified) ones are deleted, so moto's memory stays bounded.
const KEEP_FILES: usize = 3;

/// Everything the users saw, shared by all of them.
#[derive(Debug, Default)]
pub struct Stats {
    pub uploads: BTreeMap<&'static str, u64>,
    pub downloads: u64,
    pub deletes: u64,
    pub lists: u64,
    pub bytes_uploaded: u64,
    pub bytes_verified: u64,
    /// Retries per operation.
    pub retries: BTreeMap<&'static str, u64>,
    /// Failures seen, by operation and kind ("data_key 503 key_service_unavailable").
    pub errors: BTreeMap<String, u64>,
    /// When API requests failed below HTTP (checked against the restart window).
    pub transport_errors: Vec<(Instant, String)>,
    /// Failures that are not a clear, retryable error, or wrong results.
    pub unexpected: Vec<String>,
    /// Ambiguities resolved by checking (e.g. a retried `complete` whose first try
    /// had completed the upload).
    pub resolved: BTreeMap<&'static str, u64>,
    pub gave_up: u64,
    pub aborted: u64,
    /// Multipart starts cut after the request reached the server (a crash there can
    /// leave a multipart upload whose id nobody was told).
    pub multipart_starts_cut: u64,
    /// Every object id a client was given.
    pub known_ids: BTreeSet<String>,
    /// Objects whose upload was reported complete, and objects that were downloaded,
    /// decrypted and matched their SHA-256 at least once.
    pub completed_ids: BTreeSet<String>,
    pub verified_ids: BTreeSet<String>,
    /// Every API request (not the presigned S3 ones): when its answer came (or its
    /// transport failed), and the HTTP status (0: no HTTP answer).
    pub api_calls: Vec<(Instant, u16)>,
    /// Operations that failed at least once and then succeeded by retrying.
    pub recoveries: Vec<Recovery>,
}

/// An operation that succeeded after retrying.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub op: &'static str,
    /// When its first try failed.
    pub first_failure: Instant,
    pub retries: u32,
    /// From the first failure to the success.
    pub took: Duration,
}

/// What the clients share.
#[derive(Debug)]
pub struct Shared {
    pub http: reqwest::Client,
    pub base: String,
    pub part_size: u64,
    pub stats: Mutex<Stats>,
}

impl Shared {
    pub fn new(base: String, part_size: u64) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Self {
            http,
            base,
            part_size,
            stats: Mutex::new(Stats::default()),
        }
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap()
    }

    fn unexpected(&self, what: String) {
        eprintln!("soak: UNEXPECTED {what}");
        self.stats().unexpected.push(what);
    }
}

/// Why one attempt failed.
#[derive(Debug)]
pub enum Failure {
    /// A clear, retryable error: try again after a pause.
    Retry(String),
    /// Anything else.
    Fatal(String),
}

/// A file the user believes is stored.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub id: String,
    pub sha256: [u8; 32],
    pub plaintext_len: u64,
    pub ciphertext_len: u64,
    pub name: String,
    pub verified: u32,
}

/// Deterministic pseudo-random numbers (xorshift64*), one stream per user.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// `len` bytes of file content.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// The kinds of file a user uploads.
#[derive(Debug, Clone, Copy)]
enum SizeClass {
    Empty,
    Small,
    /// About 1 MB, one presigned PUT.
    Single1Mb,
    /// Multipart, 2 parts of >= 5 MiB.
    Multipart2,
    /// Multipart, 3 parts.
    Multipart3,
}

impl SizeClass {
    fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Small => "small (<= 64 KiB)",
            Self::Single1Mb => "~1 MB single PUT",
            Self::Multipart2 => "multipart, 2 parts",
            Self::Multipart3 => "multipart, 3 parts",
        }
    }

    /// 10% empty, 35% small, 30% ~1 MB, 25% multipart (2/3 of them 2 parts). Debug
    /// builds (the short run in `cargo test`) seal at ~3 MB/s, so there the only
    /// multipart files are the users' forced first uploads.
    fn pick(rng: &mut Rng) -> Self {
        let multipart_share = if cfg!(debug_assertions) { 0 } else { 25 };
        match rng.range(0, 99) {
            0..=9 => Self::Empty,
            10..=44 => Self::Small,
            r if r >= 100 - multipart_share => {
                if r % 3 == 0 {
                    Self::Multipart3
                } else {
                    Self::Multipart2
                }
            }
            _ => Self::Single1Mb,
        }
    }

    /// Plaintext size; multipart sizes assume 5 MiB parts (whole chunks, so a part
    /// holds a little more than 5 MiB of plaintext at most).
    fn size(self, rng: &mut Rng) -> u64 {
        const MIB: u64 = 1024 * 1024;
        match self {
            Self::Empty => 0,
            Self::Small => rng.range(1, 64 * 1024),
            Self::Single1Mb => rng.range(900_000, 1_100_000),
            // Any chunk size cuts 5 MiB parts of exactly 5 MiB of plaintext.
            Self::Multipart2 if cfg!(debug_assertions) => rng.range(5 * MIB + 1, 5 * MIB + MIB / 4),
            Self::Multipart2 => rng.range(5 * MIB + 1, 10 * MIB),
            Self::Multipart3 => rng.range(10 * MIB + 1, 14 * MIB),
        }
    }

    fn multipart(self) -> bool {
        matches!(self, Self::Multipart2 | Self::Multipart3)
    }
}

/// Checks an API answer: `want` gives the body; 502/503/504 with the JSON error
/// shape is retryable; anything else is not.
fn expect(op: &str, status: StatusCode, body: Value, want: StatusCode) -> Result<Value, Failure> {
    if status == want {
        return Ok(body);
    }
    Err(classify(op, status, &body))
}

fn classify(op: &str, status: StatusCode, body: &Value) -> Failure {
    let code = body["error"]["code"].as_str().filter(|c| !c.is_empty());
    let message = body["error"]["message"].as_str().filter(|m| !m.is_empty());
    match (code, message) {
        (Some(code), Some(_))
            if matches!(status.as_u16(), 502..=504)
                && body.as_object().is_some_and(|o| o.len() == 1) =>
        {
            Failure::Retry(format!("{} {code}", status.as_u16()))
        }
        _ => Failure::Fatal(format!("{op}: HTTP {status}: {body}")),
    }
}

fn object_json_error(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn s3_error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .unwrap_or("no-code")
        .to_owned()
}

/// A signed-in simulated user.
#[derive(Debug)]
pub struct User<'a> {
    shared: &'a Shared,
    pub name: String,
    token: String,
    pub owner: String,
    rng: Rng,
    pub files: Vec<StoredFile>,
    uploads_done: u64,
    /// Whether the first upload is a 2-part multipart one.
    pub first_upload_multipart: bool,
}

impl<'a> User<'a> {
    /// Signs in (retrying) as `name`.
    pub async fn sign_in(shared: &'a Shared, name: &str, seed: u64) -> Result<Self, String> {
        let mut user = Self {
            shared,
            name: name.to_owned(),
            token: String::new(),
            owner: String::new(),
            rng: Rng::new(seed),
            files: Vec::new(),
            uploads_done: 0,
            first_upload_multipart: false,
        };
        let body = json!({ "user": name });
        let login = user
            .retry("login", |_| {
                let body = body.clone();
                let u = &user;
                async move {
                    let (s, v) = u.api(Method::POST, "/auth/dev-login", Some(body)).await?;
                    expect("login", s, v, StatusCode::OK)
                }
            })
            .await?;
        user.token = login["token"].as_str().unwrap_or_default().to_owned();
        let me = user
            .retry("me", |_| {
                let u = &user;
                async move {
                    let (s, v) = u.api(Method::GET, "/api/me", None).await?;
                    expect("me", s, v, StatusCode::OK)
                }
            })
            .await?;
        user.owner = me["owner"].as_str().unwrap_or_default().to_owned();
        Ok(user)
    }

    /// One API request; transport failures are retryable (they are checked against
    /// the restart window afterwards).
    async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), Failure> {
        let mut req = self
            .shared
            .http
            .request(method, format!("{}{path}", self.shared.base));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport(&e, path)),
        };
        let status = resp.status();
        let result = match resp.bytes().await {
            Ok(bytes) if bytes.is_empty() => Ok((status, Value::Null)),
            Ok(bytes) => Ok((status, object_json_error(&bytes))),
            Err(e) => return Err(self.transport(&e, path)),
        };
        self.shared
            .stats()
            .api_calls
            .push((Instant::now(), status.as_u16()));
        result
    }

    fn transport(&self, e: &reqwest::Error, path: &str) -> Failure {
        let kind = if e.is_connect() {
            "connection refused"
        } else if e.is_timeout() {
            "timeout"
        } else {
            "connection closed"
        };
        let route = path.split('/').take(3).collect::<Vec<_>>().join("/");
        let mut s = self.shared.stats();
        s.transport_errors
            .push((Instant::now(), format!("{kind} ({route}…): {e}")));
        s.api_calls.push((Instant::now(), 0));
        Failure::Retry(format!("api {kind}"))
    }

    /// Runs `attempt` until it succeeds, retrying retryable failures with
    /// exponential backoff (100 ms doubling to 2 s, jittered) for up to
    /// [`GIVE_UP_AFTER`]. Every failure is recorded.
    async fn retry<T, F, Fut>(&self, op: &'static str, mut attempt: F) -> Result<T, String>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let start = Instant::now();
        let mut n = 0u32;
        let mut first_failure = None;
        let mut jitter = Rng::new(self.rng.0 ^ u64::from(n) ^ 0xA5A5);
        loop {
            match attempt(n).await {
                Ok(v) => {
                    if let Some(first_failure) = first_failure {
                        self.shared.stats().recoveries.push(Recovery {
                            op,
                            first_failure,
                            retries: n,
                            took: first_failure.elapsed(),
                        });
                    }
                    return Ok(v);
                }
                Err(Failure::Retry(kind)) => {
                    first_failure.get_or_insert_with(Instant::now);
                    {
                        let mut s = self.shared.stats();
                        *s.errors.entry(format!("{op}: {kind}")).or_insert(0) += 1;
                        if start.elapsed() > GIVE_UP_AFTER {
                            s.gave_up += 1;
                            drop(s);
                            self.shared
                                .unexpected(format!("{op}: gave up after {n} retries ({kind})"));
                            return Err(format!("{op}: gave up ({kind})"));
                        }
                        *s.retries.entry(op).or_insert(0) += 1;
                    }
                    let cap = 100u64.saturating_mul(1 << n.min(5)).min(2000);
                    let pause = cap / 2 + jitter.range(0, cap / 2);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    n += 1;
                }
                Err(Failure::Fatal(what)) => {
                    self.shared.unexpected(format!("{} {what}", self.name));
                    return Err(what);
                }
            }
        }
    }

    /// One step of the user's work: verify a new file, delete an old one, upload,
    /// download or list.
    pub async fn step(&mut self) {
        if let Some(i) = self.files.iter().position(|f| f.verified == 0) {
            let _ = self.download(i).await;
            return;
        }
        if self.files.len() > KEEP_FILES {
            let _ = self.delete(0).await;
            return;
        }
        let roll = self.rng.range(0, 99);
        // So that even a short run has parts to refuse.
        if self.uploads_done == 0 && self.first_upload_multipart {
            let _ = self.upload(SizeClass::Multipart2).await;
        } else if roll < 60 || self.files.is_empty() {
            let class = SizeClass::pick(&mut self.rng);
            let _ = self.upload(class).await;
        } else if roll < 90 {
            let i = usize::try_from(self.rng.range(0, self.files.len() as u64 - 1)).unwrap();
            let _ = self.download(i).await;
        } else {
            let _ = self.check_listing().await;
        }
    }

    async fn upload(&mut self, class: SizeClass) -> Result<(), String> {
        let size = class.size(&mut self.rng);
        let mut content_rng = Rng::new(self.rng.next_u64());
        // CPU work (content, hashing, sealing, opening) runs off the async workers,
        // so the fault schedule and the other users keep their timing.
        let (plaintext, sha256) = tokio::task::spawn_blocking(move || {
            let plaintext = content_rng.bytes(usize::try_from(size).unwrap());
            let sha256: [u8; 32] = Sha256::digest(&plaintext).into();
            (Arc::new(plaintext), sha256)
        })
        .await
        .unwrap();
        let name = B64.encode(self.rng.bytes(12));
        let chunk_size = match self.rng.range(0, 9) {
            0 => Some(65_536),
            1 => Some(1_048_576),
            _ => None,
        };
        let multipart = class.multipart();
        let mut req = json!({ "size": size, "name": name, "multipart": multipart });
        if let Some(c) = chunk_size {
            req["chunk_size"] = json!(c);
        }
        let started = self
            .retry("start_upload", |_| {
                let req = req.clone();
                let u = &*self;
                async move {
                    match u.api(Method::POST, "/api/uploads", Some(req)).await {
                        Err(Failure::Retry(k)) => {
                            if multipart && k != "api connection refused" {
                                u.shared.stats().multipart_starts_cut += 1;
                            }
                            Err(Failure::Retry(k))
                        }
                        Err(f) => Err(f),
                        Ok((s, v)) => expect("start_upload", s, v, StatusCode::CREATED),
                    }
                }
            })
            .await?;
        let id = started["object_id"].as_str().unwrap_or_default().to_owned();
        self.shared.stats().known_ids.insert(id.clone());
        let token = started["upload_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();

        let sent = self.send_ciphertext(&started, Arc::clone(&plaintext)).await;
        drop(plaintext);
        let result = match sent {
            Ok(parts) => self.complete(&id, &token, parts).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(ciphertext_len) => {
                self.files.push(StoredFile {
                    id: id.clone(),
                    sha256,
                    plaintext_len: size,
                    ciphertext_len,
                    name,
                    verified: 0,
                });
                self.uploads_done += 1;
                let mut s = self.shared.stats();
                s.completed_ids.insert(id.clone());
                *s.uploads.entry(class.name()).or_insert(0) += 1;
                s.bytes_uploaded += size;
                Ok(())
            }
            Err(e) => {
                // Never leave an upload behind: abort it (retrying).
                let body = json!({ "upload_token": token });
                let path = format!("/api/uploads/{id}/abort");
                let aborted = self
                    .retry("abort", |n| {
                        let (body, path) = (body.clone(), path.clone());
                        let u = &*self;
                        async move {
                            let (s, v) = u.api(Method::POST, &path, Some(body)).await?;
                            if n > 0 && s == StatusCode::NOT_FOUND {
                                return Ok(()); // an earlier try got through
                            }
                            expect("abort", s, v, StatusCode::NO_CONTENT).map(|_| ())
                        }
                    })
                    .await;
                if aborted.is_ok() {
                    self.shared.stats().aborted += 1;
                }
                Err(e)
            }
        }
    }

    /// Encrypts and sends the ciphertext as `started` says; returns the part list
    /// for `complete`.
    async fn send_ciphertext(
        &self,
        started: &Value,
        plaintext: Arc<Vec<u8>>,
    ) -> Result<Value, String> {
        let sealer = Arc::new(sealer_for(started, plaintext.len() as u64)?);
        let layout = sealer.layout().ok_or("no layout")?;
        if Some(sealer.header().len() as u64) != started["header_length"].as_u64()
            || Some(layout.ciphertext_len()) != started["ciphertext_length"].as_u64()
        {
            let what = format!("sizes differ from the API's: {started}");
            self.shared.unexpected(what.clone());
            return Err(what);
        }
        match started["upload"]["kind"].as_str() {
            Some("single") => {
                let whole = Part {
                    number: 1,
                    chunks: 0..layout.chunk_count(),
                    ciphertext: 0..layout.ciphertext_len(),
                    plaintext: 0..layout.plaintext_len(),
                };
                let body = seal_part(sealer, plaintext, whole).await?;
                self.put(&started["upload"]["request"], body).await?;
                Ok(json!([]))
            }
            Some("multipart") => {
                let plan = layout
                    .plan_parts(self.shared.part_size)
                    .map_err(|e| e.to_string())?;
                // The answer carries the plan in numbers and the first parts signed.
                let parts = started["upload"]["parts"].as_array().ok_or("no parts")?;
                let agree = |p: &Part, j: &Value| {
                    Some(u64::from(p.number)) == j["part_number"].as_u64()
                        && Some(p.ciphertext.start) == j["offset"].as_u64()
                        && Some(p.len()) == j["length"].as_u64()
                        && Some(p.chunks.start) == j["first_chunk"].as_u64()
                };
                let agrees = Some(plan.len() as u64) == started["upload"]["part_count"].as_u64()
                    && plan.first().map(|p| p.chunks.end - p.chunks.start)
                        == started["upload"]["chunks_per_part"].as_u64()
                    && parts.len() <= plan.len()
                    && plan.iter().zip(parts).all(|(p, j)| agree(p, j));
                if !agrees {
                    let what = "the API's part plan differs from Layout::plan_parts".to_owned();
                    self.shared.unexpected(what.clone());
                    return Err(what);
                }
                // The rest are signed on demand, 100 at a time, as the browser does.
                let mut requests: Vec<Value> = parts.iter().map(|j| j["request"].clone()).collect();
                let id = started["object_id"].as_str().ok_or("no object id")?;
                let path = format!("/api/uploads/{id}/parts");
                let unsigned: Vec<u32> = plan[requests.len()..].iter().map(|p| p.number).collect();
                for batch in unsigned.chunks(100) {
                    let body =
                        json!({ "upload_token": started["upload_token"], "part_numbers": batch });
                    let signed = self
                        .retry("sign_parts", |_| {
                            let (body, path) = (body.clone(), path.clone());
                            async move {
                                let (s, v) = self.api(Method::POST, &path, Some(body)).await?;
                                expect("sign_parts", s, v, StatusCode::OK)
                            }
                        })
                        .await?;
                    let signed = signed["parts"].as_array().ok_or("no signed parts")?;
                    for j in signed {
                        let at = requests.len();
                        if !plan.get(at).is_some_and(|p| agree(p, j)) {
                            let what = "a signed part differs from Layout::plan_parts".to_owned();
                            self.shared.unexpected(what.clone());
                            return Err(what);
                        }
                        requests.push(j["request"].clone());
                    }
                }
                // Parts are sealed and sent in parallel, as the browser does.
                let sends = plan.into_iter().zip(requests).map(|(p, request)| {
                    let (sealer, plaintext) = (Arc::clone(&sealer), Arc::clone(&plaintext));
                    async move {
                        let number = p.number;
                        let body = seal_part(sealer, plaintext, p).await?;
                        let etag = self.put(&request, body).await?;
                        Ok::<_, String>(json!({ "part_number": number, "etag": etag }))
                    }
                });
                let done = futures_util::future::join_all(sends).await;
                Ok(Value::Array(done.into_iter().collect::<Result<_, _>>()?))
            }
            other => Err(format!("unknown upload kind {other:?}")),
        }
    }

    /// Sends one presigned PUT (retrying 5xx); returns the ETag.
    async fn put(&self, request: &Value, body: Vec<u8>) -> Result<String, String> {
        let op = if request["url"]
            .as_str()
            .unwrap_or("")
            .contains("partNumber=")
        {
            "part_put"
        } else {
            "single_put"
        };
        let url = request["url"].as_str().ok_or("no url")?.to_owned();
        let headers = request["headers"].as_object().cloned().unwrap_or_default();
        let body = bytes_of(body);
        self.retry(op, |n| {
            let (url, headers, body) = (url.clone(), headers.clone(), body.clone());
            async move {
                let mut r = self.shared.http.put(&url).body(body);
                for (k, v) in &headers {
                    r = r.header(k, v.as_str().unwrap_or(""));
                }
                let resp = r
                    .send()
                    .await
                    .map_err(|e| Failure::Fatal(format!("{op}: S3 transport error: {e}")))?;
                let status = resp.status();
                let etag = resp
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let bytes = resp.bytes().await.unwrap_or_default();
                match (status, etag) {
                    (StatusCode::OK, Some(etag)) => Ok(etag),
                    // The single PUT may only create the object (If-None-Match: *):
                    // 412 on a retry means an earlier try landed. (Its ETag is
                    // not needed.)
                    (StatusCode::PRECONDITION_FAILED, _) if op == "single_put" && n > 0 => {
                        Ok(String::new())
                    }
                    (s, _) if s.is_server_error() => Err(Failure::Retry(format!(
                        "S3 {} {}",
                        s.as_u16(),
                        s3_error_code(&bytes)
                    ))),
                    (s, _) => Err(Failure::Fatal(format!(
                        "{op}: S3 answered {s}: {}",
                        String::from_utf8_lossy(&bytes)
                    ))),
                }
            }
        })
        .await
    }

    /// Completes; returns the stored size.
    async fn complete(&self, id: &str, token: &str, parts: Value) -> Result<u64, String> {
        let body = json!({ "upload_token": token, "parts": parts });
        let path = format!("/api/uploads/{id}/complete");
        let info = self
            .retry("complete", |n| {
                let (body, path) = (body.clone(), path.clone());
                async move {
                    let (s, v) = self.api(Method::POST, &path, Some(body)).await?;
                    if n > 0
                        && s == StatusCode::NOT_FOUND
                        && v["error"]["code"] == "upload_not_found"
                    {
                        // An earlier try may have completed it before its answer was lost.
                        return Ok(None);
                    }
                    expect("complete", s, v, StatusCode::OK).map(Some)
                }
            })
            .await?;
        let info = match info {
            Some(info) => info,
            None => {
                let path = format!("/api/objects/{id}");
                let shown = self
                    .retry("show", |_| {
                        let path = path.clone();
                        async move {
                            let (s, v) = self.api(Method::GET, &path, None).await?;
                            expect("show", s, v, StatusCode::OK)
                        }
                    })
                    .await?;
                *self
                    .shared
                    .stats()
                    .resolved
                    .entry("complete retried after it had succeeded")
                    .or_insert(0) += 1;
                shown
            }
        };
        info["size"]
            .as_u64()
            .ok_or_else(|| format!("complete: no size in {info}"))
    }

    /// Downloads file `i`, decrypts it and compares its SHA-256.
    async fn download(&mut self, i: usize) -> Result<(), String> {
        let file = self.files[i].clone();
        self.verify(&file).await?;
        self.files[i].verified += 1;
        Ok(())
    }

    /// Downloads, decrypts with the unwrapped data key and checks `file`.
    pub async fn verify(&self, file: &StoredFile) -> Result<(), String> {
        let path = format!("/api/objects/{}/download", file.id);
        let dl = self
            .retry("download_url", |_| {
                let path = path.clone();
                async move {
                    let (s, v) = self.api(Method::GET, &path, None).await?;
                    expect("download_url", s, v, StatusCode::OK)
                }
            })
            .await?;
        let url = dl["request"]["url"].as_str().ok_or("no url")?.to_owned();
        let ciphertext = self
            .retry("get", |_| {
                let url = url.clone();
                async move {
                    let resp = self
                        .shared
                        .http
                        .get(&url)
                        .send()
                        .await
                        .map_err(|e| Failure::Fatal(format!("get: S3 transport error: {e}")))?;
                    let status = resp.status();
                    let bytes = resp
                        .bytes()
                        .await
                        .map_err(|e| Failure::Fatal(format!("get: S3 body cut: {e}")))?;
                    match status {
                        StatusCode::OK => Ok(bytes),
                        s if s.is_server_error() => Err(Failure::Retry(format!(
                            "S3 {} {}",
                            s.as_u16(),
                            s3_error_code(&bytes)
                        ))),
                        s => Err(Failure::Fatal(format!("get: S3 answered {s}"))),
                    }
                }
            })
            .await?;
        let fail = |what: String| {
            let what = format!("{} object {}: {what}", self.name, file.id);
            self.shared.unexpected(what.clone());
            what
        };
        if ciphertext.len() as u64 != file.ciphertext_len {
            return Err(fail(format!(
                "{} bytes downloaded, {} uploaded",
                ciphertext.len(),
                file.ciphertext_len
            )));
        }
        let header = Header::parse(&ciphertext).map_err(|e| fail(format!("header: {e}")))?;
        let body = json!({ "header": B64.encode(header.as_bytes()) });
        let path = format!("/api/objects/{}/keys", file.id);
        let key = self
            .retry("keys", |_| {
                let (body, path) = (body.clone(), path.clone());
                async move {
                    let (s, v) = self.api(Method::POST, &path, Some(body)).await?;
                    expect("keys", s, v, StatusCode::OK)
                }
            })
            .await?;
        let context = &key["encryption_context"];
        if context["object"] != file.id.as_str() || context["owner"] != self.owner.as_str() {
            return Err(fail(format!("keys returned context {context}")));
        }
        let keys = object_keys_of(&key["object_keys"])
            .ok_or_else(|| fail("bad object keys".to_owned()))?;
        let expected = context_from(context);
        let opened = tokio::task::spawn_blocking(move || {
            open_and_hash(header, &keys, &expected, &ciphertext)
        })
        .await
        .unwrap();
        let (got, plain_len) = opened.map_err(fail)?;
        if got != file.sha256 || plain_len != file.plaintext_len {
            return Err(fail(format!(
                "decrypted {plain_len} bytes with SHA-256 {}, uploaded {} bytes with {}",
                hex::encode(got),
                file.plaintext_len,
                hex::encode(file.sha256)
            )));
        }
        let mut s = self.shared.stats();
        s.downloads += 1;
        s.bytes_verified += plain_len;
        s.verified_ids.insert(file.id.clone());
        Ok(())
    }

    async fn delete(&mut self, i: usize) -> Result<(), String> {
        let path = format!("/api/objects/{}", self.files[i].id);
        self.retry("delete", |n| {
            let path = path.clone();
            let u = &*self;
            async move {
                let (s, v) = u.api(Method::DELETE, &path, None).await?;
                if n > 0 && s == StatusCode::NOT_FOUND {
                    return Ok(()); // an earlier try got through
                }
                expect("delete", s, v, StatusCode::NO_CONTENT).map(|_| ())
            }
        })
        .await?;
        self.files.remove(i);
        self.shared.stats().deletes += 1;
        Ok(())
    }

    /// Lists every object (pages of 2, to walk the cursor).
    pub async fn list_all(&self) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/objects?limit=2&cursor={}", urlencode(c)),
                None => "/api/objects?limit=2".to_owned(),
            };
            let page = self
                .retry("list", |_| {
                    let path = path.clone();
                    async move {
                        let (s, v) = self.api(Method::GET, &path, None).await?;
                        expect("list", s, v, StatusCode::OK)
                    }
                })
                .await?;
            out.extend(page["objects"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
            if out.len() > 10_000 {
                return Err("listing does not end".to_owned());
            }
        }
        self.shared.stats().lists += 1;
        Ok(out)
    }

    /// The listing must be exactly the files this user completed and did not delete,
    /// with their sizes and names.
    pub async fn check_listing(&self) -> Result<(), String> {
        let listed = self.list_all().await?;
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        for o in &listed {
            let id = o["object_id"].as_str().unwrap_or_default();
            seen.insert(id.to_owned());
            match self.files.iter().find(|f| f.id == id) {
                None => problems.push(format!("{id} is listed but was never completed")),
                Some(f) => {
                    if o["size"].as_u64() != Some(f.ciphertext_len) {
                        problems.push(format!("{id} is listed with size {}", o["size"]));
                    }
                    if o["name"].as_str() != Some(f.name.as_str()) {
                        problems.push(format!("{id} is listed with name {}", o["name"]));
                    }
                }
            }
        }
        for f in &self.files {
            if !seen.contains(&f.id) {
                problems.push(format!("{} was completed but is not listed", f.id));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            let what = format!("{} listing: {}", self.name, problems.join("; "));
            self.shared.unexpected(what.clone());
            Err(what)
        }
    }
}

/// Seals one part (the header first in part 1) on the blocking pool.
async fn seal_part(
    sealer: Arc<Sealer>,
    plaintext: Arc<Vec<u8>>,
    part: Part,
) -> Result<Vec<u8>, String> {
    tokio::task::spawn_blocking(move || {
        let layout = sealer.layout().ok_or("no layout")?;
        let mut body = Vec::with_capacity(to_usize(part.len()));
        if part.number == 1 {
            body.extend_from_slice(sealer.header().as_bytes());
        }
        for i in part.chunks {
            let r = layout.chunk_plaintext_range(i).map_err(|e| e.to_string())?;
            sealer
                .seal_chunk_into(i, &plaintext[to_usize(r.start)..to_usize(r.end)], &mut body)
                .map_err(|e| e.to_string())?;
        }
        Ok(body)
    })
    .await
    .unwrap()
}

/// Opens a whole object (as a stream, 1 MiB at a time) and hashes the plaintext;
/// returns its SHA-256 and length.
fn open_and_hash(
    header: Header,
    keys: &ObjectKeys,
    expected: &cipherdrop_core::EncryptionContext,
    ciphertext: &[u8],
) -> Result<([u8; 32], u64), String> {
    let body_start = header.len();
    let opener =
        Opener::with_object_keys(header, keys, expected).map_err(|e| format!("open: {e}"))?;
    let mut stream = opener.into_stream();
    let mut hasher = Sha256::new();
    let mut out = Vec::new();
    let mut plain_len = 0u64;
    for piece in ciphertext[body_start..].chunks(1 << 20) {
        stream
            .push(piece, &mut out)
            .map_err(|e| format!("decrypt: {e}"))?;
        hasher.update(&out);
        plain_len += out.len() as u64;
        out.clear();
    }
    stream
        .finish(&mut out)
        .map_err(|e| format!("decrypt (final chunk): {e}"))?;
    hasher.update(&out);
    plain_len += out.len() as u64;
    Ok((hasher.finalize().into(), plain_len))
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap()
}

/// Cheaply clonable bytes (for retries), through axum's re-export of `bytes`.
fn bytes_of(v: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(v)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One object's keys from an API answer.
fn object_keys_of(v: &Value) -> Option<ObjectKeys> {
    let key =
        |name: &str| -> Option<[u8; 32]> { B64.decode(v[name].as_str()?).ok()?.try_into().ok() };
    Some(ObjectKeys::from_bytes(
        key("content_key")?,
        key("header_key")?,
    ))
}

/// A sealer over exactly what "start upload" returned: the server's header and
/// the object's keys (as the browser does; no data key).
fn sealer_for(started: &Value, plaintext_len: u64) -> Result<Sealer, String> {
    let bytes = B64
        .decode(started["header"].as_str().unwrap_or_default())
        .map_err(|e| format!("header: {e}"))?;
    let header = Header::parse(&bytes).map_err(|e| format!("header: {e}"))?;
    if header.context() != &context_from(&started["encryption_context"])
        || header.layout().map(|l| l.plaintext_len()) != Some(plaintext_len)
    {
        return Err("the header is not the one asked for".to_owned());
    }
    let keys = object_keys_of(&started["object_keys"]).ok_or("bad object keys")?;
    Sealer::with_object_keys(header, &keys).map_err(|e| e.to_string())
}
