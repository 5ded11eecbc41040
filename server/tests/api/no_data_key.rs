//! No API answer carries a data key (issue 11 item 4): the browser gets the header
//! and one object's content and header keys, never the data key the key service
//! (and its cache) may share between many objects of one owner.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use cipherdrop_core::{DataKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestServer, context_from, encrypt, header_from, send_presigned, test_bytes};

/// Every answer of the flow, by what was asked.
#[derive(Default)]
struct Answers(Vec<(String, Value)>);

impl Answers {
    fn keep(&mut self, what: &str, (status, body): (StatusCode, Value)) -> Value {
        assert!(status.is_success(), "{what}: {status} {body}");
        self.0.push((what.to_owned(), body.clone()));
        body
    }
}

fn has_field(v: &Value, name: &str) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| k == name || has_field(v, name)),
        Value::Array(a) => a.iter().any(|v| has_field(v, name)),
        _ => false,
    }
}

/// The data key of the object `header` starts, from the server's own key service
/// (the test's stand-in for whoever holds the master key).
async fn data_key_of(server: &TestServer, header: &Header) -> DataKey {
    server
        .state
        .keys
        .unwrap(header.wrapped_keys(), header.context())
        .await
        .unwrap()
}

async fn flow(server: &TestServer) {
    let token = server.login("nadia").await;
    let mut answers = Answers::default();

    // Start: a single PUT (with a proposed id and a name) and a multipart upload.
    let small = test_bytes(70_000, 1);
    let proposed = "00112233445566778899aabbccddeeff";
    let single = answers.keep(
        "start single",
        server
            .post(
                "/api/uploads",
                Some(&token),
                &json!({ "size": small.len(), "object_id": proposed, "name": "bmFtZQ==", "chunk_size": 4096 }),
            )
            .await,
    );
    assert_eq!(single["object_id"], proposed);
    let large = test_bytes(6 * 1024 * 1024 + 5, 2);
    let multi = answers.keep(
        "start multipart",
        server
            .post(
                "/api/uploads",
                Some(&token),
                &json!({ "size": large.len(), "multipart": true }),
            )
            .await,
    );

    // Resume both before anything is sent, with their headers.
    for (what, started) in [("resume single", &single), ("resume multipart", &multi)] {
        let id = started["object_id"].as_str().unwrap();
        let resumed = answers.keep(
            what,
            server
                .post(
                    &format!("/api/uploads/{id}/resume"),
                    Some(&token),
                    &json!({ "upload_token": started["upload_token"], "header": started["header"] }),
                )
                .await,
        );
        assert_eq!(resumed["object_keys"], started["object_keys"], "{what}");
    }

    // Send, sign, complete.
    let single_ct = encrypt(&single, &small);
    let (status, _) = send_presigned(
        &server.http,
        &single["upload"]["request"],
        single_ct.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = single["object_id"].as_str().unwrap();
    answers.keep(
        "sign single",
        server
            .post(
                &format!("/api/uploads/{id}/parts"),
                Some(&token),
                &json!({ "upload_token": single["upload_token"], "part_numbers": [1] }),
            )
            .await,
    );
    answers.keep(
        "complete single",
        server
            .post(
                &format!("/api/uploads/{id}/complete"),
                Some(&token),
                &json!({ "upload_token": single["upload_token"] }),
            )
            .await,
    );
    let multi_ct = encrypt(&multi, &large);
    let mid = multi["object_id"].as_str().unwrap();
    let mut etags = Vec::new();
    for p in multi["upload"]["parts"].as_array().unwrap() {
        let off = usize::try_from(p["offset"].as_u64().unwrap()).unwrap();
        let len = usize::try_from(p["length"].as_u64().unwrap()).unwrap();
        let (status, etag) = send_presigned(
            &server.http,
            &p["request"],
            multi_ct[off..off + len].to_vec(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        etags.push(json!({ "part_number": p["part_number"], "etag": etag.unwrap() }));
    }
    answers.keep(
        "complete multipart",
        server
            .post(
                &format!("/api/uploads/{mid}/complete"),
                Some(&token),
                &json!({ "upload_token": multi["upload_token"], "parts": etags }),
            )
            .await,
    );

    // List, show, download, keys; open both with the keys alone.
    answers.keep("list", server.get("/api/objects", Some(&token)).await);
    answers.keep("me", server.get("/api/me", Some(&token)).await);
    for (id, ct, plain) in [(id, &single_ct, &small), (mid, &multi_ct, &large)] {
        answers.keep(
            "show",
            server
                .get(&format!("/api/objects/{id}"), Some(&token))
                .await,
        );
        answers.keep(
            "download",
            server
                .get(&format!("/api/objects/{id}/download"), Some(&token))
                .await,
        );
        let header = Header::parse(ct).unwrap();
        answers.keep(
            "keys",
            server.object_keys(&token, id, header.as_bytes()).await,
        );
        assert!(server.decrypt(&token, id, ct).await == *plain);
    }

    // The two objects' keys differ, whether or not their data keys do (the KMS
    // cache gives both the same one).
    assert_ne!(single["object_keys"], multi["object_keys"]);
    let mut data_keys = Vec::new();
    for started in [&single, &multi] {
        let header = header_from(started);
        assert_eq!(
            header.context(),
            &context_from(&started["encryption_context"])
        );
        data_keys.push(data_key_of(server, &header).await);
    }

    assert!(answers.0.len() >= 14);
    for (what, body) in &answers.0 {
        assert!(
            !has_field(body, "data_key"),
            "{what} has a data_key field: {body}"
        );
        let text = body.to_string();
        for key in &data_keys {
            let bytes = key.as_bytes();
            for form in [B64.encode(bytes), B64URL.encode(bytes), hex::encode(bytes)] {
                assert!(!text.contains(&form), "{what} carries a data key");
            }
            // Nor inside a longer base64 value, at any alignment: bytes k..k+30
            // (k = 0, 1, 2) then encode to the same 40 characters.
            for start in 0..3 {
                let window = B64.encode(&bytes[start..start + 30]);
                assert!(!text.contains(&window), "{what} carries a data key");
            }
        }
    }
}

#[tokio::test]
async fn no_answer_carries_a_data_key_local() {
    let server = TestServer::local(&[]).await;
    flow(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_carries_a_data_key_moto_with_cache() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    flow(&server).await;
}

#[tokio::test]
async fn a_proposed_object_id_is_checked() {
    let server = TestServer::local(&[]).await;
    let token = server.login("otto").await;
    let id = "0123456789abcdef0123456789abcdef";
    let started = server
        .start_upload(&token, &json!({ "size": 10, "object_id": id }))
        .await;
    assert_eq!(started["object_id"], id);
    server.upload(&token, &started, &test_bytes(10, 3)).await;
    // Taken by an object.
    let (status, body) = server
        .post(
            "/api/uploads",
            Some(&token),
            &json!({ "size": 10, "object_id": id }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("object_id_taken")),
        "{body}"
    );
    // Taken by an ended (aborted) upload: the upload record stays.
    let other = "fedcba9876543210fedcba9876543210";
    let started = server
        .start_upload(&token, &json!({ "size": 10, "object_id": other }))
        .await;
    let (status, _) = server
        .post(
            &format!("/api/uploads/{other}/abort"),
            Some(&token),
            &json!({ "upload_token": started["upload_token"] }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server
        .post(
            "/api/uploads",
            Some(&token),
            &json!({ "size": 10, "object_id": other }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("object_id_taken")),
        "{body}"
    );
    // Another owner may use the same id (ids are per owner).
    let bob = server.login("bob").await;
    let started = server
        .start_upload(&bob, &json!({ "size": 10, "object_id": id }))
        .await;
    assert_eq!(started["object_id"], id);
    // Malformed ids.
    for bad in [
        "ABCDEF0123456789abcdef0123456789",
        "0123",
        "../../etc/passwd0123456789abcdef",
    ] {
        let (status, body) = server
            .post(
                "/api/uploads",
                Some(&token),
                &json!({ "size": 10, "object_id": bad }),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_object_id")),
            "{bad}: {body}"
        );
    }
}
