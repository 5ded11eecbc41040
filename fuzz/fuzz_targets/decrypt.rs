//! Arbitrary bytes as a whole file through `Header::parse`, `Opener::with_keyring`
//! (the vectors' master key and context, so the seeds get past the header) and
//! `StreamOpener` fed in pushes of varying sizes. It must never panic, and it may
//! only ever release whole verified chunks.
#![no_main]

use cipherdrop_core::{EncryptionContext, Header, Opener, RawAesKeyring};
use libfuzzer_sys::fuzz_target;

/// The plaintext of every vector file: byte `i` is `i mod 251`.
fn pattern_ok(released: &[u8]) -> bool {
    released
        .iter()
        .enumerate()
        .all(|(i, b)| usize::from(*b) == i % 251)
}

/// Push sizes derived from the input itself (so the corpus stays plain files):
/// a tiny xorshift seeded with an FNV-1a hash of the bytes.
struct Pieces(u64);

impl Pieces {
    fn new(data: &[u8]) -> Self {
        let h = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        Self(h | 1)
    }

    fn next(&mut self, chunk: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let r = usize::try_from(self.0 >> 32).unwrap_or(0);
        match self.0 & 3 {
            0 => 1,
            1 => 1 + r % 64,
            2 => 1 + r % (2 * chunk),
            _ => usize::MAX,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let keyring = RawAesKeyring::new("master", [0x4d; 32]);
    let context =
        EncryptionContext::from_pairs([("owner", "alice"), ("object", "vectors/report.pdf")])
            .expect("a valid context");
    let Ok(header) = Header::parse(data) else {
        return;
    };
    let body = &data[header.len()..];
    let chunk = usize::try_from(header.chunk_size().bytes()).expect("<= 16 MiB");
    let recorded = header.plaintext_len();
    let layout = header.layout();
    let Ok(opener) = Opener::with_keyring(header, &keyring, &context) else {
        return;
    };

    // Random access over every chunk the recorded layout names: must not panic,
    // and whatever opens is the vectors' plaintext at that position.
    if let Some(l) = layout {
        for i in 0..l.chunk_count().min(64) {
            let Ok(r) = l.chunk_ciphertext_range(i) else {
                break;
            };
            let (s, e) = (r.start - l.header_len(), r.end - l.header_len());
            let (Ok(s), Ok(e)) = (usize::try_from(s), usize::try_from(e)) else {
                break;
            };
            let Some(bytes) = body.get(s..e) else { break };
            let mut buf = bytes.to_vec();
            if let Ok(n) = opener.open_chunk(i, l.is_final(i), &mut buf) {
                let start = usize::try_from(i).expect("< 64") * chunk;
                assert!(
                    buf[..n]
                        .iter()
                        .enumerate()
                        .all(|(j, b)| usize::from(*b) == (start + j) % 251)
                );
            }
        }
    }

    let mut stream = opener.into_stream();
    let mut released = Vec::new();
    let mut pieces = Pieces::new(data);
    let mut rest = body;
    let mut result = Ok(());
    while !rest.is_empty() {
        let n = pieces.next(chunk).min(rest.len());
        let (p, r) = rest.split_at(n);
        rest = r;
        result = stream.push(p, &mut released);
        // Only verified chunks are released, each whole (a short chunk only at the
        // recorded end), also by a push that fails part-way.
        let verified = stream.chunks_verified() * chunk as u64;
        assert_eq!(
            released.len() as u64,
            verified.min(recorded.unwrap_or(u64::MAX))
        );
        if result.is_err() {
            break;
        }
    }
    let verified = stream.chunks_verified();
    if result.is_ok() {
        result = stream.finish(&mut released);
    }
    assert!(
        pattern_ok(&released),
        "released bytes that are not the vectors' plaintext"
    );
    match result {
        Ok(()) => {
            if let Some(n) = recorded {
                assert_eq!(released.len() as u64, n);
            }
        }
        Err(_) => assert!(released.len() as u64 <= verified * chunk as u64),
    }
});
