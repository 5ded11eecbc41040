//! `serve --recovery-recipient`: every new object is also wrapped to an X25519
//! public key (x25519-hpke, FORMAT.md 2.5), whose private key alone opens the
//! stored object with the server stopped (`cipherdrop decrypt --identity`).

use std::path::Path;
use std::process::Command;

use cipherdrop_core::X25519Recipient;
use serde_json::json;

use crate::support::{TestServer, header_from, test_bytes};

fn cipherdrop(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cipherdrop"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[tokio::test]
async fn recovery_identity_opens_a_stored_object_without_the_server() {
    let keys = tempfile::tempdir().unwrap();
    let o = cipherdrop(keys.path(), &["keygen", "--x25519", "-o", "recovery.key"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let public = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let recipient = X25519Recipient::from_text(&public).unwrap();

    let server = TestServer::local(&["--recovery-recipient", &public]).await;
    let token = server.login("rosa").await;
    let plaintext = test_bytes(300_000, 7);
    let started = server
        .start_upload(&token, &json!({ "size": plaintext.len() }))
        .await;
    // The server's own wrapped key first, then the recovery recipient.
    let header = header_from(&started);
    let wrapped = header.wrapped_keys();
    assert_eq!(wrapped.len(), 2, "{started}");
    assert_eq!(wrapped[0].provider_id, "raw-aes");
    assert_eq!(wrapped[1].provider_id, "x25519-hpke");
    assert_eq!(wrapped[1].provider_info, recipient.as_bytes());
    let object_id = started["object_id"].as_str().unwrap().to_owned();
    server.upload(&token, &started, &plaintext).await;
    let stored = server.download(&token, &object_id).await;
    // The keys endpoint still opens it with the server's key (and ignores the
    // recovery entry it cannot open).
    assert!(server.decrypt(&token, &object_id, &stored).await == plaintext);
    let context = started["encryption_context"].as_object().unwrap().clone();
    drop(server);

    let file = keys.path().join("stored.cd");
    std::fs::write(&file, &stored).unwrap();
    let mut args = vec![
        "decrypt".to_owned(),
        "--identity".into(),
        "recovery.key".into(),
    ];
    for (k, v) in &context {
        args.extend([
            "--context".to_owned(),
            format!("{k}={}", v.as_str().unwrap()),
        ]);
    }
    args.extend(["stored.cd".to_owned(), "out".to_owned()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = cipherdrop(keys.path(), &refs);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(keys.path().join("out")).unwrap() == plaintext);

    // Another identity opens nothing.
    assert!(
        cipherdrop(keys.path(), &["keygen", "--x25519", "-o", "other.key"])
            .status
            .success()
    );
    let other: Vec<&str> = refs
        .iter()
        .map(|a| {
            if *a == "recovery.key" {
                "other.key"
            } else {
                *a
            }
        })
        .map(|a| if a == "out" { "out2" } else { a })
        .collect();
    let o = cipherdrop(keys.path(), &other);
    assert!(!o.status.success());
    assert!(!keys.path().join("out2").exists());
}

#[tokio::test]
async fn no_recovery_recipient_by_default() {
    let server = TestServer::local(&[]).await;
    let token = server.login("rosa").await;
    let started = server.start_upload(&token, &json!({ "size": 10 })).await;
    assert_eq!(header_from(&started).wrapped_keys().len(), 1);
}

#[test]
fn a_mistyped_recovery_recipient_stops_serve_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let o = cipherdrop(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--recovery-recipient",
            "cdpub1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not an X25519 public key"), "{err}");
}
