//! The format against raw AES-256-GCM: sealing and opening a 64 MiB buffer in
//! 16 KiB .. 1 MiB chunks through `Sealer::seal_chunk` / `Opener::open_chunk` and
//! through the push streams, against `Aes256Gcm::{en,de}crypt_inout_detached` of
//! the same chunks with the same key and nonces, in the same run.
//!
//! `cargo bench -p cipherdrop-core --bench format` runs criterion, then prints the
//! throughput ratio format/raw for each chunk size from its own interleaved timing
//! loop (best of a bounded number of rounds). Results go in docs/BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInOut, Tag};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use cipherdrop_core::stream::chunk_nonce;
use cipherdrop_core::{
    ChunkSize, DataKey, EncryptionContext, Header, Layout, Opener, RawAesKeyring, Sealer,
};
use criterion::{BatchSize, Criterion, Throughput};

const TOTAL: usize = 64 << 20;
const CHUNK_SIZES: [usize; 4] = [16 << 10, 64 << 10, 256 << 10, 1 << 20];
/// Push size for the stream paths (what an io adapter or a browser slice hands in).
const PUSH: usize = 1 << 20;
/// Rounds of the ratio loop (each round times every path once, interleaved).
const ROUNDS: usize = 7;

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("owner", "bench")]).unwrap()
}

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("master", [7; 32])
}

/// Everything one chunk size needs: the sealer, the sealed file, the raw cipher
/// (with the sealer's content key) and the raw chunks' tags.
struct Setup {
    cs: usize,
    sealer: Sealer,
    layout: Layout,
    plaintext: Vec<u8>,
    file: Vec<u8>,
    raw: Aes256Gcm,
    raw_sealed: Vec<u8>,
    raw_tags: Vec<Tag<Aes256Gcm>>,
}

impl Setup {
    fn new(cs: usize) -> Self {
        let dk = DataKey::from_bytes([3; 32]);
        let wrapped = keyring().wrap_with_nonce(&dk, &ctx(), [1; 12]).unwrap();
        let chunk = ChunkSize::new(cs as u32).unwrap();
        let sealer =
            Sealer::with_message_id(&dk, &ctx(), &[wrapped], chunk, Some(TOTAL as u64), [9; 32])
                .unwrap();
        let layout = sealer.layout().unwrap();
        let plaintext: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
        let raw = Aes256Gcm::new_from_slice(sealer.content_key()).unwrap();
        let mut s = Self {
            cs,
            sealer,
            layout,
            plaintext,
            file: Vec::new(),
            raw,
            raw_sealed: Vec::new(),
            raw_tags: Vec::new(),
        };
        s.file = s.format_seal_chunks();
        let mut buf = s.plaintext.clone();
        s.raw_tags = s.raw_seal(&mut buf);
        s.raw_sealed = buf;
        s
    }

    fn opener(&self) -> Opener {
        Opener::with_keyring(Header::parse(&self.file).unwrap(), &keyring(), &ctx()).unwrap()
    }

    /// The file, sealed chunk by chunk in place.
    fn format_seal_chunks(&self) -> Vec<u8> {
        let mut file = vec![0u8; self.layout.ciphertext_len() as usize];
        let h = self.sealer.header().len();
        file[..h].copy_from_slice(self.sealer.header().as_bytes());
        self.format_seal_into(&mut file);
        file
    }

    /// Seals the plaintext chunks into `file` (header already there): the timed part.
    fn format_seal_into(&self, file: &mut [u8]) {
        for i in 0..self.layout.chunk_count() {
            let p = self.layout.chunk_plaintext_range(i).unwrap();
            let c = self.layout.chunk_ciphertext_range(i).unwrap();
            let (c0, c1) = (c.start as usize, c.end as usize);
            file[c0..c1 - 16].copy_from_slice(&self.plaintext[p.start as usize..p.end as usize]);
            let tag = self.sealer.seal_chunk(i, &mut file[c0..c1 - 16]).unwrap();
            file[c1 - 16..c1].copy_from_slice(&tag);
        }
    }

    /// Seals the plaintext chunks in place with `Sealer::seal_chunk`, tags aside,
    /// exactly as `raw_seal` does: the timed part of the chunk path.
    fn format_seal_in_place(&self, buf: &mut [u8]) -> Vec<[u8; 16]> {
        buf.chunks_mut(self.cs)
            .enumerate()
            .map(|(i, c)| self.sealer.seal_chunk(i as u64, c).unwrap())
            .collect()
    }

    /// Opens every chunk of `file` in place.
    fn format_open_in_place(&self, opener: &Opener, file: &mut [u8]) -> usize {
        let mut n = 0;
        for i in 0..self.layout.chunk_count() {
            let c = self.layout.chunk_ciphertext_range(i).unwrap();
            n += opener
                .open_chunk(
                    i,
                    self.layout.is_final(i),
                    &mut file[c.start as usize..c.end as usize],
                )
                .unwrap();
        }
        n
    }

    fn stream_seal(&self, out: &mut Vec<u8>) {
        out.clear();
        let dk = DataKey::from_bytes([3; 32]);
        let wrapped = keyring().wrap_with_nonce(&dk, &ctx(), [1; 12]).unwrap();
        let chunk = ChunkSize::new(self.cs as u32).unwrap();
        let mut s =
            Sealer::with_message_id(&dk, &ctx(), &[wrapped], chunk, Some(TOTAL as u64), [9; 32])
                .unwrap()
                .into_stream();
        for p in self.plaintext.chunks(PUSH) {
            s.push(p, out).unwrap();
        }
        s.finish(out).unwrap();
    }

    fn stream_open(&self, out: &mut Vec<u8>) {
        out.clear();
        let mut s = self.opener().into_stream();
        let h = self.sealer.header().len();
        for p in self.file[h..].chunks(PUSH) {
            s.push(p, out).unwrap();
        }
        s.finish(out).unwrap();
    }

    /// Raw AES-256-GCM over the same chunks (same key, same nonces), in place.
    fn raw_seal(&self, buf: &mut [u8]) -> Vec<Tag<Aes256Gcm>> {
        let n = buf.len().div_ceil(self.cs);
        buf.chunks_mut(self.cs)
            .enumerate()
            .map(|(i, c)| {
                let nonce = Nonce::from(chunk_nonce(i as u64, i + 1 == n));
                self.raw
                    .encrypt_inout_detached(&nonce, &[], c.into())
                    .unwrap()
            })
            .collect()
    }

    fn raw_open(&self, buf: &mut [u8]) {
        let n = buf.len().div_ceil(self.cs);
        for (i, c) in buf.chunks_mut(self.cs).enumerate() {
            let nonce = Nonce::from(chunk_nonce(i as u64, i + 1 == n));
            self.raw
                .decrypt_inout_detached(&nonce, &[], c.into(), &self.raw_tags[i])
                .unwrap();
        }
    }
}

fn criterion_benches(c: &mut Criterion, setups: &[Setup]) {
    let mut g = c.benchmark_group("format");
    g.throughput(Throughput::Bytes(TOTAL as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for s in setups {
        let kib = s.cs >> 10;
        let opener = s.opener();
        let mut buf = s.plaintext.clone();
        g.bench_function(format!("seal_chunk/{kib}KiB"), |b| {
            b.iter(|| s.format_seal_in_place(black_box(&mut buf)))
        });
        g.bench_function(format!("raw_seal/{kib}KiB"), |b| {
            b.iter(|| s.raw_seal(black_box(&mut buf)))
        });
        g.bench_function(format!("open_chunk/{kib}KiB"), |b| {
            b.iter_batched_ref(
                || s.file.clone(),
                |f| s.format_open_in_place(&opener, f),
                BatchSize::PerIteration,
            );
        });
        g.bench_function(format!("raw_open/{kib}KiB"), |b| {
            b.iter_batched_ref(
                || s.raw_sealed.clone(),
                |f| s.raw_open(f),
                BatchSize::PerIteration,
            );
        });
        let mut out = Vec::with_capacity(s.file.len());
        g.bench_function(format!("stream_seal/{kib}KiB"), |b| {
            b.iter(|| s.stream_seal(black_box(&mut out)))
        });
        g.bench_function(format!("stream_open/{kib}KiB"), |b| {
            b.iter(|| s.stream_open(black_box(&mut out)))
        });
    }
    g.finish();
}

fn gib_s(d: Duration) -> f64 {
    TOTAL as f64 / d.as_secs_f64() / f64::from(1u32 << 30)
}

fn ratios(setups: &[Setup]) {
    println!();
    println!(
        "format / raw AES-256-GCM throughput, 64 MiB, best of {ROUNDS} (GiB/s; ratio = raw time / format time)"
    );
    println!(
        "{:>8} | {:>6} {:>6} {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6} {:>6} {:>6}",
        "chunk",
        "raw",
        "chunk",
        "ratio",
        "stream",
        "ratio",
        "raw",
        "chunk",
        "ratio",
        "stream",
        "ratio"
    );
    println!("{:>8} | {:^34} | {:^34}", "", "seal", "open");
    let mut copy_ceilings = Vec::new();
    for s in setups {
        let opener = s.opener();
        let mut out = Vec::with_capacity(s.file.len());
        // Interleave the paths round by round so drift hits them alike.
        let mut t = [Duration::MAX; 7];
        for _ in 0..ROUNDS {
            let mut buf = s.plaintext.clone();
            t[0] = t[0].min(time(|| drop(s.raw_seal(&mut buf))));
            t[1] = t[1].min(time(|| drop(s.format_seal_in_place(&mut buf))));
            t[2] = t[2].min(time(|| s.stream_seal(&mut out)));
            let mut raw = s.raw_sealed.clone();
            t[3] = t[3].min(time(|| s.raw_open(&mut raw)));
            let mut f = s.file.clone();
            t[4] = t[4].min(time(|| {
                black_box(s.format_open_in_place(&opener, &mut f));
            }));
            t[5] = t[5].min(time(|| s.stream_open(&mut out)));
            // What any API that appends to a Vec costs beyond the cipher: one pass
            // writing the output (here a plain copy of the same bytes).
            t[6] = t[6].min(time(|| {
                out.clear();
                out.extend_from_slice(&s.plaintext);
                black_box(&out);
            }));
        }
        copy_ceilings.push((s.cs, t[0], t[3], t[6]));
        let r = |raw: Duration, fmt: Duration| raw.as_secs_f64() / fmt.as_secs_f64();
        println!(
            "{:>5} KiB | {:>6.2} {:>6.2} {:>6.3} {:>6.2} {:>6.3} | {:>6.2} {:>6.2} {:>6.3} {:>6.2} {:>6.3}",
            s.cs >> 10,
            gib_s(t[0]),
            gib_s(t[1]),
            r(t[0], t[1]),
            gib_s(t[2]),
            r(t[0], t[2]),
            gib_s(t[3]),
            gib_s(t[4]),
            r(t[3], t[4]),
            gib_s(t[5]),
            r(t[3], t[5]),
        );
    }
    println!(
        "the ceiling of a stream that appends to a Vec: raw / (raw + one copy of 64 MiB); the copy alone in GiB/s"
    );
    for (cs, seal, open, copy) in copy_ceilings {
        let ceiling = |raw: Duration| raw.as_secs_f64() / (raw + copy).as_secs_f64();
        println!(
            "{:>5} KiB | copy {:>6.2} | seal ceiling {:>6.3} | open ceiling {:>6.3}",
            cs >> 10,
            gib_s(copy),
            ceiling(seal),
            ceiling(open),
        );
    }
}

/// Wall time of one run of `f`.
fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    let setups: Vec<Setup> = CHUNK_SIZES.into_iter().map(Setup::new).collect();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &setups);
    c.final_summary();
    ratios(&setups);
}
