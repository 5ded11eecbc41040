//! The encryption context: who owns an object and which object it is.
//!
//! Canonical encoding (used both in the header and as AAD when wrapping a data key):
//!
//! ```text
//! u16 count
//! count x { u16 key_len, key (UTF-8), u16 value_len, value (UTF-8) }
//! ```
//!
//! all integers big-endian, entries sorted by key bytes, keys unique and non-empty.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::wire::Reader;
use crate::{Error, Result};

/// Most entries a context may hold.
pub const MAX_ENTRIES: usize = 32;
/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 256;
/// Longest value, in bytes.
pub const MAX_VALUE_LEN: usize = 1024;

/// A set of `key = value` strings bound into a file's header.
///
/// The decryptor is given the context it expects and refuses a file whose context
/// differs, so one file cannot be passed off as another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    #[must_use]
    pub const fn new() -> Self {
        Self(BTreeMap::new())
    }

    /// Adds an entry.
    ///
    /// # Errors
    /// [`Error::InvalidContext`] when the key is empty or repeated, or a limit is passed.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let key = key.into();
        let value = value.into();
        if key.is_empty() {
            return Err(Error::InvalidContext("a key is empty"));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::InvalidContext("a key is longer than 256 bytes"));
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(Error::InvalidContext("a value is longer than 1024 bytes"));
        }
        if self.0.contains_key(&key) {
            return Err(Error::InvalidContext("a key appears twice"));
        }
        if self.0.len() >= MAX_ENTRIES {
            return Err(Error::InvalidContext("more than 32 entries"));
        }
        self.0.insert(key, value);
        Ok(())
    }

    /// Builds a context from pairs.
    ///
    /// # Errors
    /// As [`EncryptionContext::insert`].
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let mut ctx = Self::new();
        for (k, v) in pairs {
            ctx.insert(k, v)?;
        }
        Ok(ctx)
    }

    /// The value for `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Entries in canonical (sorted) order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Length of the canonical encoding.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        2 + self
            .0
            .iter()
            .map(|(k, v)| 4 + k.len() + v.len())
            .sum::<usize>()
    }

    /// The canonical encoding (see the module docs).
    #[must_use]
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        // Limits enforced by `insert` keep every length within u16.
        out.extend_from_slice(&u16_len(self.0.len()).to_be_bytes());
        for (k, v) in &self.0 {
            out.extend_from_slice(&u16_len(k.len()).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&u16_len(v.len()).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
    }

    /// Parses the canonical encoding, checking every length before reading.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let count = usize::from(r.u16()?);
        if count > MAX_ENTRIES {
            return Err(Error::LimitExceeded(
                "more than 32 encryption context entries",
            ));
        }
        let mut map = BTreeMap::new();
        let mut prev: Option<&[u8]> = None;
        for _ in 0..count {
            let klen = usize::from(r.u16()?);
            if klen == 0 {
                return Err(Error::MalformedHeader("an encryption context key is empty"));
            }
            if klen > MAX_KEY_LEN {
                return Err(Error::LimitExceeded(
                    "an encryption context key is longer than 256 bytes",
                ));
            }
            let k = r.bytes(klen)?;
            let vlen = usize::from(r.u16()?);
            if vlen > MAX_VALUE_LEN {
                return Err(Error::LimitExceeded(
                    "an encryption context value is longer than 1024 bytes",
                ));
            }
            let v = r.bytes(vlen)?;
            if prev.is_some_and(|p| p >= k) {
                return Err(Error::MalformedHeader(
                    "encryption context keys are not sorted and unique",
                ));
            }
            prev = Some(k);
            let ks = core::str::from_utf8(k)
                .map_err(|_| Error::MalformedHeader("an encryption context key is not UTF-8"))?;
            let vs = core::str::from_utf8(v)
                .map_err(|_| Error::MalformedHeader("an encryption context value is not UTF-8"))?;
            map.insert(String::from(ks), String::from(vs));
        }
        Ok(Self(map))
    }
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "callers keep lengths under the u16 limits"
)]
const fn u16_len(n: usize) -> u16 {
    n as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_sorted_whatever_the_insert_order() {
        let a =
            EncryptionContext::from_pairs([("owner", "alice"), ("object", "x1")]).expect("valid");
        let b =
            EncryptionContext::from_pairs([("object", "x1"), ("owner", "alice")]).expect("valid");
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        assert_eq!(
            a.canonical_bytes(),
            b"\x00\x02\x00\x06object\x00\x02x1\x00\x05owner\x00\x05alice".to_vec()
        );
    }

    #[test]
    fn decode_round_trips_and_refuses_unsorted() {
        let ctx = EncryptionContext::from_pairs([("b", "2"), ("a", "1")]).expect("valid");
        let bytes = ctx.canonical_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(EncryptionContext::decode(&mut r).expect("decodes"), ctx);
        let unsorted = b"\x00\x02\x00\x01b\x00\x012\x00\x01a\x00\x011";
        assert_eq!(
            EncryptionContext::decode(&mut Reader::new(unsorted)),
            Err(Error::MalformedHeader(
                "encryption context keys are not sorted and unique"
            ))
        );
    }

    #[test]
    fn insert_refuses_duplicates_and_empty_keys() {
        let mut ctx = EncryptionContext::new();
        ctx.insert("k", "v").expect("first insert");
        assert!(matches!(
            ctx.insert("k", "w"),
            Err(Error::InvalidContext(_))
        ));
        assert!(matches!(ctx.insert("", "w"), Err(Error::InvalidContext(_))));
    }
}
