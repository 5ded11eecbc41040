//! The log of `cipherdrop serve` written to a file, as an operator keeps it: no
//! colour codes, and refused presigned requests are not logged as errors.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{encrypt, send_presigned, test_bytes};

/// `cipherdrop serve` in the local mode, stdout and stderr to files.
struct Served {
    child: Child,
    dir: tempfile::TempDir,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stdout = std::fs::File::create(dir.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cipherdrop"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let base = loop {
            let out = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
            if let Some(url) = out
                .lines()
                .find_map(|l| l.strip_prefix("CipherDrop is running at "))
            {
                break url.trim().trim_end_matches('/').to_owned();
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Self { child, dir, base }
    }

    fn log(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("stderr")).unwrap()
    }

    /// Signs in, starts an upload and sends its PUT with a broken signature.
    async fn refused_put(&self) {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let login: serde_json::Value = http
            .post(format!("{}/auth/dev-login", self.base))
            .json(&json!({ "user": "alice" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().unwrap();
        let started: serde_json::Value = http
            .post(format!("{}/api/uploads", self.base))
            .bearer_auth(token)
            .json(&json!({ "size": 1000 }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut request = started["upload"]["request"].clone();
        let url = request["url"].as_str().unwrap().to_owned();
        let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
        let flipped = if &url[at..=at] == "0" { "1" } else { "0" };
        request["url"] = json!(format!("{}{flipped}{}", &url[..at], &url[at + 1..]));
        let ciphertext = encrypt(&started, &test_bytes(1000, 1));
        let (status, _) = send_presigned(&http, &request, ciphertext).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Let the server write its log lines.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_to_a_file_has_no_colour_codes() {
    let served = Served::start().await;
    served.refused_put().await;
    let log = served.log();
    assert!(
        String::from_utf8_lossy(&log).contains("cipherdrop is serving"),
        "{}",
        String::from_utf8_lossy(&log)
    );
    assert!(
        !log.contains(&0x1b),
        "ESC in the log file: {}",
        String::from_utf8_lossy(&log)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_presigned_request_is_not_logged_as_an_error() {
    let served = Served::start().await;
    served.refused_put().await;
    let log = String::from_utf8_lossy(&served.log()).into_owned();
    assert!(
        log.contains("embedded store refused a request"),
        "the refusal is logged: {log}"
    );
    assert!(!log.contains("ERROR"), "an ERROR line: {log}");
    assert!(!log.contains("X-Amz-Signature"), "a presigned URL: {log}");
}
