//! What the pass over an export learns besides each row's fate: which of the snapshot's users
//! are still in the file, and how many users the file holds (for the leavers and the
//! broken-export guards); and the file's SHA-256.
//!
//! Leavers and the guards must be decided before the first request leaves, and leavers are
//! sent first: the planner notes every row here while it plans, holds the requests until the
//! end of its pass, then decides (see `passes.rs`). This keeps one bit per snapshot user, never
//! the rows.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::config::Target;
use crate::input::InputOptions;
use crate::ledger::Snapshot;
use crate::prepare::{PrepareError, PreparedRow, Rows};

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
    /// the snapshot.
    pub fn note(&mut self, row: &PreparedRow, snapshot: &Snapshot) -> Option<usize> {
        self.rows += 1;
        let key = row.key.as_deref()?;
        let duplicate =
            matches!(&row.result, Err(errors) if errors.iter().any(|e| e.code == "duplicate_key"));
        if !duplicate {
            self.users += 1;
        }
        let found = snapshot.position(key);
        if let Some(i) = found {
            self.seen[i] = true;
        }
        found
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
