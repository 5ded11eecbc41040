//! Every vector file gives the same outcome and the same error through the
//! command's two input paths: a regular file (whose length is known) and standard
//! input (whose length is not). FORMAT.md 5, "Which error wins".
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Words of each code's message, as the command prints it (crypto-core's Display).
fn phrase(code: &str) -> &'static str {
    match code {
        "NOT_CIPHERDROP" => "not a CipherDrop file",
        "UNSUPPORTED_VERSION" => "unsupported CipherDrop format version",
        "UNSUPPORTED_SUITE" => "unsupported algorithm suite",
        "MALFORMED_HEADER" => "the file header is damaged",
        "LIMIT_EXCEEDED" => "over a limit",
        "INVALID_CHUNK_SIZE" => "invalid chunk size",
        "CONTEXT_MISMATCH" => "encryption context is not the expected one",
        "WRONG_KEY" => "wrong key",
        "COMMITMENT_MISMATCH" => "key commitment",
        "HEADER_AUTH_FAILED" => "header was changed",
        "DECRYPTION_FAILED" => "a chunk failed to verify",
        "TRUNCATED" => "truncated",
        "TRAILING_DATA" => "extra bytes after its final chunk",
        "TOO_LARGE" => "too large",
        other => panic!("no phrase for {other}"),
    }
}

fn decrypt(dir: &Path, args: &[String], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cipherdrop"));
    c.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin {
        None => c.stdin(Stdio::null()).output().unwrap(),
        Some(bytes) => {
            let mut child = c.stdin(Stdio::piped()).spawn().unwrap();
            let mut pipe = child.stdin.take().unwrap();
            // The command may stop reading at the first error: ignore a broken pipe.
            let _ = pipe.write_all(bytes);
            drop(pipe);
            child.wait_with_output().unwrap()
        }
    }
}

#[test]
fn every_vector_gives_the_same_code_from_a_file_and_from_stdin() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crypto-core/tests/vectors");
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "vector"))
        .collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
        let fields = std::str::from_utf8(&bytes[..split]).unwrap();
        let get = |k: &str| {
            fields
                .lines()
                .filter_map(move |l| l.strip_prefix(&format!("{k}: ")))
                .collect::<Vec<_>>()
        };
        let body = &bytes[split + 2..];
        std::fs::write(tmp.path().join("in"), body).unwrap();
        let mut args: Vec<String> = vec!["decrypt".into(), "--force".into()];
        if let Some(passphrase) = get("passphrase").first() {
            std::fs::write(tmp.path().join("pass"), format!("{passphrase}\n")).unwrap();
            args.extend(["--passphrase-file".into(), "pass".into()]);
        } else if let Some(identity) = get("identity").first() {
            // The identity file as `keygen --x25519` writes it (FORMAT.md 2.5).
            let secret: [u8; 32] = hex::decode(identity).unwrap().try_into().unwrap();
            let text = cipherdrop_core::X25519Identity::from_bytes(secret).to_text();
            std::fs::write(
                tmp.path().join("id"),
                format!("# test\n{}\n", text.as_str()),
            )
            .unwrap();
            args.extend(["--identity".into(), "id".into()]);
        } else {
            std::fs::write(
                tmp.path().join("key"),
                hex::decode(get("master_key")[0]).unwrap(),
            )
            .unwrap();
            args.extend([
                "--key-file".into(),
                "key".into(),
                "--key-name".into(),
                get("key_name")[0].to_owned(),
            ]);
        }
        for c in get("context") {
            args.extend(["--context".into(), c.to_owned()]);
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut from_file = args.clone();
        from_file.extend(["in".into(), "out".into()]);
        let mut from_stdin = args;
        from_stdin.extend(["-".into(), "out".into()]);
        let _ = std::fs::remove_file(tmp.path().join("out"));
        let file = decrypt(tmp.path(), &from_file, None);
        let _ = std::fs::remove_file(tmp.path().join("out"));
        let pipe = decrypt(tmp.path(), &from_stdin, Some(body));
        let expect = get("expect")[0];
        let file_err = String::from_utf8_lossy(&file.stderr).replace("cannot decrypt in", "");
        let pipe_err =
            String::from_utf8_lossy(&pipe.stderr).replace("cannot decrypt standard input", "");
        if expect == "success" {
            assert!(file.status.success(), "{name} (file): {file_err}");
            assert!(pipe.status.success(), "{name} (stdin): {pipe_err}");
        } else {
            let code = expect.strip_prefix("error ").unwrap();
            assert!(!file.status.success(), "{name} (file) was accepted");
            assert!(!pipe.status.success(), "{name} (stdin) was accepted");
            assert!(
                file_err.contains(phrase(code)),
                "{name} (file): want {code}, got {file_err}"
            );
            assert_eq!(file_err, pipe_err, "{name}: the file and stdin disagree");
        }
        checked += 1;
    }
    assert!(checked >= 40, "{checked} vectors");
}
