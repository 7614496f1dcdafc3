//! The set of user keys seen in one export, for duplicate detection: on the hot path of every
//! row, and the one structure that grows with the number of users.
//!
//! Keys are stored once, back to back, in one growing buffer (no allocation per key) and indexed
//! by a 64-bit hash in a table of small entries, so that growing the index never reads the keys
//! again and a lookup touches as little memory as possible. A hash shared by two
//! different keys (about one chance in 10^8 for a million keys) is resolved exactly by a small
//! fallback map: a key is never reported as a duplicate of a different key.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// User keys seen so far, each with the line where it was first seen.
#[derive(Default)]
pub(super) struct KeySet {
    /// Key hash -> key number. Small entries, as this is where the cache misses are.
    index: HashMap<u64, u32, BuildHasherDefault<PrehashedHasher>>,
    /// Every key, back to back.
    bytes: String,
    /// Where key `n` starts in `bytes` (and key `n + 1`, where it ends).
    starts: Vec<usize>,
    /// The line where key `n` was first seen.
    lines: Vec<u64>,
    /// Keys whose hash is taken by a different, earlier key (or past the 4 billionth key).
    fallback: HashMap<Box<str>, u64>,
}

impl KeySet {
    /// The line where `key` was first seen; or `None`, recording it as first seen on `line`.
    pub(super) fn first_line_or_insert(&mut self, key: &str, line: u64) -> Option<u64> {
        let hash = hash_key(key.as_bytes());
        match self.index.entry(hash) {
            Entry::Occupied(slot) => {
                let n = *slot.get() as usize;
                if self.key(n) == Some(key) {
                    return self.lines.get(n).copied();
                }
                self.fallback_first_line_or_insert(key, line)
            }
            Entry::Vacant(vacant) => {
                let Ok(n) = u32::try_from(self.lines.len()) else {
                    return self.fallback_first_line_or_insert(key, line);
                };
                vacant.insert(n);
                self.starts.push(self.bytes.len());
                self.bytes.push_str(key);
                self.lines.push(line);
                None
            }
        }
    }

    fn fallback_first_line_or_insert(&mut self, key: &str, line: u64) -> Option<u64> {
        match self.fallback.get(key) {
            Some(&first) => Some(first),
            None => {
                self.fallback.insert(key.into(), line);
                None
            }
        }
    }

    /// Key number `n`.
    fn key(&self, n: usize) -> Option<&str> {
        let start = *self.starts.get(n)?;
        let end = self.starts.get(n + 1).copied().unwrap_or(self.bytes.len());
        self.bytes.get(start..end)
    }

    /// Makes room for `keys` more keys of about `key_len` bytes each.
    pub(super) fn reserve(&mut self, keys: usize, key_len: usize) {
        self.index.reserve(keys);
        self.starts.reserve(keys);
        self.lines.reserve(keys);
        self.bytes.reserve(keys.saturating_mul(key_len));
    }

    /// The mean length of the keys stored (at least 1).
    pub(super) fn mean_key_len(&self) -> usize {
        (self.bytes.len() / self.starts.len().max(1)).max(1)
    }

    /// How many keys are stored.
    pub(super) fn len(&self) -> usize {
        self.lines.len() + self.fallback.len()
    }
}

/// A 64-bit hash of a key: FxHash's word step, then murmur3's finaliser so that every bit of
/// the result depends on every input byte. Keys come from the file being checked, so resistance
/// to crafted collisions is not needed (and collisions stay exact, see [`KeySet`]).
fn hash_key(bytes: &[u8]) -> u64 {
    let mut hash: u64 = bytes.len() as u64;
    let mut add = |word: u64| {
        hash = (hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        add(u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        add(u64::from_le_bytes(word));
    }
    let mut h = hash;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The index's keys are already hashes: use them as they are.
#[derive(Default)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_of_each_key_is_kept() {
        let mut keys = KeySet::default();
        assert_eq!(keys.first_line_or_insert("E1", 2), None);
        assert_eq!(keys.first_line_or_insert("E2", 3), None);
        assert_eq!(keys.first_line_or_insert("E1", 4), Some(2));
        assert_eq!(keys.first_line_or_insert("E1", 5), Some(2));
        assert_eq!(keys.first_line_or_insert("e1", 6), None);
        assert_eq!(keys.first_line_or_insert("", 7), None);
        assert_eq!(keys.first_line_or_insert("", 8), Some(7));
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn colliding_hashes_stay_exact() {
        let mut keys = KeySet::default();
        keys.first_line_or_insert("a", 1);
        // Force a collision: another key stored under "a"'s hash.
        keys.bytes = "b".into();
        assert_eq!(keys.first_line_or_insert("a", 2), None, "a different key");
        assert_eq!(keys.first_line_or_insert("a", 3), Some(2));
    }

    #[test]
    fn similar_keys_hash_apart() {
        let hashes: std::collections::HashSet<u64> = (0..100_000)
            .map(|i| hash_key(format!("E{i:07}").as_bytes()))
            .collect();
        assert_eq!(hashes.len(), 100_000);
        // The low bits (bucket index) are spread too.
        let low: std::collections::HashSet<u64> = (0..4096)
            .map(|i| hash_key(format!("E{i:07}").as_bytes()) & 0xfff)
            .collect();
        assert!(low.len() > 2500, "{}", low.len());
    }
}
