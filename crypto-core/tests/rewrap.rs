//! Re-wrapping (FORMAT.md 4): a new wrapped-key list and tag over the same body,
//! and the per-object keys a browser gets instead of the data key.
#![allow(clippy::unwrap_used)]

#[path = "support/testkit.rs"]
mod testkit;

use cipherdrop_core::{
    ChunkSize, DataKey, EncryptionContext, Error, Header, Keyring, ObjectKeys, Opener,
    RawAesKeyring, Sealer,
};
use testkit::pattern;

const DATA_KEY: [u8; 32] = [0x11; 32];

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("owner", "alice"), ("object", "rewrap.bin")]).unwrap()
}

fn old_ring() -> RawAesKeyring {
    RawAesKeyring::new("old", [0x4d; 32])
}

fn new_ring() -> RawAesKeyring {
    RawAesKeyring::new("new", [0x6e; 32])
}

/// A file of `len` bytes sealed for `old` (4 KiB chunks, recorded length or not).
fn file(len: usize, recorded: bool) -> Vec<u8> {
    let dk = DataKey::from_bytes(DATA_KEY);
    let wrapped = old_ring().wrap(&dk, &ctx()).unwrap();
    let sealer = Sealer::new(
        &dk,
        &ctx(),
        &[wrapped],
        ChunkSize::new(4096).unwrap(),
        recorded.then_some(len as u64),
    )
    .unwrap();
    let mut out = Vec::new();
    let mut s = sealer.into_stream();
    s.push(&pattern(len), &mut out).unwrap();
    s.finish(&mut out).unwrap();
    out
}

fn open(file: &[u8], ring: &dyn Keyring) -> Result<Vec<u8>, Error> {
    let header = Header::parse(file)?;
    let body = &file[header.len()..];
    let mut s = Opener::with_keyring(header, ring, &ctx())?.into_stream();
    let mut out = Vec::new();
    s.push(body, &mut out)?;
    s.finish(&mut out)?;
    Ok(out)
}

/// Re-wraps `file` with `ring`'s entry only: the new header, then the old body.
fn rewrap(file: &[u8], opened_by: &dyn Keyring, ring: &dyn Keyring) -> Vec<u8> {
    let header = Header::parse(file).unwrap();
    let dk = opened_by
        .unwrap(header.wrapped_keys(), header.context())
        .unwrap();
    let entry = ring.wrap(&dk, header.context()).unwrap();
    let new = header.rewrap(&dk, &[entry]).unwrap();
    let mut out = new.as_bytes().to_vec();
    out.extend_from_slice(&file[header.len()..]);
    out
}

#[test]
fn rewrap_keeps_every_body_byte_and_moves_the_key() {
    for (len, recorded) in [
        (0, true),
        (1, true),
        (4096, true),
        (10_000, false),
        (0, false),
    ] {
        let before = file(len, recorded);
        let after = rewrap(&before, &old_ring(), &new_ring());
        let (h0, h1) = (
            Header::parse(&before).unwrap(),
            Header::parse(&after).unwrap(),
        );
        assert_eq!(
            &before[h0.len()..],
            &after[h1.len()..],
            "body of {len} bytes"
        );
        assert_eq!(h0.message_id(), h1.message_id());
        assert_eq!(h0.commitment(), h1.commitment());
        assert_eq!(h0.context(), h1.context());
        assert_eq!(h0.chunk_size(), h1.chunk_size());
        assert_eq!(h0.plaintext_len(), h1.plaintext_len());
        assert_ne!(h0.as_bytes(), h1.as_bytes());
        assert_eq!(open(&after, &new_ring()).unwrap(), pattern(len));
        assert_eq!(open(&after, &old_ring()), Err(Error::WrongKey));
        assert_eq!(open(&before, &old_ring()).unwrap(), pattern(len));
    }
}

#[test]
fn rewrap_to_a_longer_list_changes_the_header_length_only() {
    let before = file(9000, true);
    let h0 = Header::parse(&before).unwrap();
    let dk = old_ring().unwrap(h0.wrapped_keys(), &ctx()).unwrap();
    let mut list = h0.wrapped_keys().to_vec();
    list.push(new_ring().wrap(&dk, &ctx()).unwrap());
    let h1 = h0.rewrap(&dk, &list).unwrap();
    assert_eq!(
        h1.len(),
        h0.len() + (2 + "raw-aes".len()) + (2 + "new".len()) + (2 + 60)
    );
    let mut after = h1.as_bytes().to_vec();
    after.extend_from_slice(&before[h0.len()..]);
    assert_eq!(open(&after, &old_ring()).unwrap(), pattern(9000));
    assert_eq!(open(&after, &new_ring()).unwrap(), pattern(9000));
    assert_eq!(h1.layout().unwrap().ciphertext_len(), after.len() as u64);
}

#[test]
fn rewrap_refuses_a_data_key_that_is_not_the_headers() {
    let header = Header::parse(&file(10, true)).unwrap();
    let entry = new_ring()
        .wrap(&DataKey::from_bytes([9; 32]), &ctx())
        .unwrap();
    assert_eq!(
        header.rewrap(&DataKey::from_bytes([9; 32]), &[entry]),
        Err(Error::CommitmentMismatch)
    );
}

#[test]
fn rewrap_refuses_a_header_whose_tag_fails() {
    let mut bytes = file(10, true);
    let header = Header::parse(&bytes).unwrap();
    let tag_at = header.len() - 1;
    bytes[tag_at] ^= 1;
    let bad = Header::parse(&bytes).unwrap();
    let dk = DataKey::from_bytes(DATA_KEY);
    let entry = new_ring().wrap(&dk, &ctx()).unwrap();
    assert_eq!(bad.rewrap(&dk, &[entry]), Err(Error::HeaderAuthFailed));
}

#[test]
fn rewrap_refuses_an_empty_list() {
    let header = Header::parse(&file(10, true)).unwrap();
    assert!(matches!(
        header.rewrap(&DataKey::from_bytes(DATA_KEY), &[]),
        Err(Error::InvalidWrappedKey(_))
    ));
}

/// What a server hands a browser in place of the data key.
fn object_keys(file: &[u8]) -> ObjectKeys {
    let header = Header::parse(file).unwrap();
    Opener::with_keyring(header, &old_ring(), &ctx())
        .unwrap()
        .object_keys()
        .clone()
}

#[test]
fn object_keys_open_their_object_and_check_the_tag() {
    let f = file(10_000, true);
    let keys = object_keys(&f);
    let header = Header::parse(&f).unwrap();
    let mut s = Opener::with_object_keys(header.clone(), &keys, &ctx())
        .unwrap()
        .into_stream();
    let mut out = Vec::new();
    s.push(&f[header.len()..], &mut out).unwrap();
    s.finish(&mut out).unwrap();
    assert_eq!(out, pattern(10_000));

    // Another context, a changed header, another object's keys: refused.
    let other =
        EncryptionContext::from_pairs([("owner", "bob"), ("object", "rewrap.bin")]).unwrap();
    assert_eq!(
        Opener::with_object_keys(header.clone(), &keys, &other).map(|_| ()),
        Err(Error::ContextMismatch)
    );
    let mut changed = f.clone();
    changed[header.len() - 40] ^= 1; // inside the commitment
    let changed = Header::parse(&changed).unwrap();
    assert_eq!(
        Opener::with_object_keys(changed, &keys, &ctx()).map(|_| ()),
        Err(Error::HeaderAuthFailed)
    );
    let sibling = object_keys(&file(10_000, true)); // same data key, other message id
    assert_ne!(sibling, keys);
    assert_eq!(
        Opener::with_object_keys(header, &sibling, &ctx()).map(|_| ()),
        Err(Error::HeaderAuthFailed)
    );
}

#[test]
fn a_sealer_from_object_keys_writes_what_the_data_key_opens() {
    let dk = DataKey::from_bytes(DATA_KEY);
    let wrapped = old_ring().wrap(&dk, &ctx()).unwrap();
    let server = Sealer::new(
        &dk,
        &ctx(),
        &[wrapped],
        ChunkSize::new(4096).unwrap(),
        Some(5000),
    )
    .unwrap();
    let header = Header::parse(server.header().as_bytes()).unwrap();
    let browser = Sealer::with_object_keys(header.clone(), server.object_keys()).unwrap();
    let mut out = Vec::new();
    let mut s = browser.into_stream();
    s.push(&pattern(5000), &mut out).unwrap();
    s.finish(&mut out).unwrap();
    assert_eq!(open(&out, &old_ring()).unwrap(), pattern(5000));

    let wrong = ObjectKeys::from_bytes([1; 32], [2; 32]);
    assert_eq!(
        Sealer::with_object_keys(header, &wrong).map(|_| ()),
        Err(Error::HeaderAuthFailed)
    );
}
