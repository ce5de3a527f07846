//! A JSON object whose keys keep their insertion order in a plain vector.
//!
//! serde_json's ordered map hashes each key (SipHash) into an index table per object, and in a
//! CloudTrail run that bookkeeping and its allocations were the largest part of the CPU time.
//! Events have tens of keys, where a linear scan is cheaper than hashing; an object that grows
//! past [`INDEXED_FROM`] keys gets a hash index, so that a hostile file cannot make building
//! it quadratic.
//!
//! The semantics are serde_json's (and Python's `dict`): inserting an existing key replaces
//! its value where it stands; removing a key keeps the order of the others.

use super::{Str, Value, NULL};
use std::collections::HashMap;
use std::fmt;

/// Objects with more keys than this are looked up through a hash index.
const INDEXED_FROM: usize = 32;

/// A JSON object: keys in insertion order.
#[derive(Clone, Default)]
pub struct Map {
    entries: Vec<(Str, Value)>,
    /// Key -> position, kept only for objects past [`INDEXED_FROM`] keys (boxed: most objects
    /// have none, and every value of the tree is as large as its largest variant).
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<Str, usize>>>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    /// Positions changed (a removal or an insertion before the end): index again if needed.
    fn reindex(&mut self) {
        self.index = (self.entries.len() > INDEXED_FROM).then(|| {
            self.entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect::<HashMap<_, _>>()
                .into()
        });
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Set `key`; an existing key keeps its place. Returns the value it replaced.
    pub fn insert(&mut self, key: Str, value: Value) -> Option<Value> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        match &mut self.index {
            Some(index) => {
                index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
            None => {
                self.entries.push((key, value));
                if self.entries.len() > INDEXED_FROM {
                    self.reindex();
                }
            }
        }
        None
    }

    /// Set `key` as the first key (moving it there if present).
    pub fn insert_first(&mut self, key: Str, value: Value) {
        self.remove(&key);
        self.entries.insert(0, (key, value));
        self.reindex();
    }

    /// Remove `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let (_, value) = self.entries.remove(i);
        if self.index.is_some() {
            self.reindex();
        }
        Some(value)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut Value) -> bool) {
        let before = self.entries.len();
        self.entries.retain_mut(|(k, v)| keep(k, v));
        if self.entries.len() != before && self.index.is_some() {
            self.reindex();
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Value)> + '_ {
        self.entries.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> + '_ {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl PartialEq for Map {
    /// Like serde_json's maps: the same keys with the same values, in any order.
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl IntoIterator for Map {
    type Item = (Str, Value);
    type IntoIter = std::vec::IntoIter<(Str, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(Str, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Str, Value)>>(iter: I) -> Map {
        let mut map = Map::new();
        map.extend(iter);
        map
    }
}

impl Extend<(Str, Value)> for Map {
    fn extend<I: IntoIterator<Item = (Str, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

/// A map built key by key as a parser reads them. A key whose (length, first byte, last
/// byte) was not seen yet in this object is new: it is pushed without looking for an earlier
/// copy. Only a possible repeat is looked up.
pub(super) struct MapBuilder {
    map: Map,
    seen: u64,
}

impl MapBuilder {
    pub(super) fn with_capacity(keys: usize) -> MapBuilder {
        MapBuilder {
            map: Map {
                entries: Vec::with_capacity(keys),
                index: None,
            },
            seen: 0,
        }
    }

    pub(super) fn push(&mut self, key: Str, value: Value) {
        let bytes = key.as_bytes();
        let mix = bytes.len()
            ^ usize::from(bytes.first().copied().unwrap_or(0)) << 2
            ^ usize::from(bytes.last().copied().unwrap_or(0)) << 4;
        let bit = 1u64 << (mix % 64);
        let map = &mut self.map;
        if self.seen & bit == 0 && map.index.is_none() && map.entries.len() < INDEXED_FROM {
            map.entries.push((key, value));
        } else {
            map.insert(key, value);
        }
        self.seen |= bit;
    }

    pub(super) fn finish(self) -> Map {
        self.map
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;
    /// The field, or null.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_objects_are_indexed_and_behave_the_same() {
        let mut m = Map::new();
        for i in 0..200u64 {
            m.insert(format!("k{i}").into(), i.into());
        }
        assert!(m.index.is_some());
        m.insert("k7".into(), "seven".into());
        assert_eq!(m.get("k7"), Some(&Value::from("seven")));
        assert_eq!(m.remove("k0"), Some(Value::from(0u64)));
        m.insert_first("k199".into(), Value::Null);
        assert_eq!(m.keys().next().unwrap(), "k199");
        assert_eq!(m.get("k1"), Some(&Value::from(1u64)));
        assert_eq!(m.get("k199"), Some(&Value::Null));
        m.retain(|k, _| k.ends_with('1'));
        assert_eq!(m.len(), 20);
        assert!(m.index.is_none());
        assert_eq!(m.get("k191"), Some(&Value::from(191u64)));
        assert!(!m.contains_key("k0"));
    }
}
