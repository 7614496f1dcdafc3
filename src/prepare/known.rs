//! The rows a sync already knows: the users of the target's snapshot, found by the fingerprint of
//! the export row each was last synced from (see [`super::Rows::fingerprint`]). A known row skips
//! mapping and validation; a known user's duplicate check is a line number per snapshot position
//! rather than a copy of its key in the file's key set.

use crate::ledger::SourceHash;

/// The users a sync synced before (the target's snapshot), by fingerprint and by key.
pub trait KnownRows: Send + Sync {
    /// The position and key of the active user last synced from a row with this fingerprint.
    fn find(&self, source: &SourceHash) -> Option<(usize, &str)>;
    /// [`KnownRows::find`] of many fingerprints at once, one answer each (`None` for `None`),
    /// into `found`. One by one unless the implementation can overlap the lookups.
    fn find_many<'a>(
        &'a self,
        sources: &[Option<SourceHash>],
        found: &mut Vec<Option<(usize, &'a str)>>,
    ) {
        found.clear();
        found.extend(
            sources
                .iter()
                .map(|s| s.as_ref().and_then(|s| self.find(s))),
        );
    }
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
    /// By position: the line where the user was first seen, 0 before.
    first_lines: Vec<u64>,
}

impl KnownUsers {
    /// None of `users` seen yet.
    pub(super) fn new(users: usize) -> KnownUsers {
        KnownUsers {
            first_lines: vec![0; users],
        }
    }

    /// Whether `position` is one of the users.
    pub(super) fn has(&self, position: usize) -> bool {
        position < self.first_lines.len()
    }

    /// The line where the user at `position` was first seen, or `None`, recording `line`.
    pub(super) fn first_line_or_insert(&mut self, position: usize, line: u64) -> Option<u64> {
        let first = self.first_lines.get_mut(position)?;
        if *first != 0 {
            return Some(*first);
        }
        *first = line;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines_are_kept_whatever_their_size() {
        let mut known = KnownUsers::new(3);
        let far = u64::from(u32::MAX) + 7;
        assert_eq!(known.first_line_or_insert(0, 2), None);
        assert_eq!(known.first_line_or_insert(1, far), None);
        assert_eq!(known.first_line_or_insert(0, far + 1), Some(2));
        assert_eq!(known.first_line_or_insert(1, 3), Some(far));
        assert_eq!(known.first_line_or_insert(2, u64::from(u32::MAX)), None);
        assert_eq!(known.first_line_or_insert(2, 9), Some(u64::from(u32::MAX)));
        assert_eq!(known.first_line_or_insert(3, 9), None, "not a known user");
        assert!(known.has(2) && !known.has(3));
    }
}
