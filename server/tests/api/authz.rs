//! Authorization: user B can touch nothing of user A's; bad tokens are refused.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Issuer, TestServer, test_bytes};

/// Status must be 403 or 404, never 5xx, never 2xx.
fn refused(what: &str, status: StatusCode, body: &Value) {
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "{what}: expected 403/404, got {status} {body}"
    );
    assert!(body["error"]["code"].is_string(), "{what}: {body}");
}

async fn matrix(server: &TestServer) {
    let a = server.login("alice").await;
    let b = server.login("bob").await;

    // A: one finished object and one open multipart upload.
    let plaintext = test_bytes(5000, 3);
    let started = server
        .start_upload(&a, &json!({ "size": plaintext.len(), "name": "YQ==" }))
        .await;
    let a_obj = started["object_id"].as_str().unwrap().to_owned();
    let ciphertext = server.upload(&a, &started, &plaintext).await;
    let open = server
        .start_upload(&a, &json!({ "size": 6 << 20, "multipart": true }))
        .await;
    let a_mpu = open["object_id"].as_str().unwrap().to_owned();
    let a_mpu_token = open["upload_token"].as_str().unwrap().to_owned();
    let header = cipherdrop_core::Header::parse(&ciphertext).unwrap();

    // B lists: sees nothing of A's.
    let (status, list) = server.get("/api/objects", Some(&b)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list["objects"].as_array().unwrap().is_empty(), "{list}");

    let (s, body) = server.get(&format!("/api/objects/{a_obj}"), Some(&b)).await;
    refused("show", s, &body);
    let (s, body) = server
        .get(&format!("/api/objects/{a_obj}/download"), Some(&b))
        .await;
    refused("download", s, &body);
    let (s, body) = server.object_keys(&b, &a_obj, header.as_bytes()).await;
    refused("keys", s, &body);
    let (s, body) = server
        .delete(&format!("/api/objects/{a_obj}"), Some(&b))
        .await;
    refused("delete", s, &body);
    let parts = json!([{"part_number": 1, "etag": "\"e\""}, {"part_number": 2, "etag": "\"f\""}]);
    let (s, body) = server
        .post(
            &format!("/api/uploads/{a_mpu}/complete"),
            Some(&b),
            &json!({ "upload_token": a_mpu_token, "parts": parts }),
        )
        .await;
    refused("complete", s, &body);
    let (s, body) = server
        .post(
            &format!("/api/uploads/{a_mpu}/parts"),
            Some(&b),
            &json!({ "upload_token": a_mpu_token, "part_numbers": [1] }),
        )
        .await;
    refused("sign parts", s, &body);
    let (s, body) = server
        .post(
            &format!("/api/uploads/{a_mpu}/abort"),
            Some(&b),
            &json!({ "upload_token": a_mpu_token }),
        )
        .await;
    refused("abort", s, &body);

    // B replays A's upload token against B's own object id: still refused.
    let b_started = server.start_upload(&b, &json!({ "size": 10 })).await;
    let b_obj = b_started["object_id"].as_str().unwrap().to_owned();
    let (s, body) = server
        .post(
            &format!("/api/uploads/{b_obj}/abort"),
            Some(&b),
            &json!({ "upload_token": a_mpu_token }),
        )
        .await;
    refused("abort with A's token on B's object", s, &body);

    // B uploads an object and sends A's header for it: its context names A's
    // object, so it is refused before any key is unwrapped.
    server.upload(&b, &b_started, &test_bytes(10, 9)).await;
    let (s, body) = server.object_keys(&b, &b_obj, header.as_bytes()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "header_mismatch");
    // A header B made for B's object, carrying A's wrapped keys: the key service
    // itself refuses (KMS context / raw-aes AAD name the owner).
    let b_context = crate::support::context_from(&b_started["encryption_context"]);
    let forged = cipherdrop_core::Sealer::new(
        &cipherdrop_core::DataKey::generate().unwrap(),
        &b_context,
        header.wrapped_keys(),
        cipherdrop_core::ChunkSize::from_u64(4096).unwrap(),
        Some(10),
    )
    .unwrap();
    let (s, body) = server
        .object_keys(&b, &b_obj, forged.header().as_bytes())
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "key_access_denied");

    // A's things are intact and usable.
    assert_eq!(server.download(&a, &a_obj).await, ciphertext);
    assert_eq!(server.decrypt(&a, &a_obj, &ciphertext).await, plaintext);
    let (s, body) = server
        .post(
            &format!("/api/uploads/{a_mpu}/abort"),
            Some(&a),
            &json!({ "upload_token": a_mpu_token }),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_authorization_matrix() {
    matrix(&TestServer::local(&[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_authorization_matrix() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    matrix(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_verified() {
    let issuer = Issuer::start().await;
    let server = TestServer::local(&[
        "--dev-login",
        "true",
        "--oidc-issuer",
        &issuer.url,
        "--oidc-audience",
        "cipherdrop-test",
    ])
    .await;

    // A good OIDC token works, and its user is not the dev user of the same name.
    let good = issuer.token("alice", "cipherdrop-test", 300, false);
    let (s, me) = server.get("/api/me", Some(&good)).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    let dev = server.login("alice").await;
    let (_, dev_me) = server.get("/api/me", Some(&dev)).await;
    assert_ne!(me["owner"], dev_me["owner"]);

    for (what, token) in [
        (
            "wrong audience",
            issuer.token("alice", "someone-else", 300, false),
        ),
        (
            "expired",
            issuer.token("alice", "cipherdrop-test", -3600, false),
        ),
        (
            "badly signed",
            issuer.token("alice", "cipherdrop-test", 300, true),
        ),
        ("garbage", "not.a.token".to_owned()),
        ("tampered dev token", format!("{}x", &dev[..dev.len() - 1])),
    ] {
        let (s, body) = server.get("/api/me", Some(&token)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
    }

    // A dev token from another server (another secret) is refused.
    let other = TestServer::local(&[]).await;
    let foreign = other.login("alice").await;
    let (s, _) = server.get("/api/me", Some(&foreign)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // No token, wrong scheme.
    let (s, _) = server.get("/api/objects", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let resp = server
        .http
        .get(server.url("/api/objects"))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_login_can_be_turned_off() {
    let issuer = Issuer::start().await;
    let server = TestServer::local(&[
        "--dev-login",
        "false",
        "--oidc-issuer",
        &issuer.url,
        "--oidc-audience",
        "cipherdrop-test",
    ])
    .await;
    let (s, body) = server
        .post("/auth/dev-login", None, &json!({ "user": "alice" }))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "dev_login_disabled");
    let (_, cfg) = server.get("/auth/config", None).await;
    assert_eq!(cfg["dev_login"], false);
    assert_eq!(cfg["oidc"]["issuer"], issuer.url.as_str());
    assert_eq!(cfg["oidc"]["audience"], "cipherdrop-test");
    // Without --oidc-client-id the page signs in with the audience as client id.
    assert_eq!(cfg["oidc"]["client_id"], "cipherdrop-test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_config_names_the_oidc_client_id() {
    let issuer = Issuer::start().await;
    let server = TestServer::local(&[
        "--oidc-issuer",
        &issuer.url,
        "--oidc-audience",
        "cipherdrop-api",
        "--oidc-client-id",
        "cipherdrop-web",
    ])
    .await;
    let (s, cfg) = server.get("/auth/config", None).await;
    assert_eq!(s, StatusCode::OK, "{cfg}");
    // With an OIDC issuer the development login is off unless asked for.
    assert_eq!(cfg["dev_login"], false);
    assert_eq!(cfg["dev_login_warning"], Value::Null);
    let (s, body) = server
        .post("/auth/dev-login", None, &json!({ "user": "alice" }))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        cfg["oidc"],
        json!({"issuer": issuer.url, "audience": "cipherdrop-api", "client_id": "cipherdrop-web"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_login_beside_oidc_is_announced_loudly() {
    let issuer = Issuer::start().await;
    let server = TestServer::local(&[
        "--dev-login",
        "true",
        "--oidc-issuer",
        &issuer.url,
        "--oidc-audience",
        "cipherdrop-api",
    ])
    .await;
    let (s, cfg) = server.get("/auth/config", None).await;
    assert_eq!(s, StatusCode::OK, "{cfg}");
    assert_eq!(cfg["dev_login"], true);
    let warning = cfg["dev_login_warning"].as_str().unwrap();
    assert!(
        warning.contains("DEVELOPMENT LOGIN IS ON") && warning.contains("any user"),
        "{warning}"
    );
    server.login("alice").await;
}

/// A listener beyond loopback turns the development login off: `serve` refuses
/// to start with nobody able to sign in (before it binds anything).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_login_is_not_on_by_default_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    for argv in [
        vec!["serve", "--listen", "0.0.0.0:0"],
        vec!["serve", "--local-s3-listen", "0.0.0.0:0"],
    ] {
        let mut argv = argv;
        argv.extend(["--data-dir", dir.path().to_str().unwrap()]);
        let args = crate::support::serve_args(&argv);
        let e = cipherdrop_server::serve::prepare(&args, rx.clone())
            .await
            .expect_err("refused")
            .to_string();
        assert!(e.contains("loopback"), "{e}");
    }
    drop(tx);
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_before_is_checked_with_the_expiry_leeway() {
    let issuer = Issuer::start().await;
    let server = TestServer::local(&["--oidc-issuer", &issuer.url, "--oidc-audience", "cd"]).await;
    let now = unix_now();
    let claims =
        |nbf: i64| json!({"aud": "cd", "sub": "alice", "iat": now, "exp": now + 3600, "nbf": nbf});
    let later = issuer.signed(claims(now + 600), crate::support::ISSUER_KID);
    let (s, body) = server.get("/api/me", Some(&later)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["message"], "token not valid yet");
    // Within the 30 s leeway (a clock slightly ahead of ours), and past: accepted.
    for nbf in [now + 10, now - 60] {
        let t = issuer.signed(claims(nbf), crate::support::ISSUER_KID);
        let (s, body) = server.get("/api/me", Some(&t)).await;
        assert_eq!(s, StatusCode::OK, "nbf {nbf}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_key_ids_cost_one_jwks_fetch_and_stall_nobody() {
    use std::sync::atomic::Ordering;
    let issuer = Issuer::start().await;
    let server = TestServer::local(&["--oidc-issuer", &issuer.url, "--oidc-audience", "cd"]).await;
    let now = unix_now();
    let claims = json!({"aud": "cd", "sub": "alice", "iat": now, "exp": now + 3600});
    // A cold start: good tokens and made-up key ids at once share one fetch.
    let mut tasks = Vec::new();
    for i in 0..24 {
        let kid = if i % 2 == 0 {
            crate::support::ISSUER_KID.to_owned()
        } else {
            format!("made-up-{i}")
        };
        let token = issuer.signed(claims.clone(), &kid);
        let http = server.http.clone();
        let url = server.url("/api/me");
        tasks.push(tokio::spawn(async move {
            let s = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status();
            (i, s)
        }));
    }
    for t in tasks {
        let (i, s) = t.await.unwrap();
        let want = if i % 2 == 0 {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(s, want, "request {i}");
    }
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 1);
    // A stream of new made-up key ids: refused at once, no new fetch.
    let started = std::time::Instant::now();
    for i in 0..50 {
        let t = issuer.signed(claims.clone(), &format!("another-{i}"));
        let (s, body) = server.get("/api/me", Some(&t)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            body["error"]["message"],
            "token signed by a key the issuer does not list"
        );
    }
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 1);
    // 50 answers without the issuer's 300 ms per fetch.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let good = issuer.signed(claims, crate::support::ISSUER_KID);
    assert_eq!(server.get("/api/me", Some(&good)).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_urls_must_be_https_or_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    for (flag, url) in [
        ("--oidc-issuer", "http://127.evil.example"),
        ("--oidc-issuer", "http://localhost.evil.example"),
        ("--oidc-jwks-url", "http://localhost.evil.example/jwks"),
    ] {
        let mut argv = vec!["serve", "--data-dir", dir.path().to_str().unwrap()];
        argv.extend(["--oidc-audience", "cd", flag, url]);
        if flag != "--oidc-issuer" {
            argv.extend(["--oidc-issuer", "https://issuer.example"]);
        }
        let args = crate::support::serve_args(&argv);
        let e = cipherdrop_server::serve::prepare(&args, rx.clone())
            .await
            .expect_err("refused")
            .to_string();
        assert!(e.contains(flag) && e.contains("https://"), "{e}");
    }
}
