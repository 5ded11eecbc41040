//! Soak under load and faults: simulated users upload and download files of mixed
//! sizes through the real `cipherdrop` binary (against moto's S3 and KMS) while the
//! test restarts the server, a fault proxy refuses part uploads and fails KMS for a
//! while. Afterwards every completed file must decrypt to its SHA-256, every failure
//! a client saw must have been a clear, retryable one, listings must hold exactly the
//! completed files, no multipart upload may be left behind and the server's memory
//! must not grow without bound.
//!
//! Short by default (part of `cargo test`, ~20 s). The long run:
//!
//! ```text
//! CIPHERDROP_SOAK_SECS=300 CIPHERDROP_SOAK_USERS=50 \
//!   cargo test --release -p cipherdrop-server --test soak -- --nocapture
//! ```
//!
//! Also: `CIPHERDROP_SOAK_KMS_FAULT=hang` (KMS a black hole instead of failing fast)
//! and `CIPHERDROP_SOAK_KMS_DOWN_SECS` (length of the outage; default a third of
//! the run, 5 to 10 s).
//!
//! Skips (outside CI) when `moto_server` is not installed, like the moto API tests.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "soak/client.rs"]
mod client;
#[path = "soak/proxy.rs"]
mod proxy;
#[path = "soak/server.rs"]
mod server;
#[path = "api/support.rs"]
mod support;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::StatusCode;
use serde_json::{Value, json};

use client::{Shared, User};
use proxy::{FaultProxy, KmsFault};
use server::{RssSample, ServerConfig, ServerProcess};
use support::Moto;

/// The 5 MiB minimum part size, so multipart files stay small.
const PART_SIZE: u64 = 5 * 1024 * 1024;
/// Every n-th part upload is refused with 503 SlowDown.
const REFUSE_EVERY_NTH_PART: u64 = 7;

/// Run parameters (environment variables, defaults for the short run).
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Length of the load phase.
    load: Duration,
    users: usize,
    /// When the server is killed and started again.
    restart_at: Duration,
    /// When KMS starts failing, and for how long.
    kms_down_at: Duration,
    kms_down_for: Duration,
    rss_every: Duration,
    /// `CIPHERDROP_SOAK_KMS_FAULT=hang` makes KMS a black hole instead of failing fast.
    kms_fault: KmsFault,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

impl Plan {
    fn from_env() -> Self {
        let secs = env_u64("CIPHERDROP_SOAK_SECS", 14).max(8);
        let users = usize::try_from(env_u64("CIPHERDROP_SOAK_USERS", 8).max(1)).unwrap();
        let load = Duration::from_secs(secs);
        Self {
            load,
            users,
            restart_at: load.mul_f64(0.3),
            kms_down_at: load.mul_f64(0.55),
            kms_down_for: Duration::from_secs(env_u64(
                "CIPHERDROP_SOAK_KMS_DOWN_SECS",
                (secs / 3).clamp(5, 10),
            )),
            kms_fault: match std::env::var("CIPHERDROP_SOAK_KMS_FAULT").as_deref() {
                Ok("hang") => KmsFault::Hang,
                Ok("errors") | Err(_) => KmsFault::Errors,
                Ok(other) => panic!("CIPHERDROP_SOAK_KMS_FAULT is errors or hang, not {other}"),
            },
            rss_every: if secs > 60 {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(250)
            },
        }
    }
}

/// What the fault schedule observed.
#[derive(Debug, Default)]
struct FaultLog {
    killed_at: Option<Instant>,
    ready_again_at: Option<Instant>,
    probes: Vec<String>,
    problems: Vec<String>,
}

/// Asks for the keys of `id` once (no retries), for the probes.
async fn probe_keys(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    header: &Value,
) -> (StatusCode, Value, Duration) {
    let t = Instant::now();
    let resp = http
        .post(format!("{base}/api/objects/{id}/keys"))
        .bearer_auth(token)
        .json(&json!({ "header": header }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, t.elapsed())
}

async fn probe_readyz(http: &reqwest::Client, base: &str) -> (StatusCode, Value) {
    let resp = http.get(format!("{base}/readyz")).send().await.unwrap();
    let status = resp.status();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

fn is_error_shape(body: &Value) -> bool {
    body.as_object().is_some_and(|o| o.len() == 1)
        && body["error"]["code"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
        && body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
}

#[allow(clippy::too_many_lines)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_load_and_faults() {
    let plan = Plan::from_env();
    let Some(moto) = Moto::start() else {
        return;
    };
    let key_id = moto.setup().await;
    let moto_addr = moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let proxy = FaultProxy::start(moto_addr, REFUSE_EVERY_NTH_PART, plan.kms_fault).await;
    let dir = tempfile::tempdir().unwrap();
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).unwrap();
    std::fs::write(dir.path().join("server.secret"), secret).unwrap();
    let config = ServerConfig {
        port: server::free_port(),
        data_dir: dir.path().to_owned(),
        bucket: moto.bucket.clone(),
        kms_key_id: key_id,
        endpoint_url: proxy.url(),
        part_size: PART_SIZE,
    };
    let shared = Arc::new(Shared::new(
        format!("http://127.0.0.1:{}", config.port),
        PART_SIZE,
    ));
    let mut srv = ServerProcess::spawn(&config);
    srv.wait_for(&shared.http, "/readyz", Duration::from_secs(60))
        .await;

    // The probe: one user and one small file, to ask for its data key during the
    // KMS outage.
    let probe = User::sign_in(&shared, "soak-probe", 1).await.unwrap();
    let (probe_id, probe_header) = {
        let mut p = probe;
        // Upload through the same client code, then read back its header's keys.
        let mut tries = 0;
        while p.files.is_empty() {
            p.step().await;
            tries += 1;
            assert!(tries < 5, "the probe's upload failed");
        }
        let f = p.files[0].clone();
        p.verify(&f).await.unwrap();
        let dl: Value = shared
            .http
            .get(format!("{}/api/objects/{}/download", shared.base, f.id))
            .bearer_auth(probe_token(&shared, "soak-probe").await)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ct = shared
            .http
            .get(dl["request"]["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let header = cipherdrop_core::Header::parse(&ct).unwrap();
        (f.id, Value::String(B64.encode(header.as_bytes())))
    };
    let probe_token = probe_token(&shared, "soak-probe").await;

    let start = Instant::now();
    let deadline = start + plan.load;
    let pid = Arc::new(AtomicU32::new(srv.pid()));
    let incarnation = Arc::new(AtomicU32::new(1));
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = server::sample_rss(
        Arc::clone(&pid),
        Arc::clone(&incarnation),
        start,
        plan.rss_every,
        Arc::clone(&stop_sampling),
    );
    let before = {
        let s = shared.stats.lock().unwrap();
        (s.downloads, s.bytes_verified)
    };
    eprintln!(
        "soak: {} users for {:?}; restart at {:?}; KMS down at {:?} for {:?}; every {}th part PUT refused",
        plan.users,
        plan.load,
        plan.restart_at,
        plan.kms_down_at,
        plan.kms_down_for,
        REFUSE_EVERY_NTH_PART
    );

    // The users.
    let mut users = Vec::new();
    for i in 0..plan.users {
        let shared = Arc::clone(&shared);
        users.push(tokio::spawn(async move {
            let name = format!("soak-user-{i}");
            let mut user = User::sign_in(&shared, &name, 1000 + i as u64)
                .await
                .unwrap();
            // At least 4 two-part uploads (8 part PUTs, so one is refused); in
            // release builds every user starts with one.
            user.first_upload_multipart = i < 4 || !cfg!(debug_assertions);
            while Instant::now() < deadline {
                user.step().await;
            }
            (user.name.clone(), user.owner.clone(), user.files.clone())
        }));
    }

    // The faults.
    let mut faults = FaultLog::default();
    tokio::time::sleep_until((start + plan.restart_at).into()).await;
    eprintln!(
        "soak: killing the server (SIGKILL) at {:?}",
        start.elapsed()
    );
    pid.store(0, Ordering::Relaxed);
    faults.killed_at = Some(Instant::now());
    srv.kill();
    // Down long enough that clients see refused connections.
    tokio::time::sleep(Duration::from_millis(500)).await;
    srv = ServerProcess::spawn(&config);
    srv.wait_for(&shared.http, "/healthz", Duration::from_secs(60))
        .await;
    faults.ready_again_at = Some(Instant::now());
    incarnation.store(2, Ordering::Relaxed);
    pid.store(srv.pid(), Ordering::Relaxed);
    eprintln!(
        "soak: server back after {:?}",
        faults.ready_again_at.unwrap() - faults.killed_at.unwrap()
    );

    tokio::time::sleep_until((start + plan.kms_down_at).into()).await;
    eprintln!("soak: KMS failing from {:?}", start.elapsed());
    proxy.faults.kms_down.store(true, Ordering::Relaxed);
    let kms_up_at = Instant::now() + plan.kms_down_for;
    // Probe while KMS fails (in parallel with the window's timer): the server must
    // answer a clear 5xx, and /readyz must say it is not ready.
    let probes = {
        let (http, base, token, id, wrapped) = (
            shared.http.clone(),
            shared.base.clone(),
            probe_token.clone(),
            probe_id.clone(),
            probe_header.clone(),
        );
        tokio::spawn(async move {
            tokio::join!(
                probe_readyz(&http, &base),
                probe_keys(&http, &base, &token, &id, &wrapped)
            )
        })
    };
    tokio::time::sleep_until(kms_up_at.into()).await;
    proxy.faults.kms_down.store(false, Ordering::Relaxed);
    eprintln!("soak: KMS back at {:?}", start.elapsed());
    let ((s, body), (ks, kbody, took)) = probes.await.unwrap();
    faults
        .probes
        .push(format!("/readyz while KMS fails: {} {body}", s.as_u16()));
    if s != StatusCode::SERVICE_UNAVAILABLE || !is_error_shape(&body) {
        faults
            .problems
            .push(format!("/readyz while KMS fails answered {s} {body}"));
    }
    faults.probes.push(format!(
        "keys while KMS fails: {} {} after {took:.1?}",
        ks.as_u16(),
        kbody["error"]["code"]
    ));
    if !(ks.is_server_error() && is_error_shape(&kbody)) {
        faults.problems.push(format!(
            "keys while KMS fails answered {ks} {kbody} after {took:?} (want a 5xx JSON error)"
        ));
    }
    let (s, body, took) = probe_keys(
        &shared.http,
        &shared.base,
        &probe_token,
        &probe_id,
        &probe_header,
    )
    .await;
    faults.probes.push(format!(
        "keys after KMS is back: {} after {took:?}",
        s.as_u16()
    ));
    if s != StatusCode::OK {
        faults
            .problems
            .push(format!("keys after KMS is back answered {s} {body}"));
    }

    // Let the users finish what they are doing.
    let mut finished = Vec::new();
    let finish_by = deadline + Duration::from_secs(180);
    for u in users {
        let left = finish_by.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, u).await {
            Ok(Ok(r)) => finished.push(r),
            Ok(Err(e)) => panic!("a user task failed: {e}"),
            Err(_) => panic!("users did not finish within 180 s of the deadline (a hang?)"),
        }
    }
    let load_took = start.elapsed();
    stop_sampling.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let forward_errors = proxy.stats.forward_errors.lock().unwrap().clone();
    let (load_downloads, load_bytes) = {
        let s = shared.stats.lock().unwrap();
        (s.downloads - before.0, s.bytes_verified - before.1)
    };

    // Afterwards: every user's listing is exactly what they completed, and every
    // listed object decrypts to the right SHA-256.
    let mut final_files = 0u64;
    for (i, (name, owner, files)) in finished.iter().enumerate() {
        let mut user = User::sign_in(&shared, name, 5000 + i as u64).await.unwrap();
        assert_eq!(&user.owner, owner);
        user.files.clone_from(files);
        if user.check_listing().await.is_ok() {
            for f in files {
                if user.verify(f).await.is_ok() {
                    final_files += 1;
                }
            }
        }
    }

    // No multipart upload left behind.
    let mut leftover_known = Vec::new();
    let mut leftover_orphans = Vec::new();
    {
        let known = shared.stats.lock().unwrap().known_ids.clone();
        let listed = moto
            .s3_client()
            .list_multipart_uploads()
            .bucket(&moto.bucket)
            .send()
            .await
            .unwrap();
        for u in listed.uploads() {
            let key = u.key().unwrap_or_default().to_owned();
            let id = key.rsplit('/').next().unwrap_or_default();
            if known.contains(id) {
                leftover_known.push(key);
            } else {
                leftover_orphans.push(key);
            }
        }
    }

    let (log_errors, panics) = server::scan_log(&srv.log_path);
    let still_running = srv.running();
    drop(srv);

    // The report.
    let stats = shared.stats.lock().unwrap();
    let killed = faults.killed_at.unwrap();
    let back = faults.ready_again_at.unwrap() + Duration::from_secs(2);
    let stray_transport: Vec<String> = stats
        .transport_errors
        .iter()
        .filter(|(at, _)| *at < killed || *at > back)
        .map(|(at, e)| format!("at {:?}: {e}", at.duration_since(start)))
        .collect();
    let mut r = String::new();
    writeln!(r, "\n==== soak report ====").unwrap();
    writeln!(
        r,
        "users {}, load phase {:.1} s (planned {:?}), then a final check of every listing",
        plan.users,
        load_took.as_secs_f64(),
        plan.load
    )
    .unwrap();
    let total_uploads: u64 = stats.uploads.values().sum();
    writeln!(r, "uploads completed: {total_uploads}").unwrap();
    for (k, v) in &stats.uploads {
        writeln!(r, "  {k}: {v}").unwrap();
    }
    writeln!(
        r,
        "downloads verified: {} during the load ({:.1} MiB), {} in the final check; {} total, {:.1} MiB of plaintext verified by SHA-256",
        load_downloads,
        mib(load_bytes),
        final_files,
        stats.downloads,
        mib(stats.bytes_verified)
    )
    .unwrap();
    writeln!(
        r,
        "plaintext uploaded: {:.1} MiB; deletes {}; listings {}",
        mib(stats.bytes_uploaded),
        stats.deletes,
        stats.lists
    )
    .unwrap();
    let total_retries: u64 = stats.retries.values().sum();
    writeln!(r, "retries: {total_retries}").unwrap();
    for (k, v) in &stats.retries {
        writeln!(r, "  {k}: {v}").unwrap();
    }
    writeln!(r, "errors seen by clients, by kind:").unwrap();
    for (k, v) in &stats.errors {
        writeln!(r, "  {k}: {v}").unwrap();
    }
    for (k, v) in &stats.resolved {
        writeln!(r, "resolved: {k}: {v}").unwrap();
    }
    writeln!(
        r,
        "gave up: {}; uploads aborted by clients: {}",
        stats.gave_up, stats.aborted
    )
    .unwrap();
    let unverified: Vec<&String> = stats
        .completed_ids
        .difference(&stats.verified_ids)
        .collect();
    writeln!(
        r,
        "API requests: {}, of which {} got a 5xx and {} no HTTP answer; operations that succeeded by retrying: {} (at most {} retries); completed uploads verified at least once: {} of {}",
        stats.api_calls.len(),
        stats.api_calls.iter().filter(|(_, s)| *s >= 500).count(),
        stats.api_calls.iter().filter(|(_, s)| *s == 0).count(),
        stats.recoveries.len(),
        stats.recoveries.iter().map(|r| r.retries).max().unwrap_or(0),
        stats.completed_ids.len() - unverified.len(),
        stats.completed_ids.len()
    )
    .unwrap();
    let mut restart_covered: std::collections::BTreeMap<&str, (u64, f64)> =
        std::collections::BTreeMap::new();
    for rec in stats
        .recoveries
        .iter()
        .filter(|rec| rec.first_failure >= killed && rec.first_failure <= back)
    {
        let e = restart_covered.entry(rec.op).or_insert((0, 0.0));
        e.0 += 1;
        e.1 = e.1.max(rec.took.as_secs_f64());
    }
    writeln!(
        r,
        "operations that failed in the restart window and succeeded by retrying (count, longest from first failure): {}",
        restart_covered
            .iter()
            .map(|(op, (n, t))| format!("{op} {n} ({t:.2} s)"))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    writeln!(
        r,
        "faults: restart (SIGKILL) at {:.1} s, serving again after {:.2} s; part PUTs {} of which refused {}; KMS calls {} of which failed {} ({:?}, window {:?}); requests the proxy could not forward {}",
        killed.duration_since(start).as_secs_f64(),
        (faults.ready_again_at.unwrap() - killed).as_secs_f64(),
        proxy.stats.part_puts.load(Ordering::Relaxed),
        proxy.stats.part_puts_refused.load(Ordering::Relaxed),
        proxy.stats.kms_calls.load(Ordering::Relaxed),
        proxy.stats.kms_failed.load(Ordering::Relaxed),
        plan.kms_fault,
        plan.kms_down_for,
        forward_errors.len(),
    )
    .unwrap();
    for (at, e) in &forward_errors {
        writeln!(
            r,
            "  proxy could not forward at {:.2} s (server killed at {:.2} s): {e}",
            at.duration_since(start).as_secs_f64(),
            killed.duration_since(start).as_secs_f64()
        )
        .unwrap();
    }
    for p in &faults.probes {
        writeln!(r, "probe: {p}").unwrap();
    }
    writeln!(r, "server log, failed requests by status and code:").unwrap();
    for (k, v) in &log_errors {
        writeln!(r, "  {k}: {v}").unwrap();
    }
    writeln!(
        r,
        "multipart uploads left in the bucket: {} known to a client, {} never handed to a client (multipart starts cut by the crash: {})",
        leftover_known.len(),
        leftover_orphans.len(),
        stats.multipart_starts_cut
    )
    .unwrap();
    for k in &leftover_orphans {
        writeln!(
            r,
            "  never handed to a client (the server died between CreateMultipartUpload and its answer): {k}"
        )
        .unwrap();
    }
    let rss_check = rss_growth(&samples);
    writeln!(r, "server RSS (MiB, sampled every {:?}):", plan.rss_every).unwrap();
    for inc in [1, 2] {
        let s: Vec<&RssSample> = samples.iter().filter(|s| s.incarnation == inc).collect();
        let step = (s.len() / 40).max(1);
        let line: Vec<String> = s
            .iter()
            .step_by(step)
            .map(|s| format!("{:.0}s:{:.1}", s.at, s.rss_kib as f64 / 1024.0))
            .collect();
        writeln!(r, "  process {inc}: {}", line.join(" ")).unwrap();
    }
    writeln!(r, "  {}", rss_check.0).unwrap();
    eprintln!("{r}");

    // The verdict.
    let mut failures = Vec::new();
    failures.extend(stats.unexpected.iter().cloned());
    failures.extend(faults.problems.iter().cloned());
    failures.extend(
        stray_transport
            .iter()
            .map(|e| format!("transport error outside the restart: {e}")),
    );
    failures.extend(panics.iter().map(|p| format!("server panicked: {p}")));
    failures.extend(
        unverified
            .iter()
            .map(|id| format!("upload {id} was reported complete but never verified")),
    );
    for k in &leftover_known {
        failures.push(format!("multipart upload left behind: {k}"));
    }
    if leftover_orphans.len() as u64 > stats.multipart_starts_cut {
        failures.push(format!(
            "{} multipart uploads nobody was told about, more than the {} starts cut by the crash",
            leftover_orphans.len(),
            stats.multipart_starts_cut
        ));
    }
    if !rss_check.1 {
        failures.push(format!("server memory grew: {}", rss_check.0));
    }
    if !still_running {
        failures.push("the server exited by itself".to_owned());
    }
    if proxy.stats.part_puts_refused.load(Ordering::Relaxed) == 0 {
        failures
            .push("no part upload was refused (too little load to inject the fault)".to_owned());
    }
    if proxy.stats.kms_failed.load(Ordering::Relaxed) == 0 {
        failures.push("no KMS call failed".to_owned());
    }
    if total_uploads == 0 || stats.downloads == 0 {
        failures.push("nothing was uploaded or downloaded".to_owned());
    }
    assert!(
        failures.is_empty(),
        "soak found {} problem(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// A fresh token for `user` (dev login, no retries: used when the server is up).
async fn probe_token(shared: &Shared, user: &str) -> String {
    let v: Value = shared
        .http
        .post(format!("{}/auth/dev-login", shared.base))
        .json(&json!({ "user": user }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["token"].as_str().unwrap().to_owned()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Memory of the process after the restart (the longer-lived one): the last third's
/// peak must stay below 1.5x the first third's peak + 64 MiB.
fn rss_growth(samples: &[RssSample]) -> (String, bool) {
    let s: Vec<&RssSample> = samples.iter().filter(|s| s.incarnation == 2).collect();
    if s.len() < 6 {
        return (format!("only {} samples after the restart", s.len()), false);
    }
    let third = s.len() / 3;
    let first = s[..third].iter().map(|s| s.rss_kib).max().unwrap();
    let last = s[s.len() - third..]
        .iter()
        .map(|s| s.rss_kib)
        .max()
        .unwrap();
    let limit = first + first / 2 + 64 * 1024;
    (
        format!(
            "peak RSS first third {:.1} MiB, last third {:.1} MiB (limit {:.1} MiB); overall peak {:.1} MiB",
            first as f64 / 1024.0,
            last as f64 / 1024.0,
            limit as f64 / 1024.0,
            samples.iter().map(|s| s.rss_kib).max().unwrap_or(0) as f64 / 1024.0
        ),
        last <= limit,
    )
}
