//! The bundle's `__metadata__`: string keys to string values, in ascending byte order of key.
//!
//! A sorted `Vec` rather than a `BTreeMap<String, String>`: the map's node code would be a second
//! B-tree instantiation in the wasm (the context's JSON objects are the first), ~1 KB gzip for a
//! few dozen entries read once at load.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::BundleError;
use crate::numfmt::parse_f32;

/// Metadata entries, sorted by key, keys unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(Vec<(String, String)>);

impl Metadata {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Sets `key` to `value`, returning the value it replaces (a repeated key: the last wins).
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// The entries in ascending byte order of key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys in ascending byte order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<&str> for Metadata {
    type Output = String;
    /// The value of `key`; panics if it is not set (like `BTreeMap`'s index).
    fn index(&self, key: &str) -> &String {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no metadata key '{key}'"),
        }
    }
}

impl FromIterator<(String, String)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut m = Metadata::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl From<BTreeMap<String, String>> for Metadata {
    fn from(map: BTreeMap<String, String>) -> Self {
        // Already in key order.
        Metadata(map.into_iter().collect())
    }
}

impl From<Metadata> for BTreeMap<String, String> {
    fn from(m: Metadata) -> Self {
        m.0.into_iter().collect()
    }
}

/// Serializes as a JSON object in key order (what `vitrine inspect --json` prints).
impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A metadata value read as a finite f32 that passes `valid` (`None` when the key is absent); a
/// malformed value is an error naming the key.
pub(super) fn metadata_f32(
    metadata: &Metadata,
    key: &'static str,
    valid: impl Fn(f32) -> bool,
    why: &str,
) -> Result<Option<f32>, BundleError> {
    let Some(v) = metadata.get(key) else {
        return Ok(None);
    };
    match parse_f32(v.trim()) {
        Some(x) if x.is_finite() && valid(x) => Ok(Some(x)),
        _ => Err(BundleError::Metadata {
            key: key.into(),
            value: v.chars().take(80).collect(),
            why: why.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_btreemap() {
        let pairs = [
            ("b", "1"),
            ("a", "2"),
            ("é", "3"),
            ("B", "4"),
            ("a", "5"),
            ("", "6"),
        ];
        let mut m = Metadata::new();
        let mut r = BTreeMap::new();
        for (k, v) in pairs {
            assert_eq!(
                m.insert(k.into(), v.into()),
                r.insert(k.to_owned(), v.to_owned())
            );
        }
        assert_eq!(m.len(), r.len());
        assert!(m.iter().eq(r.iter()));
        assert!(m.keys().eq(r.keys()));
        for k in ["a", "b", "B", "é", "", "zz"] {
            assert_eq!(m.get(k), r.get(k));
            assert_eq!(m.contains_key(k), r.contains_key(k));
        }
        assert_eq!(m["a"], "5");
        assert_eq!(BTreeMap::from(m.clone()), r);
        assert_eq!(Metadata::from(r.clone()), m);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            serde_json::to_string(&r).unwrap()
        );
        let collected: Metadata = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(collected, m);
    }
}
