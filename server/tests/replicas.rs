//! Two `cipherdrop serve` replicas behind a real load balancer (HAProxy from Debian),
//! sharing one bucket and key (moto's S3 + KMS) and one `--server-secret-file`, so a
//! session or upload token from one replica works on the other. Simulated users (the
//! soak's clients) work through HAProxy while the test kills one replica (SIGKILL),
//! leaves it down for a while and starts it again. Afterwards every upload reported
//! complete must have downloaded, decrypted and matched its SHA-256, every listing
//! must hold exactly the completed files, no multipart upload a client knew of may be
//! left (and no more unknown ones than multipart starts cut by the crash), and no
//! request may have failed outside the failover window. The report gives the error
//! rate inside the window and how the load balancer's and the clients' retries covered
//! it.
//!
//! Short by default (part of `cargo test`, ~20 s). The long run:
//!
//! ```text
//! CIPHERDROP_REPLICAS_SECS=300 CIPHERDROP_REPLICAS_USERS=50 \
//!   cargo test --release -p cipherdrop-server --test replicas -- --nocapture
//! ```
//!
//! `CIPHERDROP_REPLICAS_DOWN_SECS` sets how long the killed replica stays down
//! (default 2 s in the short run, 5 s from 60 s of load on).
//!
//! Needs `haproxy` (`apt-get install haproxy`; scripts/lib.sh `ensure_haproxy`; or set
//! `HAPROXY` to the binary) and `moto_server`. Without them it skips, unless `CI` is set
//! (and not 0 or false): then it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "soak/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "soak/server.rs"]
#[allow(dead_code)]
mod server;
#[path = "api/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use client::{Shared, User};
use server::{ServerConfig, ServerProcess};
use support::Moto;

/// The 5 MiB minimum part size, so multipart files stay small.
const PART_SIZE: u64 = 5 * 1024 * 1024;
/// The replica that is killed and started again.
const VICTIM: &str = "r1";

/// Run parameters (environment variables, defaults for the short run).
#[derive(Debug, Clone, Copy)]
struct Plan {
    load: Duration,
    users: usize,
    kill_at: Duration,
    down_for: Duration,
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
        let secs = env_u64("CIPHERDROP_REPLICAS_SECS", 12).max(8);
        let users = usize::try_from(env_u64("CIPHERDROP_REPLICAS_USERS", 6).max(1)).unwrap();
        let load = Duration::from_secs(secs);
        Self {
            load,
            users,
            kill_at: load.mul_f64(0.35),
            down_for: Duration::from_secs(env_u64(
                "CIPHERDROP_REPLICAS_DOWN_SECS",
                if secs >= 60 { 5 } else { 2 },
            )),
        }
    }
}

/// Whether this is CI (`CI` set, and not empty, 0 or false).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

fn haproxy_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HAPROXY") {
        return Some(PathBuf::from(p));
    }
    // Debian installs it in /usr/sbin, which a user's PATH may not hold.
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file())
}

/// A running HAProxy in front of the replicas, with an admin socket for its counters.
struct Haproxy {
    child: Child,
    port: u16,
    socket: PathBuf,
    log: PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The answers HAProxy gives itself, in the API's JSON error shape (so clients treat
/// them as the retryable 502/503/504 the API documents).
fn error_page(status: u16, reason: &str, message: &str) -> String {
    let body = format!(r#"{{"error":{{"code":"load_balancer_{status}","message":"{message}"}}}}"#);
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

impl Haproxy {
    /// Starts `binary` on a free loopback port, balancing over `backends` (name, port),
    /// and waits until it accepts connections and every backend is UP.
    fn start(binary: &Path, dir: &Path, backends: &[(&str, u16)]) -> Self {
        let port = server::free_port();
        let socket = dir.join("haproxy.sock");
        let log = dir.join("haproxy.log");
        let mut errorfiles = String::new();
        for (status, reason, message) in [
            (
                502,
                "Bad Gateway",
                "The replica did not answer (it may have stopped); try again.",
            ),
            (
                503,
                "Service Unavailable",
                "No replica is available; try again.",
            ),
            (
                504,
                "Gateway Timeout",
                "The replica did not answer in time; try again.",
            ),
        ] {
            let path = dir.join(format!("{status}.http"));
            std::fs::write(&path, error_page(status, reason, message)).unwrap();
            writeln!(errorfiles, "    errorfile {status} {}", path.display()).unwrap();
        }
        let mut servers = String::new();
        for (name, p) in backends {
            writeln!(servers, "    server {name} 127.0.0.1:{p}").unwrap();
        }
        // Health checks every 500 ms (200 ms while changing state), two in a row to
        // change; connection failures are retried (3 times) on the other replica.
        let config = format!(
            "global
    maxconn 4000
    stats socket {socket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 10s
    timeout http-keep-alive 10s
    retries 3
    option redispatch 1
{errorfiles}
frontend api
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz
    http-check expect status 200
    default-server check inter 500ms fastinter 200ms downinter 500ms fall 2 rise 2
{servers}",
            socket = socket.display(),
        );
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(&cfg, config).unwrap();
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .arg("-db") // foreground
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
        let mut lb = Self {
            child,
            port,
            socket,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = lb.child.try_wait() {
                panic!(
                    "haproxy exited with {status} during start; its output: {}",
                    std::fs::read_to_string(&lb.log).unwrap_or_default()
                );
            }
            let up = lb
                .servers()
                .map(|s| {
                    backends
                        .iter()
                        .all(|(n, _)| s.get(*n).is_some_and(|r| r.status == "UP"))
                })
                .unwrap_or(false);
            if up {
                return lb;
            }
            assert!(
                Instant::now() < deadline,
                "haproxy did not report both replicas UP within 20 s; its output: {}",
                std::fs::read_to_string(&lb.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The backend's servers (and "BACKEND", "FRONTEND") by name.
    fn servers(&self) -> std::io::Result<BTreeMap<String, ServerStat>> {
        servers_at(&self.socket)
    }
}

/// `show stat` on HAProxy's admin socket: one map (column → value) per proxy line.
fn show_stat(socket: &Path) -> std::io::Result<Vec<BTreeMap<String, String>>> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"show stat\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .map(str::to_owned)
        .collect();
    Ok(lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect())
}

/// The counters of the backend's servers (and "BACKEND", "FRONTEND") by name.
fn servers_at(socket: &Path) -> std::io::Result<BTreeMap<String, ServerStat>> {
    Ok(show_stat(socket)?
        .into_iter()
        .map(|row| {
            let n = |c: &str| row.get(c).and_then(|v| v.parse().ok()).unwrap_or(0);
            let name = row.get("svname").cloned().unwrap_or_default();
            let stat = ServerStat {
                status: row.get("status").cloned().unwrap_or_default(),
                sessions: n("stot"),
                conn_errors: n("econ"),
                resp_errors: n("eresp"),
                retries: n("wretr"),
                redispatches: n("wredis"),
                http_5xx: n("hrsp_5xx"),
            };
            (name, stat)
        })
        .collect())
}

/// One line of HAProxy's counters.
#[derive(Debug, Clone, Default)]
struct ServerStat {
    status: String,
    /// Requests/sessions sent to it (`stot`).
    sessions: u64,
    /// Connection errors (`econ`), response errors (`eresp`: cut answers).
    conn_errors: u64,
    resp_errors: u64,
    /// Retries of a failed connection (`wretr`), requests moved to another server
    /// (`wredis`).
    retries: u64,
    redispatches: u64,
    /// 5xx answers sent (`hrsp_5xx`).
    http_5xx: u64,
}

impl std::fmt::Display for ServerStat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sessions, {} connection errors, {} cut answers, {} connection retries, {} redispatched, {} 5xx (status {})",
            self.sessions,
            self.conn_errors,
            self.resp_errors,
            self.retries,
            self.redispatches,
            self.http_5xx,
            self.status
        )
    }
}

/// Watches the victim's status in HAProxy every 100 ms (its own thread) until `stop`;
/// returns the changes (when, new status).
fn watch_status(
    socket: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(Instant, String)>> {
    std::thread::spawn(move || {
        let mut changes: Vec<(Instant, String)> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(s) = servers_at(&socket)
                && let Some(v) = s.get(VICTIM)
                && changes.last().is_none_or(|(_, last)| *last != v.status)
            {
                changes.push((Instant::now(), v.status.clone()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        changes
    })
}

fn haproxy_version(binary: &Path) -> String {
    Command::new(binary)
        .arg("-v")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

/// A failed API request: no HTTP answer, or a 5xx.
fn is_failure(status: u16) -> bool {
    status == 0 || status >= 500
}

#[allow(clippy::too_many_lines)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_behind_haproxy_survive_a_killed_replica() {
    let plan = Plan::from_env();
    let Some(haproxy) = haproxy_binary() else {
        assert!(
            !in_ci(),
            "haproxy not found: apt-get install haproxy (scripts/lib.sh ensure_haproxy), or set HAPROXY to the binary"
        );
        eprintln!(
            "SKIPPED: haproxy not found (apt-get install haproxy, or set HAPROXY to the binary)"
        );
        return;
    };
    let Some(moto) = Moto::start() else {
        return;
    };
    let key_id = moto.setup().await;
    let dir = tempfile::tempdir().unwrap();
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).unwrap();
    // Two data directories, as on two hosts; the same secret in both.
    let configs: Vec<ServerConfig> = ["r1", "r2"]
        .iter()
        .map(|name| {
            let data_dir = dir.path().join(name);
            std::fs::create_dir(&data_dir).unwrap();
            std::fs::write(data_dir.join("server.secret"), secret).unwrap();
            ServerConfig {
                port: server::free_port(),
                data_dir,
                bucket: moto.bucket.clone(),
                kms_key_id: key_id.clone(),
                endpoint_url: moto.endpoint.clone(),
                part_size: PART_SIZE,
            }
        })
        .collect();
    let direct = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut replicas: Vec<ServerProcess> = configs.iter().map(ServerProcess::spawn).collect();
    for r in &mut replicas {
        r.wait_for(&direct, "/readyz", Duration::from_secs(60))
            .await;
    }
    let lb = Haproxy::start(
        &haproxy,
        dir.path(),
        &[("r1", configs[0].port), ("r2", configs[1].port)],
    );
    let shared = Arc::new(Shared::new(lb.url(), PART_SIZE));

    let start = Instant::now();
    let deadline = start + plan.load;
    let stop_watching = Arc::new(AtomicBool::new(false));
    let watcher = watch_status(lb.socket.clone(), Arc::clone(&stop_watching));
    eprintln!(
        "replicas: {} users for {:?} through HAProxy ({}); {VICTIM} killed at {:?}, down for {:?}",
        plan.users,
        plan.load,
        lb.url(),
        plan.kill_at,
        plan.down_for
    );

    let mut users = Vec::new();
    for i in 0..plan.users {
        let shared = Arc::clone(&shared);
        users.push(tokio::spawn(async move {
            let name = format!("replicas-user-{i}");
            let mut user = User::sign_in(&shared, &name, 2000 + i as u64)
                .await
                .unwrap();
            // Some multipart uploads in the short (debug) run too.
            user.first_upload_multipart = i < 2 || !cfg!(debug_assertions);
            while Instant::now() < deadline {
                user.step().await;
            }
            (user.name.clone(), user.owner.clone(), user.files.clone())
        }));
    }

    // The failover.
    tokio::time::sleep_until((start + plan.kill_at).into()).await;
    let before_kill = lb.servers().unwrap();
    eprintln!(
        "replicas: killing {VICTIM} (SIGKILL) at {:?}",
        start.elapsed()
    );
    let killed_at = Instant::now();
    replicas[0].kill();
    tokio::time::sleep(plan.down_for).await;
    replicas[0] = ServerProcess::spawn(&configs[0]);
    replicas[0]
        .wait_for(&direct, "/healthz", Duration::from_secs(60))
        .await;
    let process_ready_at = Instant::now();
    let at_return = lb.servers().unwrap();
    let back_by = Instant::now() + Duration::from_secs(20);
    let back_at = loop {
        if lb.servers().unwrap()[VICTIM].status == "UP" {
            break Instant::now();
        }
        assert!(
            Instant::now() < back_by,
            "haproxy did not mark the restarted {VICTIM} UP within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rejoined = lb.servers().unwrap()[VICTIM].sessions;
    eprintln!(
        "replicas: {VICTIM} answering after {:?}, back in HAProxy's rotation after {:?}",
        process_ready_at - killed_at,
        back_at - killed_at
    );
    // Answers cut by the kill arrive right away; a little slack for the last ones.
    let window_end = back_at + Duration::from_secs(1);

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
    stop_watching.store(true, Ordering::Relaxed);
    let changes = watcher.join().unwrap();
    let after_load = lb.servers().unwrap();
    let calls_in_load = shared.stats.lock().unwrap().api_calls.len();

    // Afterwards: every listing is exactly what its user completed, and every listed
    // object decrypts to its SHA-256 (through the load balancer, both replicas up).
    let mut final_files = 0u64;
    for (i, (name, owner, files)) in finished.iter().enumerate() {
        let mut user = User::sign_in(&shared, name, 6000 + i as u64).await.unwrap();
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

    // Multipart uploads still open in the bucket.
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

    let mut panics = Vec::new();
    let mut replica_logs = Vec::new();
    let mut exited = Vec::new();
    for (name, r) in ["r1", "r2"].iter().zip(replicas.iter_mut()) {
        let (codes, p) = server::scan_log(&r.log_path);
        panics.extend(p.into_iter().map(|l| format!("{name}: {l}")));
        replica_logs.push((*name, codes));
        if !r.running() {
            exited.push(*name);
        }
    }
    drop(replicas);

    // The report.
    let stats = shared.stats.lock().unwrap();
    let in_window = |at: &Instant| *at >= killed_at && *at <= window_end;
    let calls = &stats.api_calls[..calls_in_load.min(stats.api_calls.len())];
    let window_calls: Vec<u16> = calls
        .iter()
        .filter(|(at, _)| in_window(at))
        .map(|(_, s)| *s)
        .collect();
    let window_failed = window_calls.iter().filter(|s| is_failure(**s)).count();
    let mut window_by_status: BTreeMap<u16, u64> = BTreeMap::new();
    for s in window_calls.iter().filter(|s| is_failure(**s)) {
        *window_by_status.entry(*s).or_insert(0) += 1;
    }
    let outside_failed: Vec<String> = stats
        .api_calls
        .iter()
        .filter(|(at, s)| is_failure(*s) && !in_window(at))
        .map(|(at, s)| {
            format!(
                "HTTP {s} at {:.2} s",
                at.duration_since(start).as_secs_f64()
            )
        })
        .collect();
    let stray_transport: Vec<String> = stats
        .transport_errors
        .iter()
        .filter(|(at, _)| !in_window(at))
        .map(|(at, e)| format!("at {:?}: {e}", at.duration_since(start)))
        .collect();
    let covered: Vec<&client::Recovery> = stats
        .recoveries
        .iter()
        .filter(|r| in_window(&r.first_failure))
        .collect();
    let mut covered_by_op: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &covered {
        *covered_by_op.entry(r.op).or_insert(0) += 1;
    }
    let unverified: Vec<&String> = stats
        .completed_ids
        .difference(&stats.verified_ids)
        .collect();
    let total_uploads: u64 = stats.uploads.values().sum();
    let rel = |at: Instant| at.duration_since(start).as_secs_f64();

    let mut r = String::new();
    writeln!(r, "\n==== replicas report ====").unwrap();
    writeln!(
        r,
        "2 replicas behind HAProxy ({}), {} users, load phase {:.1} s (planned {:?}), then a final check of every listing",
        haproxy_version(&haproxy),
        plan.users,
        load_took.as_secs_f64(),
        plan.load
    )
    .unwrap();
    writeln!(r, "uploads completed: {total_uploads}").unwrap();
    for (k, v) in &stats.uploads {
        writeln!(r, "  {k}: {v}").unwrap();
    }
    writeln!(
        r,
        "completed uploads downloaded, decrypted and matched: {} of {} (objects); downloads verified {} in all ({:.1} MiB), {final_files} in the final check",
        stats.completed_ids.len() - unverified.len(),
        stats.completed_ids.len(),
        stats.downloads,
        stats.bytes_verified as f64 / (1024.0 * 1024.0),
    )
    .unwrap();
    writeln!(
        r,
        "failover: {VICTIM} killed at {:.2} s, down {:?}, answering again at {:.2} s, back in rotation at {:.2} s (window {:.2}–{:.2} s, {:.2} s)",
        rel(killed_at),
        plan.down_for,
        rel(process_ready_at),
        rel(back_at),
        rel(killed_at),
        rel(window_end),
        (window_end - killed_at).as_secs_f64()
    )
    .unwrap();
    let statuses: Vec<String> = changes
        .iter()
        .map(|(at, s)| format!("{:.2} s {s}", rel(*at)))
        .collect();
    writeln!(r, "  HAProxy's view of {VICTIM}: {}", statuses.join(" → ")).unwrap();
    writeln!(
        r,
        "  API requests in the window: {} of which failed {} ({:.2} %): {}",
        window_calls.len(),
        window_failed,
        if window_calls.is_empty() {
            0.0
        } else {
            100.0 * window_failed as f64 / window_calls.len() as f64
        },
        window_by_status
            .iter()
            .map(|(s, n)| {
                if *s == 0 {
                    format!("{n} without an HTTP answer")
                } else {
                    format!("{n} × {s}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    writeln!(
        r,
        "  API requests in the whole load phase: {} of which failed {}",
        calls.len(),
        calls.iter().filter(|(_, s)| is_failure(*s)).count()
    )
    .unwrap();
    writeln!(
        r,
        "  client retries: {} operations failed in the window and succeeded by retrying ({}), at most {} retries, the longest {:.2} s after its first failure; gave up: {}",
        covered.len(),
        covered_by_op
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        covered.iter().map(|r| r.retries).max().unwrap_or(0),
        covered
            .iter()
            .map(|r| r.took.as_secs_f64())
            .fold(0.0, f64::max),
        stats.gave_up
    )
    .unwrap();
    for (when, s) in [
        ("before the kill", &before_kill),
        ("when it answered again", &at_return),
        ("after the load", &after_load),
    ] {
        writeln!(r, "  HAProxy {when}:").unwrap();
        for name in ["r1", "r2", "BACKEND"] {
            if let Some(v) = s.get(name) {
                writeln!(r, "    {name}: {v}").unwrap();
            }
        }
    }
    writeln!(r, "errors seen by clients, by kind:").unwrap();
    for (k, v) in &stats.errors {
        writeln!(r, "  {k}: {v}").unwrap();
    }
    for (k, v) in &stats.resolved {
        writeln!(r, "resolved: {k}: {v}").unwrap();
    }
    for (name, codes) in &replica_logs {
        writeln!(r, "{name}'s log, failed requests by status and code:").unwrap();
        for (k, v) in codes {
            writeln!(r, "  {k}: {v}").unwrap();
        }
    }
    writeln!(
        r,
        "multipart uploads left open in the bucket: {} known to a client, {} never handed to a client (multipart starts cut by the failover: {}; a bucket lifecycle rule AbortIncompleteMultipartUpload removes them)",
        leftover_known.len(),
        leftover_orphans.len(),
        stats.multipart_starts_cut
    )
    .unwrap();
    for k in &leftover_orphans {
        writeln!(r, "  never handed to a client: {k}").unwrap();
    }
    eprintln!("{r}");

    // The verdict.
    let mut failures = Vec::new();
    failures.extend(stats.unexpected.iter().cloned());
    failures.extend(
        outside_failed
            .iter()
            .map(|e| format!("API request failed outside the failover window: {e}")),
    );
    failures.extend(
        stray_transport
            .iter()
            .map(|e| format!("transport error outside the failover window: {e}")),
    );
    failures.extend(panics.iter().map(|p| format!("replica panicked: {p}")));
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
            "{} multipart uploads nobody was told about, more than the {} starts cut by the failover",
            leftover_orphans.len(),
            stats.multipart_starts_cut
        ));
    }
    for name in &exited {
        failures.push(format!("replica {name} exited by itself"));
    }
    if !changes.iter().any(|(_, s)| s.starts_with("DOWN")) {
        failures.push(format!(
            "HAProxy never marked the killed {VICTIM} DOWN (seen: {})",
            statuses.join(" → ")
        ));
    }
    if before_kill.get("r1").is_none_or(|s| s.sessions == 0)
        || before_kill.get("r2").is_none_or(|s| s.sessions == 0)
    {
        failures.push("the load did not reach both replicas before the kill".to_owned());
    }
    if after_load[VICTIM].sessions <= rejoined {
        failures.push(format!(
            "the restarted {VICTIM} took no requests after it was back in rotation"
        ));
    }
    if window_calls.is_empty() {
        failures.push("no API request fell in the failover window (too little load)".to_owned());
    }
    if total_uploads == 0 || stats.downloads == 0 {
        failures.push("nothing was uploaded or downloaded".to_owned());
    }
    assert!(
        failures.is_empty(),
        "replicas test found {} problem(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
