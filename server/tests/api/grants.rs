//! Grants (docs/API.md "Sharing with another user"): an owner shares one file
//! with another user of the same server by handle; the grantee lists it,
//! downloads it and gets its keys, and reaches nothing else of the owner's.
//! `sealed_meta` is opaque to the server, so here it is random bytes.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use cipherdrop_core::{Header, Opener};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::{
    ISSUER_KID, Issuer, TestServer, context_from, object_keys_from, send_presigned_get, test_bytes,
};

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).unwrap();
    b
}

fn sealed_meta() -> String {
    B64URL.encode(random::<60>())
}

/// `hex(SHA-256("cipherdrop-grantee-v1\0" ‖ source ‖ "\0" ‖ handle))[..32]`.
fn grantee_id(source: &str, handle: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"cipherdrop-grantee-v1\0");
    h.update(source.as_bytes());
    h.update(b"\0");
    h.update(handle.as_bytes());
    hex::encode(h.finalize())[..32].to_owned()
}

/// Uploads `len` bytes as `token`; returns the id, plaintext and ciphertext.
async fn uploaded(server: &TestServer, token: &str, len: usize) -> (String, Vec<u8>, Vec<u8>) {
    let started = server
        .start_upload(token, &json!({ "size": len, "name": "bmFtZQ==" }))
        .await;
    let id = started["object_id"].as_str().unwrap().to_owned();
    let plaintext = test_bytes(len, 11);
    let ciphertext = server.upload(token, &started, &plaintext).await;
    (id, plaintext, ciphertext)
}

async fn owner_of(server: &TestServer, token: &str) -> String {
    let (status, me) = server.get("/api/me", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["owner"].as_str().unwrap().to_owned()
}

async fn grant(server: &TestServer, token: &str, object_id: &str, body: &Value) -> Value {
    let (status, g) = server
        .post(&format!("/api/objects/{object_id}/grants"), Some(token), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    g
}

async fn shared_with_me(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, list) = server.get("/api/shared-with-me", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["grants"].as_array().unwrap().clone()
}

async fn shared_keys(
    server: &TestServer,
    token: &str,
    owner: &str,
    object_id: &str,
    header: &[u8],
) -> (StatusCode, Value) {
    server
        .post(
            &format!("/api/shared/{owner}/{object_id}/keys"),
            Some(token),
            &json!({ "header": B64.encode(header) }),
        )
        .await
}

/// Decrypts `ciphertext` with the keys of an API answer, as a browser does.
fn decrypt_with(keys: &Value, ciphertext: &[u8]) -> Vec<u8> {
    let header = Header::parse(ciphertext).unwrap();
    let start = header.len();
    let opener = Opener::with_object_keys(
        header,
        &object_keys_from(&keys["object_keys"]),
        &context_from(&keys["encryption_context"]),
    )
    .unwrap();
    let mut stream = opener.into_stream();
    let mut out = Vec::new();
    stream.push(&ciphertext[start..], &mut out).unwrap();
    stream.finish(&mut out).unwrap();
    out
}

/// Status must be 4xx (404 where the route names something not the caller's),
/// never 5xx, never 2xx.
fn refused(what: &str, status: StatusCode, body: &Value) {
    assert!(status.is_client_error(), "{what}: got {status} {body}");
    assert!(body["error"]["code"].is_string(), "{what}: {body}");
}

fn not_found(what: &str, status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
    assert_eq!(body["error"]["code"], "not_found", "{what}: {body}");
}

async fn grant_flow(server: &TestServer) {
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let (_, me) = server.get("/api/me", Some(&bob)).await;
    assert_eq!(me["handle"], "bob", "{me}");
    let alice_owner = owner_of(server, &alice).await;
    let (object_id, plaintext, ciphertext) = uploaded(server, &alice, 70_000).await;
    let header = Header::parse(&ciphertext).unwrap();

    // Nothing shared yet.
    assert!(shared_with_me(server, &bob).await.is_empty());

    let meta = sealed_meta();
    let g = grant(
        server,
        &alice,
        &object_id,
        &json!({ "grantee": "bob", "sealed_meta": meta }),
    )
    .await;
    assert_eq!(g["grantee"], "bob");
    assert_eq!(g["grantee_id"], grantee_id("dev", "bob").as_str());
    assert_eq!(g["object_id"], object_id.as_str());
    let created_at = g["created_at"].as_u64().unwrap();
    assert!(g.get("sealed_meta").is_none(), "{g}");

    // Bob sees it ...
    let list = shared_with_me(server, &bob).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let item = &list[0];
    assert_eq!(item["owner"], alice_owner.as_str());
    assert_eq!(item["from"], "alice");
    assert_eq!(item["object_id"], object_id.as_str());
    assert_eq!(item["size"], ciphertext.len());
    assert!(item["last_modified"].is_string(), "{item}");
    assert_eq!(item["granted_at"], created_at);
    assert_eq!(item["sealed_meta"], meta.as_str());

    // ... downloads it (the stored bytes) ...
    let path = format!("/api/shared/{alice_owner}/{object_id}");
    let (status, d) = server.get(&format!("{path}/download"), Some(&bob)).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["object"]["object_id"], object_id.as_str());
    assert_eq!(d["object"]["size"], ciphertext.len());
    assert!(d["urls_expire_at"].as_u64().unwrap() > created_at);
    assert!(send_presigned_get(&server.http, &d["request"]).await == ciphertext);
    // ... and gets its keys, which open it.
    let (status, keys) = shared_keys(server, &bob, &alice_owner, &object_id, header.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    assert_eq!(keys["encryption_context"]["owner"], alice_owner.as_str());
    assert_eq!(keys["encryption_context"]["object"], object_id.as_str());
    assert!(decrypt_with(&keys, &ciphertext) == plaintext);
    // The keys route checks the header as the owner's does.
    let (status, body) = shared_keys(server, &bob, &alice_owner, &object_id, b"junk").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_header");

    // The owner's list.
    let (status, list) = server
        .get(&format!("/api/objects/{object_id}/grants"), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["grants"], json!([g]), "{list}");

    // Granting again replaces sealed_meta (one grant, the first time kept).
    let meta2 = sealed_meta();
    let g2 = grant(
        server,
        &alice,
        &object_id,
        &json!({ "grantee": "bob", "sealed_meta": meta2 }),
    )
    .await;
    assert_eq!(g2["grantee_id"], g["grantee_id"]);
    let list = shared_with_me(server, &bob).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["sealed_meta"], meta2.as_str());
    // Without sealed_meta: none.
    grant(server, &alice, &object_id, &json!({ "grantee": "bob" })).await;
    let list = shared_with_me(server, &bob).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["sealed_meta"], Value::Null);
    let (_, list) = server
        .get(&format!("/api/objects/{object_id}/grants"), Some(&alice))
        .await;
    assert_eq!(list["grants"].as_array().unwrap().len(), 1, "{list}");

    // Granting to oneself is refused.
    let (status, body) = server
        .post(
            &format!("/api/objects/{object_id}/grants"),
            Some(&alice),
            &json!({ "grantee": "alice" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_grantee");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("that is you"),
        "{body}"
    );

    // A handle that never signed in may be granted; they see it when they do.
    let dave_gid = grant(server, &alice, &object_id, &json!({ "grantee": "dave" })).await
        ["grantee_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dave = server.login("dave").await;
    assert_eq!(shared_with_me(server, &dave).await.len(), 1);
    let (_, list) = server
        .get(&format!("/api/objects/{object_id}/grants"), Some(&alice))
        .await;
    let grantees: Vec<_> = list["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["grantee"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(grantees, ["bob", "dave"], "oldest first: {list}");

    // Revoked: Bob gets 404 everywhere and an empty list; Dave keeps his.
    let (status, body) = server
        .delete(
            &format!("/api/objects/{object_id}/grants/{}", g["grantee_id"].as_str().unwrap()),
            Some(&alice),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(shared_with_me(server, &bob).await.is_empty());
    let (status, body) = server.get(&format!("{path}/download"), Some(&bob)).await;
    not_found("download after revoke", status, &body);
    let (status, body) = shared_keys(server, &bob, &alice_owner, &object_id, header.as_bytes()).await;
    not_found("keys after revoke", status, &body);
    let (status, body) = server
        .delete(
            &format!("/api/objects/{object_id}/grants/{}", g["grantee_id"].as_str().unwrap()),
            Some(&alice),
        )
        .await;
    not_found("revoke twice", status, &body);
    assert_eq!(shared_with_me(server, &dave).await.len(), 1);

    // Deleting the file removes its grants (record and index).
    let (status, _) = server
        .delete(&format!("/api/objects/{object_id}"), Some(&alice))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(shared_with_me(server, &dave).await.is_empty());
    let (status, body) = server.get(&format!("{path}/download"), Some(&dave)).await;
    not_found("download of a deleted file", status, &body);
    for key in [
        format!("grants/{alice_owner}/{object_id}/{dave_gid}"),
        format!("grants-to/{dave_gid}/{alice_owner}/{object_id}"),
    ] {
        assert!(
            server.state.store.read_blob(&key, 1 << 16).await.unwrap().is_none(),
            "{key} is left in the bucket"
        );
    }
}

async fn authorization(server: &TestServer) {
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let carol = server.login("carol").await;
    let alice_owner = owner_of(server, &alice).await;
    let bob_owner = owner_of(server, &bob).await;
    let (shared, _, ciphertext) = uploaded(server, &alice, 5000).await;
    let (other, _, other_ct) = uploaded(server, &alice, 100).await;
    let header = Header::parse(&ciphertext).unwrap();
    let g = grant(server, &alice, &shared, &json!({ "grantee": "bob" })).await;
    let bob_gid = g["grantee_id"].as_str().unwrap().to_owned();
    // A link of Alice's, to test withdrawing it as someone else.
    let share_id = hex::encode(random::<16>());
    let (status, body) = server
        .post(
            &format!("/api/objects/{shared}/shares"),
            Some(&alice),
            &json!({
                "share_id": share_id,
                "verifier": B64.encode([1u8; 32]),
                "sealed": B64.encode([2u8; 100]),
                "owner_sealed": B64.encode([3u8; 40]),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Bob holds a grant of `shared` only: its download works ...
    let ok = format!("/api/shared/{alice_owner}/{shared}");
    let (status, _) = server.get(&format!("{ok}/download"), Some(&bob)).await;
    assert_eq!(status, StatusCode::OK);

    // ... but nothing else of Alice's, and nothing through forged ids.
    let unknown = hex::encode(random::<16>());
    for (what, owner, object_id) in [
        ("another object of the owner", alice_owner.as_str(), other.as_str()),
        ("an unknown object", alice_owner.as_str(), unknown.as_str()),
        ("an unknown owner", unknown.as_str(), shared.as_str()),
        ("himself as owner", bob_owner.as_str(), shared.as_str()),
        ("a malformed owner", "../users", shared.as_str()),
        ("an upper-case owner", &alice_owner.to_uppercase(), shared.as_str()),
        ("a malformed object", alice_owner.as_str(), "x"),
    ] {
        let (s, body) = server
            .get(&format!("/api/shared/{owner}/{object_id}/download"), Some(&bob))
            .await;
        refused(&format!("download of {what}"), s, &body);
        let (s, body) = shared_keys(server, &bob, owner, object_id, header.as_bytes()).await;
        refused(&format!("keys of {what}"), s, &body);
    }
    // The header of the granted file sent for another of Alice's: 404 first.
    let other_header = Header::parse(&other_ct).unwrap();
    let (s, body) = shared_keys(server, &bob, &alice_owner, &other, other_header.as_bytes()).await;
    not_found("keys of an object not granted", s, &body);
    // The granted file's keys route with another object's header: refused.
    let (s, body) = shared_keys(server, &bob, &alice_owner, &shared, other_header.as_bytes()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "header_mismatch");

    // The owner's routes work on the caller's own prefix: 404 for the grantee.
    let (s, body) = server.delete(&format!("/api/objects/{shared}"), Some(&bob)).await;
    not_found("grantee deletes", s, &body);
    let (s, body) = server
        .post(
            &format!("/api/objects/{shared}/shares"),
            Some(&bob),
            &json!({
                "share_id": hex::encode(random::<16>()),
                "verifier": B64.encode([1u8; 32]),
                "sealed": B64.encode([2u8; 100]),
                "owner_sealed": B64.encode([3u8; 40]),
            }),
        )
        .await;
    not_found("grantee shares by link", s, &body);
    let (s, body) = server
        .post(
            &format!("/api/objects/{shared}/grants"),
            Some(&bob),
            &json!({ "grantee": "carol" }),
        )
        .await;
    not_found("grantee grants", s, &body);
    let (s, body) = server
        .get(&format!("/api/objects/{shared}/grants"), Some(&bob))
        .await;
    not_found("grantee lists grants", s, &body);
    let (s, body) = server
        .delete(&format!("/api/objects/{shared}/grants/{bob_gid}"), Some(&bob))
        .await;
    not_found("grantee revokes", s, &body);
    let (s, body) = server.get(&format!("/api/objects/{shared}"), Some(&bob)).await;
    refused("grantee shows", s, &body);
    let (s, body) = server
        .get(&format!("/api/objects/{shared}/download"), Some(&bob))
        .await;
    refused("grantee uses the owner's download", s, &body);
    let (s, body) = server.object_keys(&bob, &shared, header.as_bytes()).await;
    refused("grantee uses the owner's keys", s, &body);
    let (s, body) = server.delete(&format!("/api/shares/{share_id}"), Some(&bob)).await;
    not_found("grantee withdraws the owner's link", s, &body);
    let (_, list) = server.get("/api/objects", Some(&bob)).await;
    assert_eq!(list["objects"], json!([]), "{list}");

    // Carol holds no grant: 404 everywhere, nothing listed.
    assert!(shared_with_me(server, &carol).await.is_empty());
    let (s, body) = server.get(&format!("{ok}/download"), Some(&carol)).await;
    not_found("carol downloads", s, &body);
    let (s, body) = shared_keys(server, &carol, &alice_owner, &shared, header.as_bytes()).await;
    not_found("carol gets keys", s, &body);
    let (s, body) = server.delete(&format!("/api/shares/{share_id}"), Some(&carol)).await;
    not_found("carol withdraws the owner's link", s, &body);
    let (s, body) = server
        .delete(&format!("/api/objects/{shared}/grants/{bob_gid}"), Some(&carol))
        .await;
    not_found("carol revokes bob's grant", s, &body);
    // "No grant" and "no such file" are one answer.
    let (_, no_grant) = server.get(&format!("{ok}/download"), Some(&carol)).await;
    let (_, no_file) = server
        .get(&format!("/api/shared/{alice_owner}/{unknown}/download"), Some(&bob))
        .await;
    assert_eq!(no_grant, no_file);

    // Without a token: 401.
    let (s, _) = server.get("/api/shared-with-me", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = server.get(&format!("{ok}/download"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Alice's things are intact: the grant, the link, the file.
    assert_eq!(shared_with_me(server, &bob).await.len(), 1);
    let (s, _) = server.get(&format!("/api/shares/{share_id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(server.download(&alice, &shared).await == ciphertext);
}

async fn bad_requests(server: &TestServer) {
    let erin = server.login("erin").await;
    let (object_id, _, _) = uploaded(server, &erin, 10).await;
    let path = format!("/api/objects/{object_id}/grants");
    for (what, body, code) in [
        ("empty grantee", json!({ "grantee": "" }), "invalid_grantee"),
        ("long grantee", json!({ "grantee": "x".repeat(321) }), "invalid_grantee"),
        ("control character", json!({ "grantee": "bob\n" }), "invalid_grantee"),
        ("no grantee", json!({}), "invalid_request"),
        ("unknown field", json!({ "grantee": "bob", "name": "x" }), "invalid_request"),
        (
            "padded meta",
            json!({ "grantee": "bob", "sealed_meta": format!("{}=", B64URL.encode([1u8; 40])) }),
            "invalid_grant",
        ),
        (
            "standard base64 meta",
            json!({ "grantee": "bob", "sealed_meta": "++++".repeat(10) }),
            "invalid_grant",
        ),
        (
            "long meta",
            json!({ "grantee": "bob", "sealed_meta": "A".repeat(2049) }),
            "invalid_grant",
        ),
        (
            "short meta",
            json!({ "grantee": "bob", "sealed_meta": B64URL.encode([1u8; 27]) }),
            "invalid_grant",
        ),
        ("empty meta", json!({ "grantee": "bob", "sealed_meta": "" }), "invalid_grant"),
    ] {
        let (status, body) = server.post(&path, Some(&erin), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
    }
    // 320 characters (not bytes) is the limit; 2048 characters of meta fit.
    let g = grant(
        server,
        &erin,
        &object_id,
        &json!({ "grantee": "é".repeat(320), "sealed_meta": "A".repeat(2048) }),
    )
    .await;
    assert_eq!(g["grantee"], "é".repeat(320));
    let (status, body) = server
        .post(
            &format!("/api/objects/{}/grants", "0".repeat(32)),
            Some(&erin),
            &json!({ "grantee": "bob" }),
        )
        .await;
    not_found("grant on a missing file", status, &body);
    let (status, _) = server.post(&path, None, &json!({ "grantee": "bob" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = server
        .delete(&format!("{path}/not-a-grantee-id"), Some(&erin))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_grants() {
    let server = TestServer::local(&[]).await;
    grant_flow(&server).await;
    authorization(&server).await;
    bad_requests(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_grants() {
    let Some(server) = TestServer::moto().await else {
        return;
    };
    grant_flow(&server).await;
    authorization(&server).await;
    bad_requests(&server).await;
}

/// With `--sse sse-c` the grantee's presigned `GET` carries the owner's SSE-C
/// key (the object is stored under it), never the grantee's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grantee_download_carries_the_owners_sse_c_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("sse-c.key");
    let configured = [9u8; 32];
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
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let alice_owner = owner_of(&server, &alice).await;
    let (object_id, plaintext, ciphertext) = uploaded(&server, &alice, 3000).await;
    grant(&server, &alice, &object_id, &json!({ "grantee": "bob" })).await;
    assert_eq!(shared_with_me(&server, &bob).await.len(), 1);
    let (status, d) = server
        .get(
            &format!("/api/shared/{alice_owner}/{object_id}/download"),
            Some(&bob),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let mut want = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(b"cipherdrop-sse-c-owner-v1"), &configured)
        .expand(alice_owner.as_bytes(), &mut want)
        .unwrap();
    assert_eq!(
        d["request"]["headers"]["x-amz-server-side-encryption-customer-key"],
        B64.encode(want)
    );
    assert!(send_presigned_get(&server.http, &d["request"]).await == ciphertext);
    let header = Header::parse(&ciphertext).unwrap();
    let (status, keys) =
        shared_keys(&server, &bob, &alice_owner, &object_id, header.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    assert!(decrypt_with(&keys, &ciphertext) == plaintext);
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

/// OIDC handles: the `email` claim by default (lowercased; none when unverified),
/// or the claim `--oidc-share-claim` names; grantee ids use the issuer as source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_handles() {
    let issuer = Issuer::start().await;
    let server = TestServer::local(&["--oidc-issuer", &issuer.url, "--oidc-audience", "cd"]).await;
    let now = unix_now();
    let token = |sub: &str, extra: Value| {
        let mut claims = json!({"aud": "cd", "sub": sub, "iat": now, "exp": now + 3600});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        issuer.signed(claims, ISSUER_KID)
    };
    let alice = token("a-1", json!({ "email": "alice@example.com", "email_verified": true }));
    let bob = token("b-2", json!({ "email": "Bob@Example.com", "email_verified": true }));
    let unverified = token("c-3", json!({ "email": "carol@example.com", "email_verified": false }));
    let (_, me) = server.get("/api/me", Some(&bob)).await;
    assert_eq!(me["handle"], "bob@example.com", "{me}");
    let (_, me) = server.get("/api/me", Some(&unverified)).await;
    assert_eq!(me["handle"], Value::Null, "{me}");

    let (object_id, _, _) = uploaded(&server, &alice, 100).await;
    // Typed in any case, it is the same person.
    let g = grant(&server, &alice, &object_id, &json!({ "grantee": "BOB@example.COM" })).await;
    assert_eq!(g["grantee"], "bob@example.com");
    assert_eq!(g["grantee_id"], grantee_id(&issuer.url, "bob@example.com").as_str());
    let list = shared_with_me(&server, &bob).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["from"], "alice@example.com");
    // Alice's own address in capitals is still her.
    let (status, body) = server
        .post(
            &format!("/api/objects/{object_id}/grants"),
            Some(&alice),
            &json!({ "grantee": "Alice@Example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A grant to the unverified address does not reach the token without a handle.
    grant(&server, &alice, &object_id, &json!({ "grantee": "carol@example.com" })).await;
    assert!(shared_with_me(&server, &unverified).await.is_empty());
    // A user without a handle can still share.
    let (own, _, _) = uploaded(&server, &unverified, 10).await;
    grant(&server, &unverified, &own, &json!({ "grantee": "bob@example.com" })).await;
    let list = shared_with_me(&server, &bob).await;
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().any(|i| i["from"] == Value::Null), "{list:?}");

    // Another claim.
    let server = TestServer::local(&[
        "--oidc-issuer",
        &issuer.url,
        "--oidc-audience",
        "cd",
        "--oidc-share-claim",
        "preferred_username",
    ])
    .await;
    let t = token("d-4", json!({ "preferred_username": "Dana", "email": "d@example.com" }));
    let (_, me) = server.get("/api/me", Some(&t)).await;
    assert_eq!(me["handle"], "Dana", "{me}");
    let t = token("e-5", json!({ "email": "e@example.com" }));
    let (_, me) = server.get("/api/me", Some(&t)).await;
    assert_eq!(me["handle"], Value::Null, "{me}");
}
