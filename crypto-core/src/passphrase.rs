//! `passphrase-argon2id`: a data key wrapped under a passphrase (FORMAT.md 2.4).
//!
//! Argon2id (version 0x13, 32-byte output) stretches the passphrase with a fresh
//! random 16-byte salt per wrap into a key-encryption key, which wraps the data key
//! exactly as `raw-aes` does (AES-256-GCM, AAD = the canonical encryption context,
//! 60-byte blob). The provider info carries the costs and the salt as text,
//! `argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt, 32 lowercase hex digits>`, so
//! a reader derives the same key; the header tag authenticates them.
//!
//! The costs come from the file, so a reader checks them against caps
//! ([`MAX_MEMORY_KIB`], [`MAX_PASSES`], [`MAX_LANES`]) before Argon2id allocates
//! anything, and runs Argon2id for the first passphrase entry of a header only: a
//! hostile header cannot make a reader spend more than one capped run (64 MiB,
//! 4 passes: about 0.35 s native and 0.45 s in WebAssembly on the development
//! machine, a few seconds on a phone; FORMAT.md 2.4 has the figures).

/// Most memory a reader lets a file ask Argon2id for: 64 MiB, in KiB (RFC 9106's
/// second recommended option, and what a phone's browser tab can reliably allocate).
pub const MAX_MEMORY_KIB: u32 = 64 * 1024;
/// Most passes a reader lets a file ask for.
pub const MAX_PASSES: u32 = 4;
/// Most lanes a reader lets a file ask for (RFC 9106 recommends 4; lanes do not
/// multiply the work of a single-threaded run at a given memory).
pub const MAX_LANES: u32 = 4;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use aes_gcm::{Aes256Gcm, KeyInit};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::keyring::{Keyring, open_data_key, seal_data_key};
use crate::{DataKey, EncryptionContext, Error, Result, WrappedKey};

/// Provider id of data keys wrapped by [`PassphraseKeyring`].
pub use crate::header::PASSPHRASE_ARGON2ID;
/// Length of the Argon2id salt, in bytes (hex-encoded in the provider info).
pub const SALT_LEN: usize = 16;

/// Argon2id's own minimum: 8 KiB of memory per lane.
const MIN_MEMORY_KIB_PER_LANE: u32 = 8;

/// Argon2id costs, within the caps: `8·lanes ≤ memory_kib ≤ 65536`,
/// `1 ≤ passes ≤ 4`, `1 ≤ lanes ≤ 4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2idParams {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

impl Argon2idParams {
    /// 64 MiB, 3 passes, 1 lane: above OWASP's recommendation (19 MiB, 2 passes),
    /// about a second in a browser.
    pub const DEFAULT: Self = Self {
        memory_kib: 64 * 1024,
        passes: 3,
        lanes: 1,
    };

    /// Costs for new wraps.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] when a cost is outside the ranges above.
    pub const fn new(memory_kib: u32, passes: u32, lanes: u32) -> Result<Self> {
        let p = Self {
            memory_kib,
            passes,
            lanes,
        };
        if p.over_a_cap() || p.under_a_minimum() {
            return Err(Error::LimitExceeded(
                "Argon2id costs must be 8 KiB per lane to 65536 KiB, 1 to 4 passes, 1 to 4 lanes",
            ));
        }
        Ok(p)
    }

    /// Memory in KiB.
    #[must_use]
    pub const fn memory_kib(self) -> u32 {
        self.memory_kib
    }

    /// Passes over the memory (Argon2's `t`).
    #[must_use]
    pub const fn passes(self) -> u32 {
        self.passes
    }

    /// Lanes (Argon2's `p`).
    #[must_use]
    pub const fn lanes(self) -> u32 {
        self.lanes
    }

    const fn over_a_cap(self) -> bool {
        self.memory_kib > MAX_MEMORY_KIB || self.passes > MAX_PASSES || self.lanes > MAX_LANES
    }

    const fn under_a_minimum(self) -> bool {
        self.passes == 0
            || self.lanes == 0
            || self.memory_kib < MIN_MEMORY_KIB_PER_LANE.saturating_mul(self.lanes)
    }

    /// The 32-byte key-encryption key for `passphrase` and `salt`.
    fn derive(self, passphrase: &[u8], salt: &[u8; SALT_LEN]) -> Result<Zeroizing<[u8; 32]>> {
        let params = Params::new(self.memory_kib, self.passes, self.lanes, Some(32))
            .map_err(|_| Error::LimitExceeded("Argon2id refused these costs"))?;
        let mut kek = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, kek.as_mut())
            .map_err(|_| Error::LimitExceeded("Argon2id could not run (out of memory?)"))?;
        Ok(kek)
    }
}

impl Default for Argon2idParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A passphrase that wraps and unwraps data keys (`passphrase-argon2id`).
///
/// The passphrase is zeroized on drop and never printed by `Debug`. Any byte
/// string is accepted, the empty one included; front ends should refuse an empty
/// passphrase before they get here.
pub struct PassphraseKeyring {
    passphrase: Zeroizing<Vec<u8>>,
    params: Argon2idParams,
}

impl fmt::Debug for PassphraseKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseKeyring")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PassphraseKeyring {
    /// A keyring for `passphrase` (its bytes as given, e.g. UTF-8); `params` are the
    /// costs of new wraps. Unwrapping takes the costs from the file.
    #[must_use]
    pub fn new(passphrase: &[u8], params: Argon2idParams) -> Self {
        Self {
            passphrase: Zeroizing::new(passphrase.to_vec()),
            params,
        }
    }

    /// The costs of new wraps.
    #[must_use]
    pub fn params(&self) -> Argon2idParams {
        self.params
    }

    /// Wraps with a caller-chosen salt and nonce. Only for known-answer tests: a
    /// salt must be fresh for every wrap.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] when Argon2id cannot run (out of memory).
    pub fn wrap_with(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
        salt: [u8; SALT_LEN],
        nonce: [u8; 12],
    ) -> Result<WrappedKey> {
        let kek = self.params.derive(&self.passphrase, &salt)?;
        let wrapped = WrappedKey {
            provider_id: String::from(PASSPHRASE_ARGON2ID),
            provider_info: encode_info(self.params, &salt),
            blob: seal_data_key(&kek, data_key, context, nonce)?,
        };
        wrapped.validate()?;
        Ok(wrapped)
    }
}

impl Keyring for PassphraseKeyring {
    #[cfg(feature = "getrandom")]
    fn wrap(&self, data_key: &DataKey, context: &EncryptionContext) -> Result<WrappedKey> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; 12];
        crate::fill_random(&mut salt)?;
        crate::fill_random(&mut nonce)?;
        self.wrap_with(data_key, context, salt, nonce)
    }

    #[cfg(not(feature = "getrandom"))]
    fn wrap(&self, _data_key: &DataKey, _context: &EncryptionContext) -> Result<WrappedKey> {
        Err(Error::Randomness)
    }

    /// Tries the first `passphrase-argon2id` entry only, so a header makes a
    /// reader run Argon2id at most once. An unreadable provider info fails the call
    /// (`MALFORMED_HEADER`, or `LIMIT_EXCEEDED` for costs over a cap) before
    /// Argon2id runs; a blob that is not 60 bytes or does not open is `WRONG_KEY`.
    fn unwrap(&self, wrapped: &[WrappedKey], context: &EncryptionContext) -> Result<DataKey> {
        let w = wrapped
            .iter()
            .find(|w| w.provider_id == PASSPHRASE_ARGON2ID)
            .ok_or(Error::WrongKey)?;
        let (params, salt) = decode_info(&w.provider_info)?;
        if w.blob.len() != crate::keyring::RAW_AES_BLOB_LEN {
            return Err(Error::WrongKey);
        }
        let kek = params.derive(&self.passphrase, &salt)?;
        let cipher = Aes256Gcm::new((&*kek).into());
        open_data_key(&cipher, &context.canonical_bytes(), &w.blob).ok_or(Error::WrongKey)
    }

    fn is_guessable(&self) -> bool {
        true
    }
}

/// `argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt hex>`.
fn encode_info(p: Argon2idParams, salt: &[u8; SALT_LEN]) -> Vec<u8> {
    let mut s = String::with_capacity(64);
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "argon2id$v=19$m={},t={},p={}$",
        p.memory_kib, p.passes, p.lanes
    );
    for b in salt {
        let _ = write!(s, "{b:02x}");
    }
    s.into_bytes()
}

const UNREADABLE: Error =
    Error::MalformedHeader("the passphrase wrap's Argon2id parameters are unreadable");

/// Parses the provider info strictly (the one spelling [`encode_info`] writes).
/// Costs over a cap are `LIMIT_EXCEEDED`; anything else wrong is `MALFORMED_HEADER`.
fn decode_info(info: &[u8]) -> Result<(Argon2idParams, [u8; SALT_LEN])> {
    let rest = info.strip_prefix(b"argon2id$v=19$m=").ok_or(UNREADABLE)?;
    let (m, rest) = decimal(rest, b",t=")?;
    let (t, rest) = decimal(rest, b",p=")?;
    let (p, hex) = decimal(rest, b"$")?;
    if hex.len() != 2 * SALT_LEN {
        return Err(UNREADABLE);
    }
    let mut salt = [0u8; SALT_LEN];
    for (byte, pair) in salt.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (lower_hex(pair[0])? << 4) | lower_hex(pair[1])?;
    }
    // The syntax is right; now the values: caps first, then Argon2id's minimums.
    let (Some(memory_kib), Some(passes), Some(lanes)) = (m, t, p) else {
        return Err(OVER);
    };
    let params = Argon2idParams {
        memory_kib,
        passes,
        lanes,
    };
    if params.over_a_cap() {
        return Err(OVER);
    }
    if params.under_a_minimum() {
        return Err(Error::MalformedHeader(
            "the passphrase wrap's Argon2id costs are below Argon2id's minimum",
        ));
    }
    Ok((params, salt))
}

const OVER: Error = Error::LimitExceeded(
    "the passphrase wrap asks Argon2id for more than 64 MiB, 4 passes or 4 lanes",
);

/// A decimal number without sign or leading zeros, then `sep`. `None` for a value
/// above `u32::MAX` (which is over every cap).
fn decimal<'a>(s: &'a [u8], sep: &[u8]) -> Result<(Option<u32>, &'a [u8])> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = s[digits..].strip_prefix(sep).ok_or(UNREADABLE)?;
    if digits == 0 || (digits > 1 && s[0] == b'0') {
        return Err(UNREADABLE);
    }
    let value = s[..digits].iter().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    });
    Ok((value, rest))
}

fn lower_hex(c: u8) -> Result<u8> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(UNREADABLE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RawAesKeyring;

    /// Cheap costs so the tests stay fast (the format allows them; writers default higher).
    const CHEAP: Argon2idParams = Argon2idParams {
        memory_kib: 256,
        passes: 1,
        lanes: 1,
    };

    fn ctx(owner: &str) -> EncryptionContext {
        EncryptionContext::from_pairs([("owner", owner)]).expect("valid")
    }

    fn wrap(pass: &[u8], owner: &str) -> WrappedKey {
        PassphraseKeyring::new(pass, CHEAP)
            .wrap_with(
                &DataKey::from_bytes([3; 32]),
                &ctx(owner),
                [0xab; 16],
                [1; 12],
            )
            .expect("wraps")
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let w = wrap(b"correct horse", "a");
        assert_eq!(w.provider_id, PASSPHRASE_ARGON2ID);
        assert_eq!(
            w.provider_info,
            b"argon2id$v=19$m=256,t=1,p=1$abababababababababababababababab"
        );
        assert_eq!(w.blob.len(), 60);
        let kr = PassphraseKeyring::new(b"correct horse", Argon2idParams::DEFAULT);
        assert_eq!(kr.unwrap(&[w], &ctx("a")), Ok(DataKey::from_bytes([3; 32])));
    }

    #[test]
    fn known_answer_matches_an_independent_argon2id() {
        // Argon2id(v=0x13, m=256, t=1, p=1, password "pw", salt 00 x 16, 32 bytes),
        // computed with Python `cryptography` 48 (OpenSSL's Argon2id).
        let kek = CHEAP.derive(b"pw", &[0; 16]).expect("derives");
        assert_eq!(
            hex_string(kek.as_ref()),
            "26833fddac053e61bedfd0d483fb76124ad3da65d41b041b9703ba915eaed13c"
        );
    }

    fn hex_string(bytes: &[u8]) -> String {
        let mut s = String::new();
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    #[test]
    fn the_blob_is_a_raw_aes_blob_under_the_derived_key() {
        let w = wrap(b"pw", "a");
        let kek = CHEAP.derive(b"pw", &[0xab; 16]).expect("derives");
        let raw = WrappedKey {
            provider_id: crate::keyring::RAW_AES.into(),
            provider_info: b"any".to_vec(),
            blob: w.blob,
        };
        assert_eq!(
            RawAesKeyring::new("any", *kek).unwrap(&[raw], &ctx("a")),
            Ok(DataKey::from_bytes([3; 32]))
        );
    }

    #[test]
    fn wrong_passphrase_or_context_is_wrong_key() {
        let w = wrap(b"pw", "a");
        let kr = PassphraseKeyring::new(b"pW", CHEAP);
        assert_eq!(
            kr.unwrap(core::slice::from_ref(&w), &ctx("a")),
            Err(Error::WrongKey)
        );
        let kr = PassphraseKeyring::new(b"pw", CHEAP);
        assert_eq!(kr.unwrap(&[w], &ctx("b")), Err(Error::WrongKey));
    }

    #[test]
    fn only_the_first_passphrase_entry_is_tried() {
        let raw = RawAesKeyring::new("master", [9; 32])
            .wrap_with_nonce(&DataKey::from_bytes([3; 32]), &ctx("a"), [1; 12])
            .expect("wraps");
        let mut short = wrap(b"pw", "a");
        short.blob.pop();
        let good = wrap(b"pw", "a");
        let other = wrap(b"another", "a");
        let kr = PassphraseKeyring::new(b"pw", CHEAP);
        // Other providers are passed over; the first passphrase entry decides.
        assert_eq!(
            kr.unwrap(&[raw.clone(), good.clone(), short.clone()], &ctx("a")),
            Ok(DataKey::from_bytes([3; 32]))
        );
        assert_eq!(
            kr.unwrap(&[raw, short, good.clone()], &ctx("a")),
            Err(Error::WrongKey)
        );
        assert_eq!(kr.unwrap(&[other, good], &ctx("a")), Err(Error::WrongKey));
        assert!(kr.is_guessable());
    }

    #[test]
    fn info_round_trips() {
        let info = encode_info(Argon2idParams::DEFAULT, &[0x0f; 16]);
        assert_eq!(
            info,
            b"argon2id$v=19$m=65536,t=3,p=1$0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
        );
        assert_eq!(
            decode_info(&info),
            Ok((Argon2idParams::DEFAULT, [0x0f; 16]))
        );
        let max = Argon2idParams::new(MAX_MEMORY_KIB, MAX_PASSES, MAX_LANES).expect("in range");
        assert_eq!(decode_info(&encode_info(max, &[0; 16])), Ok((max, [0; 16])));
    }

    #[test]
    fn costs_over_a_cap_are_refused_before_hashing() {
        const SALT: &str = "abababababababababababababababab";
        for costs in [
            "m=65537,t=1,p=1",
            "m=1048576,t=1,p=1",
            "m=4294967295,t=1,p=1",
            "m=99999999999999999999,t=1,p=1",
            "m=65536,t=5,p=1",
            "m=65536,t=3,p=5",
        ] {
            let info = alloc::format!("argon2id$v=19${costs}${SALT}");
            assert!(
                matches!(decode_info(info.as_bytes()), Err(Error::LimitExceeded(_))),
                "{costs}"
            );
        }
        // And through the keyring: the error, not a skip, and no 4 GiB allocation.
        let mut w = wrap(b"pw", "a");
        w.provider_info = alloc::format!("argon2id$v=19$m=4194304,t=3,p=1${SALT}").into_bytes();
        let kr = PassphraseKeyring::new(b"pw", CHEAP);
        assert!(matches!(
            kr.unwrap(&[w], &ctx("a")),
            Err(Error::LimitExceeded(_))
        ));
    }

    #[test]
    fn unreadable_info_is_malformed() {
        for bad in [
            "",
            "argon2i$v=19$m=256,t=1,p=1$abababababababababababababababab",
            "argon2id$v=16$m=256,t=1,p=1$abababababababababababababababab",
            "argon2id$v=19$t=1,m=256,p=1$abababababababababababababababab",
            "argon2id$v=19$m=0256,t=1,p=1$abababababababababababababababab",
            "argon2id$v=19$m=+256,t=1,p=1$abababababababababababababababab",
            "argon2id$v=19$m=,t=1,p=1$abababababababababababababababab",
            "argon2id$v=19$m=256,t=1,p=1$ABABABABABABABABABABABABABABABAB",
            "argon2id$v=19$m=256,t=1,p=1$+bababababababababababababababab",
            "argon2id$v=19$m=256,t=1,p=1$abab",
            "argon2id$v=19$m=256,t=1,p=1$abababababababababababababababab00",
            "argon2id$v=19$m=256,t=1,p=1$abababababababababababababababab$",
            "argon2id$v=19$m=256,t=0,p=1$abababababababababababababababab",
            "argon2id$v=19$m=256,t=1,p=0$abababababababababababababababab",
            "argon2id$v=19$m=7,t=1,p=1$abababababababababababababababab",
            "argon2id$v=19$m=31,t=1,p=4$abababababababababababababababab",
        ] {
            assert!(
                matches!(decode_info(bad.as_bytes()), Err(Error::MalformedHeader(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn writer_costs_are_range_checked() {
        assert!(Argon2idParams::new(8, 1, 1).is_ok());
        assert!(Argon2idParams::new(32, 1, 4).is_ok());
        for (m, t, p) in [
            (7, 1, 1),
            (31, 1, 4),
            (MAX_MEMORY_KIB + 1, 1, 1),
            (256, 0, 1),
            (256, 5, 1),
            (256, 1, 0),
            (256, 1, 5),
        ] {
            assert!(
                matches!(Argon2idParams::new(m, t, p), Err(Error::LimitExceeded(_))),
                "{m} {t} {p}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_passphrase() {
        let kr = PassphraseKeyring::new(b"hunter2-secret", CHEAP);
        let shown = alloc::format!("{kr:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("memory_kib: 256"), "{shown}");
    }
}
