//! What the pass over an export learns besides each row's fate: which of the snapshot's users
//! are still in the file, and how many users the file holds (for the leavers and the
//! broken-export guards); and the file's SHA-256.
//!
//! Leavers and the guards must be decided before the first request leaves, and leavers are
//! sent first: the planner notes every row here while it plans, holds the requests until the
//! end of its pass, then decides (see `hold.rs`). This keeps one bit per snapshot user, never
//! the rows.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::config::Target;
use crate::input::InputOptions;
use crate::ledger::Snapshot;
use crate::prepare::{Position, PrepareError, PreparedRow, Rows};

/// What the first pass found.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Rows in the file.
    pub rows: u64,
    /// Distinct user keys in the file (valid or not: a person with a bad row has not left).
    pub users: u64,
    /// `seen[i]`: the snapshot's user `i` is in the file.
    pub seen: Vec<bool>,
}

impl Scan {
    /// Nothing seen yet, for a snapshot of `snapshot.len()` users.
    pub fn new(snapshot: &Snapshot) -> Scan {
        Scan {
            rows: 0,
            users: 0,
            seen: vec![false; snapshot.len()],
        }
    }

    /// Counts one row of the export and marks its user seen; returns the user's position in
    /// the snapshot, looked up.
    pub fn note(&mut self, row: &PreparedRow, snapshot: &Snapshot) -> Position {
        self.rows += 1;
        let Some(key) = row.key.as_deref() else {
            return row.position;
        };
        let duplicate = row
            .result
            .errors()
            .is_some_and(|errors| errors.iter().any(|e| e.code == "duplicate_key"));
        if !duplicate {
            self.users += 1;
        }
        let found = row.position.or_look_up(|| snapshot.position(key));
        if let Some(i) = found {
            self.seen[i] = true;
        }
        found.map_or(Position::Absent, Position::At)
    }

    /// Reads the whole export once (the sync itself notes rows as it plans them instead).
    pub fn run(
        path: &Path,
        target: &Target,
        options: &InputOptions,
        snapshot: &Snapshot,
    ) -> Result<Scan, PrepareError> {
        let mut scan = Scan::new(snapshot);
        for row in Rows::open(path, target, options)? {
            scan.note(&row?, snapshot);
        }
        Ok(scan)
    }

    /// The active snapshot users missing from the export, by snapshot position.
    pub fn leavers<'s>(
        &'s self,
        snapshot: &'s Snapshot,
    ) -> impl Iterator<Item = crate::ledger::SnapshotUser<'s>> + 's {
        snapshot
            .iter()
            .filter(move |u| u.active && !self.seen[u.index])
    }
}

/// What a file looked like at one moment: its identity, size and modification time.
///
/// A sync reads its export more than once (this scan, the SHA-256, the planner's pass); if an HR
/// job is still writing the file, or replaces it, the passes would disagree about who is in it.
/// Comparing stamps between and during the passes turns that into one clear error instead of a
/// run that mixes two versions of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    /// Device and inode: a file renamed over the export is another file.
    identity: (u64, u64),
}

impl FileStamp {
    /// The stamp of `path` now.
    pub fn of(path: &Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let identity = (0, 0);
        Ok(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            identity,
        })
    }

    /// The file's size when stamped.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `None` when `path` still looks as stamped, else what changed, for a message.
    pub fn changed(&self, path: &Path) -> Option<String> {
        match FileStamp::of(path) {
            Err(e) => Some(format!("it can no longer be read: {e}")),
            Ok(now) if now.identity != self.identity => {
                Some("it was replaced by another file".into())
            }
            Ok(now) if now.len != self.len => {
                Some(format!("it was {} bytes, it is now {}", self.len, now.len))
            }
            Ok(now) if now.modified != self.modified => Some("it was modified".into()),
            Ok(_) => None,
        }
    }
}

/// The hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_notices_growth_truncation_and_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, "id\n1\n").unwrap();
        let stamp = FileStamp::of(&path).unwrap();
        assert_eq!(stamp.changed(&path), None);

        std::fs::write(&path, "id\n1\n2\n").unwrap();
        assert_eq!(
            stamp.changed(&path).as_deref(),
            Some("it was 5 bytes, it is now 7")
        );

        let grown = FileStamp::of(&path).unwrap();
        let other = dir.path().join("new.csv");
        std::fs::write(&other, "id\n1\n2\n").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(
            grown.changed(&path).as_deref(),
            Some("it was replaced by another file")
        );

        std::fs::remove_file(&path).unwrap();
        assert!(stamp
            .changed(&path)
            .unwrap()
            .starts_with("it can no longer be read"));
    }
}
