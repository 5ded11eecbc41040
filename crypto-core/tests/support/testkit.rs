//! Shared by the integration tests: vector files, the plaintext pattern, and a
//! streaming decrypt that records what was released before an error.
#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::{Path, PathBuf};

use cipherdrop_core::{
    Argon2idParams, EncryptionContext, Error, Header, Keyring, Opener, PassphraseKeyring,
    RawAesKeyring,
};

/// Plaintext of every vector: byte `i` is `i mod 251`.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect()
}

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// A vector file: `key: value` lines, a blank line, then the file bytes.
#[derive(Debug, Clone)]
pub struct Vector {
    pub name: String,
    pub fields: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Vector {
    pub fn parse(name: &str, bytes: &[u8]) -> Self {
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .expect("blank line after the fields");
        let text = std::str::from_utf8(&bytes[..split]).expect("UTF-8 fields");
        let fields = text
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(": ").expect("key: value");
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Self {
            name: name.to_owned(),
            fields,
            body: bytes[split + 2..].to_vec(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.fields {
            out.extend_from_slice(format!("{k}: {v}\n").as_bytes());
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn context(&self) -> EncryptionContext {
        EncryptionContext::from_pairs(
            self.all("context")
                .into_iter()
                .map(|kv| kv.split_once('=').unwrap()),
        )
        .unwrap()
    }

    /// The key to open it with: `passphrase` (FORMAT.md 2.4; the costs come from
    /// the file) or `master_key` + `key_name` (`raw-aes`).
    pub fn keyring(&self) -> Box<dyn Keyring> {
        if let Some(identity) = self.get("identity") {
            let secret: [u8; 32] = hex::decode(identity).unwrap().try_into().unwrap();
            return Box::new(cipherdrop_core::X25519Identity::from_bytes(secret));
        }
        if let Some(passphrase) = self.get("passphrase") {
            return Box::new(PassphraseKeyring::new(
                passphrase.as_bytes(),
                Argon2idParams::DEFAULT,
            ));
        }
        let key: [u8; 32] = hex::decode(self.get("master_key").unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        Box::new(RawAesKeyring::new(self.get("key_name").unwrap(), key))
    }

    pub fn usize_field(&self, key: &str) -> usize {
        self.get(key).unwrap().parse().unwrap()
    }
}

pub fn load_all() -> Vec<Vector> {
    let mut out: Vec<Vector> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "vector"))
        .map(|p| {
            Vector::parse(
                p.file_stem().unwrap().to_str().unwrap(),
                &std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Decrypts `file` as a stream fed in `piece`-byte pushes; returns the plaintext
/// released and the outcome.
pub fn stream_decrypt(
    file: &[u8],
    keyring: &dyn Keyring,
    context: &EncryptionContext,
    piece: usize,
) -> (Vec<u8>, Result<(), Error>) {
    let mut released = Vec::new();
    let header = match Header::parse(file) {
        Ok(h) => h,
        Err(e) => return (released, Err(e)),
    };
    let body = &file[header.len()..];
    let mut stream = match Opener::with_keyring(header, keyring, context) {
        Ok(o) => o.into_stream(),
        Err(e) => return (released, Err(e)),
    };
    for p in body.chunks(piece.max(1)) {
        if let Err(e) = stream.push(p, &mut released) {
            return (released, Err(e));
        }
    }
    let r = stream.finish(&mut released);
    (released, r)
}
