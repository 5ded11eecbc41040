//! Sealing and opening chunks on several threads.
//!
//! File to file ([`seal_file`], [`open_file`]): each thread takes the next group of
//! chunks (about 1 MiB), reads it at its offset, seals or opens it in place and
//! writes it at its offset, then takes the next. Reading, sealing and writing thus
//! overlap on every core, and each group stays in the core's cache from the read to
//! the write. The output is the temporary file of [`super::files::Output`], which
//! appears under its name only after every chunk is done, so the order in which
//! groups land in it does not matter.
//!
//! To a stream (standard output, a device, an upload): a batch is one buffer
//! holding consecutive chunks at a fixed stride of `chunk size + 16` bytes (the
//! last may be shorter), read in order, split into one contiguous run of chunks per
//! thread, and written in order.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::bail;
use cipherdrop_core::sizes::TAG_LEN;
use cipherdrop_core::{Error, Layout, Opener, Sealer};

/// Plaintext bytes a thread takes at a time from file to file (at least one chunk).
/// Small enough to stay in a core's cache between the read, the cipher and the
/// write; large enough that the system calls cost nothing by comparison.
pub const GROUP_BYTES: u64 = 1 << 20;

/// Runs `work(chunks, offset, buffer)` for each group of chunks of `layout`, as
/// [`each_group`] does: `offset` is where the group's first chunk starts in the
/// encrypted file and `buffer` is exactly as long as the group's chunks there.
fn each_chunk_group<F>(layout: &Layout, threads: usize, work: F) -> anyhow::Result<()>
where
    F: Fn(Range<u64>, u64, &mut [u8]) -> anyhow::Result<()> + Sync,
{
    let per = (GROUP_BYTES / layout.chunk_size().bytes()).max(1);
    each_group(layout.chunk_count().div_ceil(per), threads, |group, buf| {
        let chunks = group * per..((group + 1) * per).min(layout.chunk_count());
        let start = layout.chunk_ciphertext_range(chunks.start)?.start;
        let end = layout.chunk_ciphertext_range(chunks.end - 1)?.end;
        buf.resize(usize::try_from(end - start)?, 0);
        work(chunks, start, buf)
    })
}

/// Runs `work(group, buffer)` for groups `0..groups` on `threads` threads (this one
/// included); each thread takes the next group when it finishes one and keeps its
/// own buffer. After a failure no group past it is started, the groups before it
/// all finish, and the error returned is that of the lowest failing group: the
/// same error whatever the threads' timing.
fn each_group<F>(groups: u64, threads: usize, work: F) -> anyhow::Result<()>
where
    F: Fn(u64, &mut Vec<u8>) -> anyhow::Result<()> + Sync,
{
    let next = AtomicU64::new(0);
    let first_bad = AtomicU64::new(u64::MAX);
    let worker = || -> Option<(u64, anyhow::Error)> {
        let mut buf = Vec::new();
        loop {
            let group = next.fetch_add(1, Ordering::Relaxed);
            if group >= groups || group > first_bad.load(Ordering::Relaxed) {
                return None;
            }
            if let Err(e) = work(group, &mut buf) {
                first_bad.fetch_min(group, Ordering::Relaxed);
                return Some((group, e));
            }
        }
    };
    let spawned = usize::try_from(groups)
        .unwrap_or(usize::MAX)
        .min(threads)
        .saturating_sub(1);
    let failures: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..spawned).map(|_| s.spawn(worker)).collect();
        let mine = worker();
        let others = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        std::iter::once(mine).chain(others).flatten().collect()
    });
    failures
        .into_iter()
        .min_by_key(|(group, _)| *group)
        .map_or(Ok(()), |(_, e)| Err(e))
}

/// Reads at `offset` until `buf` is full or the file ends; returns the bytes read.
fn read_at_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Encrypts the regular file `input` (of the layout's plaintext length) into
/// `output`, written at offsets: the header, then every chunk sealed in place.
///
/// # Errors
/// I/O errors, and a file that shrank or grew while it was read.
pub fn seal_file(
    sealer: &Sealer,
    layout: &Layout,
    input: &File,
    output: &File,
    threads: usize,
) -> anyhow::Result<()> {
    output.write_all_at(sealer.header().as_bytes(), 0)?;
    let len = layout.plaintext_len();
    each_chunk_group(layout, threads, |chunks, start, buf| {
        let mut at = 0;
        for index in chunks {
            let plain = layout.chunk_plaintext_range(index)?;
            let n = usize::try_from(plain.end - plain.start)?;
            let (body, rest) = buf[at..].split_at_mut(n);
            let got = read_at_up_to(input, body, plain.start)?;
            if got < n {
                bail!(
                    "the file shrank while it was read (it ended at {} of {len} bytes); nothing was written",
                    plain.start + got as u64
                );
            }
            rest[..TAG_LEN].copy_from_slice(&sealer.seal_chunk(index, body)?);
            at += n + TAG_LEN;
        }
        output.write_all_at(buf, start)?;
        Ok(())
    })?;
    if read_at_up_to(input, &mut [0u8; 1], len)? != 0 {
        bail!("the file grew while it was read (more than {len} bytes); nothing was written");
    }
    Ok(())
}

/// Decrypts the chunks of the regular file `input` (whose header the opener
/// verified) into `output`, written at offsets. Only chunks that verified are
/// written; the caller must not make `output` visible unless this succeeds.
///
/// # Errors
/// The first damaged chunk in file order ([`Error::Truncated`] if the file ends
/// before its last chunk, [`Error::TrailingData`] if bytes follow it), I/O errors.
pub fn open_file(
    opener: &Opener,
    layout: &Layout,
    input: &File,
    output: &File,
    threads: usize,
) -> anyhow::Result<()> {
    each_chunk_group(layout, threads, |chunks, start, buf| {
        let got = read_at_up_to(input, buf, start)?;
        let mut at = 0;
        for index in chunks {
            let n = usize::try_from(layout.chunk_plaintext_len(index)?)? + TAG_LEN;
            if at + n > got {
                return Err(Error::Truncated.into());
            }
            let chunk = &mut buf[at..at + n];
            let plain = opener.open_chunk(index, layout.is_final(index), chunk)?;
            output.write_all_at(&chunk[..plain], layout.chunk_plaintext_range(index)?.start)?;
            at += n;
        }
        Ok(())
    })?;
    if read_at_up_to(input, &mut [0u8; 1], layout.ciphertext_len())? != 0 {
        return Err(Error::TrailingData.into());
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use cipherdrop_core::{ChunkSize, DataKey, EncryptionContext, Keyring as _, RawAesKeyring};

    use super::*;

    #[test]
    fn the_lowest_failing_group_is_reported_and_every_group_before_it_runs() {
        for threads in 1..=5 {
            for _ in 0..20 {
                let ran = Mutex::new(Vec::new());
                let r = each_group(40, threads, |group, _| {
                    ran.lock().unwrap().push(group);
                    if group == 7 || group == 9 || group == 30 {
                        bail!("group {group}");
                    }
                    Ok(())
                });
                assert_eq!(r.unwrap_err().to_string(), "group 7", "{threads} threads");
                let ran = ran.into_inner().unwrap();
                assert!((0..=7).all(|g| ran.contains(&g)), "{threads}: {ran:?}");
                assert!(!ran.contains(&31), "{threads}: started past a failure");
            }
        }
        assert!(each_group(0, 3, |_, _| bail!("no groups")).is_ok());
    }

    struct Fixture {
        dir: tempfile::TempDir,
        key: DataKey,
        wrapped: Vec<cipherdrop_core::WrappedKey>,
        context: EncryptionContext,
        chunk: ChunkSize,
    }

    impl Fixture {
        fn new() -> Self {
            let key = DataKey::generate().unwrap();
            let context = EncryptionContext::new();
            let wrapped = vec![
                RawAesKeyring::new("t", [7; 32])
                    .wrap(&key, &context)
                    .unwrap(),
            ];
            Self {
                dir: tempfile::tempdir().unwrap(),
                key,
                wrapped,
                context,
                chunk: ChunkSize::new(4096).unwrap(),
            }
        }

        fn file(&self, name: &str, bytes: &[u8]) -> File {
            let path = self.dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .unwrap()
        }

        fn sealer(&self, len: u64) -> Sealer {
            Sealer::new(
                &self.key,
                &self.context,
                &self.wrapped,
                self.chunk,
                Some(len),
            )
            .unwrap()
        }

        fn seal(&self, plain: &[u8], threads: usize) -> Vec<u8> {
            let sealer = self.sealer(plain.len() as u64);
            let out = self.file("sealed", b"");
            let input = self.file("plain", plain);
            seal_file(&sealer, &sealer.layout().unwrap(), &input, &out, threads).unwrap();
            std::fs::read(self.dir.path().join("sealed")).unwrap()
        }

        fn open(&self, sealed: &[u8], threads: usize) -> anyhow::Result<Vec<u8>> {
            let input = self.file("in", sealed);
            let header = cipherdrop_core::io::read_header(&mut &input).unwrap();
            let opener = Opener::new(header, &self.key, &self.context).unwrap();
            let layout = opener.header().layout().unwrap();
            let out = self.file("opened", b"");
            open_file(&opener, &layout, &input, &out, threads)?;
            Ok(std::fs::read(self.dir.path().join("opened")).unwrap())
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| u8::try_from(i * 31 % 251).unwrap())
            .collect()
    }

    #[test]
    fn files_round_trip_at_offsets_on_any_number_of_threads() {
        let f = Fixture::new();
        // Empty, one chunk, exactly one group, and several groups with a short last chunk.
        for len in [0, 1, 4096, 1 << 20, (3 << 20) + 123] {
            let plain = data(len);
            for threads in [1, 2, 7] {
                let sealed = f.seal(&plain, threads);
                assert_eq!(
                    sealed.len() as u64,
                    f.sealer(len as u64).layout().unwrap().ciphertext_len()
                );
                assert!(
                    f.open(&sealed, threads).unwrap() == plain,
                    "{len} {threads}"
                );
                // The stream reader agrees with what was written at offsets.
                let mut stream = Opener::new(
                    cipherdrop_core::io::read_header(&mut &sealed[..]).unwrap(),
                    &f.key,
                    &f.context,
                )
                .unwrap()
                .into_stream();
                let mut out = Vec::new();
                let header_len = stream.header().len();
                stream.push(&sealed[header_len..], &mut out).unwrap();
                stream.finish(&mut out).unwrap();
                assert!(out == plain);
            }
        }
    }

    #[test]
    fn a_file_that_changes_length_while_sealed_is_refused() {
        let f = Fixture::new();
        let out = f.file("out", b"");
        let short = f.file("short", &data(10_000));
        let sealer = f.sealer(3 << 20);
        let e = seal_file(&sealer, &sealer.layout().unwrap(), &short, &out, 2).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the file shrank while it was read (it ended at 10000 of"),
            "{e}"
        );
        let long = f.file("long", &data(10_001));
        let sealer = f.sealer(10_000);
        let e = seal_file(&sealer, &sealer.layout().unwrap(), &long, &out, 2).unwrap_err();
        assert!(
            e.to_string().starts_with("the file grew while it was read"),
            "{e}"
        );
    }

    #[test]
    fn the_first_damage_in_file_order_is_reported_whatever_the_threads() {
        let f = Fixture::new();
        let plain = data(3 << 20);
        let sealed = f.seal(&plain, 2);
        let header_len = cipherdrop_core::io::read_header(&mut &sealed[..])
            .unwrap()
            .len();
        let stride = 4096 + TAG_LEN;
        let code = |r: anyhow::Result<Vec<u8>>| r.unwrap_err().downcast::<Error>().unwrap().code();
        for threads in [1, 2, 4] {
            // A changed chunk in the first group, and the file cut in the last.
            let mut bad = sealed[..sealed.len() - 5000].to_vec();
            bad[header_len + 10 * stride + 3] ^= 1;
            assert_eq!(code(f.open(&bad, threads)), "DECRYPTION_FAILED");
            // Cut in the second group: truncated, though the third is missing too.
            let cut = sealed[..header_len + 300 * stride + 7].to_vec();
            assert_eq!(code(f.open(&cut, threads)), "TRUNCATED");
            // Whole and one byte more.
            let mut long = sealed.clone();
            long.push(0);
            assert_eq!(code(f.open(&long, threads)), "TRAILING_DATA");
            // Two chunks swapped in the last group.
            let mut swapped = sealed.clone();
            let a = header_len + 600 * stride;
            let (x, y) = swapped[a..a + 2 * stride].split_at_mut(stride);
            x.swap_with_slice(y);
            assert_eq!(code(f.open(&swapped, threads)), "DECRYPTION_FAILED");
        }
    }
}
