//! The embedded store verifies what it is given: signature, path, expiry, length.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestServer, encrypt, send_presigned, test_bytes};

fn with_url(req: &Value, url: String) -> Value {
    let mut r = req.clone();
    r["url"] = Value::String(url);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_refuses_tampered_and_wrong_length_puts() {
    let server = TestServer::local(&[]).await;
    let token = server.login("alice").await;
    let plaintext = test_bytes(3000, 2);
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let ciphertext = encrypt(&started, &plaintext);
    let req = &started["upload"]["request"];
    let url = req["url"].as_str().unwrap().to_owned();

    // A flipped signature character.
    let sig_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.clone().into_bytes();
    tampered[sig_at] = if tampered[sig_at] == b'0' { b'1' } else { b'0' };
    let (s, _) = send_presigned(
        &server.http,
        &with_url(req, String::from_utf8(tampered).unwrap()),
        ciphertext.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "tampered signature");

    // Another object key with the same signature.
    let object_id = started["object_id"].as_str().unwrap();
    let other = url.replace(object_id, &"0".repeat(32));
    let (s, _) = send_presigned(&server.http, &with_url(req, other), ciphertext.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "tampered path");

    // One byte short and one byte long of the signed Content-Length.
    let (s, _) = send_presigned(
        &server.http,
        req,
        ciphertext[..ciphertext.len() - 1].to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "short body");
    let mut long = ciphertext.clone();
    long.push(0);
    let (s, _) = send_presigned(&server.http, req, long).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "long body");

    // Without the signed metadata header.
    let (s, _) = send_presigned(
        &server.http,
        &json!({"method": "PUT", "url": url, "headers": {}}),
        ciphertext.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "missing signed header");

    // Nothing landed: complete says so, clearly.
    let (s, body) = server
        .post(
            &format!("/api/uploads/{object_id}/complete"),
            Some(&token),
            &json!({ "upload_token": started["upload_token"] }),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_uploaded")),
        "{body}"
    );

    // The untouched request still works.
    let (s, _) = send_presigned(&server.http, req, ciphertext).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_refuses_expired_urls() {
    let server = TestServer::local(&["--presign-expiry", "1"]).await;
    let token = server.login("alice").await;
    let plaintext = test_bytes(100, 4);
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let ciphertext = encrypt(&started, &plaintext);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (s, _) = send_presigned(&server.http, &started["upload"]["request"], ciphertext).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "expired URL");
}

/// With `--sse sse-c`, each owner's presigned requests carry that owner's own
/// SSE-C key (HKDF-SHA-256 over the configured key and the owner id), never the
/// configured key: a user's key opens only their own objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_keys_are_per_owner() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("sse-c.key");
    let configured = [7u8; 32];
    std::fs::write(&key_file, configured).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let server = TestServer::local(&[
        "--sse",
        "sse-c",
        "--sse-c-key-file",
        key_file.to_str().unwrap(),
    ])
    .await;
    let mut seen = Vec::new();
    for user in ["alice", "bob"] {
        let token = server.login(user).await;
        let (_, me) = server.get("/api/me", Some(&token)).await;
        let owner = me["owner"].as_str().unwrap().to_owned();
        let started = server.start_upload(&token, &json!({ "size": 100 })).await;
        let headers = &started["upload"]["request"]["headers"];
        let sent = headers["x-amz-server-side-encryption-customer-key"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut want = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(b"cipherdrop-sse-c-owner-v1"), &configured)
            .expand(owner.as_bytes(), &mut want)
            .unwrap();
        assert_eq!(sent, b64.encode(want), "{user}");
        assert_ne!(sent, b64.encode(configured));
        let md5 = headers["x-amz-server-side-encryption-customer-key-md5"]
            .as_str()
            .unwrap();
        use md5::Digest as _;
        assert_eq!(md5, b64.encode(md5::Md5::digest(want)));
        seen.push(sent);
    }
    assert_ne!(seen[0], seen[1], "alice's and bob's SSE-C keys differ");
}

/// S3 refuses a presigned request carrying an `x-amz-*` header its signature does
/// not cover; the embedded store does too (a URL holder cannot add metadata).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_amz_headers_are_refused() {
    let server = TestServer::local(&[]).await;
    let token = server.login("alice").await;
    let plaintext = test_bytes(1000, 4);
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let ciphertext = encrypt(&started, &plaintext);
    for (name, value) in [("x-amz-meta-injected", "1"), ("x-amz-tagging", "a=b")] {
        let mut request = started["upload"]["request"].clone();
        request["headers"][name] = json!(value);
        let req = &request;
        let mut r = server
            .http
            .put(req["url"].as_str().unwrap())
            .body(ciphertext.clone());
        for (k, v) in req["headers"].as_object().unwrap() {
            r = r.header(k, v.as_str().unwrap());
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{name}");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("AccessDenied") && body.contains(name),
            "{body}"
        );
    }
    // The request as signed still works.
    let (status, _) = send_presigned(&server.http, &started["upload"]["request"], ciphertext).await;
    assert_eq!(status, StatusCode::OK);
}
