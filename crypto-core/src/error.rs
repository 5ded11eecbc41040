//! The one error type of the format.

use core::fmt;

/// Everything that can go wrong while writing or reading a CipherDrop file.
///
/// Every AEAD failure on a chunk is the single opaque [`Error::DecryptionFailed`];
/// the other variants describe a problem the caller can act on. Messages never
/// contain key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input does not start with the CipherDrop magic bytes.
    NotCipherDrop,
    /// The header names a format version this build does not know.
    UnsupportedVersion(u8),
    /// The header names an algorithm suite this build does not know.
    UnsupportedSuite(u16),
    /// The header is structurally invalid (what is wrong is named).
    MalformedHeader(&'static str),
    /// A header field is larger than the decoder allows (which one is named).
    LimitExceeded(&'static str),
    /// The chunk size is not a power of two between 4 KiB and 16 MiB.
    InvalidChunkSize(u64),
    /// An encryption context given for writing is not valid (what is wrong is named).
    InvalidContext(&'static str),
    /// A wrapped key given for writing is not valid (what is wrong is named).
    InvalidWrappedKey(&'static str),
    /// The file's encryption context differs from the one the caller expects.
    ContextMismatch,
    /// None of the file's wrapped data keys could be opened with the given key.
    WrongKey,
    /// The data key does not match the key commitment in the header.
    CommitmentMismatch,
    /// The header's authentication tag does not verify: the header was changed.
    HeaderAuthFailed,
    /// A chunk failed to authenticate: the file was changed, chunks were moved,
    /// or the wrong key was used.
    DecryptionFailed,
    /// The input ended before the final chunk.
    Truncated,
    /// There are bytes after the final chunk.
    TrailingData,
    /// The plaintext is longer than the format allows (2^32 chunks).
    TooLarge,
    /// The amount of plaintext given does not match what was declared.
    LengthMismatch {
        /// Bytes declared up front.
        declared: u64,
        /// Bytes actually given.
        actual: u64,
    },
    /// A chunk index or byte range lies outside the file.
    OutOfRange,
    /// The operating system or browser gave no randomness.
    Randomness,
}

impl Error {
    /// A stable, machine-readable code (`"DECRYPTION_FAILED"`, `"TRUNCATED"`, ...),
    /// the same in Rust, in JavaScript and in the vector files.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotCipherDrop => "NOT_CIPHERDROP",
            Self::UnsupportedVersion(_) => "UNSUPPORTED_VERSION",
            Self::UnsupportedSuite(_) => "UNSUPPORTED_SUITE",
            Self::MalformedHeader(_) => "MALFORMED_HEADER",
            Self::LimitExceeded(_) => "LIMIT_EXCEEDED",
            Self::InvalidChunkSize(_) => "INVALID_CHUNK_SIZE",
            Self::InvalidContext(_) => "INVALID_CONTEXT",
            Self::InvalidWrappedKey(_) => "INVALID_WRAPPED_KEY",
            Self::ContextMismatch => "CONTEXT_MISMATCH",
            Self::WrongKey => "WRONG_KEY",
            Self::CommitmentMismatch => "COMMITMENT_MISMATCH",
            Self::HeaderAuthFailed => "HEADER_AUTH_FAILED",
            Self::DecryptionFailed => "DECRYPTION_FAILED",
            Self::Truncated => "TRUNCATED",
            Self::TrailingData => "TRAILING_DATA",
            Self::TooLarge => "TOO_LARGE",
            Self::LengthMismatch { .. } => "LENGTH_MISMATCH",
            Self::OutOfRange => "OUT_OF_RANGE",
            Self::Randomness => "RANDOMNESS",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotCipherDrop => f.write_str("not a CipherDrop file (the magic bytes are missing)"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "unsupported CipherDrop format version {v}; this build reads version 1 (upgrade CipherDrop?)"
            ),
            Self::UnsupportedSuite(s) => write!(
                f,
                "unsupported algorithm suite 0x{s:04x}; this build reads suite 0x0001 (upgrade CipherDrop?)"
            ),
            Self::MalformedHeader(what) => write!(f, "the file header is damaged: {what}"),
            Self::LimitExceeded(what) => write!(f, "the file header is over a limit: {what}"),
            Self::InvalidChunkSize(n) => write!(
                f,
                "invalid chunk size {n}: it must be a power of two from 4096 (4 KiB) to 16777216 (16 MiB)"
            ),
            Self::InvalidContext(what) => write!(f, "invalid encryption context: {what}"),
            Self::InvalidWrappedKey(what) => write!(f, "invalid wrapped key: {what}"),
            Self::ContextMismatch => f.write_str(
                "the file's encryption context is not the expected one (a different file, or the wrong --context)",
            ),
            Self::WrongKey => f.write_str("wrong key: none of the file's wrapped data keys opens with this key"),
            Self::CommitmentMismatch => f.write_str(
                "the data key does not match the file's key commitment (the header was changed or swapped)",
            ),
            Self::HeaderAuthFailed => f.write_str("the file header was changed after it was encrypted"),
            Self::DecryptionFailed => f.write_str("the file was changed after it was encrypted (a chunk failed to verify)"),
            Self::Truncated => f.write_str("the file is truncated: it ends before its final chunk"),
            Self::TrailingData => f.write_str("the file has extra bytes after its final chunk"),
            Self::TooLarge => f.write_str("too large: a CipherDrop file holds at most 2^32 chunks"),
            Self::LengthMismatch { declared, actual } => write!(
                f,
                "the input was declared as {declared} bytes but {actual} bytes were given (did it change while being read?)"
            ),
            Self::OutOfRange => f.write_str("the requested chunk or byte range lies outside the file"),
            Self::Randomness => f.write_str("the system random number generator failed"),
        }
    }
}

impl core::error::Error for Error {}

impl From<aes_gcm::Error> for Error {
    fn from(_: aes_gcm::Error) -> Self {
        Self::DecryptionFailed
    }
}

/// Result with the format's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
