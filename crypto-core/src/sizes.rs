//! Exact size arithmetic: chunk size, ciphertext length from plaintext length and
//! back, byte ranges to chunk ranges, and multipart part plans.
//!
//! A file of plaintext length `L` with chunk size `C` has `n = max(1, ceil(L / C))`
//! chunks; every chunk but the last holds exactly `C` bytes, the last holds
//! `L - (n - 1) C` bytes (1..=C, or 0 only when `L = 0`), and each carries a
//! 16-byte tag. So `ciphertext = header + L + 16 n`.

use alloc::vec::Vec;
use core::ops::Range;

use crate::{Error, Result};

/// Length of an AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Most chunks a file may have (the nonce counter's range).
pub const MAX_CHUNKS: u64 = 1 << 32;
/// S3's smallest part (all parts but the last).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's most parts per upload.
pub const MAX_PARTS: u64 = 10_000;
/// Default ciphertext bytes per multipart part (rounded up to whole chunks).
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;

/// Plaintext bytes per chunk: a power of two from 4 KiB to 16 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkSize(u32);

impl ChunkSize {
    /// Smallest chunk size (4 KiB).
    pub const MIN: Self = Self(4 * 1024);
    /// Largest chunk size (16 MiB).
    pub const MAX: Self = Self(16 * 1024 * 1024);
    /// The default, 256 KiB: the fastest WebCrypto chunk size measured, and well
    /// above the size where per-chunk overhead matters natively (see FORMAT.md).
    pub const DEFAULT: Self = Self(256 * 1024);

    /// Validates a chunk size.
    ///
    /// # Errors
    /// [`Error::InvalidChunkSize`] unless a power of two in 4 KiB..=16 MiB.
    pub const fn new(bytes: u32) -> Result<Self> {
        if bytes.is_power_of_two() && bytes >= Self::MIN.0 && bytes <= Self::MAX.0 {
            Ok(Self(bytes))
        } else {
            Err(Error::InvalidChunkSize(bytes as u64))
        }
    }

    /// Validates a chunk size given as a `u64` (from a command line, say).
    ///
    /// # Errors
    /// As [`ChunkSize::new`].
    pub fn from_u64(bytes: u64) -> Result<Self> {
        u32::try_from(bytes)
            .map_err(|_| Error::InvalidChunkSize(bytes))
            .and_then(Self::new)
    }

    /// The size in bytes.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The size in bytes as `u64`.
    #[must_use]
    pub const fn bytes(self) -> u64 {
        self.0 as u64
    }

    /// Ciphertext bytes of a full chunk (size + tag).
    #[must_use]
    pub const fn sealed(self) -> u64 {
        self.0 as u64 + TAG_LEN as u64
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where every chunk of one file lies. Built from a header (see
/// [`crate::Header::layout`]) or from lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    header_len: u64,
    chunk_size: ChunkSize,
    plaintext_len: u64,
    chunks: u64,
}

/// Number of chunks for `plaintext_len` bytes.
///
/// # Errors
/// [`Error::TooLarge`] beyond 2^32 chunks.
pub fn chunk_count(plaintext_len: u64, chunk_size: ChunkSize) -> Result<u64> {
    let n = plaintext_len.div_ceil(chunk_size.bytes()).max(1);
    if n > MAX_CHUNKS {
        Err(Error::TooLarge)
    } else {
        Ok(n)
    }
}

/// Ciphertext length of a file: `header_len + plaintext_len + 16 * chunks`.
///
/// # Errors
/// [`Error::TooLarge`] beyond 2^32 chunks.
pub fn ciphertext_len(header_len: u64, plaintext_len: u64, chunk_size: ChunkSize) -> Result<u64> {
    Layout::new(header_len, chunk_size, plaintext_len).map(|l| l.ciphertext_len())
}

/// Plaintext length of a file of `ciphertext_len` bytes.
///
/// # Errors
/// [`Error::Truncated`] when no plaintext length gives this ciphertext length.
pub fn plaintext_len(header_len: u64, ciphertext_len: u64, chunk_size: ChunkSize) -> Result<u64> {
    Layout::from_ciphertext_len(header_len, chunk_size, ciphertext_len).map(|l| l.plaintext_len())
}

impl Layout {
    /// The layout of a file with this header length, chunk size and plaintext length.
    ///
    /// # Errors
    /// [`Error::TooLarge`] beyond 2^32 chunks.
    pub fn new(header_len: u64, chunk_size: ChunkSize, plaintext_len: u64) -> Result<Self> {
        let chunks = chunk_count(plaintext_len, chunk_size)?;
        // header (< 64 KiB) + L + 16 * 2^32 fits in u64 unless L is near u64::MAX.
        plaintext_len
            .checked_add(header_len)
            .and_then(|n| n.checked_add(chunks * TAG_LEN as u64))
            .ok_or(Error::TooLarge)?;
        Ok(Self {
            header_len,
            chunk_size,
            plaintext_len,
            chunks,
        })
    }

    /// The layout implied by a total file length.
    ///
    /// # Errors
    /// [`Error::Truncated`] when the length is impossible for this chunk size.
    pub fn from_ciphertext_len(
        header_len: u64,
        chunk_size: ChunkSize,
        ciphertext_len: u64,
    ) -> Result<Self> {
        let body = ciphertext_len
            .checked_sub(header_len)
            .ok_or(Error::Truncated)?;
        let full = chunk_size.sealed();
        let (k, rem) = (body / full, body % full);
        let tag = TAG_LEN as u64;
        let plaintext_len = match (k, rem) {
            (0, r) if r == tag => 0,
            (0, r) if r < tag => return Err(Error::Truncated),
            (_, 0) => body - k * tag,
            // A partial tag, or an empty final chunk after full ones: cannot be written.
            (_, r) if r <= tag => return Err(Error::Truncated),
            (_, _) => body - (k + 1) * tag,
        };
        Self::new(header_len, chunk_size, plaintext_len)
    }

    /// Header length.
    #[must_use]
    pub const fn header_len(&self) -> u64 {
        self.header_len
    }

    /// Chunk size.
    #[must_use]
    pub const fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    /// Plaintext length.
    #[must_use]
    pub const fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Number of chunks (at least 1).
    #[must_use]
    pub const fn chunk_count(&self) -> u64 {
        self.chunks
    }

    /// Total ciphertext length, header included.
    #[must_use]
    pub const fn ciphertext_len(&self) -> u64 {
        self.header_len + self.plaintext_len + self.chunks * TAG_LEN as u64
    }

    /// True for the last chunk.
    #[must_use]
    pub const fn is_final(&self, index: u64) -> bool {
        index + 1 == self.chunks
    }

    /// Plaintext bytes in chunk `index`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] past the last chunk.
    pub fn chunk_plaintext_len(&self, index: u64) -> Result<u64> {
        if index >= self.chunks {
            return Err(Error::OutOfRange);
        }
        if self.is_final(index) {
            Ok(self.plaintext_len - index * self.chunk_size.bytes())
        } else {
            Ok(self.chunk_size.bytes())
        }
    }

    /// Plaintext byte range of chunk `index`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] past the last chunk.
    pub fn chunk_plaintext_range(&self, index: u64) -> Result<Range<u64>> {
        let start = index * self.chunk_size.bytes();
        Ok(start..start + self.chunk_plaintext_len(index)?)
    }

    /// Byte range of chunk `index` (ciphertext and tag) within the file.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] past the last chunk.
    pub fn chunk_ciphertext_range(&self, index: u64) -> Result<Range<u64>> {
        let len = self.chunk_plaintext_len(index)? + TAG_LEN as u64;
        let start = self.header_len + index * self.chunk_size.sealed();
        Ok(start..start + len)
    }

    /// The chunks that hold plaintext bytes `range` (a non-empty range within the file).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for an empty range or one past the end.
    pub fn chunks_for_plaintext_range(&self, range: Range<u64>) -> Result<Range<u64>> {
        if range.start >= range.end || range.end > self.plaintext_len {
            return Err(Error::OutOfRange);
        }
        let cs = self.chunk_size.bytes();
        Ok(range.start / cs..(range.end - 1) / cs + 1)
    }

    /// The ciphertext bytes to fetch (an HTTP `Range`) to read plaintext `range`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for an empty range or one past the end.
    pub fn ciphertext_range_for_plaintext(&self, range: Range<u64>) -> Result<Range<u64>> {
        let chunks = self.chunks_for_plaintext_range(range)?;
        let first = self.chunk_ciphertext_range(chunks.start)?;
        let last = self.chunk_ciphertext_range(chunks.end - 1)?;
        Ok(first.start..last.end)
    }

    /// Cuts the file into S3 multipart parts of whole chunks: every part but the
    /// last at least 5 MiB (and about `target_part_size`), at most 10,000 parts,
    /// none over 5 GiB. The header goes at the start of part 1.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the file cannot fit in 10,000 parts of 5 GiB.
    pub fn plan_parts(&self, target_part_size: u64) -> Result<Vec<Part>> {
        let sealed = self.chunk_size.sealed();
        let target = target_part_size.max(MIN_PART_SIZE);
        let mut per_part = target.div_ceil(sealed).max(1);
        per_part = per_part.max(self.chunks.div_ceil(MAX_PARTS));
        if per_part * sealed + self.header_len > MAX_PART_SIZE {
            return Err(Error::TooLarge);
        }
        let count = self.chunks.div_ceil(per_part);
        let mut parts = Vec::with_capacity(usize::try_from(count).map_err(|_| Error::TooLarge)?);
        for p in 0..count {
            let first = p * per_part;
            let end = (first + per_part).min(self.chunks);
            let start_off = if p == 0 {
                0
            } else {
                self.chunk_ciphertext_range(first)?.start
            };
            let end_off = self.chunk_ciphertext_range(end - 1)?.end;
            parts.push(Part {
                number: u32::try_from(p + 1).map_err(|_| Error::TooLarge)?,
                chunks: first..end,
                ciphertext: start_off..end_off,
                plaintext: first * self.chunk_size.bytes()
                    ..self.chunk_plaintext_range(end - 1)?.end,
            });
        }
        Ok(parts)
    }
}

/// One multipart part: a whole number of chunks (and the header, for part 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// S3 part number, from 1.
    pub number: u32,
    /// Chunk indices in this part.
    pub chunks: Range<u64>,
    /// Ciphertext byte range of this part within the object.
    pub ciphertext: Range<u64>,
    /// Plaintext byte range it encrypts.
    pub plaintext: Range<u64>,
}

impl Part {
    /// Ciphertext bytes in this part (its `Content-Length`).
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.ciphertext.end - self.ciphertext.start
    }

    /// Always false: a part holds at least one chunk's tag.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.ciphertext.end == self.ciphertext.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CS: ChunkSize = ChunkSize::MIN;

    #[test]
    fn chunk_size_limits() {
        assert!(ChunkSize::new(4096).is_ok());
        assert!(ChunkSize::new(16 << 20).is_ok());
        assert_eq!(ChunkSize::new(2048), Err(Error::InvalidChunkSize(2048)));
        assert_eq!(
            ChunkSize::new(32 << 20),
            Err(Error::InvalidChunkSize(32 << 20))
        );
        assert_eq!(ChunkSize::new(5000), Err(Error::InvalidChunkSize(5000)));
        assert!(ChunkSize::from_u64(1 << 40).is_err());
    }

    #[test]
    fn lengths_round_trip_at_the_boundaries() {
        for l in [
            0,
            1,
            4095,
            4096,
            4097,
            8191,
            8192,
            8193,
            3 * 4096,
            1_000_000,
        ] {
            let ct = ciphertext_len(100, l, CS).expect("fits");
            assert_eq!(plaintext_len(100, ct, CS), Ok(l), "L={l}");
        }
        assert_eq!(ciphertext_len(100, 0, CS), Ok(116));
        assert_eq!(ciphertext_len(100, 4096, CS), Ok(100 + 4096 + 16));
        assert_eq!(ciphertext_len(100, 4097, CS), Ok(100 + 4097 + 32));
    }

    #[test]
    fn impossible_lengths_are_refused() {
        assert_eq!(plaintext_len(100, 99, CS), Err(Error::Truncated));
        assert_eq!(plaintext_len(100, 115, CS), Err(Error::Truncated));
        // a full chunk followed by an empty one cannot be written
        assert_eq!(
            plaintext_len(100, 100 + 4112 + 16, CS),
            Err(Error::Truncated)
        );
        assert_eq!(
            plaintext_len(100, 100 + 4112 + 5, CS),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn too_many_chunks() {
        assert_eq!(chunk_count(MAX_CHUNKS * 4096, CS), Ok(MAX_CHUNKS));
        assert_eq!(chunk_count(MAX_CHUNKS * 4096 + 1, CS), Err(Error::TooLarge));
        assert!(Layout::new(100, CS, u64::MAX - 10).is_err());
    }

    #[test]
    fn ranges() {
        let l = Layout::new(100, CS, 10_000).expect("fits");
        assert_eq!(l.chunk_count(), 3);
        assert_eq!(l.chunk_plaintext_len(2), Ok(10_000 - 8192));
        assert_eq!(l.chunks_for_plaintext_range(0..1), Ok(0..1));
        assert_eq!(l.chunks_for_plaintext_range(4095..4097), Ok(0..2));
        assert_eq!(l.chunks_for_plaintext_range(8192..10_000), Ok(2..3));
        assert_eq!(
            l.ciphertext_range_for_plaintext(4096..4097),
            Ok(100 + 4112..100 + 2 * 4112)
        );
        assert_eq!(l.chunks_for_plaintext_range(5..5), Err(Error::OutOfRange));
        assert_eq!(
            l.chunks_for_plaintext_range(0..10_001),
            Err(Error::OutOfRange)
        );
        assert_eq!(l.chunk_ciphertext_range(3), Err(Error::OutOfRange));
    }

    #[test]
    fn parts_cover_the_file_with_whole_chunks() {
        let cs = ChunkSize::DEFAULT;
        for len in [0, 1, 5 << 20, 17 << 20, (100 << 20) + 3] {
            let l = Layout::new(300, cs, len).expect("fits");
            let parts = l.plan_parts(DEFAULT_PART_SIZE).expect("plans");
            assert_eq!(parts[0].ciphertext.start, 0);
            assert_eq!(
                parts.last().map(|p| p.ciphertext.end),
                Some(l.ciphertext_len())
            );
            for w in parts.windows(2) {
                assert_eq!(w[0].ciphertext.end, w[1].ciphertext.start);
                assert_eq!(w[0].chunks.end, w[1].chunks.start);
                assert!(w[0].len() >= MIN_PART_SIZE);
            }
        }
    }

    #[test]
    fn parts_stay_under_ten_thousand() {
        let l = Layout::new(300, ChunkSize::MIN, 200 << 30).expect("fits");
        let parts = l.plan_parts(MIN_PART_SIZE).expect("plans");
        assert!(parts.len() as u64 <= MAX_PARTS, "{}", parts.len());
        assert!(parts.iter().all(|p| p.len() <= MAX_PART_SIZE));
    }
}
