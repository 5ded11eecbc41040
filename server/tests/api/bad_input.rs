//! Bad input gets a clear 4xx JSON error, and the server keeps serving.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestServer;

fn assert_error(what: &str, got: (StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{what}: {}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{what}: {}", got.1);
    assert!(
        got.1["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}"
    );
}

async fn raw_post(
    server: &TestServer,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let resp = server
        .http
        .post(server.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_clear_4xx() {
    let server = TestServer::local(&["--max-object-size", "1073741824"]).await;
    let t = server.login("alice").await;
    let json_ct = "application/json";
    let bad = StatusCode::BAD_REQUEST;

    assert_error(
        "malformed JSON",
        raw_post(
            &server,
            "/api/uploads",
            &t,
            json_ct,
            b"{\"size\": ".to_vec(),
        )
        .await,
        bad,
        "invalid_json",
    );
    assert_error(
        "not JSON at all",
        raw_post(&server, "/api/uploads", &t, json_ct, b"\x00\xff".to_vec()).await,
        bad,
        "invalid_json",
    );
    assert_error(
        "no content type",
        raw_post(
            &server,
            "/api/uploads",
            &t,
            "text/plain",
            b"{\"size\":1}".to_vec(),
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    for (what, body) in [
        ("string size", json!({"size": "12"})),
        ("negative size", json!({"size": -1})),
        ("fractional size", json!({"size": 1.5})),
        ("size beyond u64", json!({"size": 1e30})),
        ("missing size", json!({})),
        ("unknown field", json!({"size": 1, "owner": "someone-else"})),
        ("array body", json!([1, 2])),
    ] {
        assert_error(
            what,
            server.post("/api/uploads", Some(&t), &body).await,
            bad,
            "invalid_request",
        );
    }
    assert_error(
        "over the limit",
        server
            .post("/api/uploads", Some(&t), &json!({"size": 1_073_741_825u64}))
            .await,
        bad,
        "too_large",
    );
    assert_error(
        "u64 max",
        server
            .post("/api/uploads", Some(&t), &json!({"size": u64::MAX}))
            .await,
        bad,
        "too_large",
    );
    assert_error(
        "single PUT over 5 GiB",
        TestServer::local(&[])
            .await
            .post_as_new_user(&json!({"size": 6u64 << 30, "multipart": false}))
            .await,
        bad,
        "too_large",
    );
    for c in [0u64, 1000, 3 << 20, 32 << 20] {
        assert_error(
            "chunk size",
            server
                .post(
                    "/api/uploads",
                    Some(&t),
                    &json!({"size": 1, "chunk_size": c}),
                )
                .await,
            bad,
            "invalid_chunk_size",
        );
    }
    for name in [
        "../../etc/passwd",
        "a\nb",
        "a\u{0}b",
        "name with spaces",
        "é",
        "",
    ] {
        assert_error(
            &format!("name {name:?}"),
            server
                .post("/api/uploads", Some(&t), &json!({"size": 1, "name": name}))
                .await,
            bad,
            "invalid_name",
        );
    }
    let long_name = "A".repeat(1025);
    assert_error(
        "long name",
        server
            .post(
                "/api/uploads",
                Some(&t),
                &json!({"size": 1, "name": long_name}),
            )
            .await,
        bad,
        "invalid_name",
    );
    assert_error(
        "oversized body",
        raw_post(
            &server,
            "/api/uploads",
            &t,
            json_ct,
            format!("{{\"size\":1,\"name\":\"{}\"}}", "A".repeat(40_000)).into_bytes(),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    for user in ["../admin", "a/b", "", "x\ty", &"u".repeat(65)] {
        assert_error(
            &format!("user {user:?}"),
            server
                .post("/auth/dev-login", None, &json!({"user": user}))
                .await,
            bad,
            "invalid_user",
        );
    }

    // Ids: malformed ones are 400, unknown ones 404.
    for id in [
        "..%2F..%2Fetc",
        "ABCDEF0123456789ABCDEF0123456789",
        "123",
        "%00",
    ] {
        assert_error(
            &format!("id {id}"),
            server.get(&format!("/api/objects/{id}"), Some(&t)).await,
            bad,
            "invalid_object_id",
        );
    }
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_error(
        "unknown id",
        server
            .get(&format!("/api/objects/{unknown}"), Some(&t))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        "unknown download",
        server
            .get(&format!("/api/objects/{unknown}/download"), Some(&t))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        "unknown delete",
        server
            .delete(&format!("/api/objects/{unknown}"), Some(&t))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        "forged upload token",
        server
            .post(
                &format!("/api/uploads/{unknown}/complete"),
                Some(&t),
                &json!({"upload_token": "eyJ.x.y"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "upload_not_found",
    );
    let started = server.start_upload(&t, &json!({ "size": 3 })).await;
    let mine = started["object_id"].as_str().unwrap().to_owned();
    server.upload(&t, &started, b"abc").await;
    assert_error(
        "header not base64",
        server
            .post(
                &format!("/api/objects/{mine}/keys"),
                Some(&t),
                &json!({"header": "!!"}),
            )
            .await,
        bad,
        "invalid_header",
    );
    assert_error(
        "not a header",
        server
            .post(
                &format!("/api/objects/{mine}/keys"),
                Some(&t),
                &json!({"header": "Q0lQSERST1AB"}),
            )
            .await,
        bad,
        "invalid_header",
    );
    assert_error(
        "header over 64 KiB",
        server
            .post(
                &format!("/api/objects/{mine}/keys"),
                Some(&t),
                &json!({"header": "A".repeat(90_000)}),
            )
            .await,
        bad,
        "invalid_header",
    );
    assert_error(
        "the old data-key route",
        server
            .post(
                &format!("/api/objects/{unknown}/data-key"),
                Some(&t),
                &json!({"wrapped_keys": []}),
            )
            .await,
        StatusCode::GONE,
        "endpoint_removed",
    );
    assert_error(
        "bad limit",
        server.get("/api/objects?limit=0", Some(&t)).await,
        bad,
        "invalid_limit",
    );
    assert_error(
        "bad limit type",
        server.get("/api/objects?limit=abc", Some(&t)).await,
        bad,
        "invalid_query",
    );
    assert_error(
        "no such route",
        server.get("/api/nothing", Some(&t)).await,
        StatusCode::NOT_FOUND,
        "no_route",
    );

    // Multipart requests that make no sense.
    let started = server
        .start_upload(&t, &json!({"size": 11 << 20, "multipart": true}))
        .await;
    let oid = started["object_id"].as_str().unwrap();
    let ut = started["upload_token"].as_str().unwrap();
    for numbers in [
        json!([]),
        json!([0]),
        json!([4]),
        json!((1..=101).collect::<Vec<_>>()),
    ] {
        assert_error(
            "part numbers",
            server
                .post(
                    &format!("/api/uploads/{oid}/parts"),
                    Some(&t),
                    &json!({"upload_token": ut, "part_numbers": numbers}),
                )
                .await,
            bad,
            "invalid_part_numbers",
        );
    }
    assert_error(
        "parts out of order",
        server
            .post(
                &format!("/api/uploads/{oid}/complete"),
                Some(&t),
                &json!({"upload_token": ut, "parts": [{"part_number": 2, "etag": "a"}, {"part_number": 1, "etag": "b"}, {"part_number": 3, "etag": "c"}]}),
            )
            .await,
        bad,
        "invalid_parts",
    );

    // Still serving.
    let (s, _) = server.get("/healthz", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = server.get("/api/objects", Some(&t)).await;
    assert_eq!(s, StatusCode::OK);
}

/// Per-user rate limits: over the burst, 429 with `Retry-After` and a message in
/// words; another user is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_rate_limit_are_refused_with_retry_after() {
    let server = TestServer::local(&["--rate-limit", "1", "--rate-limit-burst", "3"]).await;
    let alice = server.login("alice").await;
    for _ in 0..3 {
        let (s, body) = server.get("/api/objects", Some(&alice)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let resp = server
        .http
        .get(server.url("/api/objects"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again"),
        "{body}"
    );
    let bob = server.login("bob").await;
    assert_eq!(
        server.get("/api/objects", Some(&bob)).await.0,
        StatusCode::OK
    );
    // Unauthenticated requests are not counted against anyone: still 401.
    assert_eq!(
        server.get("/api/objects", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // After the wait, alice may go on.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(
        server.get("/api/objects", Some(&alice)).await.0,
        StatusCode::OK
    );
}

/// Requests without a valid token — sign-in, `/auth/config`, the public share
/// routes, requests that get 401 — are limited per client address: over the burst
/// 429 with `Retry-After` and the usual error shape, before any work. A signed-in
/// user's requests count against the user, not the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_public_routes_are_rate_limited_per_address() {
    let server = TestServer::local(&["--rate-limit", "1", "--rate-limit-burst", "3"]).await;
    let share = format!("/api/shares/{}", "ab".repeat(16));
    let auth = json!({ "auth": B64.encode([0u8; 32]) });
    // Three from this address: the burst.
    let alice = server.login("alice").await;
    assert_eq!(server.get("/auth/config", None).await.0, StatusCode::OK);
    let (s, body) = server.get(&share, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    // Then every route without a valid token is refused, whatever it is.
    let refused = [
        server
            .post("/auth/dev-login", None, &json!({ "user": "bob" }))
            .await,
        server.get("/auth/config", None).await,
        server.get(&share, None).await,
        server.post(&format!("{share}/open"), None, &auth).await,
        server.post(&format!("{share}/download"), None, &auth).await,
        server.get("/api/objects", None).await,
        server.get("/api/objects", Some("not-a-token")).await,
    ];
    for (i, (s, body)) in refused.iter().enumerate() {
        assert_eq!(*s, StatusCode::TOO_MANY_REQUESTS, "request {i}: {body}");
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("from this address") && message.contains("try again"),
            "{message}"
        );
    }
    let resp = server
        .http
        .post(server.url("/auth/dev-login"))
        .json(&json!({ "user": "bob" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // The signed-in user, health checks: not held back by the address.
    assert_eq!(
        server.get("/api/objects", Some(&alice)).await.0,
        StatusCode::OK
    );
    assert_eq!(server.get("/healthz", None).await.0, StatusCode::OK);
    // After the wait, signing in works again.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    let (s, body) = server
        .post("/auth/dev-login", None, &json!({ "user": "bob" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

/// `--rate-limit 0` turns the per-address limit off as it does the per-user one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_0_turns_the_per_address_limit_off() {
    let server = TestServer::local(&["--rate-limit", "0", "--rate-limit-burst", "1"]).await;
    for i in 0..30 {
        let (s, body) = server
            .post("/auth/dev-login", None, &json!({ "user": format!("u{i}") }))
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(server.get("/auth/config", None).await.0, StatusCode::OK);
    }
}

/// `--trusted-proxy`: a request from the proxy counts against the client its
/// `X-Forwarded-For` names (the rightmost entry that is not a trusted proxy);
/// a malformed header counts against the proxy; without the flag the header is
/// ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited() {
    async fn config(server: &TestServer, forwarded: Option<&str>) -> StatusCode {
        let mut req = server.http.get(server.url("/auth/config"));
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        req.send().await.unwrap().status()
    }
    const OK: StatusCode = StatusCode::OK;
    const LIMITED: StatusCode = StatusCode::TOO_MANY_REQUESTS;

    let server = TestServer::local(&[
        "--rate-limit",
        "1",
        "--rate-limit-burst",
        "2",
        "--trusted-proxy",
        "127.0.0.1,10.0.0.0/8",
    ])
    .await;
    let client_a = "203.0.113.7";
    assert_eq!(config(&server, Some(client_a)).await, OK);
    // The same client through a second trusted hop.
    assert_eq!(config(&server, Some("203.0.113.7, 10.1.2.3")).await, OK);
    assert_eq!(config(&server, Some(client_a)).await, LIMITED);
    // A forged entry left of the client's own does not make it someone else.
    assert_eq!(
        config(&server, Some("198.51.100.1, 203.0.113.7")).await,
        LIMITED
    );
    // Another client, and the proxy's own requests, have limits of their own.
    assert_eq!(config(&server, Some("203.0.113.8")).await, OK);
    assert_eq!(config(&server, Some("2001:db8::1")).await, OK);
    assert_eq!(config(&server, None).await, OK);
    // Malformed (a port, a name): counted against the proxy itself, whose burst is
    // spent after two.
    assert_eq!(config(&server, Some("203.0.113.9:443")).await, OK);
    assert_eq!(config(&server, Some("unknown")).await, LIMITED);

    // Without --trusted-proxy the header changes nothing: one address.
    let server = TestServer::local(&["--rate-limit", "1", "--rate-limit-burst", "2"]).await;
    assert_eq!(config(&server, Some("203.0.113.7")).await, OK);
    assert_eq!(config(&server, Some("203.0.113.8")).await, OK);
    assert_eq!(config(&server, Some("203.0.113.9")).await, LIMITED);
}

/// `--quota-bytes`: an upload that would take the user over the quota is refused
/// with 413 before any key or URL is handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_quota_are_refused() {
    let server = TestServer::local(&["--quota-bytes", "5000"]).await;
    let alice = server.login("alice").await;
    let plaintext = crate::support::test_bytes(3000, 2);
    let started = server
        .start_upload(&alice, &json!({ "size": plaintext.len() }))
        .await;
    server.upload(&alice, &started, &plaintext).await;
    let (s, body) = server
        .post("/api/uploads", Some(&alice), &json!({ "size": 3000 }))
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert!(body["data_key"].is_null());
    // A smaller file still fits; another user has their own quota.
    let (s, body) = server
        .post("/api/uploads", Some(&alice), &json!({ "size": 100 }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let bob = server.login("bob").await;
    let (s, body) = server
        .post("/api/uploads", Some(&bob), &json!({ "size": 3000 }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
}
