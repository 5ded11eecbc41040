//! `cipherdrop rewrap` on local files, run as a user would (the real binary): every
//! flag, the body kept byte for byte, in-place replacement that is atomic and leaves
//! a file that does not open untouched, damage to re-wrapped files, the independent
//! Python decryptor on a re-wrapped file, and `cp --recipient` against moto.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "api/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::SystemTime;

use serde_json::Value;

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cipherdrop"));
    c.current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const CTX: [&str; 2] = ["--context", "owner=ann"];

struct Env {
    dir: tempfile::TempDir,
    /// `cdpub1...` of `rec.key`.
    recipient: String,
}

impl Env {
    /// A directory with a master key `k.key`, a second one `k2.key`, an X25519
    /// identity `rec.key` and two passphrase files `p1`, `p2`.
    fn new() -> Self {
        let mut e = Self {
            dir: tempfile::tempdir().unwrap(),
            recipient: String::new(),
        };
        e.ok(&["keygen", "-o", "k.key"]);
        e.ok(&["keygen", "-o", "k2.key"]);
        let o = e.ok(&["keygen", "--x25519", "-o", "rec.key"]);
        e.recipient = String::from_utf8(o.stdout).unwrap().trim().to_owned();
        e.write("p1", b"correct horse battery staple\n");
        e.write("p2", b"another passphrase entirely\n");
        e
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn run(&self, args: &[&str]) -> Output {
        bin(self.dir.path()).args(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        o
    }
    /// Runs `args`, which must fail with one line containing `message`.
    fn fails(&self, args: &[&str], message: &str) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = stderr(&o);
        assert!(err.contains(message), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        err
    }
    fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.path(name), data).unwrap();
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
    /// `rewrap` with `opening` (key options), `edits` and the file.
    fn rewrap(&self, opening: &[&str], edits: &[&str], file: &str) -> Output {
        let mut a = vec!["rewrap"];
        a.extend_from_slice(opening);
        a.extend_from_slice(&CTX);
        a.extend_from_slice(edits);
        a.push(file);
        self.run(&a)
    }
    fn rewrap_ok(&self, opening: &[&str], edits: &[&str], file: &str) -> String {
        let o = self.rewrap(opening, edits, file);
        assert!(o.status.success(), "{opening:?} {edits:?}: {}", stderr(&o));
        stderr(&o)
    }
    /// Decrypts `file` with `opening` into memory, or the error line.
    fn open(&self, opening: &[&str], file: &str) -> Result<Vec<u8>, String> {
        let mut a = vec!["decrypt"];
        a.extend_from_slice(opening);
        a.extend_from_slice(&CTX);
        a.extend_from_slice(&[file, "-"]);
        let o = self.run(&a);
        if o.status.success() {
            Ok(o.stdout)
        } else {
            Err(stderr(&o))
        }
    }
    /// The same through standard input (the stream path): the same error expected.
    fn open_piped(&self, opening: &[&str], file: &str) -> Result<Vec<u8>, String> {
        let mut a = vec!["decrypt"];
        a.extend_from_slice(opening);
        a.extend_from_slice(&CTX);
        a.extend_from_slice(&["-", "-"]);
        let o = bin(self.dir.path())
            .args(&a)
            .stdin(std::fs::File::open(self.path(file)).unwrap())
            .output()
            .unwrap();
        if o.status.success() {
            Ok(o.stdout)
        } else {
            Err(stderr(&o))
        }
    }
    /// The wrapped keys as `inspect --json` lists them: `provider_id info`.
    fn entries(&self, file: &str) -> Vec<String> {
        let o = self.ok(&["inspect", "--json", file]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["wrapped_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                format!(
                    "{} {}",
                    w["provider_id"].as_str().unwrap(),
                    w["provider_info"].as_str().unwrap()
                )
            })
            .collect()
    }
    /// Files in the directory other than `keep` and the keys.
    fn leftovers(&self, keep: &[&str]) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                !["k.key", "k2.key", "rec.key", "p1", "p2"].contains(&n.as_str())
                    && !keep.contains(&n.as_str())
            })
            .collect()
    }
}

const K1: [&str; 2] = ["--key-file", "k.key"];
const K2: [&str; 4] = ["--key-file", "k2.key", "--key-name", "second"];
const P1: [&str; 2] = ["--passphrase-file", "p1"];
const P2: [&str; 2] = ["--passphrase-file", "p2"];
const ID: [&str; 2] = ["--identity", "rec.key"];

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 13 + i / 241) % 256).unwrap())
        .collect()
}

fn header_len(file: &[u8]) -> usize {
    usize::try_from(u32::from_be_bytes(file[11..15].try_into().unwrap())).unwrap()
}

/// The bytes after the header.
fn body(file: &[u8]) -> &[u8] {
    &file[header_len(file)..]
}

/// Encrypts `len` pattern bytes with `k.key` into `c` (4 KiB chunks), returning
/// the plaintext.
fn encrypted(e: &Env, len: usize, extra: &[&str]) -> Vec<u8> {
    let p = data(len);
    e.write("p", &p);
    let mut a = vec!["encrypt", "--chunk-size", "4K"];
    a.extend_from_slice(&K1);
    a.extend_from_slice(&CTX);
    a.extend_from_slice(extra);
    a.extend_from_slice(&["p", "c"]);
    e.ok(&a);
    p
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn every_flag_changes_only_the_list_and_keeps_the_body() {
    let e = Env::new();
    let p = encrypted(&e, 50_000, &[]);
    let original = e.read("c");
    assert_eq!(e.entries("c"), ["raw-aes master"]);

    // A second master key, under its own name.
    let said = e.rewrap_ok(
        &K1,
        &[
            "--add-key-file",
            "k2.key",
            "--add-key-name",
            "second",
            "--threads",
            "3",
        ],
        "c",
    );
    assert!(said.contains("added:   raw-aes second"), "{said}");
    assert_eq!(e.entries("c"), ["raw-aes master", "raw-aes second"]);
    assert!(body(&e.read("c")) == body(&original), "the body changed");
    assert_eq!(e.open(&K1, "c").unwrap(), p);
    assert_eq!(e.open(&K2, "c").unwrap(), p);

    // A passphrase and a recipient, opened with the second key.
    e.rewrap_ok(
        &K2,
        &[
            "--add-passphrase-file",
            "p1",
            "--add-recipient",
            &e.recipient,
        ],
        "c",
    );
    let listed = e.entries("c");
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(listed[..2], ["raw-aes master", "raw-aes second"]);
    assert!(listed[2].starts_with("passphrase-argon2id "), "{listed:?}");
    assert_eq!(listed[3], format!("x25519-hpke {}", e.recipient));
    assert_eq!(e.open(&P1, "c").unwrap(), p);
    assert_eq!(e.open(&ID, "c").unwrap(), p);

    // A new passphrase replaces the old one (a header holds one).
    e.rewrap_ok(&P1, &["--add-passphrase-file", "p2"], "c");
    assert_eq!(
        e.entries("c")
            .iter()
            .filter(|w| w.starts_with("passphrase-argon2id"))
            .count(),
        1
    );
    assert!(e.open(&P1, "c").unwrap_err().contains("wrong key"));
    assert_eq!(e.open(&P2, "c").unwrap(), p);

    // Remove each kind by the name documented, opened with the identity.
    let said = e.rewrap_ok(&ID, &["--remove", "master", "--remove", "passphrase"], "c");
    assert!(said.contains("removed: raw-aes master"), "{said}");
    assert!(said.contains("removed: passphrase-argon2id"), "{said}");
    assert!(!said.contains("warning"), "{said}");
    assert_eq!(
        e.entries("c"),
        [
            "raw-aes second".to_owned(),
            format!("x25519-hpke {}", e.recipient)
        ]
    );
    assert!(e.open(&K1, "c").unwrap_err().contains("wrong key"));
    assert!(e.open(&P2, "c").unwrap_err().contains("wrong key"));
    let said = e.rewrap_ok(&K2, &["--remove", &e.recipient], "c");
    assert!(said.contains("removed: x25519-hpke"), "{said}");
    assert!(e.open(&ID, "c").unwrap_err().contains("wrong key"));
    assert_eq!(e.entries("c"), ["raw-aes second"]);
    assert_eq!(e.open(&K2, "c").unwrap(), p);

    // Through all of it the body stayed the same bytes.
    assert!(body(&e.read("c")) == body(&original), "the body changed");
    assert_eq!(e.leftovers(&["p", "c"]), Vec::<String>::new());
}

#[test]
fn a_key_file_of_the_same_name_replaces_the_entry() {
    // Rotating a master key: the new key under the old name; the old key stops opening.
    let e = Env::new();
    let p = encrypted(&e, 5000, &[]);
    let said = e.rewrap_ok(&K1, &["--add-key-file", "k2.key"], "c");
    assert!(said.contains("warning: the entry that opened"), "{said}");
    assert_eq!(e.entries("c"), ["raw-aes master"]);
    assert!(e.open(&K1, "c").unwrap_err().contains("wrong key"));
    assert_eq!(e.open(&["--key-file", "k2.key"], "c").unwrap(), p);

    // Removing the entry that opened the file: done, with a warning naming who can.
    let said = e.rewrap_ok(
        &["--key-file", "k2.key"],
        &["--add-recipient", &e.recipient, "--remove", "master"],
        "c",
    );
    assert!(
        said.contains(&format!(
            "warning: the entry that opened c (raw-aes master) was removed or replaced: the key \
             you gave may no longer open it; these do: x25519-hpke {}",
            e.recipient
        )),
        "{said}"
    );
    assert_eq!(e.open(&ID, "c").unwrap(), p);
}

#[test]
fn output_file_keeps_the_input_and_needs_force_to_replace() {
    let e = Env::new();
    let p = encrypted(&e, 9000, &[]);
    let original = e.read("c");
    e.rewrap_ok(&K1, &["--add-recipient", &e.recipient, "-o", "out"], "c");
    assert!(e.read("c") == original, "the input changed");
    assert_eq!(e.open(&ID, "out").unwrap(), p);
    assert!(body(&e.read("out")) == body(&original));
    let o = e.rewrap(&K1, &["--remove", "master", "-o", "out"], "out");
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    e.rewrap_ok(&ID, &["--remove", "master", "-o", "out", "--force"], "out");
    assert_eq!(e.entries("out"), [format!("x25519-hpke {}", e.recipient)]);

    // Standard input, with -o only.
    let o = bin(e.dir.path())
        .args(["rewrap", "--key-file", "k.key", "--context", "owner=ann"])
        .args([
            "--add-key-file",
            "k2.key",
            "--add-key-name",
            "second",
            "-o",
            "piped",
            "-",
        ])
        .stdin(std::fs::File::open(e.path("c")).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(e.open(&K2, "piped").unwrap(), p);
    let o = bin(e.dir.path())
        .args(["rewrap", "--key-file", "k.key", "--context", "owner=ann"])
        .args(["--add-recipient", &e.recipient, "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(stderr(&o).contains("give -o OUT"), "{}", stderr(&o));
}

#[test]
fn a_streamed_file_and_an_empty_file_rewrap() {
    let e = Env::new();
    let p = data(3 * 4096 + 5);
    let o = bin(e.dir.path())
        .args(["encrypt", "--chunk-size", "4K", "--key-file", "k.key"])
        .args(CTX)
        .args(["-", "s"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(&p)?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let before = e.read("s");
    e.rewrap_ok(&K1, &["--add-recipient", &e.recipient], "s");
    assert!(body(&e.read("s")) == body(&before));
    assert_eq!(e.open(&ID, "s").unwrap(), p);
    assert_eq!(e.open_piped(&ID, "s").unwrap(), p);

    encrypted(&e, 0, &[]);
    e.rewrap_ok(
        &K1,
        &["--add-recipient", &e.recipient, "--remove", "master"],
        "c",
    );
    assert_eq!(e.open(&ID, "c").unwrap(), Vec::<u8>::new());
}

#[cfg(unix)]
#[test]
fn in_place_keeps_the_mode_and_a_symbolic_link() {
    use std::os::unix::fs::PermissionsExt as _;
    let e = Env::new();
    let p = encrypted(&e, 4096, &[]);
    std::fs::set_permissions(e.path("c"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("c", e.path("link")).unwrap();
    e.rewrap_ok(&K1, &["--add-recipient", &e.recipient], "link");
    assert!(
        std::fs::symlink_metadata(e.path("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let mode = std::fs::metadata(e.path("c")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_eq!(e.open(&ID, "c").unwrap(), p);
    assert_eq!(e.leftovers(&["p", "c", "link"]), Vec::<String>::new());
}

#[test]
fn a_file_that_does_not_open_is_left_untouched() {
    let e = Env::new();
    encrypted(&e, 20_000, &["--recipient", &e.recipient]);
    let good = e.read("c");
    let hl = header_len(&good);
    let add = ["--add-key-file", "k2.key", "--add-key-name", "second"];

    let mut cases: Vec<(&str, Vec<u8>, Vec<&str>, &str)> = vec![
        ("wrong-key", good.clone(), K2.to_vec(), "wrong key"),
        ("wrong-pass", good.clone(), P1.to_vec(), "wrong key"),
    ];
    let mut tag = good.clone();
    tag[hl - 1] ^= 1;
    cases.push(("tag", tag, K1.to_vec(), "header was changed"));
    let mut commitment = good.clone();
    commitment[hl - 40] ^= 1;
    cases.push(("commitment", commitment, K1.to_vec(), "key commitment"));
    let mut chunk = good.clone();
    chunk[hl + 4112 + 9] ^= 1;
    cases.push(("chunk", chunk, K1.to_vec(), "a chunk failed to verify"));
    cases.push((
        "cut",
        good[..good.len() - 10].to_vec(),
        K1.to_vec(),
        "truncated",
    ));
    let mut extra = good.clone();
    extra.extend_from_slice(b"x");
    cases.push((
        "extra",
        extra,
        K1.to_vec(),
        "extra bytes after its final chunk",
    ));
    cases.push(("short", good[..hl - 5].to_vec(), K1.to_vec(), "truncated"));
    cases.push((
        "foreign",
        b"plain text".to_vec(),
        K1.to_vec(),
        "not a CipherDrop file",
    ));

    for (name, bytes, opening, message) in cases {
        e.write(name, &bytes);
        // An old mtime, so a rewrite could not go unnoticed within the clock's step.
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::options()
            .write(true)
            .open(e.path(name))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut a = vec!["rewrap"];
        a.extend_from_slice(&opening);
        a.extend_from_slice(&CTX);
        a.extend_from_slice(&add);
        a.push(name);
        let err = e.fails(&a, message);
        assert!(err.contains(&format!("cannot re-wrap {name}")), "{err}");
        assert!(e.read(name) == bytes, "{name} changed");
        assert_eq!(mtime(&e.path(name)), old, "{name} was rewritten");
        assert_eq!(
            e.leftovers(&["p", "c", name]),
            Vec::<String>::new(),
            "{name}"
        );
        std::fs::remove_file(e.path(name)).unwrap();
    }
    // The wrong context, too.
    e.fails(
        &[
            "rewrap",
            "--key-file",
            "k.key",
            "--context",
            "owner=bob",
            "--add-key-file",
            "k2.key",
            "c",
        ],
        "encryption context",
    );
    assert!(e.read("c") == good);
}

#[test]
fn edits_that_make_no_sense_are_refused() {
    let e = Env::new();
    encrypted(&e, 100, &["--recipient", &e.recipient]);
    let good = e.read("c");
    let cases: [(&[&str], &str); 5] = [
        (&[], "nothing to change"),
        (
            &["--remove", "nosuch"],
            "--remove nosuch matches no wrapped key of this file (it has: raw-aes:master, x25519-hpke:cdpub1",
        ),
        (
            &["--remove", "master", "--remove", &e.recipient],
            "remove every wrapped key",
        ),
        (
            &["--add-kms-key-id", "alias/aws/s3"],
            "customer managed key",
        ),
        (
            &["--add-recipient", "cdpub1nope"],
            "not an X25519 public key",
        ),
    ];
    for (edits, message) in cases {
        let o = e.rewrap(&K1, edits, "c");
        assert!(!o.status.success(), "{edits:?}");
        assert!(stderr(&o).contains(message), "{edits:?}: {}", stderr(&o));
        assert!(e.read("c") == good, "{edits:?} changed the file");
    }
    // Two entries of different providers under one name: name the provider.
    e.rewrap_ok(
        &K1,
        &["--add-key-file", "k2.key", "--add-key-name", "passphrase"],
        "c",
    );
    e.rewrap_ok(&K1, &["--add-passphrase-file", "p1"], "c");
    let o = e.rewrap(&K1, &["--remove", "passphrase"], "c");
    assert!(
        stderr(&o).contains("more than one provider"),
        "{}",
        stderr(&o)
    );
    let said = e.rewrap_ok(&K1, &["--remove", "raw-aes:passphrase"], "c");
    assert!(said.contains("removed: raw-aes passphrase"), "{said}");
    assert!(
        e.entries("c")
            .iter()
            .any(|w| w.starts_with("passphrase-argon2id"))
    );
    assert_eq!(e.leftovers(&["p", "c"]), Vec::<String>::new());
}

/// A re-wrapped file is as strict as a fresh one: every damage gives its own error,
/// through the file path and through standard input alike.
#[test]
fn damaged_rewrapped_files_fail_with_the_right_error() {
    let e = Env::new();
    let p = encrypted(&e, 30_000, &[]);
    let old = e.read("c");
    e.rewrap_ok(
        &K1,
        &[
            "--add-key-file",
            "k2.key",
            "--add-key-name",
            "second",
            "--add-recipient",
            &e.recipient,
        ],
        "c",
    );
    let new = e.read("c");
    let hl = header_len(&new);
    assert_eq!(
        hl,
        header_len(&old) + (2 + 7 + 2 + 6 + 2 + 60) + (2 + 11 + 2 + 32 + 2 + 80)
    );
    // Where the entries are: the old header's list end is where the new entries start.
    let old_list_end = header_len(&old) - 64;
    let second_blob = old_list_end + 2 + 7 + 2 + 6 + 2; // raw-aes "second": its blob
    let recipient_info = old_list_end + 2 + 7 + 2 + 6 + 2 + 60 + 2 + 11 + 2;

    let flip = |at: usize| {
        let mut f = new.clone();
        f[at] ^= 0x01;
        f
    };
    let mut cases: Vec<(&str, Vec<u8>, &[&str], &str)> = vec![
        // The blob of the entry the key opens: it no longer opens.
        ("blob", flip(second_blob + 20), &K2, "wrong key"),
        // Another entry's bytes: the data key still opens, the tag does not verify.
        (
            "other-entry",
            flip(recipient_info + 3),
            &K2,
            "header was changed",
        ),
        (
            "master-blob",
            flip(second_blob - 20),
            &K2,
            "header was changed",
        ),
        ("tag", flip(hl - 1), &K2, "header was changed"),
        ("commitment", flip(hl - 64), &K2, "key commitment"),
        (
            "chunk",
            flip(hl + 2 * 4112 + 100),
            &K2,
            "a chunk failed to verify",
        ),
        (
            "chunk-tag",
            flip(new.len() - 1),
            &K2,
            "a chunk failed to verify",
        ),
        ("cut", new[..new.len() - 4112].to_vec(), &K2, "truncated"),
        ("cut-in-header", new[..hl - 1].to_vec(), &K2, "truncated"),
        ("length-field", flip(14), &K2, "damaged"),
    ];
    // The old header's list with the new tag (a list swapped back).
    let mut swapped = old[..header_len(&old) - 32].to_vec();
    swapped.extend_from_slice(&new[hl - 32..]);
    swapped.extend_from_slice(body(&new));
    cases.push(("old-list-new-tag", swapped, &K1, "header was changed"));
    // The new header on another object's body (same key, another message id).
    e.write("p", &data(30_000));
    e.ok(&[
        "encrypt",
        "--chunk-size",
        "4K",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "p",
        "other",
    ]);
    let mut spliced = new[..hl].to_vec();
    spliced.extend_from_slice(body(&e.read("other")));
    cases.push(("foreign-body", spliced, &K2, "a chunk failed to verify"));
    let mut extra = new.clone();
    extra.extend_from_slice(&[0; 16]);
    cases.push(("extra", extra, &K2, "extra bytes after its final chunk"));

    for (name, bytes, opening, message) in cases {
        e.write(name, &bytes);
        let by_file = e.open(opening, name).unwrap_err();
        assert!(by_file.contains(message), "{name}: {by_file}");
        let piped = e.open_piped(opening, name).unwrap_err();
        assert_eq!(
            by_file.replacen(
                &format!("cannot decrypt {name}"),
                "cannot decrypt standard input",
                1
            ),
            piped,
            "{name}: the file and the pipe disagree"
        );
        // And rewrap refuses it, leaving it as it was.
        let o = e.rewrap(opening, &["--add-passphrase-file", "p1"], name);
        assert!(!o.status.success(), "{name} was re-wrapped");
        assert!(e.read(name) == bytes, "{name} changed");
    }
    // The undamaged one opens with each key it lists.
    for opening in [&K1[..], &K2, &ID] {
        assert_eq!(e.open(opening, "c").unwrap(), p);
    }
    // The old header with the unchanged body is the old file: it opens with the old
    // key only (re-wrapping cannot take access back from a copy of the old file).
    assert!(old[..header_len(&old)] != new[..hl]);
}

/// The Python decryptor written from FORMAT.md alone opens a re-wrapped file (each
/// key it lists). Skipped when python3 or its `cryptography` is missing, except
/// under CI=1.
#[test]
fn the_independent_python_decryptor_opens_a_rewrapped_file() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/decrypt.py");
    let usable = Command::new("python3")
        .arg(&script)
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        assert!(
            std::env::var("CI").as_deref() != Ok("1"),
            "python3 tests/interop/decrypt.py --help failed under CI"
        );
        eprintln!("skipped: python3 or its dependencies are missing");
        return;
    }
    let e = Env::new();
    let p = encrypted(&e, 70_000, &[]);
    e.rewrap_ok(
        &K1,
        &[
            "--remove",
            "master",
            "--add-key-file",
            "k2.key",
            "--add-key-name",
            "second",
            "--add-recipient",
            &e.recipient,
            "--add-passphrase-file",
            "p2",
        ],
        "c",
    );
    for (i, opening) in [
        &["--key-file", "k2.key", "--key-name", "second"][..],
        &["--identity", "rec.key"],
        &["--passphrase-file", "p2"],
    ]
    .into_iter()
    .enumerate()
    {
        let out = format!("py{i}");
        let o = Command::new("python3")
            .arg(&script)
            .args(opening)
            .args(CTX)
            .args(["c", &out])
            .current_dir(e.dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{opening:?}: {}", stderr(&o));
        assert!(e.read(&out) == p, "{opening:?}");
    }
    // And refuses the old key, now removed.
    let o = Command::new("python3")
        .arg(&script)
        .args(K1)
        .args(CTX)
        .args(["c", "py-old"])
        .current_dir(e.dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
}

/// The binary with moto's endpoint and credentials and nothing from the developer's
/// own AWS configuration.
fn aws_bin(dir: &Path, moto: &support::Moto) -> Command {
    store_bin(dir, &moto.endpoint, "testing", "testing")
}

/// The binary for the S3 store at `endpoint` with these credentials.
fn store_bin(dir: &Path, endpoint: &str, access_key: &str, secret_key: &str) -> Command {
    let mut c = bin(dir);
    c.env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret_key)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        );
    c
}

/// KMS on both sides of a local re-wrap: opened with `--kms-key-id`, a second KMS
/// key added (`Encrypt` with the whole context), the first removed by its key id.
#[tokio::test(flavor = "multi_thread")]
async fn rewrap_with_kms_against_moto() {
    let Some(moto) = support::Moto::start() else {
        return;
    };
    let kms = moto.kms_client();
    let key_a = kms.create_key().send().await.unwrap();
    let key_a = key_a.key_metadata().unwrap().key_id().to_owned();
    let key_b = kms.create_key().send().await.unwrap();
    let key_b = key_b.key_metadata().unwrap().key_id().to_owned();
    let e = Env::new();
    let run = |args: &[&str]| aws_bin(e.dir.path(), &moto).args(args).output().unwrap();
    let p = data(40_000);
    e.write("p", &p);
    let o = run(&[
        "encrypt",
        "--kms-key-id",
        &key_a,
        "--context",
        "owner=ann",
        "p",
        "c",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = e.read("c");

    let o = run(&[
        "rewrap",
        "--kms-key-id",
        &key_a,
        "--context",
        "owner=ann",
        "--add-kms-key-id",
        &key_b,
        "--add-recipient",
        &e.recipient,
        "c",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = e.entries("c");
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed[0].starts_with("aws-kms arn:aws:kms:") && listed[0].ends_with(&key_a));
    assert_eq!(listed[1], format!("x25519-hpke {}", e.recipient));
    assert!(
        listed[2].starts_with("aws-kms arn:aws:kms:") && listed[2].ends_with(&key_b),
        "{listed:?}"
    );
    assert!(body(&e.read("c")) == body(&before));
    for key in [&key_a, &key_b] {
        let o = run(&[
            "decrypt",
            "--kms-key-id",
            key,
            "--context",
            "owner=ann",
            "c",
            "-",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(o.stdout == p);
    }

    // Remove the first by its key id, opened with the second; a wrong context is
    // refused by KMS and leaves the file as it was.
    let o = run(&[
        "rewrap",
        "--kms-key-id",
        &key_b,
        "--context",
        "owner=bob",
        "--remove",
        &key_a,
        "c",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("encryption context"), "{}", stderr(&o));
    let o = run(&[
        "rewrap",
        "--kms-key-id",
        &key_b,
        "--context",
        "owner=ann",
        "--remove",
        &key_a,
        "c",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(e.entries("c").len(), 2);
    let o = run(&[
        "decrypt",
        "--kms-key-id",
        &key_a,
        "--context",
        "owner=ann",
        "c",
        "-",
    ]);
    assert!(!o.status.success(), "the removed KMS key still opens");
    assert_eq!(e.open(&ID, "c").unwrap(), p);

    // A KMS key that does not exist: refused, untouched.
    let now = e.read("c");
    let o = run(&[
        "rewrap",
        "--identity",
        "rec.key",
        "--context",
        "owner=ann",
        "--add-kms-key-id",
        "alias/missing",
        "c",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("alias/missing"), "{}", stderr(&o));
    assert!(e.read("c") == now);
    assert_eq!(e.leftovers(&["p", "c"]), Vec::<String>::new());
}

/// `cp --recipient` up: the object carries a wrapped key for the recipient beside
/// the master key's, and `cp --identity` brings it down with the identity alone.
#[tokio::test(flavor = "multi_thread")]
async fn cp_up_with_a_recipient_opens_with_the_identity() {
    let Some(moto) = support::Moto::start() else {
        return;
    };
    moto.s3_client()
        .create_bucket()
        .bucket(&moto.bucket)
        .send()
        .await
        .unwrap();
    let e = Env::new();
    let run = |args: &[&str]| aws_bin(e.dir.path(), &moto).args(args).output().unwrap();
    let url = format!("s3://{}/with-recipient", moto.bucket);
    let p = data(6 << 20); // two parts
    e.write("p", &p);
    let o = run(&[
        "cp",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--part-size",
        "5M",
        "--recipient",
        &e.recipient,
        "p",
        &url,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "cp",
        "--identity",
        "rec.key",
        "--context",
        "owner=ann",
        &url,
        "down",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e.read("down") == p);
    let o = run(&[
        "cp",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        &url,
        "down2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e.read("down2") == p);
    // A single-PUT upload with two recipients, and --recipient refused going down.
    let o = run(&["keygen", "--x25519", "-o", "rec2.key"]);
    let second = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    e.write("small", b"small");
    let small = format!("s3://{}/small", moto.bucket);
    let o = run(&[
        "cp",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--recipient",
        &e.recipient,
        "--recipient",
        &second,
        "small",
        &small,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        "cp",
        "--identity",
        "rec2.key",
        "--context",
        "owner=ann",
        &small,
        "-",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, b"small");
    let o = run(&[
        "cp",
        "--identity",
        "rec2.key",
        "--context",
        "owner=ann",
        "--recipient",
        &e.recipient,
        &small,
        "x",
    ]);
    assert!(
        stderr(&o).contains("--recipient is for uploads"),
        "{}",
        stderr(&o)
    );
}

/// An S3 store for `rewrap s3://`: how to run the binary against it, a client, a
/// bucket.
struct Store<'a> {
    env: &'a Env,
    endpoint: String,
    access_key: String,
    secret_key: String,
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl Store<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let mut c = store_bin(
            self.env.dir.path(),
            &self.endpoint,
            &self.access_key,
            &self.secret_key,
        );
        c.args(args);
        // The embedded store runs on this test's runtime: block a worker, not it.
        tokio::task::block_in_place(|| c.output().unwrap())
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stderr(&o)
    }
    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
    async fn object(&self, key: &str) -> (Vec<u8>, String) {
        let o = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let etag = o.e_tag().unwrap().to_owned();
        (o.body.collect().await.unwrap().to_vec(), etag)
    }
}

/// `rewrap s3://` in place inside the store: the body bytes after the header are
/// the same, the keys changed, a wrong key leaves the object as it was.
async fn rewrap_objects_in(store: &Store<'_>) {
    let e = store.env;
    let big = data((12 << 20) + 1234); // past the 5 MiB first part: UploadPartCopy
    let small = data(10_000); // rewritten whole
    e.write("big", &big);
    e.write("small", &small);
    for name in ["big", "small"] {
        store.ok(&[
            "cp",
            "--key-file",
            "k.key",
            "--context",
            "owner=ann",
            "--chunk-size",
            "64K",
            name,
            &store.url(name),
        ]);
    }
    let (before, etag_before) = store.object("big").await;

    let said = store.ok(&[
        "rewrap",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--add-key-file",
        "k2.key",
        "--add-key-name",
        "second",
        "--remove",
        "master",
        &store.url("big"),
    ]);
    assert!(said.contains("removed: raw-aes master"), "{said}");
    assert!(said.contains("copied inside S3"), "{said}");
    let (after, etag_after) = store.object("big").await;
    assert_ne!(etag_before, etag_after);
    assert!(body(&after) == body(&before), "the body changed");
    assert_ne!(after[..header_len(&after)], before[..header_len(&before)]);
    store.ok(&[
        "cp",
        "--key-file",
        "k2.key",
        "--key-name",
        "second",
        "--context",
        "owner=ann",
        &store.url("big"),
        "big.out",
    ]);
    assert!(e.read("big.out") == big);

    // The removed key: refused, the object is untouched (same bytes, same ETag).
    let o = store.run(&[
        "rewrap",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--add-recipient",
        &e.recipient,
        &store.url("big"),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong key"), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    let (still, etag_still) = store.object("big").await;
    assert_eq!(etag_still, etag_after);
    assert!(still == after);

    // A small object, rewritten whole; then opened with the recipient's identity.
    let (small_before, _) = store.object("small").await;
    store.ok(&[
        "rewrap",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--add-recipient",
        &e.recipient,
        &store.url("small"),
    ]);
    let (small_after, _) = store.object("small").await;
    assert!(body(&small_after) == body(&small_before));
    store.ok(&[
        "cp",
        "--identity",
        "rec.key",
        "--context",
        "owner=ann",
        &store.url("small"),
        "small.out",
    ]);
    assert!(e.read("small.out") == small);

    // No such object; -o with an object.
    let o = store.run(&[
        "rewrap",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--add-recipient",
        &e.recipient,
        &store.url("missing"),
    ]);
    assert!(stderr(&o).contains("no such object"), "{}", stderr(&o));
    let o = store.run(&[
        "rewrap",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--add-recipient",
        &e.recipient,
        "-o",
        "x",
        &store.url("small"),
    ]);
    assert!(stderr(&o).contains("re-wrapped in place"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn rewrap_objects_in_moto() {
    let Some(moto) = support::Moto::start() else {
        return;
    };
    let client = moto.s3_client();
    client
        .create_bucket()
        .bucket(&moto.bucket)
        .send()
        .await
        .unwrap();
    let e = Env::new();
    let store = Store {
        env: &e,
        endpoint: moto.endpoint.clone(),
        access_key: "testing".into(),
        secret_key: "testing".into(),
        client,
        bucket: moto.bucket.clone(),
    };
    rewrap_objects_in(&store).await;
}

#[derive(clap::Parser)]
struct ServeCli {
    #[command(flatten)]
    args: cipherdrop_server::config::ServeArgs,
}

/// The local mode's embedded store (as `cipherdrop serve` starts it).
#[tokio::test(flavor = "multi_thread")]
async fn rewrap_objects_in_the_local_mode() {
    use clap::Parser as _;
    let data_dir = tempfile::tempdir().unwrap();
    let args = ServeCli::try_parse_from([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.path().to_str().unwrap(),
    ])
    .unwrap()
    .args;
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let prepared = cipherdrop_server::serve::prepare(&args, rx).await.unwrap();
    let embedded = prepared.embedded.as_ref().unwrap();
    let endpoint = format!("http://{}", embedded.addr);
    let creds = &embedded.credentials;
    let e = Env::new();
    let store = Store {
        env: &e,
        client: cipherdrop_server::serve::local_s3_client(
            &endpoint,
            &creds.access_key,
            &creds.secret_key,
        ),
        endpoint,
        access_key: creds.access_key.clone(),
        secret_key: creds.secret_key.clone(),
        bucket: cipherdrop_server::embedded::LOCAL_BUCKET.to_owned(),
    };
    rewrap_objects_in(&store).await;
}
