//! Known-answer vectors: `tests/vectors/*.vector`, shared with the wasm and
//! end-to-end tests. Regenerate with `CIPHERDROP_WRITE_VECTORS=1 cargo test -p
//! cipherdrop-core --test vectors` (and explain the format change in FORMAT.md).
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

#[path = "support/testkit.rs"]
mod testkit;

use cipherdrop_core::header::{HEADER_TAG_LEN, PREFIX_LEN, UNKNOWN_LENGTH};
use cipherdrop_core::{
    Argon2idParams, ChunkSize, DataKey, EncryptionContext, PassphraseKeyring, RawAesKeyring,
    Sealer, WrappedKey, X25519Identity, X25519Recipient,
};
use testkit::{Vector, load_all, pattern, stream_decrypt, vectors_dir};

const MASTER: [u8; 32] = [0x4d; 32];
const BACKUP: [u8; 32] = [0x42; 32];
const DATA_KEY: [u8; 32] = [0x11; 32];
const OTHER_DATA_KEY: [u8; 32] = [0x22; 32];
const MESSAGE_ID: [u8; 32] = [0xa5; 32];
const OTHER_MESSAGE_ID: [u8; 32] = [0x5a; 32];
const WRAP_NONCE: [u8; 12] = [0x01; 12];
/// Not ASCII on purpose: the passphrase is its UTF-8 bytes, not normalised.
const PASSPHRASE: &str = "correct horse battery st\u{e4}ple";
const PASSPHRASE_SALT: [u8; 16] = [0x53; 16];
const CS: u32 = 4096;
/// The x25519-hpke recipient's private key (FORMAT.md 2.5's worked example).
const IDENTITY: [u8; 32] = [0x72; 32];
/// Another private key, for the wrong-identity vector.
const OTHER_IDENTITY: [u8; 32] = [0x73; 32];
/// The seed of the ephemeral key pair (RFC 9180's `ikmE`).
const IKM_E: [u8; 32] = [0x65; 32];

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("owner", "alice"), ("object", "vectors/report.pdf")]).unwrap()
}

struct Built {
    file: Vec<u8>,
    header_len: usize,
    plaintext_len: usize,
    chunk_size: u32,
    recorded: bool,
}

fn encrypt(
    data_key: [u8; 32],
    message_id: [u8; 32],
    len: usize,
    cs: u32,
    record_len: bool,
    wrapped: &[WrappedKey],
) -> Built {
    let dk = DataKey::from_bytes(data_key);
    let sealer = Sealer::with_message_id(
        &dk,
        &ctx(),
        wrapped,
        ChunkSize::new(cs).unwrap(),
        record_len.then_some(len as u64),
        message_id,
    )
    .unwrap();
    let header_len = sealer.header().len();
    let mut file = Vec::new();
    let mut s = sealer.into_stream();
    s.push(&pattern(len), &mut file).unwrap();
    s.finish(&mut file).unwrap();
    Built {
        file,
        header_len,
        plaintext_len: len,
        chunk_size: cs,
        recorded: record_len,
    }
}

/// The `wrap` field of a `raw-aes` key: `raw-aes NAME KEY NONCE`.
fn raw_wrap_field(name: &str, key: [u8; 32]) -> String {
    format!(
        "raw-aes {name} {} {}",
        hex::encode(key),
        hex::encode(WRAP_NONCE)
    )
}

fn master_wrap(data_key: [u8; 32]) -> WrappedKey {
    RawAesKeyring::new("master", MASTER)
        .wrap_with_nonce(&DataKey::from_bytes(data_key), &ctx(), WRAP_NONCE)
        .unwrap()
}

fn fields(
    expect: &str,
    description: &str,
    plaintext_len: usize,
    released: Option<usize>,
) -> Vec<(String, String)> {
    let mut f = vec![
        ("expect".to_owned(), expect.to_owned()),
        ("description".to_owned(), description.to_owned()),
        ("master_key".to_owned(), hex::encode(MASTER)),
        ("key_name".to_owned(), "master".to_owned()),
    ];
    for (k, v) in ctx().iter() {
        f.push(("context".to_owned(), format!("{k}={v}")));
    }
    f.push(("plaintext_len".to_owned(), plaintext_len.to_string()));
    if let Some(r) = released {
        f.push(("released".to_owned(), r.to_string()));
    }
    f
}

/// A vector that decrypts, with every input a writer needs to make the same bytes
/// (tests/vectors/README.md): `wraps` are the `wrap` fields, in header order.
fn positive(name: &str, description: &str, b: &Built, wraps: &[String]) -> Vector {
    let mut f = fields("success", description, b.plaintext_len, None);
    f.push(("chunk_size".to_owned(), b.chunk_size.to_string()));
    let length = if b.recorded { "recorded" } else { "streamed" };
    f.push(("length".to_owned(), length.to_owned()));
    f.push(("data_key".to_owned(), hex::encode(DATA_KEY)));
    f.push(("message_id".to_owned(), hex::encode(MESSAGE_ID)));
    f.push(("wrap_nonce".to_owned(), hex::encode(WRAP_NONCE)));
    for w in wraps {
        f.push(("wrap".to_owned(), w.clone()));
    }
    Vector {
        name: name.to_owned(),
        fields: f,
        body: b.file.clone(),
    }
}

fn negative(name: &str, code: &str, description: &str, body: Vec<u8>, released: usize) -> Vector {
    Vector {
        name: name.to_owned(),
        fields: fields(&format!("error {code}"), description, 12288, Some(released)),
        body,
    }
}

/// `ok_passphrase`: the data key wrapped under a passphrase (FORMAT.md 2.4) with
/// costs small enough for tests (256 KiB, 1 pass, 1 lane); the salt is in the header.
fn passphrase_vector() -> Vector {
    let costs = Argon2idParams::new(256, 1, 1).unwrap();
    let wrapped = PassphraseKeyring::new(PASSPHRASE.as_bytes(), costs)
        .wrap_with(
            &DataKey::from_bytes(DATA_KEY),
            &ctx(),
            PASSPHRASE_SALT,
            WRAP_NONCE,
        )
        .unwrap();
    let mut v = positive(
        "ok_passphrase",
        "data key wrapped under a passphrase (passphrase-argon2id, m=256 KiB, t=1, p=1); chunk size 4096",
        &encrypt(DATA_KEY, MESSAGE_ID, 4097, CS, true, &[wrapped]),
        &[passphrase_wrap_field()],
    );
    open_with_passphrase(&mut v, PASSPHRASE);
    v
}

/// The `wrap` field of the passphrase key: `passphrase-argon2id M T P SALT NONCE`
/// (the passphrase itself is the `passphrase` field).
fn passphrase_wrap_field() -> String {
    format!(
        "passphrase-argon2id 256 1 1 {} {}",
        hex::encode(PASSPHRASE_SALT),
        hex::encode(WRAP_NONCE)
    )
}

fn passphrase_wrap(passphrase: &str, data_key: [u8; 32]) -> WrappedKey {
    PassphraseKeyring::new(
        passphrase.as_bytes(),
        Argon2idParams::new(256, 1, 1).unwrap(),
    )
    .wrap_with(
        &DataKey::from_bytes(data_key),
        &ctx(),
        PASSPHRASE_SALT,
        WRAP_NONCE,
    )
    .unwrap()
}

/// A vector opened with `passphrase` instead of the master key.
fn open_with_passphrase(v: &mut Vector, passphrase: &str) {
    v.fields.retain(|(k, _)| k != "key_name");
    for (k, val) in &mut v.fields {
        if k == "master_key" {
            *k = "passphrase".to_owned();
            *val = passphrase.to_owned();
        }
    }
}

/// `file` with the header bytes `at` replaced by `with`, and the header length
/// field fixed to match (the tag is not: these headers fail before it is checked).
fn splice_header(file: &[u8], at: std::ops::Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut f = file[..at.start].to_vec();
    f.extend_from_slice(with);
    f.extend_from_slice(&file[at.end..]);
    let h = u32::from_be_bytes(file[11..15].try_into().unwrap()) as usize;
    let new_h = u32::try_from(h - at.len() + with.len()).unwrap();
    f[11..15].copy_from_slice(&new_h.to_be_bytes());
    f
}

/// Offsets of the fields of the 3-chunk base file's header.
struct Offsets {
    context: usize,
    wrapped: usize,
    blob: usize,
    commitment: usize,
    tag: usize,
}

fn offsets(b: &Built) -> Offsets {
    let context = PREFIX_LEN + 4 + 8 + 32;
    let wrapped = context + ctx().encoded_len();
    // count(2) + id len(2) + "raw-aes"(7) + info len(2) + "master"(6) + blob len(2)
    let blob = wrapped + 2 + 2 + 7 + 2 + 6 + 2;
    let tag = b.header_len - HEADER_TAG_LEN;
    Offsets {
        context,
        wrapped,
        blob,
        commitment: tag - 32,
        tag,
    }
}

fn all_vectors() -> Vec<Vector> {
    let w = [master_wrap(DATA_KEY)];
    let mut v = Vec::new();
    for (name, len, desc) in [
        ("ok_empty", 0, "empty plaintext: one empty final chunk"),
        ("ok_one_byte", 1, "one byte"),
        ("ok_chunk_minus_one", 4095, "one byte short of a chunk"),
        ("ok_one_chunk", 4096, "exactly one chunk"),
        (
            "ok_chunk_plus_one",
            4097,
            "one byte over a chunk: a full chunk and a 1-byte final chunk",
        ),
        (
            "ok_three_chunks",
            12288,
            "an exact multiple of the chunk size",
        ),
        (
            "ok_many_chunks",
            41_060,
            "ten full chunks and a partial final chunk",
        ),
    ] {
        v.push(positive(
            name,
            &format!("{desc}; chunk size 4096"),
            &encrypt(DATA_KEY, MESSAGE_ID, len, CS, true, &w),
            &[raw_wrap_field("master", MASTER)],
        ));
    }
    v.push(positive(
        "ok_unknown_length",
        "streamed without a recorded plaintext length; chunk size 4096",
        &encrypt(DATA_KEY, MESSAGE_ID, 5000, CS, false, &w),
        &[raw_wrap_field("master", MASTER)],
    ));
    v.push(positive(
        "ok_default_chunk_size",
        "the default chunk size, 262144",
        &encrypt(DATA_KEY, MESSAGE_ID, 300_000, 262_144, true, &w),
        &[raw_wrap_field("master", MASTER)],
    ));
    let backup = RawAesKeyring::new("backup", BACKUP)
        .wrap_with_nonce(&DataKey::from_bytes(DATA_KEY), &ctx(), WRAP_NONCE)
        .unwrap();
    let mut two = positive(
        "ok_two_wrapped_keys",
        "two wrapped keys (master, backup); opened here with the backup key",
        &encrypt(
            DATA_KEY,
            MESSAGE_ID,
            4097,
            CS,
            true,
            &[w[0].clone(), backup],
        ),
        &[
            raw_wrap_field("master", MASTER),
            raw_wrap_field("backup", BACKUP),
        ],
    );
    for (k, val) in &mut two.fields {
        match k.as_str() {
            "master_key" => *val = hex::encode(BACKUP),
            "key_name" => *val = "backup".to_owned(),
            _ => {}
        }
    }
    v.push(two);
    v.push(passphrase_vector());

    let base = encrypt(DATA_KEY, MESSAGE_ID, 12288, CS, true, &w);
    let other = encrypt(
        OTHER_DATA_KEY,
        OTHER_MESSAGE_ID,
        12288,
        CS,
        true,
        &[master_wrap(OTHER_DATA_KEY)],
    );
    let o = offsets(&base);
    let h = base.header_len;
    let chunk = |i: usize| h + i * (4096 + 16)..h + (i + 1) * (4096 + 16);
    let flip = |at: usize, bit: u8| {
        let mut f = base.file.clone();
        f[at] ^= bit;
        f
    };
    v.push(negative(
        "err_bad_magic",
        "NOT_CIPHERDROP",
        "first byte of the magic changed",
        flip(0, 0x01),
        0,
    ));
    v.push(negative(
        "err_version",
        "UNSUPPORTED_VERSION",
        "version byte 1 -> 3",
        flip(8, 0x02),
        0,
    ));
    v.push(negative(
        "err_suite",
        "UNSUPPORTED_SUITE",
        "suite 0x0001 -> 0x0003",
        flip(10, 0x02),
        0,
    ));
    v.push(negative(
        "err_header_len_huge",
        "LIMIT_EXCEEDED",
        "header length's top byte set",
        flip(11, 0x80),
        0,
    ));
    v.push(negative(
        "err_header_len_off",
        "MALFORMED_HEADER",
        "header length one byte short",
        {
            let mut f = base.file.clone();
            let len = u32::from_be_bytes(f[11..15].try_into().unwrap()) - 1;
            f[11..15].copy_from_slice(&len.to_be_bytes());
            f
        },
        0,
    ));
    v.push(negative(
        "err_chunk_size",
        "INVALID_CHUNK_SIZE",
        "chunk size 4096 -> 4097",
        flip(18, 0x01),
        0,
    ));
    v.push(negative(
        "err_plaintext_len",
        "HEADER_AUTH_FAILED",
        "recorded plaintext length changed",
        flip(26, 0x01),
        0,
    ));
    v.push(negative(
        "err_message_id",
        "COMMITMENT_MISMATCH",
        "a bit of the message id flipped",
        flip(40, 0x01),
        0,
    ));
    v.push(negative(
        "err_context",
        "CONTEXT_MISMATCH",
        "a byte of a context value changed",
        flip(o.context + 6, 0x01),
        0,
    ));
    v.push(negative(
        "err_wrapped_blob",
        "WRONG_KEY",
        "a bit of the wrapped data key flipped",
        flip(o.blob + 20, 0x01),
        0,
    ));
    v.push(negative(
        "err_wrapped_count",
        "MALFORMED_HEADER",
        "wrapped key count set to 0",
        {
            let mut f = base.file.clone();
            f[o.wrapped..o.wrapped + 2].copy_from_slice(&[0, 0]);
            f
        },
        0,
    ));
    v.push(negative(
        "err_commitment",
        "COMMITMENT_MISMATCH",
        "a bit of the key commitment flipped",
        flip(o.commitment, 0x80),
        0,
    ));
    v.push(negative(
        "err_commitment_swapped",
        "COMMITMENT_MISMATCH",
        "commitment of another file (other data key)",
        {
            let mut f = base.file.clone();
            f[o.commitment..o.tag].copy_from_slice(&other.file[o.commitment..o.tag]);
            f
        },
        0,
    ));
    v.push(negative(
        "err_wrapped_key_swapped",
        "COMMITMENT_MISMATCH",
        "wrapped key of another file (same master key and context)",
        {
            let mut f = base.file.clone();
            f[o.blob..o.commitment].copy_from_slice(&other.file[o.blob..o.commitment]);
            f
        },
        0,
    ));
    v.push(negative(
        "err_header_tag",
        "HEADER_AUTH_FAILED",
        "a bit of the header tag flipped",
        flip(o.tag + 3, 0x10),
        0,
    ));
    v.push(negative(
        "err_chunk1_body",
        "DECRYPTION_FAILED",
        "a bit of chunk 1's ciphertext flipped",
        flip(chunk(1).start + 100, 0x01),
        4096,
    ));
    v.push(negative(
        "err_chunk1_tag",
        "DECRYPTION_FAILED",
        "a bit of chunk 1's tag flipped",
        flip(chunk(1).end - 1, 0x01),
        4096,
    ));
    v.push(negative(
        "err_final_chunk",
        "DECRYPTION_FAILED",
        "a bit of the final chunk flipped",
        flip(chunk(2).start, 0x40),
        8192,
    ));
    v.push(negative(
        "err_truncated_boundary",
        "TRUNCATED",
        "the final chunk removed",
        base.file[..chunk(2).start].to_vec(),
        8192,
    ));
    v.push(negative(
        "err_truncated_mid_chunk",
        "TRUNCATED",
        "cut in the middle of chunk 1",
        base.file[..chunk(1).start + 2000].to_vec(),
        4096,
    ));
    v.push(negative(
        "err_truncated_header",
        "TRUNCATED",
        "cut inside the header",
        base.file[..o.commitment].to_vec(),
        0,
    ));
    let reassemble = |order: &[usize]| {
        let mut f = base.file[..h].to_vec();
        for i in order {
            f.extend_from_slice(&base.file[chunk(*i)]);
        }
        f
    };
    v.push(negative(
        "err_chunk_dropped",
        "DECRYPTION_FAILED",
        "chunk 1 removed",
        reassemble(&[0, 2]),
        4096,
    ));
    v.push(negative(
        "err_chunk_duplicated",
        "DECRYPTION_FAILED",
        "chunk 0 repeated",
        reassemble(&[0, 0, 1, 2]),
        4096,
    ));
    v.push(negative(
        "err_chunks_reordered",
        "DECRYPTION_FAILED",
        "chunks 1 and 2 swapped",
        reassemble(&[0, 2, 1]),
        4096,
    ));
    v.push(negative(
        "err_chunk_from_other_file",
        "DECRYPTION_FAILED",
        "chunk 1 taken from another file",
        {
            let mut f = base.file.clone();
            f[chunk(1)].copy_from_slice(&other.file[chunk(1)]);
            f
        },
        4096,
    ));
    v.push(negative(
        "err_trailing_bytes",
        "TRAILING_DATA",
        "one byte after the final chunk",
        {
            let mut f = base.file.clone();
            f.push(0);
            f
        },
        12288,
    ));
    let mut wrong = negative(
        "err_wrong_master_key",
        "WRONG_KEY",
        "opened with a different master key",
        base.file.clone(),
        0,
    );
    for (k, val) in &mut wrong.fields {
        if k == "master_key" {
            *val = hex::encode([0x4e; 32]);
        }
    }
    v.push(wrong);
    let mut other_ctx = negative(
        "err_expected_other_context",
        "CONTEXT_MISMATCH",
        "the reader expects another object",
        base.file.clone(),
        0,
    );
    for (k, val) in &mut other_ctx.fields {
        if k == "context" && val.starts_with("object=") {
            *val = "object=vectors/other.pdf".to_owned();
        }
    }
    v.push(other_ctx);
    let unknown = encrypt(DATA_KEY, MESSAGE_ID, 8192, CS, false, &w);
    let mut trunc = negative(
        "err_unknown_length_truncated",
        "TRUNCATED",
        "length not recorded; the final chunk removed",
        unknown.file[..unknown.header_len + 4112].to_vec(),
        0,
    );
    for (k, val) in &mut trunc.fields {
        if k == "plaintext_len" {
            *val = "8192".to_owned();
        }
    }
    v.push(trunc);
    assert!(base.file[19..27] != UNKNOWN_LENGTH.to_be_bytes());
    v.extend(decided_cases(&base, &o));
    v.extend(x25519_hpke_cases());
    v
}

fn hpke_wrap(data_key: [u8; 32]) -> WrappedKey {
    X25519Identity::from_bytes(IDENTITY)
        .recipient()
        .wrap_with_seed(&DataKey::from_bytes(data_key), &ctx(), IKM_E)
        .unwrap()
}

/// The `wrap` field of an x25519-hpke key: `x25519-hpke PUBLIC IKM_E` (the
/// recipient's public key and the ephemeral seed, hex).
fn hpke_wrap_field() -> String {
    format!(
        "x25519-hpke {} {}",
        hex::encode(X25519Identity::from_bytes(IDENTITY).recipient().as_bytes()),
        hex::encode(IKM_E)
    )
}

/// A vector opened with the x25519-hpke private key `identity` instead of the
/// master key.
fn open_with_identity(v: &mut Vector, identity: [u8; 32]) {
    v.fields.retain(|(k, _)| k != "key_name");
    for (k, val) in &mut v.fields {
        if k == "master_key" {
            *k = "identity".to_owned();
            *val = hex::encode(identity);
        }
    }
}

/// `x25519-hpke` (FORMAT.md 2.5): the worked example, the server's layout (a
/// master-key entry, then the recovery recipient), and what a reader refuses.
fn x25519_hpke_cases() -> Vec<Vector> {
    let mut v = Vec::new();
    let alone = encrypt(DATA_KEY, MESSAGE_ID, 4097, CS, true, &[hpke_wrap(DATA_KEY)]);
    let mut ok = positive(
        "ok_x25519_hpke",
        "data key wrapped to an X25519 public key with HPKE (x25519-hpke, FORMAT.md 2.5's worked example); chunk size 4096",
        &alone,
        &[hpke_wrap_field()],
    );
    open_with_identity(&mut ok, IDENTITY);
    v.push(ok);
    let beside = encrypt(
        DATA_KEY,
        MESSAGE_ID,
        4097,
        CS,
        true,
        &[master_wrap(DATA_KEY), hpke_wrap(DATA_KEY)],
    );
    let mut ok = positive(
        "ok_x25519_hpke_recovery",
        "a master-key entry and a recovery recipient (the server's layout with --recovery-recipient); opened with the recovery identity",
        &beside,
        &[raw_wrap_field("master", MASTER), hpke_wrap_field()],
    );
    open_with_identity(&mut ok, IDENTITY);
    v.push(ok);

    // Offsets in `alone`: count(2) + id(2+11) + info(2+32) + blob len(2).
    let wrapped = PREFIX_LEN + 4 + 8 + 32 + ctx().encoded_len();
    let blob = wrapped + 2 + 2 + 11 + 2 + 32 + 2;
    let hpke = |name: &str, code: &str, description: &str, file: Vec<u8>, identity: [u8; 32]| {
        let mut n = negative(name, code, description, file, 0);
        n.fields
            .retain(|(k, _)| k != "plaintext_len" && k != "released");
        n.fields
            .push(("plaintext_len".to_owned(), "4097".to_owned()));
        n.fields.push(("released".to_owned(), "0".to_owned()));
        open_with_identity(&mut n, identity);
        n
    };
    let flip = |at: usize| {
        let mut f = alone.file.clone();
        f[at] ^= 0x01;
        f
    };
    v.push(hpke(
        "err_x25519_hpke_wrong_identity",
        "WRONG_KEY",
        "ok_x25519_hpke opened with another private key (no entry names its public key)",
        alone.file.clone(),
        OTHER_IDENTITY,
    ));
    v.push(hpke(
        "err_x25519_hpke_enc",
        "WRONG_KEY",
        "a bit of the blob's enc (the ephemeral public key) flipped",
        flip(blob + 5),
        IDENTITY,
    ));
    v.push(hpke(
        "err_x25519_hpke_ciphertext",
        "WRONG_KEY",
        "a bit of the blob's wrapped data key flipped",
        flip(blob + 40),
        IDENTITY,
    ));
    v.push(hpke(
        "err_x25519_hpke_blob_length",
        "WRONG_KEY",
        "the blob is 81 bytes (one zero byte appended): not 80, so the entry is skipped",
        {
            let mut with = vec![0, 81];
            with.extend_from_slice(&alone.file[blob..blob + 80]);
            with.push(0);
            splice_header(&alone.file, blob - 2..blob + 80, &with)
        },
        IDENTITY,
    ));
    v.push(hpke(
        "err_x25519_hpke_recipient",
        "WRONG_KEY",
        "a bit of the provider info (the recipient's public key) flipped: the entry names another key",
        flip(blob - 2 - 32),
        IDENTITY,
    ));
    let crafted = encrypt(
        DATA_KEY,
        MESSAGE_ID,
        4097,
        CS,
        true,
        &[hpke_wrap(OTHER_DATA_KEY)],
    );
    v.push(hpke(
        "err_x25519_hpke_commitment",
        "COMMITMENT_MISMATCH",
        "the entry opens, but to a data key that fails the commitment (a private key is not guessable: COMMITMENT_MISMATCH, unlike a passphrase)",
        crafted.file,
        IDENTITY,
    ));
    v
}

/// The cases FORMAT.md decides explicitly (issue 11): short inputs, the chunk size
/// exception, empty fields, and the passphrase rules of 2.4.
fn decided_cases(base: &Built, o: &Offsets) -> Vec<Vector> {
    let mut v = Vec::new();
    v.push(negative(
        "err_short_magic",
        "TRUNCATED",
        "10 bytes: the magic, the version and one suite byte (fewer than 15 bytes that agree with the magic)",
        base.file[..10].to_vec(),
        0,
    ));
    v.push(negative(
        "err_short_foreign",
        "NOT_CIPHERDROP",
        "10 bytes that are not a prefix of the magic",
        b"CIPHDRAP\x01\x00".to_vec(),
        0,
    ));
    v.push(negative(
        "err_chunk_size_pow2_over",
        "INVALID_CHUNK_SIZE",
        "chunk size 2^25: a power of two above the maximum is INVALID_CHUNK_SIZE, not LIMIT_EXCEEDED",
        {
            let mut f = base.file.clone();
            f[15..19].copy_from_slice(&(1u32 << 25).to_be_bytes());
            f
        },
        0,
    ));
    // count(2), then id len(2) + "raw-aes"(7)
    let id = o.wrapped + 2..o.wrapped + 2 + 2 + 7;
    v.push(negative(
        "err_provider_id_empty",
        "MALFORMED_HEADER",
        "a zero-length provider id (below the minimum of 1)",
        splice_header(&base.file, id, &[0, 0]),
        0,
    ));
    v.push(negative(
        "err_blob_empty",
        "MALFORMED_HEADER",
        "a zero-length wrapped key blob (below the minimum of 1)",
        splice_header(&base.file, o.blob - 2..o.blob + 60, &[0, 0]),
        0,
    ));

    let pw = |name: &str, code: &str, description: &str, file: Vec<u8>, passphrase: &str| {
        let mut n = negative(name, code, description, file, 0);
        n.fields.retain(|(k, _)| k != "plaintext_len");
        n.fields
            .push(("plaintext_len".to_owned(), "4097".to_owned()));
        n.fields.retain(|(k, _)| k != "released");
        n.fields.push(("released".to_owned(), "0".to_owned()));
        open_with_passphrase(&mut n, passphrase);
        n
    };
    let good = encrypt(
        DATA_KEY,
        MESSAGE_ID,
        4097,
        CS,
        true,
        &[passphrase_wrap(PASSPHRASE, DATA_KEY)],
    );
    v.push(pw(
        "err_passphrase_wrong",
        "WRONG_KEY",
        "ok_passphrase opened with another passphrase",
        good.file.clone(),
        "correct horse battery staple",
    ));
    // A crafted header: the passphrase entry opens, but to another data key than
    // the one the commitment was made with. Same answer as a wrong passphrase.
    let crafted = encrypt(
        DATA_KEY,
        MESSAGE_ID,
        4097,
        CS,
        true,
        &[passphrase_wrap(PASSPHRASE, OTHER_DATA_KEY)],
    );
    v.push(pw(
        "err_passphrase_commitment",
        "WRONG_KEY",
        "the passphrase opens the blob, but to a data key that fails the commitment: WRONG_KEY, not COMMITMENT_MISMATCH (FORMAT.md 2.4)",
        crafted.file,
        PASSPHRASE,
    ));
    // Two passphrase entries (no writer makes this; the second provider id was
    // changed after writing): only the first, of another passphrase, is tried.
    let two = encrypt(
        DATA_KEY,
        MESSAGE_ID,
        4097,
        CS,
        true,
        &[
            passphrase_wrap("another passphrase", DATA_KEY),
            WrappedKey {
                provider_id: "passphrase-argon2iX".to_owned(),
                ..passphrase_wrap(PASSPHRASE, DATA_KEY)
            },
        ],
    );
    let mut file = two.file;
    let at = file
        .windows(19)
        .position(|w| w == b"passphrase-argon2iX")
        .unwrap();
    file[at + 18] = b'd';
    v.push(pw(
        "err_passphrase_second_entry",
        "WRONG_KEY",
        "two passphrase entries, the right passphrase in the second: a reader runs Argon2id for the first only",
        file,
        PASSPHRASE,
    ));
    let mut file = good.file;
    let at = file.windows(4).position(|w| w == b",t=1").unwrap();
    file[at + 3] = b'5';
    v.push(pw(
        "err_passphrase_costs_over_cap",
        "LIMIT_EXCEEDED",
        "Argon2id passes 5, over the reader's cap of 4 (checked before Argon2id runs)",
        file,
        PASSPHRASE,
    ));
    v
}

#[test]
fn vector_files_match_the_code() {
    let write = std::env::var_os("CIPHERDROP_WRITE_VECTORS").is_some();
    let built = all_vectors();
    for v in &built {
        let path = vectors_dir().join(format!("{}.vector", v.name));
        if write {
            std::fs::write(&path, v.to_bytes()).unwrap();
        } else {
            let stored =
                std::fs::read(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
            assert!(
                stored == v.to_bytes(),
                "{} differs from what the code writes",
                v.name
            );
        }
    }
    assert_eq!(
        load_all().len(),
        built.len(),
        "stray or missing vector files"
    );
}

#[test]
fn every_vector_file_decrypts_as_it_says() {
    let vectors = load_all();
    assert!(vectors.len() >= 30);
    for v in &vectors {
        for piece in [1, 1000, 4112, 1 << 20] {
            let (released, result) = stream_decrypt(&v.body, &*v.keyring(), &v.context(), piece);
            let want = pattern(v.usize_field("plaintext_len"));
            match v.get("expect").unwrap() {
                "success" => {
                    assert_eq!(result, Ok(()), "{}", v.name);
                    assert!(released == want, "{}: wrong plaintext", v.name);
                }
                e => {
                    let code = e.strip_prefix("error ").unwrap();
                    let err = result.expect_err(&v.name);
                    assert_eq!(err.code(), code, "{} (piece {piece}): {err}", v.name);
                    let r = v.usize_field("released");
                    assert!(
                        released.len() <= r,
                        "{}: released {} > {r}",
                        v.name,
                        released.len()
                    );
                    assert!(
                        released == want[..released.len()],
                        "{}: released wrong bytes",
                        v.name
                    );
                    if piece >= 1 << 20 {
                        assert_eq!(released.len(), r, "{}", v.name);
                    }
                }
            }
        }
    }
}

#[test]
fn known_answer_is_stable() {
    // Pin one vector's bytes so a change to the format cannot pass silently even
    // if the files are regenerated: header start and the first chunk's tag.
    let v = load_all()
        .into_iter()
        .find(|v| v.name == "ok_one_byte")
        .unwrap();
    assert_eq!(&v.body[..15], b"CIPHDROP\x01\x00\x01\x00\x00\x00\xf8");
    assert_eq!(v.body.len(), 0xf8 + 1 + 16);
}

#[test]
fn the_passphrase_vector_records_its_costs_and_salt() {
    let v = load_all()
        .into_iter()
        .find(|v| v.name == "ok_passphrase")
        .unwrap();
    assert_eq!(v.get("master_key"), None);
    let info = b"argon2id$v=19$m=256,t=1,p=1$53535353535353535353535353535353";
    assert!(v.body.windows(info.len()).any(|w| w == info));
}

/// The worked example of FORMAT.md 10: its header tag is HMAC-SHA-256 under the
/// header key over the 216 header bytes before it (an independent Python `hmac`
/// gave the same value), and not the GMAC tag of the earlier draft.
#[test]
fn worked_example_header_tag_is_hmac_sha256() {
    use aes_gcm::aead::{AeadInOut, KeyInit as _};
    use hmac::Mac;

    let v = load_all()
        .into_iter()
        .find(|v| v.name == "ok_one_byte")
        .unwrap();
    let h = 0xf8;
    let (body, tag) = (
        &v.body[..h - HEADER_TAG_LEN],
        &v.body[h - HEADER_TAG_LEN..h],
    );
    assert_eq!(
        hex::encode(tag),
        "05711178de5c444c81df8c55435e09e4746c517597cbe8ceb176670c734d1185"
    );
    // header_key of FORMAT.md 10.
    let header_key =
        hex::decode("1138fbba03e2d892450fdc1ba248b33420901c178aa6b3f62d6da04ea3613535").unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&header_key).unwrap();
    mac.update(body);
    assert_eq!(mac.finalize().into_bytes().as_slice(), tag);
    // The old GMAC tag (AES-256-GCM, zero nonce, AAD = header) is not what is stored.
    let gmac = aes_gcm::Aes256Gcm::new_from_slice(&header_key)
        .unwrap()
        .encrypt_inout_detached(&aes_gcm::Nonce::default(), body, (&mut [][..]).into())
        .unwrap();
    assert_ne!(gmac.as_slice(), &tag[..16]);
}

/// Every `ok_*` vector can be written again byte for byte from its fields alone
/// (tests/vectors/README.md), not from this file's constants.
#[test]
fn positive_vectors_rebuild_from_their_fields() {
    for v in load_all().into_iter().filter(|v| v.name.starts_with("ok_")) {
        let h = |k: &str| hex::decode(v.get(k).unwrap()).unwrap();
        let wrapped: Vec<WrappedKey> = v
            .all("wrap")
            .into_iter()
            .map(|w| {
                let f: Vec<&str> = w.split(' ').collect();
                let dk = DataKey::try_from_slice(&h("data_key")).unwrap();
                match f[..] {
                    ["raw-aes", name, key, nonce] => {
                        let key: [u8; 32] = hex::decode(key).unwrap().try_into().unwrap();
                        RawAesKeyring::new(name, key)
                            .wrap_with_nonce(
                                &dk,
                                &v.context(),
                                hex::decode(nonce).unwrap().try_into().unwrap(),
                            )
                            .unwrap()
                    }
                    ["passphrase-argon2id", m, t, p, salt, nonce] => {
                        let costs = Argon2idParams::new(
                            m.parse().unwrap(),
                            t.parse().unwrap(),
                            p.parse().unwrap(),
                        )
                        .unwrap();
                        PassphraseKeyring::new(v.get("passphrase").unwrap().as_bytes(), costs)
                            .wrap_with(
                                &dk,
                                &v.context(),
                                hex::decode(salt).unwrap().try_into().unwrap(),
                                hex::decode(nonce).unwrap().try_into().unwrap(),
                            )
                            .unwrap()
                    }
                    ["x25519-hpke", public, ikm_e] => X25519Recipient::from_bytes(
                        hex::decode(public).unwrap().try_into().unwrap(),
                    )
                    .wrap_with_seed(
                        &dk,
                        &v.context(),
                        hex::decode(ikm_e).unwrap().try_into().unwrap(),
                    )
                    .unwrap(),
                    _ => panic!("{}: unknown wrap {w}", v.name),
                }
            })
            .collect();
        assert!(!wrapped.is_empty(), "{}: no wrap field", v.name);
        let len = v.usize_field("plaintext_len");
        let recorded = match v.get("length").unwrap() {
            "recorded" => true,
            "streamed" => false,
            other => panic!("{}: length {other}", v.name),
        };
        let sealer = Sealer::with_message_id(
            &DataKey::try_from_slice(&h("data_key")).unwrap(),
            &v.context(),
            &wrapped,
            ChunkSize::new(v.get("chunk_size").unwrap().parse().unwrap()).unwrap(),
            recorded.then_some(len as u64),
            h("message_id").try_into().unwrap(),
        )
        .unwrap();
        let mut file = Vec::new();
        let mut s = sealer.into_stream();
        s.push(&pattern(len), &mut file).unwrap();
        s.finish(&mut file).unwrap();
        assert!(file == v.body, "{}: rebuilt bytes differ", v.name);
    }
}

/// The worked example of FORMAT.md 2.5: the recipient, the ephemeral key and the
/// blob, as `pyhpke` 0.6.5 (an independent HPKE in Python) computed them from the
/// same inputs (`tests/interop/decrypt.py` re-seals every `ok_x25519_hpke*` wrap).
#[test]
fn worked_example_x25519_hpke() {
    let v = load_all()
        .into_iter()
        .find(|v| v.name == "ok_x25519_hpke")
        .unwrap();
    let id = X25519Identity::from_bytes(IDENTITY);
    assert_eq!(
        hex::encode(id.recipient().as_bytes()),
        "cd48d0681ea73f09a00f83859bd10880df56822019cda3c883e0d1514e35b106"
    );
    assert_eq!(
        id.recipient().to_text(),
        "cdpub1e4ydq6q75ulsngq0swzeh5ggsr04dq3qr8x68jyrurg4zn34kyrqyxyl7p"
    );
    let info = cipherdrop_core::x25519::hpke_info(&ctx());
    assert_eq!(
        hex::encode(&info),
        "43697068657244726f70207631207832353531392d68706b6500\
         0002\
         00066f626a656374\
         0012766563746f72732f7265706f72742e706466\
         00056f776e6572\
         0005616c696365"
    );
    let blob = "5e5ac6728c564f1e3f515d65e4e6a0f13937c35a1c8026a5108a20bab3abfb10\
                9c95362c89917ffc1b5fcae06a453a6eafc081febedd6404fec4a9c1f31ee75b\
                83d0663953ddc39b1812d5d09a0feb5b";
    let header = cipherdrop_core::Header::parse(&v.body).unwrap();
    let w = &header.wrapped_keys()[0];
    assert_eq!(w.provider_id, "x25519-hpke");
    assert_eq!(hex::encode(&w.blob), blob);
    assert_eq!(hex::encode(&hpke_wrap(DATA_KEY).blob), blob);
}

/// Regression (found by `scripts/fuzz.sh`, 2026-12-02): the `header` fuzz target
/// read the key commitment at `len - 48..len - 16`, the place it had when the header
/// tag was a 16-byte GMAC; since the tag became HMAC-SHA-256 (32 bytes) its own
/// assertion failed on the first seed that parses (`ok_empty`, unminimised: every
/// valid header does it), so the target had fuzzed nothing past that check. Fixed,
/// it crashed next on `err_passphrase_second_entry`: it also wanted the writer's
/// `encoded_len` to accept every header the reader accepts. CI only builds the
/// targets. This runs the target's checks over every vector file, so a change of
/// the layout or of those rules fails here, where `cargo test` sees it.
#[test]
fn header_fields_sit_where_the_header_fuzz_target_reads_them() {
    use cipherdrop_core::{Error, Header, header};

    let (mut parsed, mut two_passphrases) = (0, 0);
    for v in load_all() {
        let Ok(h) = Header::parse(&v.body) else {
            continue;
        };
        parsed += 1;
        let len = h.len();
        let bytes = h.as_bytes();
        assert_eq!(bytes, &v.body[..len], "{}", v.name);
        assert_eq!(
            header::header_len_from_prefix(&v.body[..PREFIX_LEN]),
            Ok(len),
            "{}",
            v.name
        );
        assert_eq!(Header::parse(bytes).as_ref(), Ok(&h), "{}", v.name);
        assert_eq!(
            Header::parse(&bytes[..len - 1]),
            Err(Error::Truncated),
            "{}",
            v.name
        );
        assert_eq!(&bytes[15..19], &h.chunk_size().get().to_be_bytes());
        assert_eq!(
            &bytes[19..27],
            &h.plaintext_len().unwrap_or(UNKNOWN_LENGTH).to_be_bytes()
        );
        assert_eq!(&bytes[27..59], h.message_id());
        let ctx = h.context().canonical_bytes();
        assert_eq!(&bytes[59..59 + ctx.len()], &ctx[..], "{}", v.name);
        // The commitment, then the 32-byte tag, end the header.
        let tag_at = len - HEADER_TAG_LEN;
        assert_eq!(
            &bytes[tag_at - h.commitment().len()..tag_at],
            h.commitment(),
            "{}: the commitment is not just before the tag",
            v.name
        );
        assert_ne!(
            &bytes[len - 48..len - 16],
            h.commitment(),
            "{}: the commitment is where the 16-byte GMAC tag put it",
            v.name
        );
        // A reader takes a second passphrase entry (and runs Argon2id for the
        // first only, FORMAT.md 2.4); a writer refuses it. The fuzz target had this
        // wrong too (its second crash, on err_passphrase_second_entry).
        let passphrases = h
            .wrapped_keys()
            .iter()
            .filter(|w| w.provider_id == header::PASSPHRASE_ARGON2ID)
            .count();
        match header::encoded_len(h.context(), h.wrapped_keys()) {
            Err(Error::InvalidWrappedKey(_)) if passphrases > 1 => two_passphrases += 1,
            other => assert_eq!(other, Ok(len), "{}", v.name),
        }
    }
    assert!(
        parsed >= 20,
        "only {parsed} vector files have a valid header"
    );
    assert_eq!(two_passphrases, 1, "err_passphrase_second_entry");
}
