//! The life of an upload beyond the happy path: replays of old URLs, abort after
//! complete, incomplete or wrong part lists, re-signing a single PUT, and resume.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cipherdrop_server::upload_token::{UploadClaims, UploadTokens};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, TestServer, encrypt, send_presigned, test_bytes};

/// 11 MiB with 5 MiB parts: 3 parts, the last one short.
const THREE_PARTS: usize = 11 * 1024 * 1024;

fn id_of(started: &Value) -> &str {
    started["object_id"].as_str().unwrap()
}

async fn post_upload(
    server: &TestServer,
    token: &str,
    started: &Value,
    action: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({ "upload_token": started["upload_token"] });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    server
        .post(
            &format!("/api/uploads/{}/{action}", id_of(started)),
            Some(token),
            &body,
        )
        .await
}

/// Sends the given parts of `ciphertext` with freshly signed URLs; returns
/// `{"part_number", "etag"}` for each.
async fn send_parts(
    server: &TestServer,
    token: &str,
    started: &Value,
    ciphertext: &[u8],
    numbers: &[u64],
) -> Vec<Value> {
    let (status, signed) = post_upload(
        server,
        token,
        started,
        "parts",
        json!({ "part_numbers": numbers }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let mut done = Vec::new();
    for p in signed["parts"].as_array().unwrap() {
        done.push(send_part(server, p, ciphertext).await);
    }
    done
}

async fn send_part(server: &TestServer, part: &Value, ciphertext: &[u8]) -> Value {
    let off = usize::try_from(part["offset"].as_u64().unwrap()).unwrap();
    let len = usize::try_from(part["length"].as_u64().unwrap()).unwrap();
    let (status, etag) = send_presigned(
        &server.http,
        &part["request"],
        ciphertext[off..off + len].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    json!({ "part_number": part["part_number"], "etag": etag.unwrap() })
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (want, Some(code)),
        "{body}"
    );
}

async fn single_put_replay_cannot_replace(server: &TestServer) {
    let token = server.login("alice").await;
    let plaintext = test_bytes(70_000, 1);
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let request = &started["upload"]["request"];
    assert_eq!(request["headers"]["if-none-match"], "*", "{request}");
    let ciphertext = server.upload(&token, &started, &plaintext).await;

    // The same URL, later, with other bytes of the same length.
    let other = encrypt(&started, &test_bytes(70_000, 99));
    assert_ne!(other, ciphertext);
    let (status, _) = send_presigned(&server.http, request, other).await;
    assert_eq!(
        status,
        StatusCode::PRECONDITION_FAILED,
        "replay after complete"
    );
    assert!(server.download(&token, id_of(&started)).await == ciphertext);
}

/// `expected`: the store's exact answer when it is known to be S3's (404).
async fn multipart_part_replay_cannot_replace(server: &TestServer, expected: Option<StatusCode>) {
    let token = server.login("bob").await;
    let plaintext = test_bytes(THREE_PARTS, 2);
    let started = server
        .start_upload(
            &token,
            &json!({ "size": plaintext.len(), "multipart": true }),
        )
        .await;
    let ciphertext = server.upload(&token, &started, &plaintext).await;
    // A part URL from "start", sent after the upload was completed.
    let part = &started["upload"]["parts"][0];
    let len = usize::try_from(part["length"].as_u64().unwrap()).unwrap();
    let (status, _) = send_presigned(&server.http, &part["request"], vec![7; len]).await;
    // The upload is gone: S3 and the embedded store answer 404 NoSuchUpload
    // (after reading the body, so a browser sees the refusal, not a dropped
    // connection), moto a bare 500.
    assert!(!status.is_success(), "part replay after complete: {status}");
    if let Some(expected) = expected {
        assert_eq!(status, expected, "part replay after complete");
    }
    assert!(server.download(&token, id_of(&started)).await == ciphertext);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_old_urls_cannot_replace_a_finished_upload() {
    let server = TestServer::local(&[]).await;
    single_put_replay_cannot_replace(&server).await;
    multipart_part_replay_cannot_replace(&server, Some(StatusCode::NOT_FOUND)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_old_urls_cannot_replace_a_finished_upload() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    single_put_replay_cannot_replace(&server).await;
    multipart_part_replay_cannot_replace(&server, None).await;
}

async fn abort_never_deletes_a_completed_single_put(server: &TestServer) {
    let token = server.login("carol").await;
    let plaintext = test_bytes(5000, 3);

    // Completed, then aborted: 404, and the file stays.
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let ciphertext = server.upload(&token, &started, &plaintext).await;
    let (status, body) = post_upload(server, &token, &started, "abort", json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
    assert!(server.download(&token, id_of(&started)).await == ciphertext);
    // Completing again still answers 200 (a retry whose answer was lost).
    let (status, body) = post_upload(server, &token, &started, "complete", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Uploaded but not completed, then aborted: the object goes, and the upload
    // is over (complete and abort answer 404).
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let ciphertext = encrypt(&started, &plaintext);
    let (status, _) = send_presigned(&server.http, &started["upload"]["request"], ciphertext).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post_upload(server, &token, &started, "abort", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = server
        .get(&format!("/api/objects/{}", id_of(&started)), Some(&token))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = post_upload(server, &token, &started, "complete", json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");
    let (status, body) = post_upload(server, &token, &started, "abort", json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "upload_not_found");

    // Cancel racing completion: whoever wins, a 200 from complete means the file
    // is there, and exactly one of the two succeeds.
    for round in 0..4u8 {
        let started = server
            .start_upload(&token, &json!({ "size": plaintext.len() }))
            .await;
        let ciphertext = encrypt(&started, &plaintext);
        let (status, _) =
            send_presigned(&server.http, &started["upload"]["request"], ciphertext).await;
        assert_eq!(status, StatusCode::OK);
        let ((c, cbody), (a, abody)) = tokio::join!(
            post_upload(server, &token, &started, "complete", json!({})),
            post_upload(server, &token, &started, "abort", json!({})),
        );
        let (shown, _) = server
            .get(&format!("/api/objects/{}", id_of(&started)), Some(&token))
            .await;
        assert!(
            (c == StatusCode::OK) != (a == StatusCode::NO_CONTENT),
            "round {round}: complete {c} {cbody}, abort {a} {abody}"
        );
        assert_eq!(
            c == StatusCode::OK,
            shown == StatusCode::OK,
            "round {round}: complete {c}, object {shown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_abort_never_deletes_a_completed_single_put() {
    let server = TestServer::local(&[]).await;
    abort_never_deletes_a_completed_single_put(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_abort_never_deletes_a_completed_single_put() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    abort_never_deletes_a_completed_single_put(&server).await;
}

async fn complete_checks_parts_and_stays_resumable(server: &TestServer) {
    let token = server.login("dave").await;
    let plaintext = test_bytes(THREE_PARTS, 4);
    let started = server
        .start_upload(
            &token,
            &json!({ "size": plaintext.len(), "multipart": true }),
        )
        .await;
    let ciphertext = encrypt(&started, &plaintext);
    let mut done = send_parts(server, &token, &started, &ciphertext, &[1, 2]).await;

    // Part 3 was never sent.
    let mut listed = done.clone();
    listed.push(json!({ "part_number": 3, "etag": "\"0123456789abcdef0123456789abcdef\"" }));
    let (status, body) = post_upload(
        server,
        &token,
        &started,
        "complete",
        json!({ "parts": listed }),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_parts");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("part 3 "), "{message}");

    // The upload is still there: send part 3 now.
    done.extend(send_parts(server, &token, &started, &ciphertext, &[3]).await);

    // A wrong ETag for part 2.
    let mut wrong = done.clone();
    wrong[1]["etag"] = json!("\"0123456789abcdef0123456789abcdef\"");
    let (status, body) = post_upload(
        server,
        &token,
        &started,
        "complete",
        json!({ "parts": wrong }),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_parts");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("part 2 "), "{message}");

    let (status, body) = post_upload(
        server,
        &token,
        &started,
        "complete",
        json!({ "parts": done }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let downloaded = server.download(&token, id_of(&started)).await;
    assert!(downloaded == ciphertext);
    assert!(server.decrypt(&token, id_of(&started), &downloaded).await == plaintext);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_complete_checks_parts_and_stays_resumable() {
    let server = TestServer::local(&[]).await;
    complete_checks_parts_and_stays_resumable(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_complete_checks_parts_and_stays_resumable() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    complete_checks_parts_and_stays_resumable(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_single_put_url_is_resigned_as_part_1() {
    let server = TestServer::local(&[]).await;
    let token = server.login("erin").await;
    let plaintext = test_bytes(3000, 5);
    let started = server
        .start_upload(
            &token,
            &json!({ "size": plaintext.len(), "name": "bmFtZQ==" }),
        )
        .await;
    let (status, signed) = post_upload(
        &server,
        &token,
        &started,
        "parts",
        json!({ "part_numbers": [1] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let part = &signed["parts"][0];
    assert_eq!(part["part_number"], 1);
    assert_eq!(part["offset"], 0);
    assert_eq!(part["length"], started["ciphertext_length"]);
    assert_eq!(part["plaintext_length"], started["plaintext_length"]);
    assert_eq!(part["request"]["headers"]["x-amz-meta-cd-name"], "bmFtZQ==");
    let ciphertext = encrypt(&started, &plaintext);
    let (status, _) = send_presigned(&server.http, &part["request"], ciphertext).await;
    assert_eq!(status, StatusCode::OK);
    let (status, info) = post_upload(&server, &token, &started, "complete", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["name"], "bmFtZQ==");

    let (status, body) = post_upload(
        &server,
        &token,
        &started,
        "parts",
        json!({ "part_numbers": [2] }),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_part_numbers",
    );
}

/// Part `n` of `answer`'s multipart plan, computed by the rule docs/API.md gives
/// (the browser's arithmetic): the six fields the server signs parts with.
fn computed_part(answer: &Value, n: u64) -> Value {
    let get = |v: &Value| v.as_u64().unwrap();
    let c = get(&answer["chunk_size"]);
    let h = get(&answer["header_length"]);
    let l = get(&answer["plaintext_length"]);
    let k = get(&answer["upload"]["chunks_per_part"]);
    let chunks = l.div_ceil(c).max(1);
    let first = (n - 1) * k;
    let end = (n * k).min(chunks);
    let plain_end = (end * c).min(l);
    let offset = if n == 1 { 0 } else { h + first * (c + 16) };
    json!({
        "part_number": n,
        "offset": offset,
        "length": h + plain_end + 16 * end - offset,
        "first_chunk": first,
        "chunk_count": end - first,
        "plaintext_offset": first * c,
        "plaintext_length": plain_end - first * c,
    })
}

/// A signed part without its request.
fn plan_fields(part: &Value) -> Value {
    let mut p = part.clone();
    p.as_object_mut().unwrap().remove("request");
    p
}

/// Starting a 1 TiB upload answers the plan in three numbers and the first 32
/// parts signed, not a list of its 9,987 parts: the answer stays small. The plan
/// computed by docs/API.md's rule is what the server signs: first, middle and last
/// part, and the last part ends at `ciphertext_length`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_tib_start_answer_is_small_and_its_plan_is_what_the_server_signs() {
    let server = TestServer::local(&[]).await;
    let token = server.login("ivan").await;
    let resp = server
        .http
        .post(server.url("/api/uploads"))
        .bearer_auth(&token)
        .json(&json!({ "size": 1u64 << 40 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body = resp.bytes().await.unwrap();
    let started: Value = serde_json::from_slice(&body).unwrap();
    eprintln!("1 TiB start answer: {} bytes", body.len());
    assert!(body.len() < 64 * 1024, "{} bytes", body.len());

    let upload = &started["upload"];
    assert_eq!(upload["kind"], "multipart");
    let count = upload["part_count"].as_u64().unwrap();
    let k = upload["chunks_per_part"].as_u64().unwrap();
    let c = started["chunk_size"].as_u64().unwrap();
    let chunks = (1u64 << 40).div_ceil(c);
    assert_eq!(count, chunks.div_ceil(k));
    assert_eq!(count, 9987, "{upload}");
    assert_eq!(upload["part_size"].as_u64().unwrap(), k * c);
    let last = computed_part(&started, count);
    assert_eq!(
        last["offset"].as_u64().unwrap() + last["length"].as_u64().unwrap(),
        started["ciphertext_length"].as_u64().unwrap()
    );

    // The first 32, signed, in order, as computed.
    let parts = upload["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 32);
    for (i, p) in parts.iter().enumerate() {
        assert!(p["request"]["url"].is_string(), "{p}");
        assert_eq!(plan_fields(p), computed_part(&started, i as u64 + 1));
    }
    // First, middle and last, signed on demand.
    let wanted = [1, count / 2, count - 1, count];
    let (status, signed) = post_upload(
        &server,
        &token,
        &started,
        "parts",
        json!({ "part_numbers": wanted }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let signed = signed["parts"].as_array().unwrap();
    assert_eq!(signed.len(), wanted.len());
    for (p, n) in signed.iter().zip(wanted) {
        assert!(p["request"]["url"].is_string(), "{p}");
        assert_eq!(plan_fields(p), computed_part(&started, n), "part {n}");
    }

    // Resumed with nothing sent: the same plan, the first 32 signed, nothing done.
    let (status, resumed) = resume(&server, &token, &started, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert!(resumed.to_string().len() < 64 * 1024);
    assert_eq!(resumed["parts_done"], json!({}));
    for field in ["part_count", "chunks_per_part", "part_size"] {
        assert_eq!(resumed["upload"][field], upload[field], "{field}");
    }
    assert_eq!(resumed["upload"]["parts"].as_array().unwrap().len(), 32);

    let (status, _) = post_upload(&server, &token, &started, "abort", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn resume(
    server: &TestServer,
    token: &str,
    started: &Value,
    extra: Value,
) -> (StatusCode, Value) {
    post_upload(server, token, started, "resume", extra).await
}

fn assert_not_resumable(status: StatusCode, body: &Value) {
    assert_error(status, body, StatusCode::NOT_FOUND, "upload_not_found");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("This upload can no longer be resumed"),
        "{message}"
    );
}

async fn resume_multipart(server: &TestServer) {
    let token = server.login("frank").await;
    let plaintext = test_bytes(THREE_PARTS, 6);
    let started = server
        .start_upload(
            &token,
            &json!({ "size": plaintext.len(), "multipart": true }),
        )
        .await;
    let ciphertext = encrypt(&started, &plaintext);
    let sent = send_parts(server, &token, &started, &ciphertext, &[1, 3]).await;

    let (status, resumed) = resume(
        server,
        &token,
        &started,
        json!({ "header": started["header"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["kind"], "multipart");
    assert_eq!(resumed["object_id"], started["object_id"]);
    assert_eq!(resumed["object_keys"], started["object_keys"]);
    for field in [
        "encryption_context",
        "chunk_size",
        "plaintext_length",
        "header_length",
        "ciphertext_length",
        "upload_expires_at",
    ] {
        assert_eq!(resumed[field], started[field], "{field}");
    }
    assert!(resumed.get("uploaded").is_none());
    // Only the parts done, as part number → ETag.
    let parts_done = resumed["parts_done"].as_object().unwrap();
    let numbers: Vec<&str> = parts_done.keys().map(String::as_str).collect();
    assert_eq!(numbers, ["1", "3"], "{resumed}");
    assert_eq!(parts_done["1"], sent[0]["etag"]);
    assert_eq!(parts_done["3"], sent[1]["etag"]);
    let upload = &resumed["upload"];
    assert_eq!(upload["kind"], "multipart");
    for field in ["part_count", "chunks_per_part", "part_size"] {
        assert_eq!(upload[field], started["upload"][field], "{field}");
    }
    assert_eq!(upload["part_count"], 3);
    // Only the missing part is listed, signed, and as the plan computes it.
    let parts = upload["parts"].as_array().unwrap();
    let listed: Vec<u64> = parts
        .iter()
        .map(|p| p["part_number"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [2], "only the missing part is listed");
    assert!(parts[0]["request"]["url"].is_string(), "{resumed}");
    assert_eq!(plan_fields(&parts[0]), computed_part(&started, 2));

    // Without the header: no keys.
    let (status, again) = resume(server, &token, &started, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(again.get("object_keys").is_none());
    // Another upload's header (same owner, same sizes): refused.
    let other = server
        .start_upload(
            &token,
            &json!({ "size": plaintext.len(), "multipart": true }),
        )
        .await;
    let (status, body) = resume(
        server,
        &token,
        &started,
        json!({ "header": other["header"] }),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "header_mismatch");
    let (status, _) = post_upload(server, &token, &other, "abort", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Its own header with one bit of the tag flipped: refused.
    let mut bent = B64.decode(started["header"].as_str().unwrap()).unwrap();
    *bent.last_mut().unwrap() ^= 1;
    let (status, body) = resume(
        server,
        &token,
        &started,
        json!({ "header": B64.encode(&bent) }),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "header_auth_failed");

    // Someone else, and another object id: 404.
    let mallory = server.login("mallory").await;
    let (status, body) = resume(server, &mallory, &started, json!({})).await;
    assert_not_resumable(status, &body);
    let (status, body) = server
        .post(
            &format!("/api/uploads/{}/resume", "0".repeat(32)),
            Some(&token),
            &json!({ "upload_token": started["upload_token"] }),
        )
        .await;
    assert_not_resumable(status, &body);

    // Finish with the resumed request for part 2.
    let part2 = send_part(server, &parts[0], &ciphertext).await;
    let all = json!([sent[0], part2, sent[1]]);
    let (status, body) = post_upload(
        server,
        &token,
        &started,
        "complete",
        json!({ "parts": all }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let downloaded = server.download(&token, id_of(&started)).await;
    assert!(server.decrypt(&token, id_of(&started), &downloaded).await == plaintext);

    // Completed: no longer resumable.
    let (status, body) = resume(server, &token, &started, json!({})).await;
    assert_not_resumable(status, &body);

    // Aborted: no longer resumable.
    let started = server
        .start_upload(
            &token,
            &json!({ "size": plaintext.len(), "multipart": true }),
        )
        .await;
    let (status, _) = post_upload(server, &token, &started, "abort", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = resume(server, &token, &started, json!({})).await;
    assert_not_resumable(status, &body);
}

async fn resume_single(server: &TestServer) {
    let token = server.login("grace").await;
    let plaintext = test_bytes(4000, 7);
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let ciphertext = encrypt(&started, &plaintext);

    let (status, resumed) = resume(
        server,
        &token,
        &started,
        json!({ "header": started["header"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["kind"], "single");
    assert_eq!(resumed["uploaded"], false);
    assert_eq!(resumed["object_keys"], started["object_keys"]);
    assert!(resumed.get("parts_done").is_none());
    assert_eq!(resumed["upload"]["kind"], "single");
    let (status, _) = send_presigned(&server.http, &resumed["upload"]["request"], ciphertext).await;
    assert_eq!(status, StatusCode::OK);

    let (status, resumed) = resume(server, &token, &started, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["uploaded"], true);

    let (status, body) = post_upload(server, &token, &started, "complete", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = resume(server, &token, &started, json!({})).await;
    assert_not_resumable(status, &body);

    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    let (status, _) = post_upload(server, &token, &started, "abort", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = resume(server, &token, &started, json!({})).await;
    assert_not_resumable(status, &body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_resume() {
    let server = TestServer::local(&[]).await;
    resume_multipart(&server).await;
    resume_single(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_resume() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    assert_eq!(server.backend, Backend::Moto);
    resume_multipart(&server).await;
    resume_single(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_an_expired_token() {
    let server = TestServer::local(&[]).await;
    let token = server.login("heidi").await;
    let started = server
        .start_upload(&token, &json!({ "size": 100, "multipart": false }))
        .await;
    let (_, me) = server.get("/api/me", Some(&token)).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = UploadClaims {
        sub: me["owner"].as_str().unwrap().to_owned(),
        obj: id_of(&started).to_owned(),
        mpu: None,
        nm: None,
        pl: 100,
        hl: started["header_length"].as_u64().unwrap(),
        cs: u32::try_from(started["chunk_size"].as_u64().unwrap()).unwrap(),
        ps: crate::support::TEST_PART_SIZE,
        exp: now - 10,
        aud: UploadTokens::audience(),
    };
    let expired = server.state.uploads.sign(&claims).unwrap();
    let (status, body) = server
        .post(
            &format!("/api/uploads/{}/resume", id_of(&started)),
            Some(&token),
            &json!({ "upload_token": expired }),
        )
        .await;
    assert_not_resumable(status, &body);
    // The same claims, still valid, are accepted (so the expiry is what refused).
    let valid = server
        .state
        .uploads
        .sign(&UploadClaims {
            exp: now + 600,
            ..claims
        })
        .unwrap();
    let (status, body) = server
        .post(
            &format!("/api/uploads/{}/resume", id_of(&started)),
            Some(&token),
            &json!({ "upload_token": valid }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// An expired multipart upload can still be aborted by its owner (so a browser that
/// comes back too late leaves no parts behind); an expired single PUT cannot (its
/// completion record may be gone, and abort would delete a finished file), nor can
/// anyone else's.
#[tokio::test]
async fn abort_accepts_an_expired_multipart_token_only() {
    let server = TestServer::local(&[]).await;
    let token = server.login("ivan").await;
    let (_, me) = server.get("/api/me", Some(&token)).await;
    let owner = me["owner"].as_str().unwrap().to_owned();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let resign = |started: &Value, exp: u64| {
        let token = started["upload_token"].as_str().unwrap();
        let claims = server
            .state
            .uploads
            .verify(token, &owner, id_of(started))
            .unwrap();
        server
            .state
            .uploads
            .sign(&UploadClaims { exp, ..claims })
            .unwrap()
    };
    let multi = server
        .start_upload(&token, &json!({ "size": 12_000_000, "multipart": true }))
        .await;
    let id = id_of(&multi).to_owned();
    let live = multi["upload_token"].as_str().unwrap().to_owned();
    let expired = resign(&multi, now - 10);
    let path = format!("/api/uploads/{id}/abort");
    let (status, body) = server
        .post(&path, Some(&token), &json!({ "upload_token": expired }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The upload is gone: even its still-valid token cannot resume it.
    let (status, body) = server
        .post(
            &format!("/api/uploads/{id}/resume"),
            Some(&token),
            &json!({ "upload_token": live }),
        )
        .await;
    assert_not_resumable(status, &body);
    // Another user cannot use it.
    let other = server.login("judy").await;
    let (status, _) = server
        .post(&path, Some(&other), &json!({ "upload_token": expired }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let single = server
        .start_upload(&token, &json!({ "size": 100, "multipart": false }))
        .await;
    let expired = resign(&single, now - 10);
    let (status, body) = server
        .post(
            &format!("/api/uploads/{}/abort", id_of(&single)),
            Some(&token),
            &json!({ "upload_token": expired }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
