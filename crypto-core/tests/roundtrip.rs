//! Round trips at the boundaries and over random sizes, through every way in and
//! out of the format: the push streams (recorded and unrecorded length), the chunk
//! API in random order, the `std::io` adapters, and random access to byte ranges.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

#[path = "support/testkit.rs"]
mod testkit;

use std::io::{Read, Write};
use std::ops::Range;

use cipherdrop_core::io::{DecryptingReader, EncryptingWriter, read_header};
use cipherdrop_core::sizes::ciphertext_len;
use cipherdrop_core::{
    ChunkSize, DataKey, EncryptionContext, Header, Keyring, Layout, Opener, RawAesKeyring, Sealer,
};
use proptest::prelude::*;
use testkit::pattern;

const MASTER: [u8; 32] = [0x4d; 32];
const DATA_KEY: [u8; 32] = [0x11; 32];
const MESSAGE_ID: [u8; 32] = [0xa5; 32];
const KIB: usize = 1024;
const CS: usize = 4 * KIB;

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("owner", "alice"), ("object", "roundtrip.bin")]).unwrap()
}

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("master", MASTER)
}

/// A sealer with a fixed message id and wrapping nonce, so every path must produce
/// the very same bytes.
fn sealer(cs: usize, len: Option<usize>) -> Sealer {
    let dk = DataKey::from_bytes(DATA_KEY);
    let wrapped = keyring().wrap_with_nonce(&dk, &ctx(), [1; 12]).unwrap();
    let cs = ChunkSize::new(u32::try_from(cs).unwrap()).unwrap();
    Sealer::with_message_id(
        &dk,
        &ctx(),
        &[wrapped],
        cs,
        len.map(|n| n as u64),
        MESSAGE_ID,
    )
    .unwrap()
}

/// A tiny deterministic generator for push sizes and chunk orders.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffled(&mut self, n: u64) -> Vec<u64> {
        let mut v: Vec<u64> = (0..n).collect();
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
        v
    }
}

/// Splits `data` into pieces whose sizes cycle through `pieces`.
fn split<'a>(data: &'a [u8], pieces: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    for p in pieces.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at((*p).max(1).min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

fn seal_stream(pt: &[u8], cs: usize, recorded: bool, pieces: &[usize]) -> Vec<u8> {
    let mut s = sealer(cs, recorded.then_some(pt.len())).into_stream();
    let mut file = Vec::new();
    for p in split(pt, pieces) {
        s.push(p, &mut file).unwrap();
    }
    s.finish(&mut file).unwrap();
    file
}

fn open_stream(file: &[u8], pieces: &[usize]) -> Vec<u8> {
    let header = Header::parse(file).unwrap();
    let body = &file[header.len()..];
    let mut s = Opener::with_keyring(header, &keyring(), &ctx())
        .unwrap()
        .into_stream();
    let mut out = Vec::new();
    for p in split(body, pieces) {
        s.push(p, &mut out).unwrap();
    }
    s.finish(&mut out).unwrap();
    out
}

/// Seals every chunk through `Sealer::seal_chunk`, in random order, into one file.
fn seal_chunks(pt: &[u8], cs: usize, rng: &mut Rng) -> Vec<u8> {
    let sealer = sealer(cs, Some(pt.len()));
    let layout = sealer.layout().unwrap();
    let mut file = vec![0u8; layout.ciphertext_len() as usize];
    file[..sealer.header().len()].copy_from_slice(sealer.header().as_bytes());
    for i in rng.shuffled(layout.chunk_count()) {
        let p = to_usize(layout.chunk_plaintext_range(i).unwrap());
        let c = to_usize(layout.chunk_ciphertext_range(i).unwrap());
        let mut chunk = pt[p].to_vec();
        let tag = sealer.seal_chunk(i, &mut chunk).unwrap();
        file[c.start..c.end - 16].copy_from_slice(&chunk);
        file[c.end - 16..c.end].copy_from_slice(&tag);
    }
    file
}

/// Opens every chunk through `Opener::open_chunk`, in random order; the layout
/// comes from the file's length, so this works whether or not it was recorded.
fn open_chunks(file: &[u8], rng: &mut Rng) -> Vec<u8> {
    let header = Header::parse(file).unwrap();
    let layout = header.layout_for_ciphertext_len(file.len() as u64).unwrap();
    let opener = Opener::with_keyring(header, &keyring(), &ctx()).unwrap();
    let mut pt = vec![0u8; layout.plaintext_len() as usize];
    for i in rng.shuffled(layout.chunk_count()) {
        let mut chunk = file[to_usize(layout.chunk_ciphertext_range(i).unwrap())].to_vec();
        let n = opener
            .open_chunk(i, layout.is_final(i), &mut chunk)
            .unwrap();
        pt[to_usize(layout.chunk_plaintext_range(i).unwrap())].copy_from_slice(&chunk[..n]);
    }
    pt
}

/// Hands out at most `n` bytes per `read`, like a pipe or a socket.
struct Trickle<R>(R, usize);

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.read(&mut buf[..n])
    }
}

fn seal_io(pt: &[u8], cs: usize, recorded: bool, pieces: &[usize]) -> Vec<u8> {
    let mut w = EncryptingWriter::new(sealer(cs, recorded.then_some(pt.len())), Vec::new());
    for p in split(pt, pieces) {
        w.write_all(p).unwrap();
    }
    w.finish().unwrap()
}

fn open_io(file: &[u8], read_size: usize) -> Vec<u8> {
    let mut input = Trickle(file, read_size);
    let header = read_header(&mut input).unwrap();
    let opener = Opener::with_keyring(header, &keyring(), &ctx()).unwrap();
    let mut out = Vec::new();
    DecryptingReader::new(opener, input)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Decrypts plaintext bytes `range` the way a ranged download does: map it to a
/// ciphertext range, "fetch" only that, open each chunk in it.
fn read_range(file: &[u8], layout: &Layout, opener: &Opener, range: Range<u64>) -> Vec<u8> {
    let fetch = layout
        .ciphertext_range_for_plaintext(range.clone())
        .unwrap();
    let fetched = &file[to_usize(fetch.clone())];
    let chunks = layout.chunks_for_plaintext_range(range.clone()).unwrap();
    let mut pt = Vec::new();
    for i in chunks.clone() {
        let c = layout.chunk_ciphertext_range(i).unwrap();
        let mut chunk = fetched[to_usize(c.start - fetch.start..c.end - fetch.start)].to_vec();
        let n = opener
            .open_chunk(i, layout.is_final(i), &mut chunk)
            .unwrap();
        pt.extend_from_slice(&chunk[..n]);
    }
    let skip = range.start - chunks.start * layout.chunk_size().bytes();
    pt[to_usize(skip..skip + (range.end - range.start))].to_vec()
}

fn to_usize(r: Range<u64>) -> Range<usize> {
    r.start as usize..r.end as usize
}

/// The round trip of one size: every path in, every path out, all agreeing.
fn round_trip(len: usize, cs: usize, pieces: &[usize]) {
    for recorded in [true, false] {
        round_trip_paths(len, cs, pieces, recorded, true);
    }
}

/// With `all_paths` false (the property test and large chunks, to stay fast in
/// debug builds): the push streams with the given piece sizes, the chunk API and
/// random access only.
fn round_trip_paths(len: usize, cs: usize, pieces: &[usize], recorded: bool, all_paths: bool) {
    let pt = pattern(len);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (len as u64) << 8 ^ cs as u64);
    let file = seal_stream(&pt, cs, recorded, pieces);
    let header = Header::parse(&file).unwrap();
    let csz = header.chunk_size();
    // The size arithmetic holds whether or not the length was recorded.
    assert_eq!(
        file.len() as u64,
        ciphertext_len(header.len() as u64, len as u64, csz).unwrap()
    );
    assert_eq!(header.plaintext_len(), recorded.then_some(len as u64));

    // In by the chunk API, by the push stream in one piece and by the io writer:
    // the same bytes.
    if recorded {
        assert!(
            seal_chunks(&pt, cs, &mut rng) == file,
            "len {len}: seal_chunk differs"
        );
    }
    if all_paths {
        assert!(
            seal_stream(&pt, cs, recorded, &[usize::MAX]) == file,
            "len {len}: push sizes changed the output"
        );
        assert!(
            seal_io(&pt, cs, recorded, pieces) == file,
            "len {len}: EncryptingWriter differs"
        );
    }

    // Out by every path.
    assert!(
        open_stream(&file, pieces) == pt,
        "len {len}, recorded {recorded}: stream"
    );
    assert!(
        open_chunks(&file, &mut rng) == pt,
        "len {len}, recorded {recorded}: open_chunk"
    );
    if all_paths {
        for out_pieces in [&[usize::MAX][..], &[cs + 16], &[1, cs - 1, 7]] {
            assert!(
                open_stream(&file, out_pieces) == pt,
                "len {len}, recorded {recorded}: stream"
            );
        }
        for read_size in [usize::MAX, 1000] {
            assert!(
                open_io(&file, read_size) == pt,
                "len {len}, recorded {recorded}: DecryptingReader"
            );
        }
    }

    // Random access.
    if len > 0 {
        let layout = header.layout_for_ciphertext_len(file.len() as u64).unwrap();
        let opener = Opener::with_keyring(header, &keyring(), &ctx()).unwrap();
        let n = len as u64;
        let c = cs as u64;
        let mut ranges = vec![0..1, n - 1..n, c.min(n) - 1..(c + 1).min(n)];
        if all_paths {
            ranges.push(0..n);
        }
        for _ in 0..if all_paths { 4 } else { 1 } {
            let a = rng.below(len) as u64;
            let b = a + 1 + rng.below(len - a as usize) as u64;
            ranges.push(a..b);
        }
        for r in ranges {
            let got = read_range(&file, &layout, &opener, r.clone());
            assert!(got == pt[to_usize(r.clone())], "len {len}: range {r:?}");
        }
    }
}

fn rt(len: usize) {
    round_trip(len, CS, &[1000]);
}

#[test]
fn empty() {
    rt(0);
}

#[test]
fn one_byte() {
    rt(1);
}

#[test]
fn chunk_minus_one() {
    rt(CS - 1);
}

#[test]
fn exactly_one_chunk() {
    rt(CS);
}

#[test]
fn chunk_plus_one() {
    rt(CS + 1);
}

#[test]
fn exact_multiple() {
    rt(3 * CS);
}

#[test]
fn many_chunks() {
    rt(20 * CS + 123);
}

#[test]
fn many_chunks_minus_one() {
    rt(20 * CS - 1);
}

#[test]
fn pushes_of_one_byte() {
    round_trip(2 * CS + 5, CS, &[1]);
}

#[test]
fn pushes_of_exactly_a_chunk() {
    round_trip(3 * CS, CS, &[CS]);
}

#[test]
fn default_chunk_size() {
    // Debug-build AES is slow: two chunks, the cheaper set of paths.
    let cs = ChunkSize::DEFAULT.get() as usize;
    round_trip_paths(cs + 1, cs, &[100 * KIB], true, false);
    round_trip_paths(cs, cs, &[100 * KIB], false, false);
}

#[test]
fn random_message_id_and_wrapping() {
    // The production path: Sealer::new with a fresh message id and a randomly
    // wrapped data key; two files of the same plaintext differ but both open.
    let pt = pattern(5000);
    let seal = || {
        let dk = DataKey::generate().unwrap();
        let wrapped = keyring().wrap(&dk, &ctx()).unwrap();
        let mut s = Sealer::new(&dk, &ctx(), &[wrapped], ChunkSize::MIN, Some(5000))
            .unwrap()
            .into_stream();
        let mut file = Vec::new();
        s.push(&pt, &mut file).unwrap();
        s.finish(&mut file).unwrap();
        file
    };
    let (a, b) = (seal(), seal());
    assert_ne!(a, b);
    assert!(open_stream(&a, &[usize::MAX]) == pt && open_stream(&b, &[777]) == pt);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_sizes_round_trip(
        shift in 12u32..=16,
        chunks in 0usize..3,
        extra in 0usize..=65_536,
        pieces in prop::collection::vec(1usize..100_000, 1..4),
        recorded in any::<bool>(),
    ) {
        let cs = 1usize << shift;
        round_trip_paths(chunks * cs + extra % (cs + 1), cs, &pieces, recorded, false);
    }
}

/// A resumed sealer (rebuilt from the header and the data key after a restart)
/// seals every chunk to the very bytes the first one did, and refuses a header it
/// cannot verify.
#[test]
fn resumed_sealer_seals_the_same_bytes() {
    let len = 5 * CS + 17;
    let pt = pattern(len);
    let first = sealer(CS, Some(len));
    let layout = first.layout().unwrap();
    let header = Header::parse(first.header().as_bytes()).unwrap();
    let resumed = Sealer::resume(header, &DataKey::from_bytes(DATA_KEY), &ctx()).unwrap();
    assert_eq!(resumed.header().as_bytes(), first.header().as_bytes());
    for i in 0..layout.chunk_count() {
        let r = to_usize(layout.chunk_plaintext_range(i).unwrap());
        let (mut a, mut b) = (pt[r.clone()].to_vec(), pt[r].to_vec());
        let ta = first.seal_chunk(i, &mut a).unwrap();
        let tb = resumed.seal_chunk(i, &mut b).unwrap();
        assert_eq!((a, ta), (b, tb), "chunk {i}");
    }
    let parse = || Header::parse(first.header().as_bytes()).unwrap();
    let wrong_key = Sealer::resume(parse(), &DataKey::from_bytes([0x12; 32]), &ctx());
    assert_eq!(wrong_key.unwrap_err().code(), "COMMITMENT_MISMATCH");
    let other =
        EncryptionContext::from_pairs([("owner", "mallory"), ("object", "roundtrip.bin")]).unwrap();
    let wrong_ctx = Sealer::resume(parse(), &DataKey::from_bytes(DATA_KEY), &other);
    assert_eq!(wrong_ctx.unwrap_err().code(), "CONTEXT_MISMATCH");
}
