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
    assert_eq!(cfg["dev_login"], true);
    assert_eq!(
        cfg["oidc"],
        json!({"issuer": issuer.url, "audience": "cipherdrop-api", "client_id": "cipherdrop-web"})
    );
}
