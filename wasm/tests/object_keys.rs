//! One object's keys in place of the data key (`Encryptor.withObjectKeys`,
//! `Decryptor.withObjectKeys`), and the order of the header checks: nothing the
//! header says (its lengths) decides behaviour or the error before its context,
//! commitment and tag are checked. In headless browsers (`wasm-bindgen-test`).
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    missing_docs
)]

use cipherdrop_core::{ChunkSize, DataKey, EncryptionContext, Sealer, WrappedKey};
use cipherdrop_wasm::{Decryptor, Encryptor};
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn code(e: &JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
    Reflect::get(e, &"code".into())
        .unwrap()
        .as_string()
        .unwrap_or_default()
}

fn context(object: &str) -> (EncryptionContext, JsValue) {
    let mut ctx = EncryptionContext::new();
    ctx.insert("object", object).unwrap();
    ctx.insert("owner", "0123456789abcdef0123456789abcdef")
        .unwrap();
    let js = Object::new();
    for (k, v) in ctx.iter() {
        Reflect::set(&js, &k.into(), &v.into()).unwrap();
    }
    (ctx, js.into())
}

/// What a backend makes at upload start: a header, and the object's keys.
fn server_side(len: Option<u64>) -> (Vec<u8>, Vec<u8>, Vec<u8>, DataKey) {
    let dk = DataKey::generate().unwrap();
    let (ctx, _) = context("aa");
    let wrapped = [WrappedKey {
        provider_id: "raw-aes".into(),
        provider_info: b"k".to_vec(),
        blob: vec![7; 60],
    }];
    let sealer = Sealer::new(&dk, &ctx, &wrapped, ChunkSize::from_u64(4096).unwrap(), len).unwrap();
    let keys = sealer.object_keys();
    (
        sealer.header().as_bytes().to_vec(),
        keys.content_key().to_vec(),
        keys.header_key().to_vec(),
        dk,
    )
}

#[wasm_bindgen_test]
fn object_keys_seal_and_open_one_object() {
    let plain: Vec<u8> = (0..10_000u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let (header, ck, hk, dk) = server_side(Some(u64::try_from(plain.len()).unwrap()));
    let (_, ctx) = context("aa");
    let enc = Encryptor::with_object_keys(&header, &ck, &hk, ctx.clone()).unwrap();
    assert_eq!(enc.header(), header);
    let mut file = header.clone();
    for (i, c) in plain.chunks(4096).enumerate() {
        file.extend(
            enc.seal_chunk(f64::from(u32::try_from(i).unwrap()), c)
                .unwrap(),
        );
    }
    // Opened with the object's keys alone, and with the data key: the same bytes.
    for dec in [
        Decryptor::with_object_keys(&file, &ck, &hk, ctx.clone(), None).unwrap(),
        Decryptor::new(&file, dk.as_bytes(), ctx.clone(), None).unwrap(),
    ] {
        let mut out = Vec::new();
        let mut off = header.len();
        for i in 0..3 {
            let r = dec.chunk_range(f64::from(i)).unwrap();
            let end = Reflect::get(&r, &"end".into()).unwrap().as_f64().unwrap();
            let end: usize = end.to_string().parse().unwrap();
            out.extend(dec.open_chunk(f64::from(i), &file[off..end], None).unwrap());
            off = end;
        }
        assert_eq!(out, plain);
    }

    // Another object's keys, another context, a changed header, bytes after it.
    let (_, other_ck, other_hk, _) = server_side(Some(u64::try_from(plain.len()).unwrap()));
    let e = Encryptor::with_object_keys(&header, &other_ck, &other_hk, ctx.clone()).unwrap_err();
    assert_eq!(code(&e), "HEADER_AUTH_FAILED");
    let e = Decryptor::with_object_keys(&file, &ck, &other_hk, ctx.clone(), None).unwrap_err();
    assert_eq!(code(&e), "HEADER_AUTH_FAILED");
    let (_, elsewhere) = context("bb");
    let e = Encryptor::with_object_keys(&header, &ck, &hk, elsewhere.clone()).unwrap_err();
    assert_eq!(code(&e), "CONTEXT_MISMATCH");
    let e = Decryptor::with_object_keys(&file, &ck, &hk, elsewhere, None).unwrap_err();
    assert_eq!(code(&e), "CONTEXT_MISMATCH");
    let mut bent = header.clone();
    bent[30] ^= 1;
    assert!(Encryptor::with_object_keys(&bent, &ck, &hk, ctx.clone()).is_err());
    let e = Encryptor::with_object_keys(&file, &ck, &hk, ctx.clone()).unwrap_err();
    assert_eq!(code(&e), "INVALID_ARGUMENT");
    let e = Encryptor::with_object_keys(&header, &ck[..31], &hk, ctx).unwrap_err();
    assert_eq!(code(&e), "INVALID_ARGUMENT");
}

#[wasm_bindgen_test]
fn a_header_is_checked_before_its_lengths_decide_anything() {
    // A header without a recorded length, so the reader's ciphertextLength and the
    // header's chunk size give the layout; 3 bytes is no possible file length.
    let (header, ck, hk, dk) = server_side(None);
    let (_, ctx) = context("aa");
    let bad_len = Some(f64::from(u32::try_from(header.len() + 3).unwrap()));
    // An authentic header: the impossible length is what is wrong.
    let e = Decryptor::new(&header, dk.as_bytes(), ctx.clone(), bad_len).unwrap_err();
    let length_code = code(&e);
    assert_ne!(length_code, "HEADER_AUTH_FAILED");
    // A forged one (tag changed): the tag check answers first, whatever the length.
    let mut forged = header.clone();
    *forged.last_mut().unwrap() ^= 1;
    for len in [bad_len, None, Some(1e12)] {
        let e = Decryptor::new(&forged, dk.as_bytes(), ctx.clone(), len).unwrap_err();
        assert_eq!(code(&e), "HEADER_AUTH_FAILED", "{len:?}");
        let e = Decryptor::with_object_keys(&forged, &ck, &hk, ctx.clone(), len).unwrap_err();
        assert_eq!(code(&e), "HEADER_AUTH_FAILED", "{len:?}");
    }
    // Another object's header: the context answers first.
    let (_, elsewhere) = context("bb");
    let e = Decryptor::new(&header, dk.as_bytes(), elsewhere, bad_len).unwrap_err();
    assert_eq!(code(&e), "CONTEXT_MISMATCH");
}
