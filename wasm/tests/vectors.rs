//! crypto-core's vector files replayed through the wasm bindings in headless
//! Chromium (`wasm-bindgen-test`): every positive vector decrypts to the pattern and
//! re-encrypts to the same bytes; every negative vector fails with its code; and
//! WebCrypto seals the same bytes as the wasm AES-GCM.
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    missing_docs
)]

use cipherdrop_core::passphrase::PASSPHRASE_ARGON2ID;
use cipherdrop_core::{
    Argon2idParams, ChunkSize, DataKey, EncryptionContext, Header, PassphraseKeyring,
    RawAesKeyring, Sealer, WrappedKey,
};
use cipherdrop_wasm::{
    ChunkCipher, Decryptor, Encryptor, Keyring, chunk_nonce, header_length, read_header,
};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

include!(concat!(env!("OUT_DIR"), "/vectors.rs"));

struct Vector {
    name: &'static str,
    fields: Vec<(String, String)>,
    body: &'static [u8],
}

impl Vector {
    fn parse(name: &'static str, bytes: &'static [u8]) -> Self {
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .expect("blank line");
        let text = core::str::from_utf8(&bytes[..split]).expect("UTF-8 fields");
        let fields = text
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(": ").expect("key: value");
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Self {
            name,
            fields,
            body: &bytes[split + 2..],
        }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.as_str())
    }
    fn pairs(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter(|(k, _)| k == "context")
            .map(|(_, v)| {
                let (a, b) = v.split_once('=').unwrap();
                (a.to_owned(), b.to_owned())
            })
            .collect()
    }
    fn context_js(&self) -> JsValue {
        let obj = Object::new();
        for (k, v) in self.pairs() {
            Reflect::set(&obj, &k.into(), &v.into()).unwrap();
        }
        obj.into()
    }
    fn context(&self) -> EncryptionContext {
        EncryptionContext::from_pairs(self.pairs()).unwrap()
    }
    fn hex(&self, k: &str) -> Vec<u8> {
        hex(self.get(k).unwrap())
    }
    /// The keyring the vector names: `passphrase` (costs from the file) or
    /// `master_key` + `key_name`.
    fn keyring(&self) -> Result<Keyring, JsValue> {
        match self.get("passphrase") {
            Some(p) => Keyring::from_passphrase(p, JsValue::UNDEFINED),
            None => Keyring::from_key(self.get("key_name").unwrap(), &self.hex("master_key")),
        }
    }
    /// A vector only an `x25519-hpke` identity opens: this package has no such
    /// keyring (recovery keys are opened by the command line), so it is skipped.
    fn opened_by_identity_only(&self) -> bool {
        self.get("identity").is_some()
            && self.get("master_key").is_none()
            && self.get("passphrase").is_none()
    }
    fn num(&self, k: &str) -> usize {
        self.get(k).unwrap().parse().unwrap()
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect()
}

fn code(e: &JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
    let name = Reflect::get(e, &"name".into()).unwrap().as_string();
    assert_eq!(name.as_deref(), Some("CipherDropError"));
    Reflect::get(e, &"code".into())
        .unwrap()
        .as_string()
        .unwrap_or_default()
}

/// Decrypts a vector through the bindings (readHeader, Decryptor.withKeyring,
/// StreamDecryptor) fed in `piece`-byte pushes: (released plaintext, result).
fn replay(v: &Vector, piece: usize) -> (Vec<u8>, Result<(), String>) {
    let mut released = Vec::new();
    let run = |released: &mut Vec<u8>| -> Result<(), JsValue> {
        let hl = header_length(&v.body[..v.body.len().min(15)])? as usize;
        let _info = read_header(v.body)?;
        let keyring = v.keyring()?;
        let dec = Decryptor::with_keyring(
            &v.body[..hl.min(v.body.len())],
            &keyring,
            v.context_js(),
            None,
        )?;
        let mut s = dec.into_stream();
        for p in v.body[hl..].chunks(piece) {
            released.extend(s.push(p)?);
        }
        released.extend(s.finish()?);
        Ok(())
    };
    let r = run(&mut released).map_err(|e| code(&e));
    (released, r)
}

#[wasm_bindgen_test]
fn every_vector_decrypts_as_it_says() {
    assert!(VECTORS.len() >= 30, "{} vectors", VECTORS.len());
    let mut replayed = 0;
    for (name, bytes) in VECTORS {
        let v = Vector::parse(name, bytes);
        if v.opened_by_identity_only() {
            continue;
        }
        replayed += 1;
        let want = pattern(v.num("plaintext_len"));
        for piece in [1, 1000, 4112, 1 << 20] {
            let (released, result) = replay(&v, piece);
            match v.get("expect").unwrap() {
                "success" => {
                    assert_eq!(result, Ok(()), "{} piece {piece}", v.name);
                    assert!(released == want, "{}: wrong plaintext", v.name);
                }
                e => {
                    let expected = e.strip_prefix("error ").unwrap();
                    assert_eq!(result, Err(expected.to_owned()), "{} piece {piece}", v.name);
                    let r = v.num("released");
                    assert!(
                        released.len() <= r,
                        "{}: released {} > {r}",
                        v.name,
                        released.len()
                    );
                    assert!(
                        released == want[..released.len()],
                        "{}: released wrong bytes",
                        v.name
                    );
                    if piece == 1 << 20 {
                        assert_eq!(released.len(), r, "{}", v.name);
                    }
                }
            }
        }
    }
    assert!(replayed >= 40, "{replayed} vectors replayed");
}

#[wasm_bindgen_test]
fn positive_vectors_reencrypt_to_the_same_bytes_in_wasm() {
    let mut checked = 0;
    for (name, bytes) in VECTORS {
        let v = Vector::parse(name, bytes);
        if v.get("expect") != Some("success") || v.opened_by_identity_only() {
            continue;
        }
        let header = Header::parse(v.body).unwrap();
        let ctx = v.context();
        let dk = DataKey::try_from_slice(&v.hex("data_key")).unwrap();
        let nonce: [u8; 12] = v.hex("wrap_nonce").try_into().unwrap();
        // Re-wrap every key the header names with the same nonce (the vectors use
        // `master` = 0x4d.., `backup` = 0x42..; a passphrase wrap's costs and salt
        // are in its provider info).
        let wrapped: Vec<_> = header
            .wrapped_keys()
            .iter()
            .map(|w| {
                if w.provider_id == PASSPHRASE_ARGON2ID {
                    return passphrase_rewrap(&v, w, &dk, &ctx, nonce);
                }
                if w.provider_id == "x25519-hpke" {
                    // Sealed with a random ephemeral key: the vector's own entry is
                    // kept (this package cannot wrap to a recipient).
                    return w.clone();
                }
                let name = core::str::from_utf8(&w.provider_info).unwrap();
                let key = if name == "master" {
                    [0x4d; 32]
                } else {
                    [0x42; 32]
                };
                RawAesKeyring::new(name, key)
                    .wrap_with_nonce(&dk, &ctx, nonce)
                    .unwrap()
            })
            .collect();
        let id: [u8; 32] = v.hex("message_id").try_into().unwrap();
        let len = v.num("plaintext_len");
        let sealer = Sealer::with_message_id(
            &dk,
            &ctx,
            &wrapped,
            header.chunk_size(),
            header.plaintext_len(),
            id,
        )
        .unwrap();
        let mut out = Vec::new();
        let mut s = sealer.into_stream();
        s.push(&pattern(len), &mut out).unwrap();
        s.finish(&mut out).unwrap();
        assert!(out == v.body, "{}: wasm wrote different bytes", v.name);
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}

/// Wraps `dk` again with the vector's passphrase and the costs and salt that
/// `w`'s provider info records (`argon2id$v=19$m=M,t=T,p=P$SALT`).
fn passphrase_rewrap(
    v: &Vector,
    w: &WrappedKey,
    dk: &DataKey,
    ctx: &EncryptionContext,
    nonce: [u8; 12],
) -> WrappedKey {
    let info = core::str::from_utf8(&w.provider_info).unwrap();
    let fields: Vec<&str> = info.split('$').collect();
    let costs: Vec<u32> = fields[2]
        .split(',')
        .map(|kv| kv.split_once('=').unwrap().1.parse().unwrap())
        .collect();
    let params = Argon2idParams::new(costs[0], costs[1], costs[2]).unwrap();
    let salt: [u8; 16] = hex(fields[3]).try_into().unwrap();
    PassphraseKeyring::new(v.get("passphrase").unwrap().as_bytes(), params)
        .wrap_with(dk, ctx, salt, nonce)
        .unwrap()
}

#[wasm_bindgen_test]
async fn webcrypto_seals_the_same_bytes_as_wasm_aes_gcm() {
    let dk = [7u8; 32];
    let wrapped = js_sys::Array::new();
    let w = Object::new();
    Reflect::set(&w, &"providerId".into(), &"test".into()).unwrap();
    Reflect::set(&w, &"blob".into(), &Uint8Array::from(&[1u8][..])).unwrap();
    wrapped.push(&w.into());
    let cs = ChunkSize::MIN.get() as usize;
    let len = 3 * cs + 10;
    let data = pattern(len);
    let enc = Encryptor::new(
        &dk,
        wrapped.into(),
        Object::new().into(),
        ChunkSize::MIN.get(),
        Some(len as f64),
    )
    .unwrap();
    let key = enc.content_key();
    let cipher = ChunkCipher::new(&key).unwrap();
    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let usages = js_sys::Array::of1(&"encrypt".into());
    let ck: web_sys::CryptoKey = JsFuture::from(
        subtle
            .import_key_with_str(
                "raw",
                &Uint8Array::from(&key[..]).into(),
                "AES-GCM",
                false,
                &usages,
            )
            .unwrap(),
    )
    .await
    .unwrap()
    .unchecked_into();
    for i in 0..4u32 {
        let chunk = &data[i as usize * cs..len.min((i as usize + 1) * cs)];
        let is_final = i == 3;
        let core = enc.seal_chunk(f64::from(i), chunk).unwrap();
        let wasm = cipher.seal(f64::from(i), is_final, chunk).unwrap();
        let nonce = chunk_nonce(f64::from(i), is_final).unwrap();
        let params = web_sys::AesGcmParams::new("AES-GCM", &Uint8Array::from(&nonce[..]));
        let sealed = JsFuture::from(
            subtle
                .encrypt_with_object_and_u8_array(&params, &ck, chunk)
                .unwrap(),
        )
        .await
        .unwrap();
        let webcrypto = Uint8Array::new(&sealed).to_vec();
        assert_eq!(core, wasm, "chunk {i}: Encryptor.sealChunk vs ChunkCipher");
        assert_eq!(webcrypto, wasm, "chunk {i}: WebCrypto vs wasm");
        assert_eq!(
            cipher.open(f64::from(i), is_final, &webcrypto).unwrap(),
            chunk
        );
        let wrong_flag = cipher
            .open(f64::from(i), !is_final, &webcrypto)
            .unwrap_err();
        assert_eq!(code(&wrong_flag), "DECRYPTION_FAILED");
    }
}
