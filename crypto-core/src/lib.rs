#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod cipher;
pub mod context;
mod error;
pub mod header;
#[cfg(feature = "std")]
pub mod io;
pub mod kdf;
mod key;
pub mod keyring;
#[cfg(feature = "passphrase")]
pub mod passphrase;
pub mod sizes;
pub mod stream;
mod wire;
#[cfg(feature = "x25519-hpke")]
pub mod x25519;

pub use context::EncryptionContext;
pub use error::{Error, Result};
pub use header::Header;
pub use kdf::ObjectKeys;
pub use key::{DATA_KEY_LEN, DataKey};
pub use keyring::{Keyring, RawAesKeyring, WrappedKey};
#[cfg(feature = "passphrase")]
pub use passphrase::{Argon2idParams, PassphraseKeyring};
pub use sizes::{ChunkSize, Layout, Part};
pub use stream::{Opener, Sealer, StreamOpener, StreamSealer};
#[cfg(feature = "x25519-hpke")]
pub use x25519::{X25519Identity, X25519Recipient};

/// Fills `buf` from the operating system's (or the browser's) CSPRNG.
///
/// # Errors
/// [`Error::Randomness`] when none is available.
#[cfg(feature = "getrandom")]
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| Error::Randomness)
}
