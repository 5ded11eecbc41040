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
        Self::start_with(None, &[], |_| {}).await
    }

    /// With `RUST_LOG=rust_log` (none by default), extra flags, and `prepare` run
    /// on the data directory's parent before the start.
    async fn start_with(
        rust_log: Option<&str>,
        extra: &[&str],
        prepare: impl FnOnce(&std::path::Path),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        let stdout = std::fs::File::create(dir.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cipherdrop"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(extra)
            .current_dir(dir.path());
        match rust_log {
            Some(level) => command.env("RUST_LOG", level),
            None => command.env_remove("RUST_LOG"),
        };
        let child = command
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

/// At `RUST_LOG=debug` (and `trace`) the whole flow, SSE-C included, leaves no
/// token, data key, SSE-C key or presigned signature in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_the_log_at_any_level() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let configured = [5u8; 32];
    for level in ["debug", "trace"] {
        let served = Served::start_with(
            Some(level),
            &["--sse", "sse-c", "--sse-c-key-file", "sse-c.key"],
            |dir| {
                let path = dir.join("sse-c.key");
                std::fs::write(&path, configured).unwrap();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .unwrap();
                }
            },
        )
        .await;
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let login: serde_json::Value = http
            .post(format!("{}/auth/dev-login", served.base))
            .json(&json!({ "user": "alice" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().unwrap().to_owned();
        let mut secrets = vec![("token", token.clone())];
        // A single PUT (sent to the store) and a multipart start (the server's own
        // S3 calls carry the SSE-C key).
        for body in [
            json!({ "size": 1000 }),
            json!({ "size": 6 << 20, "multipart": true }),
        ] {
            let resp = http
                .post(format!("{}/api/uploads", served.base))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let started: serde_json::Value = resp.json().await.unwrap();
            let Some(keys) = started["object_keys"].as_object() else {
                // The store may refuse SSE-C on a multipart start: the request
                // still went through the SDK with the key, which is what counts.
                continue;
            };
            // The browser gets one object's keys (never the data key).
            for what in ["content_key", "header_key"] {
                secrets.push((what, keys[what].as_str().unwrap().to_owned()));
            }
            let request = match started["upload"]["kind"].as_str() {
                Some("single") => started["upload"]["request"].clone(),
                _ => started["upload"]["parts"][0]["request"].clone(),
            };
            let url = request["url"].as_str().unwrap_or_default().to_owned();
            if let Some(at) = url.find("X-Amz-Signature=") {
                let sig: String = url[at + "X-Amz-Signature=".len()..]
                    .chars()
                    .take_while(char::is_ascii_hexdigit)
                    .collect();
                secrets.push(("signature", sig));
            }
            if let Some(k) =
                request["headers"]["x-amz-server-side-encryption-customer-key"].as_str()
            {
                secrets.push(("SSE-C key", k.to_owned()));
            }
            if started["upload"]["kind"] == "single" {
                let ciphertext = encrypt(&started, &test_bytes(1000, 1));
                let _ = send_presigned(&http, &request, ciphertext).await;
            }
        }
        secrets.push(("configured SSE-C key", b64.encode(configured)));
        assert!(
            secrets.iter().any(|(what, _)| *what == "SSE-C key"),
            "the flow handed out an SSE-C key"
        );
        assert!(secrets.iter().any(|(what, _)| *what == "signature"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let log = String::from_utf8_lossy(&served.log()).into_owned();
        assert!(
            log.contains(&level.to_ascii_uppercase()),
            "the log is at {level}: {log}"
        );
        for (what, secret) in &secrets {
            assert!(secret.len() >= 16, "{what} {secret}");
            assert!(
                !log.contains(secret.as_str()),
                "{what} in the log at {level}"
            );
        }
        assert!(
            !log.contains("X-Amz-Signature"),
            "a presigned URL at {level}"
        );
        assert!(
            !log.contains("x-amz-server-side-encryption-customer-key:"),
            "an SSE-C header at {level}"
        );
    }
}
