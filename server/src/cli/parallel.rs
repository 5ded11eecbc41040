//! Sealing and opening a batch of chunks on several threads.
//!
//! A batch is one buffer holding consecutive chunks at a fixed stride of
//! `chunk size + 16` bytes (the last may be shorter). Chunks are independent, so
//! the batch is split into one contiguous run of chunks per thread.

use cipherdrop_core::sizes::TAG_LEN;
use cipherdrop_core::{Error, Layout, Opener, Sealer};

/// Bytes of plaintext (and ciphertext) worked on per batch; bounds memory.
pub const BATCH_BYTES: usize = 16 << 20;

/// Chunks per batch for `stride`-byte chunks and `threads` workers.
#[must_use]
pub fn batch_chunks(stride: usize, threads: usize) -> usize {
    (BATCH_BYTES / stride).max(threads).max(1)
}

/// Runs `work(index, chunk)` over the chunks of `buf`, `threads` at a time, and
/// returns the result of each chunk in order.
fn run<F>(
    buf: &mut [u8],
    stride: usize,
    first: u64,
    threads: usize,
    work: F,
) -> Vec<Result<(), Error>>
where
    F: Fn(u64, &mut [u8]) -> Result<(), Error> + Sync,
{
    let count = buf.len().div_ceil(stride);
    let per_thread = count.div_ceil(threads.max(1)).max(1);
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = buf
            .chunks_mut(per_thread * stride)
            .enumerate()
            .map(|(t, group)| {
                s.spawn(move || {
                    let base = first + (t * per_thread) as u64;
                    group
                        .chunks_mut(stride)
                        .enumerate()
                        .map(|(i, chunk)| work(base + i as u64, chunk))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Seals the chunks in `buf` in place: each chunk's plaintext at the start of its
/// stride, its tag written after it.
///
/// # Errors
/// The first chunk's error, if any.
pub fn seal_batch(
    sealer: &Sealer,
    buf: &mut [u8],
    stride: usize,
    first: u64,
    threads: usize,
) -> Result<(), Error> {
    run(buf, stride, first, threads, |index, chunk| {
        let n = chunk.len() - TAG_LEN;
        let (body, tag) = chunk.split_at_mut(n);
        tag.copy_from_slice(&sealer.seal_chunk(index, body)?);
        Ok(())
    })
    .into_iter()
    .collect()
}

/// Opens the chunks in `buf` in place. Returns how many leading chunks verified and,
/// if one failed, the first failure.
pub fn open_batch(
    opener: &Opener,
    layout: &Layout,
    buf: &mut [u8],
    stride: usize,
    first: u64,
    threads: usize,
) -> (usize, Option<Error>) {
    let results = run(buf, stride, first, threads, |index, chunk| {
        opener
            .open_chunk(index, layout.is_final(index), chunk)
            .map(|_| ())
    });
    let ok = results.iter().take_while(|r| r.is_ok()).count();
    (ok, results.into_iter().find_map(Result::err))
}
