//! The real `cipherdrop` binary as a child process (so it can be killed and started
//! again on the same port and data directory), and a sampler of its memory.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How `cipherdrop serve` is started.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub port: u16,
    pub data_dir: PathBuf,
    pub bucket: String,
    pub kms_key_id: String,
    /// The fault proxy in front of moto.
    pub endpoint_url: String,
    pub part_size: u64,
}

/// A running `cipherdrop serve`.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub config: ServerConfig,
    pub log_path: PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound and released; the server binds it right after, and
/// binds it again after a restart).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProcess {
    /// Starts the binary; its log (stderr) is appended to `<data_dir>/server.log`.
    pub fn spawn(config: &ServerConfig) -> Self {
        let log_path = config.data_dir.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let secret = config.data_dir.join("server.secret");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let child = Command::new(env!("CARGO_BIN_EXE_cipherdrop"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{}", config.port)])
            .arg("--data-dir")
            .arg(&config.data_dir)
            .args(["--bucket", &config.bucket])
            .args(["--kms-key-id", &config.kms_key_id])
            .args(["--endpoint-url", &config.endpoint_url])
            .args(["--region", "us-east-1"])
            .args(["--dev-login", "true"])
            // Shared by both incarnations (as by replicas), so sessions and upload
            // tokens survive the restart.
            .arg("--server-secret-file")
            .arg(&secret)
            .args(["--part-size", &config.part_size.to_string()])
            // The soak drives many requests per user on purpose: it measures faults
            // and restarts, not the per-user rate limit (tested in the api tests).
            .args(["--rate-limit", "0"])
            // No ./web here: the built-in page.
            .current_dir(&config.data_dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &config.data_dir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", config.data_dir.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                config.data_dir.join("no-aws-credentials"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the cipherdrop binary starts");
        Self {
            child,
            config: config.clone(),
            log_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.config.port)
    }

    /// Waits until `path` answers 200 (panics after `limit`, or if the process exits).
    pub async fn wait_for(&mut self, http: &reqwest::Client, path: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let url = format!("{}{path}", self.base());
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "cipherdrop exited with {status} during start; log: {}",
                    self.log_path.display()
                );
            }
            if let Ok(r) = http.get(&url).timeout(Duration::from_secs(2)).send().await
                && r.status() == reqwest::StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{url} did not answer 200 within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process (SIGKILL: a crash, requests in flight are cut) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// One memory sample.
#[derive(Debug, Clone, Copy)]
pub struct RssSample {
    /// Seconds since the soak started.
    pub at: f64,
    /// 1 for the first process, 2 after the restart.
    pub incarnation: u32,
    pub rss_kib: u64,
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Samples the RSS of the process whose pid is in `pid` (0 = none right now) on a
/// thread of its own (so busy async workers cannot delay it) until `stop` is set.
pub fn sample_rss(
    pid: Arc<AtomicU32>,
    incarnation: Arc<AtomicU32>,
    start: Instant,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<RssSample>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let p = pid.load(Ordering::Relaxed);
            if p != 0
                && let Some(kib) = rss_kib(p)
            {
                out.push(RssSample {
                    at: start.elapsed().as_secs_f64(),
                    incarnation: incarnation.load(Ordering::Relaxed),
                    rss_kib: kib,
                });
            }
            next += every;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        out
    })
}

/// Error lines of the server log, counted by `code`, and any panic lines.
pub fn scan_log(path: &Path) -> (std::collections::BTreeMap<String, u64>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut codes = std::collections::BTreeMap::new();
    let mut panics = Vec::new();
    for line in text.lines() {
        if line.contains("panicked") {
            panics.push(line.to_owned());
        }
        if line.contains("request failed") {
            let code = line
                .split("code=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("?")
                .trim_matches('"')
                .to_owned();
            let status = line
                .split("status=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("?")
                .to_owned();
            *codes.entry(format!("{status} {code}")).or_insert(0) += 1;
        }
    }
    (codes, panics)
}
