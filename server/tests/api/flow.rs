//! The whole flow a browser runs: sign in, start, encrypt, PUT, complete, list,
//! download, unwrap, decrypt, delete — single PUT and 3-part multipart.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, TestServer, test_bytes};

async fn whole_flow(server: &TestServer) {
    let token = server.login("alice").await;
    let (status, me) = server.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"], "alice");

    // Single PUT: two chunks and a bit (256 KiB chunks).
    let plaintext = test_bytes(600_000, 1);
    let started = server
        .start_upload(
            &token,
            &json!({ "size": plaintext.len(), "name": "ZW5jcnlwdGVkLW5hbWU=" }),
        )
        .await;
    assert_eq!(started["upload"]["kind"], "single");
    assert_eq!(started["encryption_context"]["owner"], me["owner"]);
    assert_eq!(
        started["encryption_context"]["object"],
        started["object_id"]
    );
    let object_id = started["object_id"].as_str().unwrap().to_owned();
    let ciphertext = server.upload(&token, &started, &plaintext).await;

    let (status, list) = server.get("/api/objects", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let listed = list["objects"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["object_id"], object_id.as_str());
    assert_eq!(listed[0]["name"], "ZW5jcnlwdGVkLW5hbWU=");
    assert_eq!(listed[0]["size"], ciphertext.len());

    let downloaded = server.download(&token, &object_id).await;
    assert_eq!(
        downloaded, ciphertext,
        "the store returns exactly the uploaded bytes"
    );
    assert_eq!(
        server.decrypt(&token, &object_id, &downloaded).await,
        plaintext
    );

    let (status, _) = server
        .delete(&format!("/api/objects/{object_id}"), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server
        .get(&format!("/api/objects/{object_id}"), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (_, list) = server.get("/api/objects", Some(&token)).await;
    assert!(list["objects"].as_array().unwrap().is_empty());
}

async fn multipart_flow(server: &TestServer) {
    let token = server.login("carol").await;
    // 11 MiB with 5 MiB parts: 3 parts, the last one short.
    let plaintext = test_bytes(11 * 1024 * 1024, 7);
    let started = server
        .start_upload(
            &token,
            &json!({ "size": plaintext.len(), "multipart": true }),
        )
        .await;
    assert_eq!(started["upload"]["kind"], "multipart");
    let parts = started["upload"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "{started}");
    let object_id = started["object_id"].as_str().unwrap().to_owned();
    let ciphertext = server.upload(&token, &started, &plaintext).await;
    let downloaded = server.download(&token, &object_id).await;
    assert_eq!(downloaded.len(), ciphertext.len());
    assert!(
        downloaded == ciphertext,
        "multipart object differs from what was uploaded"
    );
    assert!(server.decrypt(&token, &object_id, &downloaded).await == plaintext);

    // Ranged GET of the second part's first chunk works with the same URL.
    let (_, dl) = server
        .get(&format!("/api/objects/{object_id}/download"), Some(&token))
        .await;
    let off = parts[1]["offset"].as_u64().unwrap();
    let resp = server
        .http
        .get(dl["request"]["url"].as_str().unwrap())
        .header("range", format!("bytes={off}-{}", off + 99))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    let o = usize::try_from(off).unwrap();
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        &ciphertext[o..o + 100]
    );

    let (status, _) = server
        .delete(&format!("/api/objects/{object_id}"), Some(&token))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn abort_flow(server: &TestServer) {
    let token = server.login("dave").await;
    let started = server
        .start_upload(
            &token,
            &json!({ "size": 6 * 1024 * 1024, "multipart": true }),
        )
        .await;
    let object_id = started["object_id"].as_str().unwrap();
    let upload_token = started["upload_token"].as_str().unwrap();
    let (status, body) = server
        .post(
            &format!("/api/uploads/{object_id}/abort"),
            Some(&token),
            &json!({ "upload_token": upload_token }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Completing an aborted upload is a clear 4xx.
    let (status, body) = server
        .post(
            &format!("/api/uploads/{object_id}/complete"),
            Some(&token),
            &json!({ "upload_token": upload_token, "parts": [{"part_number": 1, "etag": "\"x\""}, {"part_number": 2, "etag": "\"y\""}] }),
        )
        .await;
    // (moto answers CompleteMultipartUpload of an unknown upload with a bare 500;
    // the server sees the upload is gone from ListParts first.)
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "upload_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_single_put_flow() {
    let server = TestServer::local(&[]).await;
    whole_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_multipart_flow() {
    let server = TestServer::local(&[]).await;
    multipart_flow(&server).await;
    abort_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_single_put_flow() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    assert_eq!(server.backend, Backend::Moto);
    whole_flow(&server).await;
    // KMS was used, and the cache served the second key of the same owner.
    let token = server.login("erin").await;
    for _ in 0..3 {
        server.start_upload(&token, &json!({ "size": 10 })).await;
    }
    let stats = server.state.keys.stats();
    assert!(stats.cache_hits >= 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_multipart_flow() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    multipart_flow(&server).await;
    abort_flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let server = TestServer::local(&[]).await;
    let (status, body) = server.get("/healthz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = server.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key_provider"], "raw-aes");
    let (status, body) = server.get("/auth/config", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["dev_login"], true);
    // On loopback with no OIDC issuer: the safe default, no warning.
    assert!(body["dev_login_warning"].is_null(), "{body}");
    let page = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("CipherDrop"));
}

/// `/metrics` is off by default and never on the API's listener; with
/// `--metrics-listen` it is served there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_only_on_their_own_listener() {
    let server = TestServer::local(&[]).await;
    assert!(server.metrics.is_none());
    let (s, _) = server.get("/metrics", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let server = TestServer::local(&["--metrics-listen", "127.0.0.1:0"]).await;
    let (s, _) = server.get("/metrics", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let token = server.login("alice").await;
    server.start_upload(&token, &json!({ "size": 10 })).await;
    let metrics = server
        .http
        .get(format!("http://{}/metrics", server.metrics.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("cipherdrop_key_generate_calls_total 1"),
        "{text}"
    );
}
