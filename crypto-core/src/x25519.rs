//! `x25519-hpke`: a data key wrapped to an X25519 public key with HPKE (FORMAT.md 2.5).
//!
//! Whoever holds the public key (a [`X25519Recipient`]: the server, for a recovery
//! key) can wrap; only the private key (an [`X25519Identity`], kept offline) can
//! unwrap. HPKE is RFC 9180 base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256
//! and AES-256-GCM, done by the `hpke` crate (rust-hpke); nothing of HPKE is
//! implemented here. An entry is
//!
//! ```text
//! provider id   = "x25519-hpke"
//! provider info = the recipient's public key (32 bytes)
//! blob          = enc (32 bytes) || HPKE ciphertext of the data key (32 + 16 bytes)   # 80 bytes
//! info          = "CipherDrop v1 x25519-hpke" || 0x00 || canonical context
//! aad           = "" (the context is already in the key schedule through info)
//! ```
//!
//! The ephemeral key pair is `DeriveKeyPair(ikmE)` of RFC 9180 7.1.3 from a 32-byte
//! seed `ikmE`; [`X25519Recipient::wrap_with_seed`] takes that seed, so vectors can
//! carry it and a writer can be checked byte for byte.
//!
//! Keys have text forms (bech32m, BIP 350, with its checksum): the public key is
//! `cdpub1…` (lower case), the private key `CDSECRET1…` (upper case).

use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::fmt;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};
use hpke::aead::{AeadTag, AesGcm256};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable as _, Kem as _, OpModeR, OpModeS, Serializable as _};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keyring::Keyring;
use crate::{DataKey, EncryptionContext, Error, Result, WrappedKey};

/// Provider id of data keys wrapped by [`X25519Recipient`].
pub const X25519_HPKE: &str = "x25519-hpke";
/// Length of an X25519 public or private key, and of HPKE's `enc`.
pub const KEY_LEN: usize = 32;
/// Length of an `x25519-hpke` blob: `enc` (32) || data key (32) || tag (16).
pub const BLOB_LEN: usize = KEY_LEN + 32 + 16;
/// The label that starts HPKE's `info` (followed by a zero byte and the canonical
/// context).
pub const INFO_LABEL: &[u8] = b"CipherDrop v1 x25519-hpke";

/// Human-readable part of a public key's text form (`cdpub1…`).
pub const PUBLIC_HRP: &str = "cdpub";
/// Human-readable part of a private key's text form (`CDSECRET1…`).
pub const SECRET_HRP: &str = "cdsecret";

type Kem = X25519HkdfSha256;

/// HPKE's `info` for `context`: `"CipherDrop v1 x25519-hpke" || 0x00 || canonical
/// context`.
#[must_use]
pub fn hpke_info(context: &EncryptionContext) -> Vec<u8> {
    let ctx = context.canonical_bytes();
    let mut info = Vec::with_capacity(INFO_LABEL.len() + 1 + ctx.len());
    info.extend_from_slice(INFO_LABEL);
    info.push(0);
    info.extend_from_slice(&ctx);
    info
}

/// An X25519 public key that data keys are wrapped to (`x25519-hpke`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct X25519Recipient {
    public: [u8; KEY_LEN],
}

impl fmt::Debug for X25519Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("X25519Recipient")
            .field(&self.to_text())
            .finish()
    }
}

impl fmt::Display for X25519Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl X25519Recipient {
    /// The recipient with this public key.
    #[must_use]
    pub const fn from_bytes(public: [u8; KEY_LEN]) -> Self {
        Self { public }
    }

    /// The public key's bytes (recorded as provider info).
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.public
    }

    /// Parses the text form `cdpub1…` (bech32m; either case, not mixed).
    ///
    /// # Errors
    /// [`Error::InvalidWrappedKey`] when it is not a `cdpub1` key with a valid
    /// checksum and 32 bytes.
    pub fn from_text(text: &str) -> Result<Self> {
        let bytes = decode_text(text.trim(), PUBLIC_HRP).ok_or(Error::InvalidWrappedKey(
            "not an x25519-hpke public key (cdpub1..., 32 bytes, valid checksum)",
        ))?;
        Ok(Self::from_bytes(*bytes))
    }

    /// The text form: `cdpub1` and 58 more characters, lower case.
    #[must_use]
    pub fn to_text(&self) -> String {
        encode_text(PUBLIC_HRP, &self.public, false)
    }

    /// Wraps `data_key` with the ephemeral key `DeriveKeyPair(ikm_e)` (RFC 9180
    /// 7.1.3). Only for known-answer tests: the seed must be fresh and secret for
    /// every wrap.
    ///
    /// # Errors
    /// [`Error::InvalidWrappedKey`] when the public key is not usable (a low-order
    /// point: the shared secret would be all zeros).
    pub fn wrap_with_seed(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
        ikm_e: [u8; 32],
    ) -> Result<WrappedKey> {
        let bad = || Error::InvalidWrappedKey("the x25519-hpke recipient key is not usable");
        let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&self.public).map_err(|_| bad())?;
        let mut rng = SeedRng(Zeroizing::new(Some(ikm_e)));
        let mut sealed = Zeroizing::new(*data_key.as_bytes());
        let (enc, tag) =
            hpke::single_shot_seal_inout_detached_with_rng::<AesGcm256, HkdfSha256, Kem>(
                &OpModeS::Base,
                &pk,
                &hpke_info(context),
                (&mut sealed[..]).into(),
                b"",
                &mut rng,
            )
            .map_err(|_| bad())?;
        let mut blob = Vec::with_capacity(BLOB_LEN);
        blob.extend_from_slice(&enc.to_bytes());
        blob.extend_from_slice(&sealed[..]);
        blob.extend_from_slice(&tag.to_bytes());
        let wrapped = WrappedKey {
            provider_id: String::from(X25519_HPKE),
            provider_info: self.public.to_vec(),
            blob,
        };
        wrapped.validate()?;
        Ok(wrapped)
    }
}

impl Keyring for X25519Recipient {
    #[cfg(feature = "getrandom")]
    fn wrap(&self, data_key: &DataKey, context: &EncryptionContext) -> Result<WrappedKey> {
        let mut ikm_e = Zeroizing::new([0u8; 32]);
        crate::fill_random(ikm_e.as_mut_slice())?;
        self.wrap_with_seed(data_key, context, *ikm_e)
    }

    #[cfg(not(feature = "getrandom"))]
    fn wrap(&self, _data_key: &DataKey, _context: &EncryptionContext) -> Result<WrappedKey> {
        Err(Error::Randomness)
    }

    /// A public key opens nothing.
    fn unwrap(&self, _wrapped: &[WrappedKey], _context: &EncryptionContext) -> Result<DataKey> {
        Err(Error::WrongKey)
    }
}

/// An X25519 private key that opens `x25519-hpke` entries made for its public key.
///
/// Zeroized on drop; `Debug` prints the public key only.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct X25519Identity {
    secret: [u8; KEY_LEN],
    #[zeroize(skip)]
    recipient: X25519Recipient,
}

impl fmt::Debug for X25519Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X25519Identity")
            .field("recipient", &self.recipient)
            .finish_non_exhaustive()
    }
}

impl X25519Identity {
    /// The identity with this private key (any 32 bytes; X25519 clamps them).
    #[must_use]
    pub fn from_bytes(secret: [u8; KEY_LEN]) -> Self {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&secret)
            .expect("every 32-byte string is an X25519 private key");
        let public = Kem::sk_to_pk(&sk).to_bytes().into();
        Self {
            secret,
            recipient: X25519Recipient::from_bytes(public),
        }
    }

    /// A fresh random identity.
    ///
    /// # Errors
    /// [`Error::Randomness`] when no randomness is available.
    #[cfg(feature = "getrandom")]
    pub fn generate() -> Result<Self> {
        let mut secret = Zeroizing::new([0u8; KEY_LEN]);
        crate::fill_random(secret.as_mut_slice())?;
        Ok(Self::from_bytes(*secret))
    }

    /// The public key that wraps to this identity.
    #[must_use]
    pub const fn recipient(&self) -> &X25519Recipient {
        &self.recipient
    }

    /// The private key's bytes. Handle with care: never log them.
    #[must_use]
    pub const fn secret_bytes(&self) -> &[u8; KEY_LEN] {
        &self.secret
    }

    /// Parses the text form `CDSECRET1…` (bech32m; either case, not mixed).
    ///
    /// # Errors
    /// [`Error::InvalidWrappedKey`] when it is not a `CDSECRET1` key with a valid
    /// checksum and 32 bytes (the message never repeats the text).
    pub fn from_text(text: &str) -> Result<Self> {
        let secret = decode_text(text.trim(), SECRET_HRP).ok_or(Error::InvalidWrappedKey(
            "not an x25519-hpke private key (CDSECRET1..., 32 bytes, valid checksum)",
        ))?;
        Ok(Self::from_bytes(*secret))
    }

    /// The text form: `CDSECRET1` and 58 more characters, upper case. Secret.
    #[must_use]
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(encode_text(SECRET_HRP, &self.secret, true))
    }

    /// Opens one blob made for this identity; `None` when it is not 80 bytes or
    /// does not open (another key, another context, changed, a low-order `enc`).
    fn open(&self, info: &[u8], blob: &[u8]) -> Option<DataKey> {
        if blob.len() != BLOB_LEN {
            return None;
        }
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&self.secret).ok()?;
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&blob[..KEY_LEN]).ok()?;
        let tag = AeadTag::<AesGcm256>::from_bytes(&blob[KEY_LEN + 32..]).ok()?;
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&blob[KEY_LEN..KEY_LEN + 32]);
        hpke::single_shot_open_inout_detached::<AesGcm256, HkdfSha256, Kem>(
            &OpModeR::Base,
            &sk,
            &enc,
            info,
            (&mut key[..]).into(),
            b"",
            &tag,
        )
        .ok()?;
        Some(DataKey::from_bytes(*key))
    }
}

impl Keyring for X25519Identity {
    /// Wraps to this identity's own public key.
    fn wrap(&self, data_key: &DataKey, context: &EncryptionContext) -> Result<WrappedKey> {
        self.recipient.wrap(data_key, context)
    }

    /// Tries, in header order, the `x25519-hpke` entries whose provider info is this
    /// identity's public key; the first that opens gives the data key.
    fn unwrap(&self, wrapped: &[WrappedKey], context: &EncryptionContext) -> Result<DataKey> {
        let info = hpke_info(context);
        wrapped
            .iter()
            .filter(|w| w.provider_id == X25519_HPKE && w.provider_info == self.recipient.public)
            .find_map(|w| self.open(&info, &w.blob))
            .ok_or(Error::WrongKey)
    }
}

/// Gives HPKE its ephemeral seed `ikmE`: the 32 bytes once, then nothing (HPKE asks
/// once per wrap; a second request would be a bug, and panics rather than repeat).
struct SeedRng(Zeroizing<Option<[u8; 32]>>);

// The `Infallible` error type leaves no way to report misuse: panicking is better
// than handing HPKE a repeated or short seed (a reused ephemeral key).
#[allow(clippy::panic_in_result_fn)]
impl TryRng for SeedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> core::result::Result<u32, Infallible> {
        unreachable!("HPKE asks for the ephemeral seed as bytes")
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, Infallible> {
        unreachable!("HPKE asks for the ephemeral seed as bytes")
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Infallible> {
        let seed = self
            .0
            .take()
            .expect("HPKE asks for one ephemeral seed per wrap");
        assert_eq!(dst.len(), seed.len(), "an X25519 seed is 32 bytes");
        dst.copy_from_slice(&seed);
        Ok(())
    }
}

impl TryCryptoRng for SeedRng {}

fn encode_text(hrp: &str, bytes: &[u8; KEY_LEN], upper: bool) -> String {
    let hrp = Hrp::parse(hrp).expect("a constant, valid human-readable part");
    let text = if upper {
        bech32::encode_upper::<Bech32m>(hrp, bytes)
    } else {
        bech32::encode_lower::<Bech32m>(hrp, bytes)
    };
    text.expect("32 bytes fit in a bech32m string")
}

fn decode_text(text: &str, hrp: &str) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let checked = CheckedHrpstring::new::<Bech32m>(text).ok()?;
    if !checked.hrp().as_str().eq_ignore_ascii_case(hrp) {
        return None;
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    let mut n = 0;
    for b in checked.byte_iter() {
        *out.get_mut(n)? = b;
        n += 1;
    }
    (n == KEY_LEN).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn ctx(owner: &str) -> EncryptionContext {
        EncryptionContext::from_pairs([("owner", owner)]).expect("valid")
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let id = X25519Identity::from_bytes([7; 32]);
        let dk = DataKey::from_bytes([3; 32]);
        let w = id
            .recipient()
            .wrap_with_seed(&dk, &ctx("a"), [9; 32])
            .expect("wraps");
        assert_eq!(w.blob.len(), BLOB_LEN);
        assert_eq!(w.provider_info, id.recipient().as_bytes());
        assert_eq!(id.unwrap(&[w], &ctx("a")).expect("unwraps"), dk);
    }

    #[test]
    fn random_wraps_differ_and_open() {
        let id = X25519Identity::generate().expect("random");
        let dk = DataKey::from_bytes([3; 32]);
        let a = id.recipient().wrap(&dk, &ctx("a")).expect("wraps");
        let b = id.recipient().wrap(&dk, &ctx("a")).expect("wraps");
        assert_ne!(a.blob, b.blob);
        assert_eq!(id.unwrap(&[b], &ctx("a")).expect("unwraps"), dk);
    }

    #[test]
    fn refuses_other_context_identity_damage_and_length() {
        let id = X25519Identity::from_bytes([7; 32]);
        let dk = DataKey::from_bytes([3; 32]);
        let w = id
            .recipient()
            .wrap_with_seed(&dk, &ctx("a"), [9; 32])
            .expect("wraps");
        let wrong = |ws: &[WrappedKey], c: &EncryptionContext, who: &X25519Identity| {
            assert_eq!(who.unwrap(ws, c), Err(Error::WrongKey));
        };
        wrong(core::slice::from_ref(&w), &ctx("b"), &id);
        wrong(
            core::slice::from_ref(&w),
            &ctx("a"),
            &X25519Identity::from_bytes([8; 32]),
        );
        for at in [0, 31, 32, 63, 64, 79] {
            let mut d = w.clone();
            d.blob[at] ^= 1;
            wrong(&[d], &ctx("a"), &id);
        }
        let mut short = w.clone();
        short.blob.pop();
        wrong(&[short], &ctx("a"), &id);
        // A low-order enc (all zeros): the DH result is zero, refused by HPKE.
        let mut zero = w.clone();
        zero.blob[..32].fill(0);
        wrong(&[zero], &ctx("a"), &id);
        // The public key in the info decides which entries are tried.
        let mut other_info = w;
        other_info.provider_info[0] ^= 1;
        wrong(&[other_info], &ctx("a"), &id);
    }

    #[test]
    fn later_entry_opens_after_a_damaged_one() {
        let id = X25519Identity::from_bytes([7; 32]);
        let dk = DataKey::from_bytes([3; 32]);
        let good = id
            .recipient()
            .wrap_with_seed(&dk, &ctx("a"), [9; 32])
            .expect("wraps");
        let mut bad = good.clone();
        bad.blob[40] ^= 1;
        assert_eq!(id.unwrap(&[bad, good], &ctx("a")).expect("second"), dk);
    }

    #[test]
    fn a_public_key_opens_nothing() {
        let id = X25519Identity::from_bytes([7; 32]);
        let dk = DataKey::from_bytes([3; 32]);
        let w = id.wrap(&dk, &ctx("a")).expect("wraps to itself");
        assert_eq!(id.recipient().unwrap(&[w], &ctx("a")), Err(Error::WrongKey));
    }

    #[test]
    fn low_order_recipient_is_refused_when_wrapping() {
        let r = X25519Recipient::from_bytes([0; 32]);
        let dk = DataKey::from_bytes([3; 32]);
        assert!(matches!(
            r.wrap_with_seed(&dk, &ctx("a"), [9; 32]),
            Err(Error::InvalidWrappedKey(_))
        ));
    }

    #[test]
    fn text_forms_round_trip_and_check() {
        let id = X25519Identity::from_bytes([7; 32]);
        let public = id.recipient().to_text();
        assert!(
            public.starts_with("cdpub1") && public.len() == 64,
            "{public}"
        );
        assert_eq!(
            X25519Recipient::from_text(&public).expect("parses"),
            *id.recipient()
        );
        assert_eq!(
            X25519Recipient::from_text(&public.to_uppercase()).expect("either case"),
            *id.recipient()
        );
        let secret = id.to_text();
        assert!(secret.starts_with("CDSECRET1"), "{}", secret.len());
        assert_eq!(
            X25519Identity::from_text(&secret)
                .expect("parses")
                .secret_bytes(),
            &[7; 32]
        );
        // A typo, the other kind of key, the wrong checksum variant: refused.
        let mut typo = public.clone().into_bytes();
        typo[20] = if typo[20] == b'q' { b'p' } else { b'q' };
        assert!(X25519Recipient::from_text(core::str::from_utf8(&typo).expect("ascii")).is_err());
        assert!(X25519Recipient::from_text(&secret).is_err());
        assert!(X25519Identity::from_text(&public).is_err());
        let bech32_not_m =
            bech32::encode::<bech32::Bech32>(Hrp::parse("cdpub").expect("valid"), &[7; 32])
                .expect("encodes");
        assert!(X25519Recipient::from_text(&bech32_not_m).is_err());
    }

    #[test]
    fn debug_shows_no_secret() {
        let id = X25519Identity::from_bytes([0xab; 32]);
        let s = format!("{id:?}");
        assert!(s.contains("cdpub1"), "{s}");
        assert!(!s.contains(id.to_text().as_str()), "{s}");
        assert!(!s.contains("171") && !s.contains("ab, ab"), "{s}");
    }
}
