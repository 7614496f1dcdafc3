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

use ahash::RandomState;

use super::hash::{short, Hash, ShortHash, SourceHash};

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

    /// [`Snapshot::by_source`] of many fingerprints at once (`None` for `None`), into `found`.
    /// Each stage is made for every fingerprint before the next (every first slot, then every
    /// entry), so that their cache misses, independent of one another, overlap rather than come
    /// one after another: a million lookups in a snapshot of a million users are mostly misses.
    pub fn by_source_many(&self, sources: &[Option<SourceHash>], found: &mut Vec<Option<usize>>) {
        found.clear();
        if self.source_slots.is_empty() {
            found.resize(sources.len(), None);
            return;
        }
        let mask = self.source_slots.len() - 1;
        found.extend(sources.iter().map(|source| {
            let slot = source_slot(source.as_ref()?) & mask;
            Some(self.source_slots[slot] as usize)
        }));
        for (source, at) in sources.iter().zip(found.iter_mut()) {
            let (Some(source), Some(first)) = (source, *at) else {
                continue;
            };
            let entry = self.entries.get(first);
            *at = match entry {
                Some(e) if e.active && e.source.as_ref() == Some(source) => Some(first),
                // Empty, or taken by another fingerprint: the probe goes on.
                Some(_) => self.by_source(source),
                None => None,
            };
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
    /// The key index is not kept up to date: [`SnapshotBuilder::finish`] builds it (users come
    /// from the ledger, whose keys are unique).
    unindexed: bool,
}

/// The snapshot outgrew its 4 GiB text arena or 4 billion entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the snapshot is too large to hold in memory")]
pub struct SnapshotTooLarge;

/// From this many users on, the two indexes are built side by side on two threads.
const INDEX_BESIDE: usize = 100_000;

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
            unindexed: false,
        }
    }

    /// A builder of users whose keys are all different ([`SnapshotBuilder::push_new`]), with
    /// room for `users` of about `text_bytes`, indexed once they are all in: the index is built
    /// once, at its final size.
    pub(crate) fn of_unique_keys(users: usize, text_bytes: usize) -> SnapshotBuilder {
        SnapshotBuilder {
            snapshot: Snapshot {
                text: String::with_capacity(text_bytes),
                entries: Vec::with_capacity(users),
                slots: Vec::new(),
                source_slots: Vec::new(),
                hasher: RandomState::new(),
                active: 0,
            },
            unindexed: true,
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
        if self.unindexed {
            let s = &mut self.snapshot;
            s.slots = key_index(&s.text, &s.entries, &s.hasher);
            self.unindexed = false;
        }
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
        if !self.unindexed && (s.entries.len() + 1) * 2 > s.slots.len() {
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
        if !self.unindexed {
            insert_slot(&mut s.slots, &s.hasher, key, index);
        }
        Ok(())
    }

    /// The finished snapshot, with its index by fingerprint (and by key, if not built yet).
    pub fn finish(mut self) -> Snapshot {
        let s = &mut self.snapshot;
        let (text, entries, hasher) = (&s.text, &s.entries, &s.hasher);
        if !self.unindexed {
            s.source_slots = source_index(entries);
        } else if entries.len() < INDEX_BESIDE {
            s.slots = key_index(text, entries, hasher);
            s.source_slots = source_index(entries);
        } else {
            // Each index is a pass of random writes over its own table: two cores, half the time.
            let (keys, sources) = std::thread::scope(|scope| {
                let beside = std::thread::Builder::new()
                    .name("usersync-index".into())
                    .spawn_scoped(scope, || source_index(entries));
                let keys = key_index(text, entries, hasher);
                let sources = match beside.map(|thread| thread.join()) {
                    Ok(Ok(sources)) => sources,
                    Ok(Err(panic)) => std::panic::resume_unwind(panic),
                    Err(_) => source_index(entries),
                };
                (keys, sources)
            });
            s.slots = keys;
            s.source_slots = sources;
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

/// The index by key of `entries` (keys in `text`).
fn key_index(text: &str, entries: &[Entry], hasher: &RandomState) -> Vec<u32> {
    let mut slots = vec![EMPTY; slots_for(entries.len())];
    for (index, entry) in entries.iter().enumerate() {
        let start = entry.key.start as usize;
        let key = &text[start..start + entry.key.len as usize];
        insert_slot(&mut slots, hasher, key, index as u32);
    }
    slots
}

/// The index by fingerprint of the active users of `entries` that have one (empty if none).
fn source_index(entries: &[Entry]) -> Vec<u32> {
    let with_source = entries
        .iter()
        .filter(|e| e.active && e.source.is_some())
        .count();
    if with_source == 0 {
        return Vec::new();
    }
    let mut slots = vec![EMPTY; slots_for(with_source)];
    let mask = slots.len() - 1;
    for (index, entry) in entries.iter().enumerate() {
        let (true, Some(source)) = (entry.active, &entry.source) else {
            continue;
        };
        let mut slot = source_slot(source) & mask;
        while slots[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        slots[slot] = index as u32;
    }
    slots
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

mod load;
#[cfg(test)]
mod tests;
