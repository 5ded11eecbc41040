//! The header: everything a reader needs before the first chunk, all of it
//! authenticated.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "CIPHDROP"
//!      8     1  version (1)
//!      9     2  suite id (0x0001: AES-256-GCM, HKDF-SHA-512, committing)
//!     11     4  header length, this field's bytes and the tag included
//!     15     4  chunk size (power of two, 4 KiB ..= 16 MiB)
//!     19     8  plaintext length, or 0xFFFF_FFFF_FFFF_FFFF when not recorded
//!     27    32  message id (HKDF salt)
//!     59     -  encryption context (canonical encoding)
//!      -     -  u16 count (1..=16) x wrapped key { u16+provider id, u16+info, u16+blob }
//!      -    32  key commitment
//!      -    32  header tag = HMAC-SHA-256(header_key, all bytes above)
//! ```
//!
//! The tag is a MAC without a nonce, so it can be computed again when the
//! wrapped-key list changes (re-wrapping) without weakening it; GMAC under a
//! fixed nonce would give away its GHASH key at the second tag.
//!
//! Every length is checked against its cap and the bytes at hand before anything is
//! allocated.

use alloc::vec::Vec;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::DataKey;
use crate::kdf::{COMMITMENT_LEN, DerivedKeys, MESSAGE_ID_LEN};
use crate::keyring::{MAX_WRAPPED_KEYS, WrappedKey};
use crate::sizes::{ChunkSize, Layout};
use crate::wire::Reader;
use crate::{EncryptionContext, Error, Result};

/// The eight magic bytes every CipherDrop file starts with.
pub const MAGIC: [u8; 8] = *b"CIPHDROP";
/// The format version this crate reads and writes.
pub const VERSION: u8 = 1;
/// Suite 0x0001: AES-256-GCM chunks, HKDF-SHA-512 derivation, key commitment.
pub const SUITE: u16 = 0x0001;
/// Bytes needed to learn the header length: magic, version, suite, length.
pub const PREFIX_LEN: usize = 15;
/// Largest header accepted (64 KiB).
pub const MAX_HEADER_LEN: usize = 64 * 1024;
/// Length of the header tag (HMAC-SHA-256).
pub const HEADER_TAG_LEN: usize = 32;
/// Plaintext-length value meaning "not recorded" (streamed input of unknown size).
pub const UNKNOWN_LENGTH: u64 = u64::MAX;

/// Provider id of passphrase-wrapped keys (FORMAT.md 2.4); also known without the
/// `passphrase` feature, so every writer keeps to one such entry per header.
pub const PASSPHRASE_ARGON2ID: &str = "passphrase-argon2id";

/// Smallest possible header: no context entries, one wrapped key of 1+0+1 bytes.
const MIN_HEADER_LEN: usize =
    PREFIX_LEN + 4 + 8 + MESSAGE_ID_LEN + 2 + 2 + 8 + COMMITMENT_LEN + HEADER_TAG_LEN;

/// A parsed header. Parsing does not authenticate it: that happens in
/// [`crate::Opener::new`], which needs the data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    chunk_size: ChunkSize,
    plaintext_len: Option<u64>,
    message_id: [u8; MESSAGE_ID_LEN],
    context: EncryptionContext,
    wrapped_keys: Vec<WrappedKey>,
    commitment: [u8; COMMITMENT_LEN],
    bytes: Vec<u8>,
}

/// Reads the header length from the first [`PREFIX_LEN`] bytes of a file,
/// checking magic, version, suite and the length cap.
///
/// # Errors
/// [`Error::Truncated`] with fewer than 15 bytes; [`Error::NotCipherDrop`],
/// [`Error::UnsupportedVersion`], [`Error::UnsupportedSuite`],
/// [`Error::LimitExceeded`] or [`Error::MalformedHeader`] as found.
pub fn header_len_from_prefix(prefix: &[u8]) -> Result<usize> {
    if prefix.len() < MAGIC.len() {
        return if !prefix.is_empty() && MAGIC.starts_with(prefix) {
            Err(Error::Truncated)
        } else {
            Err(Error::NotCipherDrop)
        };
    }
    let mut r = Reader::new(prefix);
    if r.array::<8>()? != MAGIC {
        return Err(Error::NotCipherDrop);
    }
    if prefix.len() < PREFIX_LEN {
        return Err(Error::Truncated);
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::UnsupportedVersion(version));
    }
    let suite = r.u16()?;
    if suite != SUITE {
        return Err(Error::UnsupportedSuite(suite));
    }
    let len = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
    if len > MAX_HEADER_LEN {
        return Err(Error::LimitExceeded("the header is longer than 64 KiB"));
    }
    if len < MIN_HEADER_LEN {
        return Err(Error::MalformedHeader(
            "the header length is smaller than any valid header",
        ));
    }
    Ok(len)
}

/// The exact header length for this context and these wrapped keys; a server can
/// compute an object's ciphertext length before the browser builds the header.
///
/// # Errors
/// [`Error::InvalidWrappedKey`] or [`Error::LimitExceeded`] when the header could
/// not be written.
pub fn encoded_len(context: &EncryptionContext, wrapped_keys: &[WrappedKey]) -> Result<usize> {
    if wrapped_keys.is_empty() {
        return Err(Error::InvalidWrappedKey(
            "a header needs at least one wrapped key",
        ));
    }
    if wrapped_keys.len() > MAX_WRAPPED_KEYS {
        return Err(Error::LimitExceeded("more than 16 wrapped keys"));
    }
    for w in wrapped_keys {
        w.validate()?;
    }
    // A reader runs Argon2id for one passphrase entry only (FORMAT.md 2.4).
    if wrapped_keys
        .iter()
        .filter(|w| w.provider_id == PASSPHRASE_ARGON2ID)
        .count()
        > 1
    {
        return Err(Error::InvalidWrappedKey(
            "a header holds at most one passphrase-argon2id key",
        ));
    }
    let len = PREFIX_LEN
        + 4
        + 8
        + MESSAGE_ID_LEN
        + context.encoded_len()
        + 2
        + wrapped_keys
            .iter()
            .map(WrappedKey::encoded_len)
            .sum::<usize>()
        + COMMITMENT_LEN
        + HEADER_TAG_LEN;
    if len > MAX_HEADER_LEN {
        return Err(Error::LimitExceeded(
            "the header would be longer than 64 KiB",
        ));
    }
    Ok(len)
}

impl Header {
    /// Builds and tags a header (the writer side).
    pub(crate) fn build(
        chunk_size: ChunkSize,
        plaintext_len: Option<u64>,
        message_id: [u8; MESSAGE_ID_LEN],
        context: &EncryptionContext,
        wrapped_keys: &[WrappedKey],
        keys: &DerivedKeys,
    ) -> Result<Self> {
        let len = encoded_len(context, wrapped_keys)?;
        if let Some(n) = plaintext_len {
            if n == UNKNOWN_LENGTH {
                return Err(Error::TooLarge);
            }
            Layout::new(len as u64, chunk_size, n)?;
        }
        let mut b = Vec::with_capacity(len);
        b.extend_from_slice(&MAGIC);
        b.push(VERSION);
        b.extend_from_slice(&SUITE.to_be_bytes());
        b.extend_from_slice(&u32::try_from(len).expect("len <= 64 KiB").to_be_bytes());
        b.extend_from_slice(&chunk_size.get().to_be_bytes());
        b.extend_from_slice(&plaintext_len.unwrap_or(UNKNOWN_LENGTH).to_be_bytes());
        b.extend_from_slice(&message_id);
        context.encode_into(&mut b);
        let count = u16::try_from(wrapped_keys.len()).expect("at most 16 wrapped keys");
        b.extend_from_slice(&count.to_be_bytes());
        for w in wrapped_keys {
            w.encode_into(&mut b);
        }
        b.extend_from_slice(keys.commitment());
        let tag = header_tag(keys.header_key(), &b);
        b.extend_from_slice(&tag);
        debug_assert_eq!(b.len(), len);
        Ok(Self {
            chunk_size,
            plaintext_len,
            message_id,
            context: context.clone(),
            wrapped_keys: wrapped_keys.to_vec(),
            commitment: *keys.commitment(),
            bytes: b,
        })
    }

    /// Parses the header at the start of `input` (which may continue with chunks).
    ///
    /// # Errors
    /// [`Error::Truncated`] when `input` ends inside the header; otherwise the
    /// specific header error.
    pub fn parse(input: &[u8]) -> Result<Self> {
        let len = header_len_from_prefix(input)?;
        if input.len() < len {
            return Err(Error::Truncated);
        }
        let bytes = &input[..len];
        let mut r = Reader::new(&bytes[PREFIX_LEN..]);
        let chunk_size = ChunkSize::new(r.u32()?)?;
        let plaintext_len = match r.u64()? {
            UNKNOWN_LENGTH => None,
            n => {
                Layout::new(len as u64, chunk_size, n).map_err(|_| {
                    Error::LimitExceeded("the plaintext length needs more than 2^32 chunks")
                })?;
                Some(n)
            }
        };
        let message_id = r.array::<MESSAGE_ID_LEN>()?;
        let context = EncryptionContext::decode(&mut r)?;
        let count = usize::from(r.u16()?);
        if count == 0 {
            return Err(Error::MalformedHeader("there is no wrapped data key"));
        }
        if count > MAX_WRAPPED_KEYS {
            return Err(Error::LimitExceeded("more than 16 wrapped keys"));
        }
        let mut wrapped_keys = Vec::with_capacity(count);
        for _ in 0..count {
            wrapped_keys.push(WrappedKey::decode(&mut r)?);
        }
        let commitment = r.array::<COMMITMENT_LEN>()?;
        let _tag = r.array::<HEADER_TAG_LEN>()?;
        if r.remaining() != 0 {
            return Err(Error::MalformedHeader(
                "the header length does not match its fields",
            ));
        }
        Ok(Self {
            chunk_size,
            plaintext_len,
            message_id,
            context,
            wrapped_keys,
            commitment,
            bytes: bytes.to_vec(),
        })
    }

    /// The same object with another list of wrapped keys (FORMAT.md 4,
    /// re-wrapping): message id, commitment, context, chunk size and plaintext
    /// length are kept, so every chunk after the header stays valid as it is; the
    /// header length and the tag change. `data_key` must be this header's: it is
    /// checked against the commitment and the tag first.
    ///
    /// # Errors
    /// [`Error::CommitmentMismatch`] or [`Error::HeaderAuthFailed`] when
    /// `data_key` is not this header's; the header's limits for the new list
    /// ([`Error::InvalidWrappedKey`], [`Error::LimitExceeded`]).
    pub fn rewrap(&self, data_key: &DataKey, wrapped_keys: &[WrappedKey]) -> Result<Self> {
        let keys = DerivedKeys::derive(data_key, &self.message_id);
        keys.verify_commitment(&self.commitment)?;
        self.verify_tag(keys.header_key())?;
        Self::build(
            self.chunk_size,
            self.plaintext_len,
            self.message_id,
            &self.context,
            wrapped_keys,
            &keys,
        )
    }

    /// Checks the header tag in constant time.
    pub(crate) fn verify_tag(&self, header_key: &[u8; 32]) -> Result<()> {
        let (body, tag) = self.bytes.split_at(self.bytes.len() - HEADER_TAG_LEN);
        // `verify_slice` compares in constant time (the `subtle` crate).
        header_mac(header_key, body)
            .verify_slice(tag)
            .map_err(|_| Error::HeaderAuthFailed)
    }

    /// The encoded header, exactly as it starts the file.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Header length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a header is never empty. (Present for API symmetry.)
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The format version (always [`VERSION`] once parsed).
    #[must_use]
    pub const fn version(&self) -> u8 {
        VERSION
    }

    /// The suite id (always [`SUITE`] once parsed).
    #[must_use]
    pub const fn suite(&self) -> u16 {
        SUITE
    }

    /// Plaintext bytes per chunk (the final chunk may be shorter).
    #[must_use]
    pub const fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    /// The plaintext length, when the writer knew it.
    #[must_use]
    pub const fn plaintext_len(&self) -> Option<u64> {
        self.plaintext_len
    }

    /// The message id (public; the HKDF salt).
    #[must_use]
    pub const fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.message_id
    }

    /// The encryption context as written.
    #[must_use]
    pub const fn context(&self) -> &EncryptionContext {
        &self.context
    }

    /// The wrapped data keys.
    #[must_use]
    pub fn wrapped_keys(&self) -> &[WrappedKey] {
        &self.wrapped_keys
    }

    /// The key commitment.
    #[must_use]
    pub const fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// The chunk layout, when the plaintext length is recorded.
    #[must_use]
    pub fn layout(&self) -> Option<Layout> {
        self.plaintext_len.map(|n| {
            Layout::new(self.len() as u64, self.chunk_size, n)
                .expect("checked when the header was parsed or built")
        })
    }

    /// The chunk layout of a file of `ciphertext_len` bytes with this header.
    ///
    /// # Errors
    /// [`Error::Truncated`] or [`Error::TrailingData`] when the length is impossible,
    /// or disagrees with a recorded plaintext length.
    pub fn layout_for_ciphertext_len(&self, ciphertext_len: u64) -> Result<Layout> {
        let from_len =
            Layout::from_ciphertext_len(self.len() as u64, self.chunk_size, ciphertext_len)?;
        match self.layout() {
            Some(l) if l.ciphertext_len() > ciphertext_len => Err(Error::Truncated),
            Some(l) if l.ciphertext_len() < ciphertext_len => Err(Error::TrailingData),
            _ => Ok(from_len),
        }
    }
}

/// HMAC-SHA-256 under the header key over `body` (every header byte before the tag).
fn header_mac(header_key: &[u8; 32], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(header_key)
        .expect("HMAC takes a key of any length");
    mac.update(body);
    mac
}

fn header_tag(header_key: &[u8; 32], body: &[u8]) -> [u8; HEADER_TAG_LEN] {
    header_mac(header_key, body).finalize().into_bytes().into()
}
