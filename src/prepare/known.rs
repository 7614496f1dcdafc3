//! The rows a sync already knows: the users of the target's snapshot, found by the fingerprint of
//! the export row each was last synced from (see [`super::Rows::fingerprint`]). A known row skips
//! mapping and validation; a known user's duplicate check is a line number per snapshot position
//! rather than a copy of its key in the file's key set.

use std::sync::Arc;

use super::{PreparedRow, RowResult};
use crate::ledger::SourceHash;

/// The users a sync synced before (the target's snapshot), by fingerprint and by key.
pub trait KnownRows: Send + Sync {
    /// The position and key of the active user last synced from a row with this fingerprint.
    fn find(&self, source: &SourceHash) -> Option<(usize, &str)>;
    /// The position of the user with this key.
    fn position(&self, key: &str) -> Option<usize>;
    /// The number of users (positions are `0..len()`).
    fn len(&self) -> usize;
    /// Whether there is no user.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a row's user is among the known users, as [`super::Rows`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The rows were read without known users (a first sync, `--full`), or the row has no key.
    NotLookedUp,
    /// Not among them.
    Absent,
    /// At this position.
    At(usize),
}

impl Position {
    /// The position, looking it up with `look_up` only if the rows did not.
    pub fn or_look_up(self, look_up: impl FnOnce() -> Option<usize>) -> Option<usize> {
        match self {
            Position::NotLookedUp => look_up(),
            Position::Absent => None,
            Position::At(at) => Some(at),
        }
    }
}

/// The known users, and where each was first seen in this file: their duplicate check, without
/// a copy of their keys in `Rows::seen` (a nightly export is mostly known users).
pub(super) struct KnownUsers {
    pub(super) users: Arc<dyn KnownRows>,
    /// By position: the line where the user was first seen, 0 before.
    pub(super) first_lines: Vec<u64>,
}

impl KnownUsers {
    /// The line where the user at `position` was first seen, or `None`, recording `line`.
    pub(super) fn first_line_or_insert(&mut self, position: usize, line: u64) -> Option<u64> {
        first_line_or_insert(&mut self.first_lines, position, line)
    }
}

/// [`KnownUsers::first_line_or_insert`] on the lines alone (so the users can stay borrowed).
fn first_line_or_insert(first_lines: &mut [u64], position: usize, line: u64) -> Option<u64> {
    let first = first_lines.get_mut(position)?;
    if *first != 0 {
        return Some(*first);
    }
    *first = line;
    None
}

/// The row of `line` as a known row, if its fingerprint is known and its user was not seen
/// earlier in this file (a duplicate takes the full path, to be rejected there).
pub(super) fn known_row(
    known: &mut KnownUsers,
    line: u64,
    hash: SourceHash,
) -> Option<PreparedRow> {
    let (index, key) = known.users.find(&hash)?;
    // A user already seen in this file takes the full path, to be rejected as a duplicate there.
    if index >= known.first_lines.len()
        || first_line_or_insert(&mut known.first_lines, index, line).is_some()
    {
        return None;
    }
    Some(PreparedRow {
        position: Position::At(index),
        source_hash: Some(hash),
        ..PreparedRow::new(line, Some(key.to_owned()), RowResult::Known)
    })
}
