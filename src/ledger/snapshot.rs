//! A target's snapshot: every user the target acknowledged, with the hash of their last payload,
//! held compactly enough that a million users take about 100 MB.
//!
//! A `HashMap<String, Entry>` would cost about 190 MB for a million users (a table of 2^21
//! buckets of 88 bytes, plus a heap string per key), so the snapshot keeps its own layout:
//! every key and remote id in one text arena, fixed-size entries in a `Vec` (52 bytes each, with
//! the first half of each payload hash: see [`ShortHash`]), and
//! an open-addressing index of `u32` entry numbers (linear probing, load at most one half),
//! hashed with aHash (randomly keyed like std's SipHash, several times faster on short keys).
//! Field hashes are not loaded: the diff asks [`Ledger::field_hashes`] for the users that changed.
//!
//! Each active user also has, when known, the fingerprint of the export row it was last synced
//! from ([`SourceHash`]), with a second index by fingerprint: a nightly re-sync finds an
//! unchanged row by its bytes alone ([`Snapshot::by_source`]).

use std::collections::HashMap;

use ahash::RandomState;

use rusqlite::OptionalExtension;

use super::error::{LedgerError, SqlContext};
use super::field_hashes::FieldHashes;
use super::hash::{short, Hash, ShortHash, SourceHash};
use super::Ledger;

/// A slot of the index with no entry.
const EMPTY: u32 = u32::MAX;
/// The length that marks "no remote id".
const NO_REMOTE: u32 = u32::MAX;

/// A piece of the text arena.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

#[derive(Debug, Clone)]
struct Entry {
    key: Span,
    remote_id: Span,
    payload_hash: ShortHash,
    /// The fingerprint of the row last synced, when known.
    source: Option<SourceHash>,
    active: bool,
}

/// One user in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotUser<'a> {
    /// Its position in the snapshot (`0..len()`), for a caller's own "seen" bitmap.
    pub index: usize,
    pub key: &'a str,
    pub remote_id: Option<&'a str>,
    /// The hash of the payload last sent successfully (its first half).
    pub payload_hash: &'a ShortHash,
    /// The fingerprint of the export row that payload came from, when known.
    pub source_hash: Option<&'a SourceHash>,
    /// False once the user was deactivated.
    pub active: bool,
}

/// The `synced_users` of one target, in memory, looked up by user key.
#[derive(Debug, Clone)]
pub struct Snapshot {
    text: String,
    entries: Vec<Entry>,
    slots: Vec<u32>,
    /// Active users with a fingerprint, by fingerprint (open addressing like `slots`; the
    /// fingerprint is a keyed hash already, so its first bytes are the slot).
    source_slots: Vec<u32>,
    hasher: RandomState,
    active: usize,
}

impl Snapshot {
    /// The number of users (active or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the target has no synced user.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of active users (the base of the leaver guards).
    pub fn active_len(&self) -> usize {
        self.active
    }

    /// The user with this key.
    pub fn get(&self, key: &str) -> Option<SnapshotUser<'_>> {
        self.position(key).map(|index| self.user(index))
    }

    /// The user at `index` (a [`Snapshot::position`]), if there is one.
    pub fn user_at(&self, index: usize) -> Option<SnapshotUser<'_>> {
        (index < self.entries.len()).then(|| self.user(index))
    }

    /// The position of the user with this key.
    pub fn position(&self, key: &str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = self.hasher.hash_one(key) as usize & mask;
        loop {
            let at = self.slots[slot];
            if at == EMPTY {
                return None;
            }
            if self.span(self.entries[at as usize].key) == key {
                return Some(at as usize);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The position of the active user last synced from a row with this fingerprint.
    pub fn by_source(&self, source: &SourceHash) -> Option<usize> {
        if self.source_slots.is_empty() {
            return None;
        }
        let mask = self.source_slots.len() - 1;
        let mut slot = source_slot(source) & mask;
        loop {
            let at = self.source_slots[slot];
            if at == EMPTY {
                return None;
            }
            let entry = &self.entries[at as usize];
            if entry.active && entry.source.as_ref() == Some(source) {
                return Some(at as usize);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Every user, in the order they were loaded (by key, from the ledger).
    pub fn iter(&self) -> impl Iterator<Item = SnapshotUser<'_>> + '_ {
        (0..self.entries.len()).map(|index| self.user(index))
    }

    /// The approximate heap size, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.text.capacity()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + (self.slots.capacity() + self.source_slots.capacity()) * std::mem::size_of::<u32>()
    }

    fn user(&self, index: usize) -> SnapshotUser<'_> {
        let entry = &self.entries[index];
        SnapshotUser {
            index,
            key: self.span(entry.key),
            remote_id: (entry.remote_id.len != NO_REMOTE).then(|| self.span(entry.remote_id)),
            payload_hash: &entry.payload_hash,
            source_hash: entry.source.as_ref(),
            active: entry.active,
        }
    }

    fn span(&self, span: Span) -> &str {
        let start = span.start as usize;
        &self.text[start..start + span.len as usize]
    }
}

/// Builds a [`Snapshot`] user by user (the ledger uses it; so can tests of the diff).
#[derive(Debug)]
pub struct SnapshotBuilder {
    snapshot: Snapshot,
}

/// The snapshot outgrew its 4 GiB text arena or 4 billion entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the snapshot is too large to hold in memory")]
pub struct SnapshotTooLarge;

impl SnapshotBuilder {
    /// A builder with room for `users` users of about `text_bytes` of keys and remote ids.
    pub fn with_capacity(users: usize, text_bytes: usize) -> SnapshotBuilder {
        SnapshotBuilder {
            snapshot: Snapshot {
                text: String::with_capacity(text_bytes),
                entries: Vec::with_capacity(users),
                slots: vec![EMPTY; slots_for(users)],
                source_slots: Vec::new(),
                hasher: RandomState::new(),
                active: 0,
            },
        }
    }

    /// Adds a user; a key already present is replaced.
    pub fn push(
        &mut self,
        key: &str,
        remote_id: Option<&str>,
        payload_hash: Hash,
        source: Option<SourceHash>,
        active: bool,
    ) -> Result<(), SnapshotTooLarge> {
        let s = &mut self.snapshot;
        if let Some(index) = s.position(key) {
            let remote_id = remote_span(&mut s.text, remote_id)?;
            let entry = &mut s.entries[index];
            s.active = s.active - usize::from(entry.active) + usize::from(active);
            entry.remote_id = remote_id;
            entry.payload_hash = short(&payload_hash);
            entry.source = source;
            entry.active = active;
            return Ok(());
        }
        self.push_new(key, remote_id, payload_hash, source, active)
    }

    /// Adds a user whose key is not in the builder yet (the ledger's keys are unique: loading
    /// them skips the lookup [`SnapshotBuilder::push`] makes).
    pub(crate) fn push_new(
        &mut self,
        key: &str,
        remote_id: Option<&str>,
        payload_hash: Hash,
        source: Option<SourceHash>,
        active: bool,
    ) -> Result<(), SnapshotTooLarge> {
        let s = &self.snapshot;
        if s.entries.len() >= (EMPTY - 1) as usize {
            return Err(SnapshotTooLarge);
        }
        if (s.entries.len() + 1) * 2 > s.slots.len() {
            self.grow();
        }
        let s = &mut self.snapshot;
        let entry = Entry {
            key: append(&mut s.text, key)?,
            remote_id: remote_span(&mut s.text, remote_id)?,
            payload_hash: short(&payload_hash),
            source,
            active,
        };
        let index = s.entries.len() as u32;
        s.entries.push(entry);
        s.active += usize::from(active);
        insert_slot(&mut s.slots, &s.hasher, key, index);
        Ok(())
    }

    /// The finished snapshot, with its index by fingerprint.
    pub fn finish(mut self) -> Snapshot {
        let s = &mut self.snapshot;
        let with_source = s
            .entries
            .iter()
            .filter(|e| e.active && e.source.is_some())
            .count();
        if with_source > 0 {
            let mut slots = vec![EMPTY; slots_for(with_source)];
            let mask = slots.len() - 1;
            for (index, entry) in s.entries.iter().enumerate() {
                let (true, Some(source)) = (entry.active, &entry.source) else {
                    continue;
                };
                let mut slot = source_slot(source) & mask;
                while slots[slot] != EMPTY {
                    slot = (slot + 1) & mask;
                }
                slots[slot] = index as u32;
            }
            s.source_slots = slots;
        }
        self.snapshot
    }

    /// Doubles the index and re-inserts every entry.
    fn grow(&mut self) {
        let s = &mut self.snapshot;
        let mut slots = vec![EMPTY; (s.slots.len() * 2).max(slots_for(s.entries.len() + 1))];
        for (index, entry) in s.entries.iter().enumerate() {
            let start = entry.key.start as usize;
            let key = &s.text[start..start + entry.key.len as usize];
            insert_slot(&mut slots, &s.hasher, key, index as u32);
        }
        s.slots = slots;
    }
}

/// An index size (a power of two) that keeps `users` entries at most half full.
fn slots_for(users: usize) -> usize {
    (users.max(8) * 2).next_power_of_two()
}

fn insert_slot(slots: &mut [u32], hasher: &RandomState, key: &str, index: u32) {
    let mask = slots.len() - 1;
    let mut slot = hasher.hash_one(key) as usize & mask;
    while slots[slot] != EMPTY {
        slot = (slot + 1) & mask;
    }
    slots[slot] = index;
}

/// A fingerprint's slot: its first bytes (it is a keyed hash, evenly spread already).
fn source_slot(source: &SourceHash) -> usize {
    let mut word = [0u8; 8];
    word.copy_from_slice(&source[..8]);
    u64::from_le_bytes(word) as usize
}

fn append(text: &mut String, s: &str) -> Result<Span, SnapshotTooLarge> {
    let start = u32::try_from(text.len()).map_err(|_| SnapshotTooLarge)?;
    let len = u32::try_from(s.len()).map_err(|_| SnapshotTooLarge)?;
    if len == NO_REMOTE || u32::try_from(text.len() + s.len()).is_err() {
        return Err(SnapshotTooLarge);
    }
    text.push_str(s);
    Ok(Span { start, len })
}

/// A remote id appended to the arena, or the span that marks "none".
fn remote_span(text: &mut String, remote_id: Option<&str>) -> Result<Span, SnapshotTooLarge> {
    match remote_id {
        Some(id) => append(text, id),
        None => Ok(Span {
            start: 0,
            len: NO_REMOTE,
        }),
    }
}

impl Ledger {
    /// Loads `target`'s snapshot (active and deactivated users) from `synced_users`.
    pub fn snapshot(&self, target: &str) -> Result<Snapshot, LedgerError> {
        let action = "load the snapshot";
        let (users, text_bytes): (usize, usize) = self
            .conn
            .query_row(
                // octet_length: the size in bytes, without copying the text as CAST does.
                "SELECT count(*), coalesce(sum(octet_length(user_key) \
                 + coalesce(octet_length(remote_id), 0)), 0) \
                 FROM synced_users WHERE target = ?1",
                [target],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .ctx(&self.path, action)?;
        let mut builder = SnapshotBuilder::with_capacity(users, text_bytes);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT user_key, remote_id, payload_hash, active, source_hash FROM synced_users \
                 WHERE target = ?1 ORDER BY user_key",
            )
            .ctx(&self.path, action)?;
        let mut rows = stmt.query([target]).ctx(&self.path, action)?;
        while let Some(row) = rows.next().ctx(&self.path, action)? {
            let key = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .ctx(&self.path, action)?;
            let remote_id = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_str_or_null()?))
                .ctx(&self.path, action)?;
            let hash = row
                .get_ref(2)
                .and_then(|v| Ok(v.as_blob()?))
                .ctx(&self.path, action)?;
            let hash: Hash = hash.try_into().map_err(|_| {
                self.corrupt(format!(
                    "synced_users {key:?}: payload_hash is not 32 bytes"
                ))
            })?;
            let active: bool = row.get(3).ctx(&self.path, action)?;
            // A fingerprint of another size (none is written) is only a shortcut lost.
            let source = row
                .get_ref(4)
                .and_then(|v| Ok(v.as_blob_or_null()?))
                .ctx(&self.path, action)?
                .and_then(|blob| SourceHash::try_from(blob).ok());
            // `(target, user_key)` is the table's primary key: every key comes once.
            builder
                .push_new(key, remote_id, hash, source, active)
                .map_err(|e| self.corrupt(e.to_string()))?;
        }
        let snapshot = builder.finish();
        tracing::debug!(
            target_name = target,
            users = snapshot.len(),
            active = snapshot.active_len(),
            memory_bytes = snapshot.memory_bytes(),
            "snapshot loaded"
        );
        Ok(snapshot)
    }

    /// The per-field hashes last synced for one user (empty if the user is unknown).
    pub fn field_hashes(&self, target: &str, user_key: &str) -> Result<FieldHashes, LedgerError> {
        let json: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT field_hashes FROM synced_users WHERE target = ?1 AND user_key = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row([target, user_key], |row| row.get(0))
                    .optional()
            })
            .ctx(&self.path, "read field hashes")?;
        match json {
            None => Ok(FieldHashes::default()),
            Some(json) => FieldHashes::from_json(&json).ok_or_else(|| {
                self.corrupt(format!("synced_users {user_key:?}: bad field_hashes"))
            }),
        }
    }

    /// [`Ledger::field_hashes`] for many users at once; unknown users are left out.
    pub fn field_hashes_many<'k>(
        &self,
        target: &str,
        user_keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<HashMap<String, FieldHashes>, LedgerError> {
        let mut all = HashMap::new();
        for key in user_keys {
            let hashes = self.field_hashes(target, key)?;
            if !hashes.is_empty() {
                all.insert(key.to_string(), hashes);
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(n: usize) -> Snapshot {
        let mut b = SnapshotBuilder::with_capacity(0, 0);
        for i in 0..n {
            let remote = (i % 3 == 0).then(|| i.to_string());
            b.push(
                &format!("user-{i}"),
                remote.as_deref(),
                [i as u8; 32],
                (i % 2 == 0).then_some([(i % 251) as u8; 16]),
                i % 10 != 0,
            )
            .unwrap();
        }
        b.finish()
    }

    #[test]
    fn finds_every_user_and_no_other() {
        let s = build(5000);
        assert_eq!(s.len(), 5000);
        assert_eq!(s.active_len(), 4500);
        for i in 0..5000 {
            let u = s.get(&format!("user-{i}")).unwrap();
            assert_eq!(u.payload_hash, &[i as u8; 16]);
            assert_eq!(u.remote_id, (i % 3 == 0).then(|| i.to_string()).as_deref());
            assert_eq!(u.active, i % 10 != 0);
            assert_eq!(u.index, i);
        }
        assert!(s.get("user-5000").is_none());
        assert!(s.get("").is_none());
    }

    #[test]
    fn pushing_a_key_again_replaces_it() {
        let mut b = SnapshotBuilder::with_capacity(2, 0);
        b.push("a", None, [1; 32], None, true).unwrap();
        b.push("a", Some("9"), [2; 32], Some([2; 16]), false)
            .unwrap();
        let s = b.finish();
        assert_eq!(s.len(), 1);
        assert_eq!(s.active_len(), 0);
        let a = s.get("a").unwrap();
        assert_eq!(
            (a.remote_id, a.payload_hash, a.active),
            (Some("9"), &[2; 16], false)
        );
    }

    #[test]
    fn active_users_are_found_by_the_fingerprint_of_their_row() {
        let mut b = SnapshotBuilder::with_capacity(4, 0);
        b.push("a", None, [1; 32], Some([1; 16]), true).unwrap();
        b.push("b", None, [2; 32], Some([2; 16]), false).unwrap();
        b.push("c", None, [3; 32], None, true).unwrap();
        b.push("d", None, [4; 32], Some([4; 16]), true).unwrap();
        let s = b.finish();
        assert_eq!(s.by_source(&[1; 16]), s.position("a"));
        assert_eq!(s.by_source(&[4; 16]), s.position("d"));
        assert_eq!(s.get("d").unwrap().source_hash, Some(&[4; 16]));
        assert_eq!(
            s.by_source(&[2; 16]),
            None,
            "a deactivated user is not a shortcut"
        );
        assert_eq!(s.by_source(&[3; 16]), None);
    }

    #[test]
    fn an_empty_snapshot_finds_nothing() {
        let s = SnapshotBuilder::with_capacity(0, 0).finish();
        assert!(s.is_empty());
        assert!(s.get("x").is_none());
    }

    #[test]
    fn a_million_users_fit_well_under_200_mb() {
        let n = 1_000_000;
        let key_len = "0123456789abcdef0123456789abcdef".len();
        let mut b = SnapshotBuilder::with_capacity(n, n * (key_len + 7));
        let mut key = String::new();
        for i in 0..n {
            key.clear();
            key.push_str(&format!("{i:032x}"));
            let mut source = [0u8; 16];
            source[..8]
                .copy_from_slice(&(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            b.push(&key, Some(&format!("{i:07}")), [0; 32], Some(source), true)
                .unwrap();
        }
        let s = b.finish();
        let mb = s.memory_bytes() / 1_000_000;
        assert!(mb < 120, "a million users took {mb} MB");
        assert!(s.get(&format!("{:032x}", 123_456)).is_some());
    }
}
