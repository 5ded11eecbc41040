//! Chunked AES-256-GCM (STREAM): sealing and opening, chunk by chunk or as a stream.
//!
//! Chunk `i` is sealed with the content key and the nonce
//! `0x000000 || i as u64 big-endian || final flag` (12 bytes; the flag is 1 on the
//! last chunk only), no AAD. Nonces are unique by construction, a file has exactly
//! one final chunk, and a chunk moved to another position or file fails its tag.
//!
//! [`Sealer`] and [`Opener`] work on single chunks in any order (parallel parts,
//! random access). [`StreamSealer`] and [`StreamOpener`] are push-style streams that
//! need no `std::io`: they emit a chunk's plaintext only after its tag verifies, and
//! report success only after the final chunk verifies.

use alloc::vec::Vec;

use zeroize::Zeroize;

use crate::cipher::ContentCipher;
use crate::header::{Header, UNKNOWN_LENGTH};
use crate::kdf::{DerivedKeys, MESSAGE_ID_LEN, ObjectKeys};
use crate::keyring::{Keyring, WrappedKey};
use crate::sizes::{ChunkSize, Layout, MAX_CHUNKS, TAG_LEN};
use crate::{DataKey, EncryptionContext, Error, Result};

/// The 12-byte nonce of chunk `index`.
#[must_use]
pub fn chunk_nonce(index: u64, is_final: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(is_final);
    n
}

/// Seals the chunks of one object. Create one per object: each gets a fresh
/// random message id and so its own content key.
///
/// Sealing the same index twice with different plaintext would reuse a nonce:
/// retry a failed upload by resending the same ciphertext, or start a new `Sealer`.
pub struct Sealer {
    keys: ObjectKeys,
    cipher: ContentCipher,
    header: Header,
}

impl core::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sealer")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer with a random message id.
    ///
    /// `plaintext_len` is recorded in the header when known (it must be for
    /// [`Sealer::seal_chunk`]); `None` is for streams of unknown length.
    ///
    /// # Errors
    /// [`Error::Randomness`], or the header's limits ([`Error::InvalidWrappedKey`],
    /// [`Error::LimitExceeded`], [`Error::TooLarge`]).
    #[cfg(feature = "getrandom")]
    pub fn new(
        data_key: &DataKey,
        context: &EncryptionContext,
        wrapped_keys: &[WrappedKey],
        chunk_size: ChunkSize,
        plaintext_len: Option<u64>,
    ) -> Result<Self> {
        let mut id = [0u8; MESSAGE_ID_LEN];
        crate::fill_random(&mut id)?;
        Self::with_message_id(
            data_key,
            context,
            wrapped_keys,
            chunk_size,
            plaintext_len,
            id,
        )
    }

    /// A sealer with a caller-chosen message id. Only for known-answer tests: a
    /// message id must never repeat under one data key.
    ///
    /// # Errors
    /// As [`Sealer::new`].
    pub fn with_message_id(
        data_key: &DataKey,
        context: &EncryptionContext,
        wrapped_keys: &[WrappedKey],
        chunk_size: ChunkSize,
        plaintext_len: Option<u64>,
        message_id: [u8; MESSAGE_ID_LEN],
    ) -> Result<Self> {
        let keys = DerivedKeys::derive(data_key, &message_id);
        let header = Header::build(
            chunk_size,
            plaintext_len,
            message_id,
            context,
            wrapped_keys,
            &keys,
        )?;
        let keys = keys.object_keys();
        let cipher = keys.content_cipher();
        Ok(Self {
            keys,
            cipher,
            header,
        })
    }

    /// A sealer that goes on with the object `header` starts: for resuming an
    /// interrupted upload, so the chunks not yet stored can be sealed after a restart.
    /// The header is checked as [`Opener::new`] checks it (context, commitment, tag),
    /// so only the holder of its data key can resume it.
    ///
    /// Chunk *i* is sealed under the same nonce as before: resealing it gives the same
    /// ciphertext only for the same plaintext. The caller must make sure the input is
    /// the same file (and seal only chunks that never reached storage).
    ///
    /// # Errors
    /// As [`Opener::new`].
    pub fn resume(
        header: Header,
        data_key: &DataKey,
        expected: &EncryptionContext,
    ) -> Result<Self> {
        let Opener {
            keys,
            cipher,
            header,
        } = Opener::new(header, data_key, expected)?;
        Ok(Self {
            keys,
            cipher,
            header,
        })
    }

    /// A sealer for the object `header` starts, from its [`ObjectKeys`] (a browser
    /// that was given the header and the object's keys, never the data key). The
    /// header tag is checked; the commitment cannot be without the data key, so
    /// whoever derived `keys` vouches for it.
    ///
    /// # Errors
    /// [`Error::HeaderAuthFailed`] when the keys are not this header's.
    pub fn with_object_keys(header: Header, keys: &ObjectKeys) -> Result<Self> {
        header.verify_tag(keys.header_key())?;
        Ok(Self {
            keys: keys.clone(),
            cipher: keys.content_cipher(),
            header,
        })
    }

    /// This object's content and header keys (to hand to a browser in place of the
    /// data key). Never log them.
    #[must_use]
    pub const fn object_keys(&self) -> &ObjectKeys {
        &self.keys
    }

    /// The header that starts the file.
    #[must_use]
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// The chunk layout (when the plaintext length was given).
    #[must_use]
    pub fn layout(&self) -> Option<Layout> {
        self.header.layout()
    }

    /// The content key, for hosts that seal with another AES-GCM implementation
    /// (WebCrypto). Never log it.
    #[must_use]
    pub const fn content_key(&self) -> &[u8; 32] {
        self.keys.content_key()
    }

    /// Seals chunk `index` in place and returns its tag; the chunk's ciphertext
    /// is `chunk || tag`. Chunks may be sealed in any order, from several threads.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the plaintext length was not recorded or
    /// `chunk` is not exactly that chunk's length; [`Error::OutOfRange`] past the end.
    pub fn seal_chunk(&self, index: u64, chunk: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        let layout = self.layout().ok_or(Error::LengthMismatch {
            declared: UNKNOWN_LENGTH,
            actual: 0,
        })?;
        let want = layout.chunk_plaintext_len(index)?;
        if chunk.len() as u64 != want {
            return Err(Error::LengthMismatch {
                declared: want,
                actual: chunk.len() as u64,
            });
        }
        Ok(seal(&self.cipher, index, layout.is_final(index), chunk))
    }

    /// Seals chunk `index` of `plaintext` and appends `ciphertext || tag` to `out`.
    ///
    /// # Errors
    /// As [`Sealer::seal_chunk`].
    pub fn seal_chunk_into(&self, index: u64, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        match self.seal_chunk(index, &mut out[start..]) {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Turns this sealer into a push-style stream.
    #[must_use]
    pub fn into_stream(self) -> StreamSealer {
        StreamSealer {
            sealer: self,
            pending: Vec::new(),
            next: 0,
            consumed: 0,
            header_written: false,
        }
    }
}

fn seal(cipher: &ContentCipher, index: u64, is_final: bool, chunk: &mut [u8]) -> [u8; TAG_LEN] {
    cipher.seal(chunk_nonce(index, is_final), chunk)
}

/// Opens the chunks of one object after checking its header.
pub struct Opener {
    keys: ObjectKeys,
    cipher: ContentCipher,
    header: Header,
}

impl core::fmt::Debug for Opener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opener")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// Checks, in this order, that the header's context is `expected`, that the data
    /// key matches the key commitment (constant time), and that the header tag
    /// verifies. Nothing is decrypted before all three pass.
    ///
    /// # Errors
    /// [`Error::ContextMismatch`], [`Error::CommitmentMismatch`] or
    /// [`Error::HeaderAuthFailed`].
    pub fn new(header: Header, data_key: &DataKey, expected: &EncryptionContext) -> Result<Self> {
        if header.context() != expected {
            return Err(Error::ContextMismatch);
        }
        let keys = DerivedKeys::derive(data_key, header.message_id());
        keys.verify_commitment(header.commitment())?;
        header.verify_tag(keys.header_key())?;
        let keys = keys.object_keys();
        let cipher = keys.content_cipher();
        Ok(Self {
            keys,
            cipher,
            header,
        })
    }

    /// Unwraps the data key with `keyring` (after checking the context) and calls
    /// [`Opener::new`].
    ///
    /// # Errors
    /// [`Error::ContextMismatch`], [`Error::WrongKey`], or as [`Opener::new`]; with a
    /// guessable keyring (a passphrase), a data key that fails the commitment is
    /// [`Error::WrongKey`] too.
    pub fn with_keyring(
        header: Header,
        keyring: &dyn Keyring,
        expected: &EncryptionContext,
    ) -> Result<Self> {
        if header.context() != expected {
            return Err(Error::ContextMismatch);
        }
        let data_key = keyring.unwrap(header.wrapped_keys(), expected)?;
        Self::new(header, &data_key, expected).map_err(|e| match e {
            // A guessable key (a passphrase) gets one answer for every wrong guess
            // (FORMAT.md 2.4): no error may tell a crafted header which guess opened.
            Error::CommitmentMismatch if keyring.is_guessable() => Error::WrongKey,
            e => e,
        })
    }

    /// Checks, in this order, that the header's context is `expected` and that
    /// its tag verifies under `keys` (an object's keys from a server that checked
    /// the data key against the commitment; see [`ObjectKeys`]).
    ///
    /// # Errors
    /// [`Error::ContextMismatch`] or [`Error::HeaderAuthFailed`].
    pub fn with_object_keys(
        header: Header,
        keys: &ObjectKeys,
        expected: &EncryptionContext,
    ) -> Result<Self> {
        if header.context() != expected {
            return Err(Error::ContextMismatch);
        }
        header.verify_tag(keys.header_key())?;
        Ok(Self {
            keys: keys.clone(),
            cipher: keys.content_cipher(),
            header,
        })
    }

    /// This object's content and header keys, checked against the header's
    /// commitment and tag when this opener was made from a data key. Never log them.
    #[must_use]
    pub const fn object_keys(&self) -> &ObjectKeys {
        &self.keys
    }

    /// The verified header.
    #[must_use]
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// The content key, for hosts that open chunks with another AES-GCM
    /// implementation (WebCrypto). Never log it.
    #[must_use]
    pub const fn content_key(&self) -> &[u8; 32] {
        self.keys.content_key()
    }

    /// Opens one chunk in place: `chunk` is `ciphertext || tag`; on success the
    /// plaintext is `chunk[..n]` with `n` returned. On failure the buffer is zeroed.
    /// Use [`Layout::is_final`] for `is_final`.
    ///
    /// # Errors
    /// [`Error::Truncated`] when shorter than a tag, [`Error::LimitExceeded`] when
    /// longer than a chunk, [`Error::DecryptionFailed`] when the tag does not verify.
    pub fn open_chunk(&self, index: u64, is_final: bool, chunk: &mut [u8]) -> Result<usize> {
        open(
            &self.cipher,
            self.header.chunk_size(),
            index,
            is_final,
            chunk,
        )
    }

    /// Turns this opener into a push-style stream.
    #[must_use]
    pub fn into_stream(self) -> StreamOpener {
        let layout = self.header.layout();
        StreamOpener {
            opener: self,
            layout,
            pending: Vec::new(),
            next: 0,
            done: false,
            failed: None,
        }
    }
}

fn open(
    cipher: &ContentCipher,
    cs: ChunkSize,
    index: u64,
    is_final: bool,
    chunk: &mut [u8],
) -> Result<usize> {
    let n = chunk.len().checked_sub(TAG_LEN).ok_or(Error::Truncated)?;
    if n as u64 > cs.bytes() {
        return Err(Error::LimitExceeded(
            "a chunk is longer than the chunk size",
        ));
    }
    // Indexes run 0 ..= 2^32 - 1, so a chunk at the last index must be the final
    // one: a non-final chunk there means the input holds more than 2^32 chunks.
    if index >= MAX_CHUNKS || (index == MAX_CHUNKS - 1 && !is_final) {
        return Err(Error::TooLarge);
    }
    if cipher.open(chunk_nonce(index, is_final), chunk) {
        Ok(n)
    } else {
        chunk[..n].zeroize();
        Err(Error::DecryptionFailed)
    }
}

/// Push-style encryption: feed plaintext, collect the file (header first).
#[derive(Debug)]
pub struct StreamSealer {
    sealer: Sealer,
    pending: Vec<u8>,
    next: u64,
    consumed: u64,
    header_written: bool,
}

impl StreamSealer {
    /// The header (also written to `out` by the first `push` or `finish`).
    #[must_use]
    pub const fn header(&self) -> &Header {
        &self.sealer.header
    }

    /// Encrypts what can be encrypted of `input`, appending to `out`. A chunk is
    /// held back until it is known not to be the last.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] past the declared length; [`Error::TooLarge`] past
    /// 2^32 chunks.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.write_header(out);
        let declared = self.sealer.header.plaintext_len();
        self.consumed += input.len() as u64;
        if let Some(d) = declared.filter(|d| self.consumed > *d) {
            return Err(Error::LengthMismatch {
                declared: d,
                actual: self.consumed,
            });
        }
        let cs = self.sealer.header.chunk_size().bytes();
        let cs_usize = usize::try_from(cs).expect("chunk size <= 16 MiB");
        // A chunk is sealed as non-final once more bytes than a chunk are at hand
        // (or, with a declared length, once it is known not to be the last).
        while self.pending.len() + input.len() > cs_usize {
            let from_pending = self.pending.len();
            let take = cs_usize - from_pending;
            if self.next >= MAX_CHUNKS - 1 {
                return Err(Error::TooLarge);
            }
            let start = out.len();
            out.extend_from_slice(&self.pending);
            out.extend_from_slice(&input[..take]);
            input = &input[take..];
            self.pending.clear();
            let tag = seal(&self.sealer.cipher, self.next, false, &mut out[start..]);
            out.extend_from_slice(&tag);
            self.next += 1;
        }
        self.pending.extend_from_slice(input);
        Ok(())
    }

    /// Seals the final chunk. Consumes the stream: nothing can follow.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when fewer bytes than declared were pushed.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        self.write_header(out);
        if let Some(d) = self
            .sealer
            .header
            .plaintext_len()
            .filter(|d| *d != self.consumed)
        {
            return Err(Error::LengthMismatch {
                declared: d,
                actual: self.consumed,
            });
        }
        let start = out.len();
        out.extend_from_slice(&self.pending);
        self.pending.zeroize();
        let tag = seal(&self.sealer.cipher, self.next, true, &mut out[start..]);
        out.extend_from_slice(&tag);
        Ok(())
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            out.extend_from_slice(self.sealer.header.as_bytes());
            self.header_written = true;
        }
    }
}

impl Drop for StreamSealer {
    fn drop(&mut self) {
        self.pending.zeroize();
    }
}

/// Push-style decryption of the chunks after the header: feed ciphertext, collect
/// verified plaintext. A chunk's plaintext is appended only after its tag verifies;
/// after an error the stream refuses further input.
#[derive(Debug)]
pub struct StreamOpener {
    opener: Opener,
    layout: Option<Layout>,
    pending: Vec<u8>,
    next: u64,
    done: bool,
    failed: Option<Error>,
}

impl StreamOpener {
    /// The verified header.
    #[must_use]
    pub const fn header(&self) -> &Header {
        &self.opener.header
    }

    /// Index of the next chunk to open (= chunks verified so far).
    #[must_use]
    pub const fn chunks_verified(&self) -> u64 {
        self.next
    }

    /// Opens every complete chunk in `input` (after any bytes held from earlier
    /// calls), appending verified plaintext to `out`.
    ///
    /// # Errors
    /// [`Error::DecryptionFailed`] for a damaged, moved or foreign chunk;
    /// [`Error::TrailingData`] for bytes after the final chunk. After an error every
    /// later call fails too.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return if input.is_empty() {
                Ok(())
            } else {
                Err(self.fail(Error::TrailingData))
            };
        }
        let cs = self.opener.header.chunk_size();
        loop {
            let avail = self.pending.len() + input.len();
            let (need, is_final) = match self.layout {
                Some(l) => {
                    if self.next >= l.chunk_count() {
                        if avail > 0 {
                            return Err(self.fail(Error::TrailingData));
                        }
                        break;
                    }
                    let need =
                        l.chunk_plaintext_len(self.next).expect("index checked") + TAG_LEN as u64;
                    (
                        usize::try_from(need).expect("<= 16 MiB + 16"),
                        l.is_final(self.next),
                    )
                }
                // Unknown length: a full chunk is non-final once a byte follows it.
                None => (usize::try_from(cs.sealed()).expect("<= 16 MiB + 16"), false),
            };
            if avail < need || (self.layout.is_none() && avail == need) {
                break;
            }
            if self.pending.is_empty() {
                let (c, rest) = input.split_at(need);
                input = rest;
                self.open_into(c, &[], is_final, out)?;
            } else {
                // Join the held bytes and the new ones straight into `out`; the
                // pending buffer keeps its allocation for the next partial chunk.
                let take = need - self.pending.len();
                let head = core::mem::take(&mut self.pending);
                let r = self.open_into(&head, &input[..take], is_final, out);
                input = &input[take..];
                self.pending = head;
                self.pending.clear();
                r?;
            }
            if is_final {
                self.done = true;
            }
        }
        self.pending.extend_from_slice(input);
        Ok(())
    }

    /// Ends the stream: opens the final chunk when the length was not recorded, and
    /// succeeds only once the final chunk has verified and nothing follows it.
    ///
    /// # Errors
    /// [`Error::Truncated`] when the input ended before the final chunk;
    /// [`Error::DecryptionFailed`] when the last chunk does not verify.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.done {
            return Ok(());
        }
        if self.layout.is_some() || self.pending.len() < TAG_LEN {
            return Err(Error::Truncated);
        }
        if self.pending.len() == TAG_LEN && self.next > 0 {
            // An empty final chunk only exists in an empty file.
            return Err(Error::Truncated);
        }
        let chunk = core::mem::take(&mut self.pending);
        self.open_into(&chunk, &[], true, out)
    }

    /// Opens the chunk `head || tail` into `out`.
    fn open_into(
        &mut self,
        head: &[u8],
        tail: &[u8],
        is_final: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(head);
        out.extend_from_slice(tail);
        let cs = self.opener.header.chunk_size();
        match open(
            &self.opener.cipher,
            cs,
            self.next,
            is_final,
            &mut out[start..],
        ) {
            Ok(n) => {
                out.truncate(start + n);
                self.next += 1;
                Ok(())
            }
            Err(e) => {
                out[start..].zeroize();
                out.truncate(start);
                // Say why, where the bytes allow it: a chunk that opens with the
                // other final flag means the file was cut or extended here.
                let mut probe = [head, tail].concat();
                let other = open(&self.opener.cipher, cs, self.next, !is_final, &mut probe).is_ok();
                probe.zeroize();
                let e = match (e, other) {
                    (Error::DecryptionFailed, true) if is_final => Error::Truncated,
                    (Error::DecryptionFailed, true) => Error::TrailingData,
                    (e, _) => e,
                };
                Err(self.fail(e))
            }
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.pending.zeroize();
        self.pending.clear();
        // Poisoned: every later push or finish repeats this error.
        self.failed = Some(e.clone());
        e
    }
}
