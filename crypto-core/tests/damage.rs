//! Every kind of damage gives its specific error, and no plaintext of the damaged
//! chunk or any later chunk is ever released (stream API and `io::DecryptingReader`).
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

#[path = "support/testkit.rs"]
mod testkit;

use std::io::Read;

use cipherdrop_core::header::{HEADER_TAG_LEN, MAGIC, MAX_HEADER_LEN, PREFIX_LEN, UNKNOWN_LENGTH};
use cipherdrop_core::io::{DecryptingReader, format_error, read_header};
use cipherdrop_core::{
    ChunkSize, DataKey, EncryptionContext, Header, Layout, Opener, RawAesKeyring, Sealer,
};
use testkit::{pattern, stream_decrypt};

const MASTER: [u8; 32] = [0x4d; 32];
const CS: usize = 4096;
const SEALED: usize = CS + 16;

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("owner", "alice"), ("object", "damage/report.pdf")]).unwrap()
}

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("master", MASTER)
}

/// A file of `len` pattern bytes in 4 KiB chunks.
fn encrypt_with(
    data_key: [u8; 32],
    message_id: [u8; 32],
    context: &EncryptionContext,
    len: usize,
    recorded: bool,
) -> Vec<u8> {
    let dk = DataKey::from_bytes(data_key);
    let wrapped = keyring().wrap_with_nonce(&dk, context, [1; 12]).unwrap();
    let sealer = Sealer::with_message_id(
        &dk,
        context,
        &[wrapped],
        ChunkSize::MIN,
        recorded.then_some(len as u64),
        message_id,
    )
    .unwrap();
    let mut s = sealer.into_stream();
    let mut file = Vec::new();
    s.push(&pattern(len), &mut file).unwrap();
    s.finish(&mut file).unwrap();
    file
}

fn encrypt(len: usize, recorded: bool) -> Vec<u8> {
    encrypt_with([0x11; 32], [0xa5; 32], &ctx(), len, recorded)
}

fn header_len(file: &[u8]) -> usize {
    Header::parse(file).unwrap().len()
}

/// Decrypts `file` through `io::DecryptingReader` (small reads, so every byte it
/// hands out is seen); returns the bytes handed out and the error code, if any.
fn io_decrypt(file: &[u8], context: &EncryptionContext) -> (Vec<u8>, Option<&'static str>) {
    let mut input = file;
    let header = match read_header(&mut input) {
        Ok(h) => h,
        Err(e) => return (Vec::new(), Some(format_error(&e).unwrap().code())),
    };
    let opener = match Opener::with_keyring(header, &keyring(), context) {
        Ok(o) => o,
        Err(e) => return (Vec::new(), Some(e.code())),
    };
    let mut reader = DecryptingReader::new(opener, input);
    let mut out = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                // The error is final: reading again never looks like a clean end.
                for _ in 0..3 {
                    let again = reader.read(&mut buf).expect_err("the error is sticky");
                    assert_eq!(
                        format_error(&again).map(cipherdrop_core::Error::code),
                        format_error(&e).map(cipherdrop_core::Error::code),
                        "a later read fails the same way"
                    );
                }
                // read_to_end must fail the same way.
                let mut again = file;
                let h = read_header(&mut again).unwrap();
                let o = Opener::with_keyring(h, &keyring(), context).unwrap();
                let mut all = Vec::new();
                let e2 = DecryptingReader::new(o, again)
                    .read_to_end(&mut all)
                    .unwrap_err();
                let code = format_error(&e).unwrap().code();
                assert_eq!(
                    format_error(&e2).unwrap().code(),
                    code,
                    "read_to_end disagrees"
                );
                assert!(all == out, "read_to_end handed out other bytes than read()");
                return (out, Some(code));
            }
        }
    }
}

/// Asserts that `file` fails with `code` and that exactly the first `released`
/// plaintext bytes came out: through the push stream in several push sizes, and
/// through the io reader.
#[track_caller]
fn assert_refused(
    what: &str,
    file: &[u8],
    context: &EncryptionContext,
    code: &str,
    released: usize,
) {
    assert_refused_io(what, file, context, code, released, released);
}

/// As [`assert_refused`], when the io reader hands out less (`io_released`): it
/// withholds the plaintext of a read that ends in an error.
#[track_caller]
fn assert_refused_io(
    what: &str,
    file: &[u8],
    context: &EncryptionContext,
    code: &str,
    released: usize,
    io_released: usize,
) {
    let want = pattern(released);
    for piece in [1, 1000, SEALED, usize::MAX] {
        let (got, result) = stream_decrypt(file, &keyring(), context, piece);
        let err = result.expect_err(what);
        assert_eq!(err.code(), code, "{what} (push {piece}): {err}");
        assert!(
            got == want,
            "{what} (push {piece}): released {} bytes, want {released}",
            got.len()
        );
    }
    let (got, err) = io_decrypt(file, context);
    assert_eq!(err, Some(code), "{what} (io reader)");
    assert!(
        got == pattern(io_released),
        "{what} (io reader): handed out {} bytes, want {io_released}",
        got.len()
    );
}

// ---------------------------------------------------------------------------
// The header, byte by byte.

/// Where the fields of a parsed header lie.
struct Fields {
    context: std::ops::Range<usize>,
    context_bytes: Vec<u8>,
    wrapped: std::ops::Range<usize>,
    message_id: [u8; 32],
    commitment: [u8; 32],
    blob: Vec<u8>,
}

fn fields(file: &[u8]) -> Fields {
    let h = Header::parse(file).unwrap();
    let context = 59..59 + h.context().encoded_len();
    let wrapped = context.end..h.len() - 32 - HEADER_TAG_LEN;
    Fields {
        context_bytes: h.context().canonical_bytes(),
        context,
        wrapped,
        message_id: *h.message_id(),
        commitment: *h.commitment(),
        blob: h.wrapped_keys()[0].blob.clone(),
    }
}

/// A model of the reader, written from the header's layout: the error code a header
/// changed to `file` must give (`original` is the intact file).
fn expected_code(file: &[u8], original: &Fields) -> &'static str {
    struct R<'a>(&'a [u8]);
    impl<'a> R<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
            if n > self.0.len() {
                return Err("MALFORMED_HEADER");
            }
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            Ok(a)
        }
        fn u16(&mut self) -> Result<usize, &'static str> {
            Ok(usize::from(u16::from_be_bytes(
                self.take(2)?.try_into().unwrap(),
            )))
        }
    }
    let parsed = || -> Result<&'static str, &'static str> {
        if file[..8] != MAGIC {
            return Err("NOT_CIPHERDROP");
        }
        if file[8] != 1 {
            return Err("UNSUPPORTED_VERSION");
        }
        if file[9..11] != [0, 1] {
            return Err("UNSUPPORTED_SUITE");
        }
        let len = u32::from_be_bytes(file[11..15].try_into().unwrap()) as usize;
        if len > MAX_HEADER_LEN {
            return Err("LIMIT_EXCEEDED");
        }
        // magic..length, chunk size, plaintext length, message id, empty context,
        // key count, one wrapped key of 1 + 0 + 1 bytes, commitment, tag
        if len < 15 + 4 + 8 + 32 + 2 + 2 + 8 + 32 + HEADER_TAG_LEN {
            return Err("MALFORMED_HEADER");
        }
        if len > file.len() {
            return Err("TRUNCATED");
        }
        let mut r = R(&file[15..len]);
        let cs = u32::from_be_bytes(r.take(4)?.try_into().unwrap());
        let Ok(cs) = ChunkSize::new(cs) else {
            return Err("INVALID_CHUNK_SIZE");
        };
        let plaintext_len = u64::from_be_bytes(r.take(8)?.try_into().unwrap());
        if plaintext_len != UNKNOWN_LENGTH && Layout::new(len as u64, cs, plaintext_len).is_err() {
            return Err("LIMIT_EXCEEDED");
        }
        let message_id = r.take(32)?;
        let ctx_start = r.0;
        let mut prev: Option<&[u8]> = None;
        let count = r.u16()?;
        if count > 32 {
            return Err("LIMIT_EXCEEDED");
        }
        for _ in 0..count {
            let klen = r.u16()?;
            if klen == 0 {
                return Err("MALFORMED_HEADER");
            }
            if klen > 256 {
                return Err("LIMIT_EXCEEDED");
            }
            let k = r.take(klen)?;
            let vlen = r.u16()?;
            if vlen > 1024 {
                return Err("LIMIT_EXCEEDED");
            }
            let v = r.take(vlen)?;
            if prev.is_some_and(|p| p >= k)
                || std::str::from_utf8(k).is_err()
                || std::str::from_utf8(v).is_err()
            {
                return Err("MALFORMED_HEADER");
            }
            prev = Some(k);
        }
        let ctx_bytes = &ctx_start[..ctx_start.len() - r.0.len()];
        let wcount = r.u16()?;
        if wcount == 0 {
            return Err("MALFORMED_HEADER");
        }
        if wcount > 16 {
            return Err("LIMIT_EXCEEDED");
        }
        let mut opens = false;
        for _ in 0..wcount {
            let idlen = r.u16()?;
            if idlen > 64 {
                return Err("LIMIT_EXCEEDED");
            }
            if idlen == 0 {
                return Err("MALFORMED_HEADER");
            }
            let id = r.take(idlen)?;
            if !id.iter().all(|b| (0x21..=0x7e).contains(b)) {
                return Err("MALFORMED_HEADER");
            }
            let infolen = r.u16()?;
            if infolen > 1024 {
                return Err("LIMIT_EXCEEDED");
            }
            let info = r.take(infolen)?;
            let bloblen = r.u16()?;
            if bloblen > 4096 {
                return Err("LIMIT_EXCEEDED");
            }
            if bloblen == 0 {
                return Err("MALFORMED_HEADER");
            }
            let blob = r.take(bloblen)?;
            // Only the original blob opens (AES-GCM), and only under our name.
            opens |= id == b"raw-aes" && info == b"master" && blob == original.blob;
        }
        let commitment = r.take(32)?;
        r.take(HEADER_TAG_LEN)?;
        if !r.0.is_empty() {
            return Err("MALFORMED_HEADER");
        }
        // Parsed. Now what the opener checks, in order.
        Ok(if ctx_bytes != original.context_bytes {
            "CONTEXT_MISMATCH"
        } else if !opens {
            "WRONG_KEY"
        } else if message_id != original.message_id || commitment != original.commitment {
            "COMMITMENT_MISMATCH"
        } else {
            "HEADER_AUTH_FAILED"
        })
    };
    match parsed() {
        Ok(c) | Err(c) => c,
    }
}

fn header_region(at: usize, f: &Fields, len: usize) -> &'static str {
    match at {
        0..8 => "magic",
        8 => "version",
        9..11 => "suite",
        11..15 => "header length",
        15..19 => "chunk size",
        19..27 => "plaintext length",
        27..59 => "message id",
        _ if f.context.contains(&at) => "context",
        _ if f.wrapped.contains(&at) => "wrapped keys",
        _ if at < len - HEADER_TAG_LEN => "commitment",
        _ => "tag",
    }
}

#[test]
fn every_bit_and_byte_of_the_header() {
    let base = encrypt(3 * CS, true);
    let h = header_len(&base);
    let f = fields(&base);
    assert_eq!(
        expected_code(&base, &f),
        "HEADER_AUTH_FAILED",
        "the model must see the intact header as intact"
    );
    let mut seen = std::collections::BTreeMap::<(&str, &str), usize>::new();
    for at in 0..h {
        for flip in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
            let mut file = base.clone();
            file[at] ^= flip;
            let want = expected_code(&file, &f);
            let region = header_region(at, &f, h);
            let (got, result) = stream_decrypt(&file, &keyring(), &ctx(), usize::MAX);
            let err = result.expect_err(region);
            assert_eq!(
                err.code(),
                want,
                "byte {at} ({region}) ^ {flip:#04x}: {err}"
            );
            assert!(got.is_empty(), "byte {at} ({region}): plaintext released");
            if flip == 0xff {
                let (got, code) = io_decrypt(&file, &ctx());
                assert_eq!(code, Some(want), "io: byte {at} ({region})");
                assert!(got.is_empty());
            }
            *seen.entry((region, want)).or_default() += 1;
        }
    }
    // The per-field rules of the damage table, each seen at least once.
    for (region, code) in [
        ("magic", "NOT_CIPHERDROP"),
        ("version", "UNSUPPORTED_VERSION"),
        ("suite", "UNSUPPORTED_SUITE"),
        ("header length", "LIMIT_EXCEEDED"),
        ("header length", "MALFORMED_HEADER"),
        ("header length", "TRUNCATED"),
        ("chunk size", "INVALID_CHUNK_SIZE"),
        ("plaintext length", "HEADER_AUTH_FAILED"),
        ("plaintext length", "LIMIT_EXCEEDED"),
        ("message id", "COMMITMENT_MISMATCH"),
        ("context", "CONTEXT_MISMATCH"),
        ("context", "MALFORMED_HEADER"),
        ("context", "LIMIT_EXCEEDED"),
        ("wrapped keys", "WRONG_KEY"),
        ("wrapped keys", "MALFORMED_HEADER"),
        ("wrapped keys", "LIMIT_EXCEEDED"),
        ("commitment", "COMMITMENT_MISMATCH"),
        ("tag", "HEADER_AUTH_FAILED"),
    ] {
        assert!(
            seen.contains_key(&(region, code)),
            "no {region} damage gave {code}; seen: {seen:?}"
        );
    }
    // And nothing else: each region gives only the codes the table allows.
    for (region, code) in seen.keys() {
        let allowed: &[&str] = match *region {
            "magic" => &["NOT_CIPHERDROP"],
            "version" => &["UNSUPPORTED_VERSION"],
            "suite" => &["UNSUPPORTED_SUITE"],
            "header length" => &["LIMIT_EXCEEDED", "MALFORMED_HEADER", "TRUNCATED"],
            "chunk size" => &["INVALID_CHUNK_SIZE", "HEADER_AUTH_FAILED"],
            "plaintext length" => &["HEADER_AUTH_FAILED", "LIMIT_EXCEEDED"],
            "message id" | "commitment" => &["COMMITMENT_MISMATCH"],
            "context" => &["CONTEXT_MISMATCH", "MALFORMED_HEADER", "LIMIT_EXCEEDED"],
            "wrapped keys" => &["WRONG_KEY", "MALFORMED_HEADER", "LIMIT_EXCEEDED"],
            _ => &["HEADER_AUTH_FAILED"],
        };
        assert!(allowed.contains(code), "{region} damage gave {code}");
    }
}

#[test]
fn another_valid_chunk_size() {
    // No single flip of 4096 is another power of two; a valid but different chunk
    // size passes every structural check and is caught by the header tag.
    let base = encrypt(3 * CS, true);
    for cs in [8192u32, 1 << 20] {
        let mut f = base.clone();
        f[15..19].copy_from_slice(&cs.to_be_bytes());
        assert_refused(
            &format!("chunk size {cs}"),
            &f,
            &ctx(),
            "HEADER_AUTH_FAILED",
            0,
        );
    }
}

#[test]
fn unknown_version_and_suite() {
    let base = encrypt(100, true);
    for v in [0u8, 2, 0xff] {
        let mut f = base.clone();
        f[8] = v;
        assert_refused(
            &format!("version {v}"),
            &f,
            &ctx(),
            "UNSUPPORTED_VERSION",
            0,
        );
    }
    for s in [0u16, 2, 0x0100, 0xffff] {
        let mut f = base.clone();
        f[9..11].copy_from_slice(&s.to_be_bytes());
        assert_refused(
            &format!("suite {s:#06x}"),
            &f,
            &ctx(),
            "UNSUPPORTED_SUITE",
            0,
        );
    }
}

// ---------------------------------------------------------------------------
// Chunks.

#[test]
fn a_flip_in_each_chunk_body_and_tag() {
    for (len, recorded) in [
        (3 * CS, true),
        (3 * CS + 100, true),
        (3 * CS, false),
        (3 * CS + 100, false),
    ] {
        let base = encrypt(len, recorded);
        let h = header_len(&base);
        let chunks = base.len() - h;
        for k in 0..chunks.div_ceil(SEALED) {
            let start = h + k * SEALED;
            let end = (start + SEALED).min(base.len());
            for at in [
                start,
                start + 1000.min(end - start - 17),
                end - 17,
                end - 16,
                end - 1,
            ] {
                let mut f = base.clone();
                f[at] ^= 0x20;
                let what = format!(
                    "len {len} recorded {recorded}: chunk {k} byte {}",
                    at - start
                );
                assert_refused(&what, &f, &ctx(), "DECRYPTION_FAILED", k * CS);
            }
        }
    }
}

#[test]
fn truncation_at_and_between_chunk_boundaries() {
    let len = 3 * CS + 100;
    let base = encrypt(len, true);
    let h = header_len(&base);
    // Anywhere inside the header (an empty input is no CipherDrop file at all).
    for cut in 0..h {
        let (got, r) = stream_decrypt(&base[..cut], &keyring(), &ctx(), usize::MAX);
        let want = if cut == 0 {
            "NOT_CIPHERDROP"
        } else {
            "TRUNCATED"
        };
        assert_eq!(
            r.map_err(|e| e.code()),
            Err(want),
            "cut at header byte {cut}"
        );
        assert!(got.is_empty());
    }
    // At every chunk boundary and around it: recorded length -> TRUNCATED, and only
    // the chunks wholly before the cut are released.
    for k in 0..4 {
        let boundary = h + k * SEALED;
        for cut in [
            boundary,
            boundary + 1,
            boundary + 15,
            boundary + 16,
            boundary + 17,
            boundary + 2000,
        ] {
            if cut >= base.len() {
                continue;
            }
            let whole = (cut - h) / SEALED;
            assert_refused(
                &format!("recorded, cut at {}", cut - h),
                &base[..cut],
                &ctx(),
                "TRUNCATED",
                whole * CS,
            );
        }
        if boundary > h {
            let cut = boundary - 1;
            assert_refused(
                &format!("recorded, cut at {}", cut - h),
                &base[..cut],
                &ctx(),
                "TRUNCATED",
                (k - 1) * CS,
            );
        }
    }
    assert_refused(
        "recorded, last byte cut",
        &base[..base.len() - 1],
        &ctx(),
        "TRUNCATED",
        3 * CS,
    );
}

#[test]
fn truncation_without_a_recorded_length() {
    // Without a recorded length a reader holds back the last complete chunk (it might
    // be the final one). A cut at a chunk boundary leaves a non-final chunk last:
    // TRUNCATED. A cut inside a chunk leaves a piece that is no chunk at all, which
    // is indistinguishable from a damaged final chunk: DECRYPTION_FAILED (or
    // TRUNCATED when fewer than a tag's bytes remain).
    let base = encrypt(3 * CS, false);
    let h = header_len(&base);
    for k in 0..3 {
        let boundary = h + k * SEALED;
        assert_refused(
            &format!("cut at chunk {k}"),
            &base[..boundary],
            &ctx(),
            "TRUNCATED",
            k.saturating_sub(1) * CS,
        );
        assert_refused(
            &format!("cut 15 into chunk {k}"),
            &base[..boundary + 15],
            &ctx(),
            "TRUNCATED",
            k * CS,
        );
        assert_refused(
            &format!("cut 16 into chunk {k}"),
            &base[..boundary + 16],
            &ctx(),
            if k == 0 {
                "DECRYPTION_FAILED"
            } else {
                "TRUNCATED"
            },
            k * CS,
        );
        assert_refused(
            &format!("cut 2000 into chunk {k}"),
            &base[..boundary + 2000],
            &ctx(),
            "DECRYPTION_FAILED",
            k * CS,
        );
    }
    assert_refused(
        "last byte cut",
        &base[..base.len() - 1],
        &ctx(),
        "DECRYPTION_FAILED",
        2 * CS,
    );
}

/// The file with its chunks in `order` (indices into the original's chunks).
fn reassemble(base: &[u8], order: &[usize]) -> Vec<u8> {
    let h = header_len(base);
    let chunk = |i: usize| &base[h + i * SEALED..(h + (i + 1) * SEALED).min(base.len())];
    let mut f = base[..h].to_vec();
    for i in order {
        f.extend_from_slice(chunk(*i));
    }
    f
}

#[test]
fn chunks_dropped_duplicated_or_reordered() {
    for recorded in [true, false] {
        let base = encrypt(4 * CS + 100, recorded);
        // (new order, first position that holds the wrong chunk)
        for (order, k) in [
            (&[0, 2, 3, 4][..], 1),
            (&[1, 2, 3, 4][..], 0),
            (&[0, 1, 2, 4][..], 3),
            (&[0, 0, 1, 2, 3, 4][..], 1),
            (&[0, 1, 2, 3, 3, 4][..], 4),
            (&[0, 2, 1, 3, 4][..], 1),
            (&[1, 0, 2, 3, 4][..], 0),
            (&[0, 1, 2, 4, 3][..], 3),
        ] {
            let f = reassemble(&base, order);
            // With a recorded length, dropping the last full chunk leaves the short
            // final chunk where a full one is due: the file is too short to hold
            // what its header declares.
            let code = if recorded && order == [0, 1, 2, 4] {
                "TRUNCATED"
            } else {
                "DECRYPTION_FAILED"
            };
            assert_refused(
                &format!("recorded {recorded}: order {order:?}"),
                &f,
                &ctx(),
                code,
                k * CS,
            );
        }
    }
}

#[test]
fn a_chunk_from_another_file() {
    let base = encrypt(3 * CS, true);
    let other = encrypt_with([0x22; 32], [0x5a; 32], &ctx(), 3 * CS, true);
    let same_key = encrypt_with([0x11; 32], [0x5b; 32], &ctx(), 3 * CS, true);
    let h = header_len(&base);
    for donor in [&other, &same_key] {
        for k in 0..3 {
            let mut f = base.clone();
            let r = h + k * SEALED..h + (k + 1) * SEALED;
            f[r.clone()].copy_from_slice(&donor[r]);
            assert_refused(
                &format!("chunk {k} swapped"),
                &f,
                &ctx(),
                "DECRYPTION_FAILED",
                k * CS,
            );
        }
    }
}

#[test]
fn bytes_after_the_final_chunk() {
    // Recorded length: every chunk verifies, then the extra bytes are refused. The
    // push stream has released the verified final chunk by then; the io reader
    // withholds it, because the read that brought it also brought the extra bytes.
    let base = encrypt(3 * CS + 100, true);
    for extra in [&[0u8][..], &[0; 16], &[7; 5000]] {
        let mut f = base.clone();
        f.extend_from_slice(extra);
        let what = format!("{} trailing bytes", extra.len());
        assert_refused_io(&what, &f, &ctx(), "TRAILING_DATA", 3 * CS + 100, 3 * CS);
    }
    // A whole valid chunk appended (the final chunk of a copy of this file).
    let mut f = base.clone();
    f.extend_from_slice(&base[base.len() - 116..]);
    assert_refused_io(
        "final chunk repeated",
        &f,
        &ctx(),
        "TRAILING_DATA",
        3 * CS + 100,
        3 * CS,
    );

    // Unrecorded length, full final chunk: the final chunk is opened as non-final
    // because a byte follows it; it opens as final, so the cause is known.
    let base = encrypt(3 * CS, false);
    let mut f = base.clone();
    f.push(0);
    assert_refused(
        "unrecorded: 1 trailing byte",
        &f,
        &ctx(),
        "TRAILING_DATA",
        2 * CS,
    );
    // Short final chunk: its bytes and the extra ones make one chunk that is no
    // chunk at all.
    let base = encrypt(3 * CS + 100, false);
    let mut f = base.clone();
    f.push(0);
    assert_refused(
        "unrecorded: short final chunk + 1 byte",
        &f,
        &ctx(),
        "DECRYPTION_FAILED",
        3 * CS,
    );
}

// ---------------------------------------------------------------------------
// Header fields swapped in from another file, and contexts.

#[test]
fn commitment_or_wrapped_key_from_another_file() {
    let base = encrypt(3 * CS, true);
    let f = fields(&base);
    let h = header_len(&base);
    let commitment = h - 32 - HEADER_TAG_LEN..h - HEADER_TAG_LEN;
    // Same master key and context, another data key.
    let other = encrypt_with([0x22; 32], [0xa5; 32], &ctx(), 3 * CS, true);
    let mut swapped = base.clone();
    swapped[commitment.clone()].copy_from_slice(&other[commitment.clone()]);
    assert_refused(
        "commitment swapped",
        &swapped,
        &ctx(),
        "COMMITMENT_MISMATCH",
        0,
    );

    let mut swapped = base.clone();
    swapped[f.wrapped.clone()].copy_from_slice(&other[f.wrapped.clone()]);
    assert_refused(
        "wrapped key swapped",
        &swapped,
        &ctx(),
        "COMMITMENT_MISMATCH",
        0,
    );

    // Both swapped: the commitment matches the other data key, the tag does not.
    let mut swapped = base.clone();
    swapped[f.wrapped.start..commitment.end]
        .copy_from_slice(&other[f.wrapped.start..commitment.end]);
    assert_refused(
        "wrapped key and commitment swapped",
        &swapped,
        &ctx(),
        "HEADER_AUTH_FAILED",
        0,
    );

    // The wrapped key of a file of another context (same length): its AAD differs.
    let ctx2 = EncryptionContext::from_pairs([("owner", "alice"), ("object", "damage/report.pdg")])
        .unwrap();
    let foreign = encrypt_with([0x11; 32], [0xa5; 32], &ctx2, 3 * CS, true);
    let mut swapped = base.clone();
    swapped[f.wrapped.clone()].copy_from_slice(&foreign[f.wrapped.clone()]);
    assert_refused(
        "wrapped key of another context",
        &swapped,
        &ctx(),
        "WRONG_KEY",
        0,
    );
}

#[test]
fn a_changed_context() {
    let base = encrypt(3 * CS, true);
    for expected in [
        EncryptionContext::from_pairs([("owner", "alice"), ("object", "damage/other.pdf")])
            .unwrap(),
        EncryptionContext::from_pairs([("owner", "mallory"), ("object", "damage/report.pdf")])
            .unwrap(),
        EncryptionContext::from_pairs([("owner", "alice")]).unwrap(),
        EncryptionContext::new(),
    ] {
        assert_refused(
            &format!("expecting {expected:?}"),
            &base,
            &expected,
            "CONTEXT_MISMATCH",
            0,
        );
    }
    // A header whose context was rewritten to what the reader expects (the file of
    // another object passed off as this one): the wrapped key is bound to the old one.
    let other =
        EncryptionContext::from_pairs([("owner", "alice"), ("object", "damage/report.pdg")])
            .unwrap();
    let f = fields(&base);
    let mut forged = base.clone();
    forged[f.context.clone()].copy_from_slice(&other.canonical_bytes());
    assert_refused("context rewritten", &forged, &other, "WRONG_KEY", 0);
}

#[test]
fn a_wrong_master_key() {
    let base = encrypt(3 * CS, true);
    let header = Header::parse(&base).unwrap();
    let wrong = RawAesKeyring::new("master", [0x4e; 32]);
    assert_eq!(
        Opener::with_keyring(header, &wrong, &ctx())
            .unwrap_err()
            .code(),
        "WRONG_KEY"
    );
}

// ---------------------------------------------------------------------------
// Oversized header fields, built by hand. Each cap must be hit before the parser
// reads (let alone allocates) the field: every header below is far shorter than
// what it claims, so a parser that read first would say MALFORMED_HEADER.

/// magic .. message id, then `rest`, then commitment and tag; the length field is
/// the true length.
fn hand_header(rest: &[u8]) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.push(1);
    h.extend_from_slice(&1u16.to_be_bytes());
    let len = PREFIX_LEN + 4 + 8 + 32 + rest.len().max(16) + 32 + HEADER_TAG_LEN;
    h.extend_from_slice(&(len as u32).to_be_bytes());
    h.extend_from_slice(&4096u32.to_be_bytes());
    h.extend_from_slice(&UNKNOWN_LENGTH.to_be_bytes());
    h.extend_from_slice(&[0xa5; 32]);
    h.extend_from_slice(rest);
    // Zero padding up to the smallest valid header length.
    h.resize(h.len() + 16usize.saturating_sub(rest.len()), 0);
    h.extend_from_slice(&[0; 32 + HEADER_TAG_LEN]);
    h
}

fn be16(n: usize) -> [u8; 2] {
    (n as u16).to_be_bytes()
}

/// A context of one `k = v` entry, then one wrapped key.
fn ctx_and_key(k: &[u8], v: &[u8], id: &[u8], info: &[u8], blob_len: usize) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&be16(1));
    r.extend_from_slice(&be16(k.len()));
    r.extend_from_slice(k);
    r.extend_from_slice(&be16(v.len()));
    r.extend_from_slice(v);
    r.extend_from_slice(&be16(1));
    r.extend_from_slice(&be16(id.len()));
    r.extend_from_slice(id);
    r.extend_from_slice(&be16(info.len()));
    r.extend_from_slice(info);
    r.extend_from_slice(&be16(blob_len));
    r.extend_from_slice(&vec![0; blob_len.min(60)]);
    r
}

#[track_caller]
fn assert_limit(what: &str, header: &[u8]) {
    assert_eq!(
        Header::parse(header).map_err(|e| e.code()),
        Err("LIMIT_EXCEEDED"),
        "{what}"
    );
    let mut input = header;
    let e = read_header(&mut input).unwrap_err();
    assert_eq!(
        format_error(&e).map(|e| e.code()),
        Some("LIMIT_EXCEEDED"),
        "{what} (io)"
    );
}

#[test]
fn oversized_header_fields_are_refused_before_reading() {
    // The hand-built header is well formed when the fields are in bounds.
    let ok = hand_header(&ctx_and_key(b"owner", b"alice", b"raw-aes", b"master", 60));
    let parsed = Header::parse(&ok).unwrap();
    assert_eq!(parsed.context().get("owner"), Some("alice"));

    // Header length over 64 KiB: refused from the 15-byte prefix alone, so nothing
    // is read or allocated (with more bytes at hand it would be TRUNCATED instead).
    for len in [MAX_HEADER_LEN as u32 + 1, 1 << 20, u32::MAX] {
        let mut prefix = ok[..PREFIX_LEN].to_vec();
        prefix[11..15].copy_from_slice(&len.to_be_bytes());
        assert_limit(&format!("header length {len}"), &prefix);
    }
    let mut at_cap = ok[..PREFIX_LEN].to_vec();
    at_cap[11..15].copy_from_slice(&(MAX_HEADER_LEN as u32).to_be_bytes());
    assert_eq!(
        Header::parse(&at_cap).map_err(|e| e.code()),
        Err("TRUNCATED"),
        "64 KiB itself is allowed"
    );

    // More than 32 context entries; a key over 256 bytes, a value over 1024 bytes
    // (claimed, not present).
    let mut r = be16(33).to_vec();
    r.extend_from_slice(&[0; 16]);
    assert_limit("33 context entries", &hand_header(&r));
    assert_limit("65535 context entries", &hand_header(&[0xff, 0xff, 0, 0]));
    let mut r = be16(1).to_vec();
    r.extend_from_slice(&be16(257));
    r.extend_from_slice(b"abc");
    assert_limit("context key of 257 bytes", &hand_header(&r));
    let mut r = be16(1).to_vec();
    r.extend_from_slice(&be16(1));
    r.extend_from_slice(b"k");
    r.extend_from_slice(&be16(1025));
    assert_limit("context value of 1025 bytes", &hand_header(&r));

    // More than 16 wrapped keys; provider id over 64, info over 1024, blob over 4096.
    let mut r = be16(0).to_vec();
    r.extend_from_slice(&be16(17));
    r.extend_from_slice(&[0; 16]);
    assert_limit("17 wrapped keys", &hand_header(&r));
    assert_limit(
        "provider id of 65 bytes",
        &hand_header(&ctx_and_key(b"k", b"v", &[b'a'; 65], b"", 60)),
    );
    assert_limit(
        "provider info of 1025 bytes",
        &hand_header(&{
            let mut r = ctx_and_key(b"k", b"v", b"raw-aes", b"", 60);
            let at = 2 + 2 + 1 + 2 + 1 + 2 + 2 + 7;
            r[at..at + 2].copy_from_slice(&be16(1025));
            r
        }),
    );
    assert_limit(
        "blob of 4097 bytes",
        &hand_header(&ctx_and_key(b"k", b"v", b"raw-aes", b"master", 4097)),
    );
    assert_limit(
        "blob of 65535 bytes",
        &hand_header(&ctx_and_key(b"k", b"v", b"raw-aes", b"master", 65535)),
    );
    // Below a minimum is MALFORMED_HEADER, not LIMIT_EXCEEDED (FORMAT.md 2).
    for (what, header) in [
        (
            "empty blob",
            hand_header(&ctx_and_key(b"k", b"v", b"raw-aes", b"master", 0)),
        ),
        (
            "empty provider id",
            hand_header(&ctx_and_key(b"k", b"v", b"", b"master", 60)),
        ),
        (
            "empty context key",
            hand_header(&ctx_and_key(b"", b"v", b"raw-aes", b"master", 60)),
        ),
    ] {
        assert_eq!(
            Header::parse(&header).map_err(|e| e.code()),
            Err("MALFORMED_HEADER"),
            "{what}"
        );
    }
}

#[test]
fn a_stream_of_more_than_2_pow_32_chunks_is_too_large() {
    // Index 2^32 - 1 may only hold the final chunk (FORMAT.md 5); checked before
    // any AEAD call, so no 16 TiB file is needed.
    let base = encrypt(10, false);
    let header = Header::parse(&base).unwrap();
    let opener = Opener::with_keyring(header, &keyring(), &ctx()).unwrap();
    let last = (1u64 << 32) - 1;
    let mut chunk = vec![0u8; SEALED];
    assert_eq!(
        opener
            .open_chunk(last, false, &mut chunk)
            .map_err(|e| e.code()),
        Err("TOO_LARGE")
    );
    assert_eq!(
        opener
            .open_chunk(last + 1, true, &mut chunk)
            .map_err(|e| e.code()),
        Err("TOO_LARGE")
    );
    assert_eq!(
        opener
            .open_chunk(last, true, &mut chunk)
            .map_err(|e| e.code()),
        Err("DECRYPTION_FAILED")
    );
}

#[test]
fn truncated_header_through_the_io_reader() {
    // read_header must name a cut header the way Header::parse does.
    let base = encrypt(10, true);
    let h = header_len(&base);
    for cut in [1, 7, 8, 14, 15, 16, 100, h - 1] {
        let mut input = &base[..cut];
        let e = read_header(&mut input).unwrap_err();
        assert_eq!(
            format_error(&e).map(|e| e.code()),
            Some("TRUNCATED"),
            "cut at {cut}"
        );
    }
    let mut input = &b""[..];
    let e = read_header(&mut input).unwrap_err();
    assert_eq!(format_error(&e).map(|e| e.code()), Some("NOT_CIPHERDROP"));
    let mut input = &b"not a cipherdrop file"[..];
    let e = read_header(&mut input).unwrap_err();
    assert_eq!(format_error(&e).map(|e| e.code()), Some("NOT_CIPHERDROP"));
}
