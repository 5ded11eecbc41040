//! `Header::parse` on arbitrary bytes: it must never panic, and a header it accepts
//! must re-encode to exactly the bytes it was parsed from.
#![no_main]

use cipherdrop_core::header::{self, HEADER_TAG_LEN, PREFIX_LEN, UNKNOWN_LENGTH};
use cipherdrop_core::{Error, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = Header::parse(data) else { return };
    let len = h.len();
    let bytes = h.as_bytes();

    // The header is a prefix of the input, its length field says how long it is,
    // and parsing its own bytes gives the same header.
    assert_eq!(bytes, &data[..len]);
    assert_eq!(header::header_len_from_prefix(&data[..PREFIX_LEN]), Ok(len));
    assert_eq!(Header::parse(bytes).as_ref(), Ok(&h));
    assert_eq!(Header::parse(&bytes[..len - 1]), Err(Error::Truncated));

    // Every field re-encodes to the bytes it came from.
    assert_eq!(&bytes[15..19], &h.chunk_size().get().to_be_bytes());
    assert_eq!(
        &bytes[19..27],
        &h.plaintext_len().unwrap_or(UNKNOWN_LENGTH).to_be_bytes()
    );
    assert_eq!(&bytes[27..59], h.message_id());
    let ctx = h.context().canonical_bytes();
    assert_eq!(&bytes[59..59 + ctx.len()], &ctx[..]);
    // The commitment, then the tag (HMAC-SHA-256) ends the header.
    let tag_at = len - HEADER_TAG_LEN;
    assert_eq!(&bytes[tag_at - h.commitment().len()..tag_at], h.commitment());
    // The writer's length arithmetic agrees with what was parsed (this also
    // re-validates every wrapped key against the writer's limits). The one header a
    // reader takes and a writer refuses: more than one passphrase entry (FORMAT.md
    // 2.4: a reader runs Argon2id for the first only).
    let passphrases = h
        .wrapped_keys()
        .iter()
        .filter(|w| w.provider_id == header::PASSPHRASE_ARGON2ID)
        .count();
    match header::encoded_len(h.context(), h.wrapped_keys()) {
        Err(Error::InvalidWrappedKey(_)) if passphrases > 1 => {}
        other => assert_eq!(other, Ok(len)),
    }

    // The size arithmetic never panics and is self-consistent.
    if let Some(layout) = h.layout() {
        let ct = layout.ciphertext_len();
        assert_eq!(h.layout_for_ciphertext_len(ct), Ok(layout));
        assert_eq!(
            layout.plaintext_len(),
            h.plaintext_len().unwrap_or_default()
        );
    }
});
