//! Share links (docs/API.md "Sharing"): created by the owner, opened without an
//! account by whoever proves it holds the link, limited in time, downloads and
//! wrong passwords, withdrawn with the link or the file. The sealed bytes are
//! opaque to the server, so here they are random; the file bytes are compared.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::{TestServer, send_presigned_get, test_bytes};

/// What the owner's browser makes for one link.
struct Link {
    share_id: String,
    auth: String,
    body: Value,
}

/// Seconds since the Unix epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).unwrap();
    b
}

fn link(extra: &Value) -> Link {
    let share_id = hex::encode(random::<16>());
    let auth = random::<32>();
    let mut body = json!({
        "share_id": share_id,
        "verifier": B64.encode(Sha256::digest(auth)),
        "sealed": B64.encode(random::<200>()),
        "owner_sealed": B64.encode(random::<60>()),
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    Link {
        share_id,
        auth: B64.encode(auth),
        body,
    }
}

async fn uploaded(server: &TestServer, token: &str, len: usize) -> (String, Vec<u8>) {
    let started = server
        .start_upload(token, &json!({ "size": len, "name": "bmFtZQ==" }))
        .await;
    let id = started["object_id"].as_str().unwrap().to_owned();
    let ciphertext = server.upload(token, &started, &test_bytes(len, 5)).await;
    (id, ciphertext)
}

async fn create(server: &TestServer, token: &str, object_id: &str, l: &Link) -> Value {
    let (status, body) = server
        .post(
            &format!("/api/objects/{object_id}/shares"),
            Some(token),
            &l.body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn open(server: &TestServer, share_id: &str, auth: &str) -> (StatusCode, Value) {
    server
        .post(
            &format!("/api/shares/{share_id}/open"),
            None,
            &json!({ "auth": auth }),
        )
        .await
}

async fn download(server: &TestServer, share_id: &str, auth: &str) -> (StatusCode, Value) {
    server
        .post(
            &format!("/api/shares/{share_id}/download"),
            None,
            &json!({ "auth": auth }),
        )
        .await
}

fn assert_unavailable(what: &str, status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
    assert_eq!(body["error"]["code"], "link_unavailable", "{what}: {body}");
}

async fn share_links(server: &TestServer) {
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let (object_id, ciphertext) = uploaded(server, &alice, 70_000).await;

    // Created with a limit of 2 downloads; the default lifetime is 7 days.
    let l = link(&json!({ "max_downloads": 2 }));
    let created = create(server, &alice, &object_id, &l).await;
    assert_eq!(created["share_id"], l.share_id.as_str());
    assert_eq!(created["downloads_left"], 2);
    let ttl = created["expires_at"].as_u64().unwrap() - created["created_at"].as_u64().unwrap();
    assert_eq!(ttl, 7 * 86_400);
    assert!(created.get("verifier").is_none() && created.get("sealed").is_none());

    // The same id again: 409.
    let (status, body) = server
        .post(
            &format!("/api/objects/{object_id}/shares"),
            Some(&alice),
            &l.body,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "share_id_taken");

    // Without a token: the start says there is no password.
    let (status, start) = server
        .get(&format!("/api/shares/{}", l.share_id), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert_eq!(start["password"], Value::Null);

    // A changed fragment gives another auth: refused, and it never closes the link.
    let wrong = B64.encode(random::<32>());
    for _ in 0..12 {
        let (status, body) = open(server, &l.share_id, &wrong).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "link_changed");
    }
    let (status, body) = open(server, &l.share_id, "c2hvcnQ=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The right auth opens it (no download counted) ...
    let (status, opened) = open(server, &l.share_id, &l.auth).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["sealed"], l.body["sealed"]);
    assert_eq!(opened["object_id"], object_id.as_str());
    assert_eq!(opened["size"], ciphertext.len());
    assert_eq!(opened["downloads_left"], 2);
    // ... and downloads it twice, the stored bytes each time.
    for left in [1, 0] {
        let (status, d) = download(server, &l.share_id, &l.auth).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        assert_eq!(d["downloads_left"], left);
        assert!(send_presigned_get(&server.http, &d["request"]).await == ciphertext);
    }
    // Used up: one answer for everything.
    let (status, used_up) = download(server, &l.share_id, &l.auth).await;
    assert_unavailable("third download", status, &used_up);
    let (status, body) = open(server, &l.share_id, &l.auth).await;
    assert_unavailable("open when used up", status, &body);

    // The owner's list.
    let (status, list) = server
        .get(&format!("/api/objects/{object_id}/shares"), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["shares"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["shares"][0]["downloads"], 2);
    assert_eq!(list["shares"][0]["downloads_left"], 0);
    assert_eq!(list["shares"][0]["owner_sealed"], l.body["owner_sealed"]);

    // Bob can neither list, share, nor withdraw Alice's.
    let (_, list) = server
        .get(&format!("/api/objects/{object_id}/shares"), Some(&bob))
        .await;
    assert_eq!(list["shares"], json!([]), "{list}");
    let (status, _) = server
        .post(
            &format!("/api/objects/{object_id}/shares"),
            Some(&bob),
            &link(&json!({})).body,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let l2 = link(&json!({}));
    create(server, &alice, &object_id, &l2).await;
    let (status, _) = server
        .delete(&format!("/api/shares/{}", l2.share_id), Some(&bob))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = open(server, &l2.share_id, &l2.auth).await;
    assert_eq!(status, StatusCode::OK);

    // A presigned GET handed out before the link is withdrawn.
    let (status, before) = download(server, &l2.share_id, &l2.auth).await;
    assert_eq!(status, StatusCode::OK, "{before}");

    // Withdrawn by Alice: the same answer as used up.
    let (status, _) = server
        .delete(&format!("/api/shares/{}", l2.share_id), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The documented bound of withdrawing (SECURITY.md "Share links"): a URL already
    // handed out still reads the ciphertext until it expires (`--presign-expiry`);
    // the link gives no new one.
    assert!(send_presigned_get(&server.http, &before["request"]).await == ciphertext);
    assert!(before["urls_expire_at"].as_u64().unwrap() <= now() + 900);
    let (status, withdrawn) = download(server, &l2.share_id, &l2.auth).await;
    assert_unavailable("withdrawn", status, &withdrawn);
    assert_eq!(
        withdrawn, used_up,
        "withdrawn and used-up links must look the same"
    );
    let (status, unknown) = server
        .get(
            &format!("/api/shares/{}", hex::encode(random::<16>())),
            None,
        )
        .await;
    assert_unavailable("unknown", status, &unknown);
    assert_eq!(unknown, used_up);

    // Expired.
    let l3 = link(&json!({ "expires_in": 1 }));
    create(server, &alice, &object_id, &l3).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, expired) = open(server, &l3.share_id, &l3.auth).await;
    assert_unavailable("expired", status, &expired);
    assert_eq!(expired, used_up);

    // Deleting the file kills its links.
    let l4 = link(&json!({}));
    create(server, &alice, &object_id, &l4).await;
    let (status, _) = server
        .delete(&format!("/api/objects/{object_id}"), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = server
        .get(&format!("/api/shares/{}", l4.share_id), None)
        .await;
    assert_unavailable("file deleted", status, &gone);
    let (_, list) = server
        .get(&format!("/api/objects/{object_id}/shares"), Some(&alice))
        .await;
    assert_eq!(list["shares"], json!([]), "{list}");
}

async fn password_attempts(server: &TestServer) {
    let alice = server.login("carol").await;
    let (object_id, _) = uploaded(server, &alice, 10).await;
    let params = json!({ "salt": B64.encode([7u8; 16]), "m": 65536, "t": 3, "p": 1 });
    let l = link(&json!({ "password": params }));
    create(server, &alice, &object_id, &l).await;
    let (status, start) = server
        .get(&format!("/api/shares/{}", l.share_id), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(start["password"], params);

    let wrong = B64.encode(random::<32>());
    for left in (1..10).rev() {
        let (status, body) = open(server, &l.share_id, &wrong).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "wrong_password");
        let message = body["error"]["message"].as_str().unwrap();
        let attempts = if left == 1 { "attempt" } else { "attempts" };
        assert!(
            message.contains(&format!("{left} {attempts} left")),
            "{message}"
        );
        assert_eq!(body["error"]["attempts_left"], left, "{body}");
    }
    // The right password still works before the tenth wrong one ...
    let (status, _) = open(server, &l.share_id, &l.auth).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = open(server, &l.share_id, &wrong).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("now closed")
    );
    assert_eq!(body["error"]["attempts_left"], 0, "{body}");
    // ... and not after: the link is closed for everyone.
    let (status, body) = open(server, &l.share_id, &l.auth).await;
    assert_unavailable("closed after wrong passwords", status, &body);
}

/// Eight recipients race for the last download: exactly one gets it.
async fn last_download_race(server: &TestServer) {
    let alice = server.login("dave").await;
    let (object_id, _) = uploaded(server, &alice, 10).await;
    let l = link(&json!({ "max_downloads": 1 }));
    create(server, &alice, &object_id, &l).await;
    let tries = (0..8).map(|_| download(server, &l.share_id, &l.auth));
    let results = futures_util::future::join_all(tries).await;
    let won = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let lost = results
        .iter()
        .filter(|(s, b)| *s == StatusCode::NOT_FOUND && b["error"]["code"] == "link_unavailable")
        .count();
    // Statuses and error codes only: a winner's body holds a presigned URL.
    let seen: Vec<_> = results
        .iter()
        .map(|(s, b)| (s.as_u16(), b["error"]["code"].clone()))
        .collect();
    assert_eq!((won, lost), (1, 7), "{seen:?}");
}

async fn bad_requests(server: &TestServer) {
    let alice = server.login("erin").await;
    let (object_id, _) = uploaded(server, &alice, 10).await;
    let path = format!("/api/objects/{object_id}/shares");
    for (what, extra) in [
        ("no downloads", json!({ "max_downloads": 0 })),
        ("too many downloads", json!({ "max_downloads": 1001 })),
        ("too long", json!({ "expires_in": 31 * 86_400 })),
        ("zero lifetime", json!({ "expires_in": 0 })),
        (
            "short verifier",
            json!({ "verifier": B64.encode([1u8; 31]) }),
        ),
        (
            "sealed too big",
            json!({ "sealed": B64.encode(vec![1u8; 4097]) }),
        ),
        ("empty sealed", json!({ "sealed": "" })),
        ("share id", json!({ "share_id": "ABC" })),
        ("unknown field", json!({ "name": "x" })),
        (
            "argon2 memory",
            json!({ "password": { "salt": B64.encode([1u8; 16]), "m": 1 << 20, "t": 3, "p": 1 } }),
        ),
        (
            "argon2 salt",
            json!({ "password": { "salt": B64.encode([1u8; 8]), "m": 65536, "t": 3, "p": 1 } }),
        ),
    ] {
        let (status, body) = server.post(&path, Some(&alice), &link(&extra).body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert!(body["error"]["message"].is_string(), "{what}: {body}");
    }
    let (status, _) = server
        .post(
            &format!("/api/objects/{}/shares", "0".repeat(32)),
            Some(&alice),
            &link(&json!({})).body,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.post(&path, None, &link(&json!({})).body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = server.get("/api/shares/not-an-id", None).await;
    assert_unavailable("malformed id", status, &body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_share_links() {
    let server = TestServer::local(&[]).await;
    share_links(&server).await;
    password_attempts(&server).await;
    last_download_race(&server).await;
    bad_requests(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_share_links() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    share_links(&server).await;
    password_attempts(&server).await;
    last_download_race(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_lifetime_is_capped_by_the_operator() {
    let server = TestServer::local(&["--share-max-days", "1"]).await;
    let alice = server.login("frank").await;
    let (object_id, _) = uploaded(&server, &alice, 10).await;
    let (status, body) = server
        .post(
            &format!("/api/objects/{object_id}/shares"),
            Some(&alice),
            &link(&json!({ "expires_in": 2 * 86_400 })).body,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1 day "),
        "{body}"
    );
    let created = create(&server, &alice, &object_id, &link(&json!({}))).await;
    let ttl = created["expires_at"].as_u64().unwrap() - created["created_at"].as_u64().unwrap();
    assert_eq!(ttl, 86_400, "the default is shortened to the cap");
}
