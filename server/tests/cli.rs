//! The offline commands, run as a user would: the real `cipherdrop` binary.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cipherdrop"));
    c.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    c
}

fn run(args: &[&str], dir: &Path) -> Output {
    bin().args(args).current_dir(dir).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let e = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let o = e.run(&["keygen", "-o", "k.key"]);
        assert!(o.status.success(), "{}", stderr(&o));
        e
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn run(&self, args: &[&str]) -> Output {
        run(args, self.dir.path())
    }
    fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.path(name), data).unwrap();
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
    fn encrypt(&self, input: &str, output: &str, extra: &[&str]) -> Output {
        let mut a = vec!["encrypt", "--key-file", "k.key", "--context", "owner=ann"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&[input, output]);
        self.run(&a)
    }
    fn decrypt(&self, input: &str, output: &str) -> Output {
        self.run(&[
            "decrypt",
            "--key-file",
            "k.key",
            "--context",
            "owner=ann",
            input,
            output,
        ])
    }
    /// Files in the directory other than the key and the inputs named.
    fn leftovers(&self, keep: &[&str]) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "k.key" && !keep.contains(&n.as_str()))
            .collect()
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 7 + i / 251) % 256).unwrap())
        .collect()
}

fn round_trip(len: usize, extra: &[&str]) {
    let e = Env::new();
    let p = data(len);
    e.write("p", &p);
    let o = e.encrypt("p", "c", extra);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e.decrypt("c", "out");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e.read("out") == p, "len {len}");
}

#[test]
fn round_trip_empty() {
    round_trip(0, &[]);
}

#[test]
fn round_trip_one_byte() {
    round_trip(1, &[]);
}

#[test]
fn round_trip_chunk_boundaries() {
    for len in [4095, 4096, 4097, 3 * 4096] {
        round_trip(len, &["--chunk-size", "4K"]);
    }
}

#[test]
fn round_trip_many_batches_on_several_threads() {
    // More than one 16 MiB batch, with a partial final chunk.
    round_trip(
        (17 << 20) + 12_345,
        &["--chunk-size", "64K", "--threads", "3"],
    );
}

#[test]
fn pipes_both_ways() {
    let e = Env::new();
    let p = data(300_000);
    let mut child = bin()
        .args([
            "encrypt",
            "--key-file",
            "k.key",
            "--chunk-size",
            "4K",
            "-",
            "-",
        ])
        .current_dir(e.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&p).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    e.write("c", &out.stdout);
    // Length not recorded (stdin), read back from a pipe too.
    let mut child = bin()
        .args(["decrypt", "--key-file", "k.key", "-", "-"])
        .current_dir(e.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let back = child.wait_with_output().unwrap();
    assert!(back.status.success(), "{}", stderr(&back));
    assert!(back.stdout == p);
    // And from the file (length taken from the file size).
    let o = e.run(&["decrypt", "--key-file", "k.key", "c", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e.read("out") == p);
}

#[test]
fn damaged_files_are_refused_and_leave_no_output() {
    let e = Env::new();
    let p = data(50_000);
    e.write("p", &p);
    assert!(
        e.encrypt("p", "c", &["--chunk-size", "4K"])
            .status
            .success()
    );
    let c = e.read("c");
    let header_len = usize::try_from(u32::from_be_bytes(c[11..15].try_into().unwrap())).unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut flipped = c.clone();
    flipped[header_len + 3 * 4112 + 7] ^= 1;
    cases.push((
        "flipped",
        flipped,
        "the file was changed after it was encrypted",
    ));
    cases.push(("cut", c[..header_len + 4112 * 2].to_vec(), "truncated"));
    cases.push(("cut-mid", c[..c.len() - 100].to_vec(), "truncated"));
    let mut extra = c.clone();
    extra.extend_from_slice(b"junk");
    cases.push(("extra", extra, "extra bytes after its final chunk"));
    let mut hdr = c.clone();
    hdr[header_len - 1] ^= 1;
    cases.push(("header", hdr, "header was changed"));
    cases.push((
        "foreign",
        b"just some text, not encrypted at all".to_vec(),
        "not a CipherDrop file",
    ));
    for (name, bytes, msg) in cases {
        e.write(name, &bytes);
        let o = e.decrypt(name, "out");
        assert!(!o.status.success(), "{name} was accepted");
        let err = stderr(&o);
        assert!(err.contains(msg), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: one line, got {err}");
        assert_eq!(
            e.leftovers(&["p", "c", name]),
            Vec::<String>::new(),
            "{name} left output behind"
        );
        std::fs::remove_file(e.path(name)).unwrap();
    }
}

#[test]
fn to_stdout_stops_at_the_first_bad_chunk() {
    let e = Env::new();
    let p = data(5 * 4096);
    e.write("p", &p);
    assert!(
        e.encrypt("p", "c", &["--chunk-size", "4K"])
            .status
            .success()
    );
    let mut c = e.read("c");
    let header_len = usize::try_from(u32::from_be_bytes(c[11..15].try_into().unwrap())).unwrap();
    c[header_len + 2 * 4112 + 1] ^= 0x80;
    e.write("bad", &c);
    let o = e.run(&[
        "decrypt",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--threads",
        "2",
        "bad",
        "-",
    ]);
    assert!(!o.status.success());
    assert!(
        o.stdout.len() <= 2 * 4096,
        "released {} bytes",
        o.stdout.len()
    );
    assert!(o.stdout == p[..o.stdout.len()]);
}

#[test]
fn wrong_key_and_wrong_context() {
    let e = Env::new();
    e.write("p", b"secret");
    assert!(e.encrypt("p", "c", &[]).status.success());
    assert!(e.run(&["keygen", "-o", "other.key"]).status.success());
    let o = e.run(&[
        "decrypt",
        "--key-file",
        "other.key",
        "--context",
        "owner=ann",
        "c",
        "out",
    ]);
    assert!(stderr(&o).contains("wrong key"), "{}", stderr(&o));
    let o = e.run(&[
        "decrypt",
        "--key-file",
        "k.key",
        "--context",
        "owner=bob",
        "c",
        "out",
    ]);
    assert!(stderr(&o).contains("encryption context"), "{}", stderr(&o));
    assert!(!e.path("out").exists());
}

#[test]
fn keygen_is_private_and_never_overwrites() {
    let e = Env::new();
    let key = e.read("k.key");
    assert_eq!(key.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(e.path("k.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let o = e.run(&["keygen", "-o", "k.key"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"));
    assert!(e.read("k.key") == key);
}

#[test]
fn outputs_are_not_replaced_without_force() {
    let e = Env::new();
    e.write("p", b"abc");
    e.write("c", b"precious");
    let o = e.encrypt("p", "c", &[]);
    assert!(stderr(&o).contains("--force"));
    assert!(e.read("c") == b"precious");
    assert!(e.encrypt("p", "c", &["--force"]).status.success());
    assert!(e.read("c") != b"precious");
}

/// A named pipe (like a device such as /dev/null) is written in place, never
/// replaced by a renamed temporary file, and needs no --force; rewrap refuses it.
#[cfg(unix)]
#[test]
fn outputs_that_are_not_regular_files_are_written_in_place() {
    use std::os::unix::fs::FileTypeExt as _;
    let e = Env::new();
    let plaintext = data(300_000);
    e.write("p", &plaintext);
    assert!(e.encrypt("p", "c", &[]).status.success());
    let fifo = e.path("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = e.decrypt("c", "pipe");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(reader.join().unwrap() == plaintext);
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the named pipe was replaced by a {kind:?}");

    let o = e.run(&[
        "rewrap",
        "--key-file",
        "k.key",
        "--context",
        "owner=ann",
        "--add-recipient",
        "cdpub1e4ydq6q75ulsngq0swzeh5ggsr04dq3qr8x68jyrurg4zn34kyrqyxyl7p",
        "c",
        "-o",
        "pipe",
        "--force",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    let o = e.decrypt("c", ".");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
}

#[test]
fn inspect_prints_the_header_without_a_key() {
    let e = Env::new();
    e.write("p", &data(10_000));
    assert!(
        e.encrypt("p", "c", &["--chunk-size", "4K"])
            .status
            .success()
    );
    let o = e.run(&["inspect", "--json", "c"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["chunk_size"], 4096);
    assert_eq!(v["plaintext_len"], 10_000);
    assert_eq!(v["chunks"], 3);
    assert_eq!(v["context"]["owner"], "ann");
    assert_eq!(v["wrapped_keys"][0]["provider_id"], "raw-aes");
    let text = e.run(&["inspect", "c"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("owner=ann"));
}

/// A header's strings come from the file: `inspect` must not pass terminal
/// escape sequences (ESC, CSI, BEL, bidi overrides) through to the terminal.
#[test]
fn inspect_escapes_control_characters() {
    use cipherdrop_core::{ChunkSize, DataKey, EncryptionContext, RawAesKeyring, Sealer};
    let e = Env::new();
    let hostile = "x\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}y";
    let context = EncryptionContext::from_pairs([("owner", hostile), ("k\u{1b}[1m", "v")]).unwrap();
    let dk = DataKey::from_bytes([3; 32]);
    let wrapped = RawAesKeyring::new("name\u{1b}[5m", [4; 32])
        .wrap_with_nonce(&dk, &context, [1; 12])
        .unwrap();
    let sealer =
        Sealer::with_message_id(&dk, &context, &[wrapped], ChunkSize::MIN, Some(3), [5; 32])
            .unwrap();
    let mut stream = sealer.into_stream();
    let mut file = Vec::new();
    stream.push(b"abc", &mut file).unwrap();
    stream.finish(&mut file).unwrap();
    e.write("c", &file);
    for args in [&["inspect", "c"][..], &["inspect", "--json", "c"][..]] {
        let o = e.run(args);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8(o.stdout.clone()).unwrap();
        assert!(
            !out.chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{args:?}: {out:?}"
        );
        if args.len() == 3 {
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["context"]["owner"], hostile, "JSON keeps the value");
        } else {
            assert!(out.contains("owner=x\\u{1b}]0;pwned\\u{7}"), "{out}");
        }
    }
}

fn passphrase_env() -> Env {
    let e = Env::new();
    e.write(
        "pass",
        b"correct horse battery staple\nthe second line is not read\n",
    );
    e
}

fn with_passphrase(e: &Env, cmd: &str, file: &str, input: &str, output: &str) -> Output {
    e.run(&[
        cmd,
        "--passphrase-file",
        file,
        "--context",
        "owner=ann",
        input,
        output,
    ])
}

#[test]
fn passphrase_round_trip() {
    let e = passphrase_env();
    let p = data(10_000);
    e.write("p", &p);
    let o = with_passphrase(&e, "encrypt", "pass", "p", "c");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e.run(&["inspect", "--json", "c"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["wrapped_keys"][0]["provider_id"], "passphrase-argon2id");
    // Only the first line counts, and a CRLF line ending is not part of it.
    e.write("same", b"correct horse battery staple\r\n");
    let o = with_passphrase(&e, "decrypt", "same", "c", "out");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e.read("out") == p);
}

#[test]
fn wrong_passphrase_is_one_line_and_leaves_no_output() {
    let e = passphrase_env();
    e.write("p", b"secret");
    assert!(
        with_passphrase(&e, "encrypt", "pass", "p", "c")
            .status
            .success()
    );
    e.write("wrong", b"correct horse battery stapler\n");
    let o = with_passphrase(&e, "decrypt", "wrong", "c", "out");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("wrong key"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(
        e.leftovers(&["p", "c", "pass", "wrong"]),
        Vec::<String>::new()
    );
    // A master key does not open it either.
    let o = e.decrypt("c", "out");
    assert!(stderr(&o).contains("wrong key"), "{}", stderr(&o));
}

#[test]
fn passphrase_file_is_not_stdin_and_key_sources_exclude_each_other() {
    let e = passphrase_env();
    e.write("p", b"x");
    let o = with_passphrase(&e, "encrypt", "-", "p", "c");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("standard input"), "{}", stderr(&o));
    let o = e.encrypt("p", "c", &["--passphrase-file", "pass"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    e.write("empty", b"\n");
    let o = with_passphrase(&e, "encrypt", "empty", "p", "c");
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
    assert!(!e.path("c").exists());
    let help = e.run(&["encrypt", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--passphrase-file"));
}

/// Made by the browser package (`Keyring.fromPassphrase('made in the browser',
/// { memoryKib: 64, iterations: 1, parallelism: 1 })`, `Encryptor.withKeyring`,
/// context `owner=ann`) before the passphrase keyring moved to crypto-core. Its
/// header was re-tagged when the header tag became HMAC-SHA-256 (FORMAT.md 4): the
/// length field and the tag are new, every other byte (salt, wrapped key,
/// commitment, chunks) is the browser's.
const BROWSER_PASSPHRASE_FILE: &[&str] = &[
    "4349504844524f500100010000011b0000100000000000000000343ff3de278eb2838697fb9189a991ce6fa1",
    "f7378e8036f596fdd044a2a41c95b5000100056f776e65720003616e6e00010013706173737068726173652d",
    "6172676f6e326964003b6172676f6e32696424763d3139246d3d36342c743d312c703d312436383063613335",
    "65356564353137616634626565343132623163326237373266003c2e2522fe5cc4ebbbdb45195e10c6c293e3",
    "dff7d4c2fc00768961887a1fa65221e793a7e3d8d3191e10569e50e537316167af15cdf68771ce608c9fb2ed",
    "83260cc6fbc9aa6a525721c84d26908619f69e6a809f19a4db7142d5224b34e10666312c7d91bdfb6f1c77b3",
    "32994e611c2e4667c5cd9b3ed70939d064e78a891fec3cad72ae7b283f67f4e246e34572450c968b44019d48",
    "987cb1da2be869a23b7ec30ac481be7fc354ee6b2de99d42458c9535d8f70d3ee720e142ab17bb11e8c340",
];

#[test]
fn a_file_the_browser_package_made_with_a_passphrase_decrypts() {
    let e = Env::new();
    e.write("c", &hex::decode(BROWSER_PASSPHRASE_FILE.concat()).unwrap());
    e.write("pass", b"made in the browser\n");
    let o = with_passphrase(&e, "decrypt", "pass", "c", "out");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        e.read("out"),
        b"a file the wasm package encrypted with a passphrase\n"
    );
}

#[test]
fn the_vector_files_decrypt_through_the_command() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crypto-core/tests/vectors");
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
        let fields = std::str::from_utf8(&bytes[..split]).unwrap();
        let get = |k: &str| {
            fields
                .lines()
                .filter_map(move |l| l.strip_prefix(&format!("{k}: ")))
                .collect::<Vec<_>>()
        };
        if get("master_key").is_empty() && get("passphrase").is_empty() {
            // Opened by an x25519 identity: cli_vectors.rs runs those with --identity.
            continue;
        }
        std::fs::write(tmp.path().join("in"), &bytes[split + 2..]).unwrap();
        let mut args = vec!["decrypt", "--force"];
        if let Some(passphrase) = get("passphrase").first() {
            std::fs::write(tmp.path().join("pass"), format!("{passphrase}\n")).unwrap();
            args.extend_from_slice(&["--passphrase-file", "pass"]);
        } else {
            std::fs::write(
                tmp.path().join("key"),
                hex::decode(get("master_key")[0]).unwrap(),
            )
            .unwrap();
            args.extend_from_slice(&["--key-file", "key", "--key-name", get("key_name")[0]]);
        }
        for c in get("context") {
            args.extend_from_slice(&["--context", c]);
        }
        args.extend_from_slice(&["in", "out"]);
        let _ = std::fs::remove_file(tmp.path().join("out"));
        let o = run(&args, tmp.path());
        let ok = get("expect")[0] == "success";
        assert_eq!(o.status.success(), ok, "{}: {}", path.display(), stderr(&o));
        assert_eq!(tmp.path().join("out").exists(), ok, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 30);
}

/// `keygen --x25519` makes a recovery identity: the private key file (0600, never
/// overwritten) and the public key on stdout; `encrypt --recipient` adds a wrapped
/// key for it beside the master key, and `decrypt --identity` opens the file with
/// neither the master key nor KMS.
#[test]
fn recovery_identity_opens_what_was_wrapped_to_it() {
    let e = Env::new();
    let o = e.run(&["keygen", "--x25519", "-o", "rec.key"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let public = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert!(public.starts_with("cdpub1"), "{public}");
    let id = String::from_utf8(e.read("rec.key")).unwrap();
    assert!(id.contains(&format!("# public key: {public}")), "{id}");
    assert!(id.lines().any(|l| l.starts_with("CDSECRET1")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(e.path("rec.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = e.run(&["keygen", "--x25519", "-o", "rec.key"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8(e.read("rec.key")).unwrap() == id,
        "overwritten"
    );

    let p = data(300_000);
    e.write("p", &p);
    let o = e.encrypt("p", "c", &["--recipient", &public]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e.run(&["inspect", "--json", "c"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["wrapped_keys"][0]["provider_id"], "raw-aes");
    assert_eq!(v["wrapped_keys"][1]["provider_id"], "x25519-hpke");
    assert_eq!(v["wrapped_keys"][1]["provider_info"], public.as_str());
    let o = e.run(&[
        "decrypt",
        "--identity",
        "rec.key",
        "--context",
        "owner=ann",
        "c",
        "out",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e.read("out") == p);

    // Another identity: wrong key, nothing written.
    assert!(
        e.run(&["keygen", "--x25519", "-o", "other.key"])
            .status
            .success()
    );
    let o = e.run(&[
        "decrypt",
        "--identity",
        "other.key",
        "--context",
        "owner=ann",
        "c",
        "out2",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong key"), "{}", stderr(&o));
    assert!(!e.path("out2").exists());

    // A mistyped public key is refused before anything is written.
    let mut typo = public.into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'q' { b'p' } else { b'q' };
    let o = e.encrypt(
        "p",
        "c3",
        &["--recipient", std::str::from_utf8(&typo).unwrap()],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not an X25519 public key"),
        "{}",
        stderr(&o)
    );
    assert!(!e.path("c3").exists());
}
