//! The run's counters, shared by the pipeline's tasks: the progress bar's message as rows are
//! recorded, and the run's counts at the end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Noted;
use crate::ledger::{RowNote, RunCounts};

/// Counters of the outcomes recorded so far, shared by the pipeline's tasks: the progress bar's
/// message, and the run's counts at the end (the same numbers the ledger's rows add up to,
/// without reading a million rows back).
#[derive(Debug, Default)]
pub struct Tally {
    pub done: AtomicU64,
    pub synced: AtomicU64,
    pub unchanged: AtomicU64,
    pub rejected: AtomicU64,
    /// Failed or not attempted.
    pub failed: AtomicU64,
    pub not_attempted: AtomicU64,
    /// Synced creates, updates (and patches), deactivations.
    pub created: AtomicU64,
    pub updated: AtomicU64,
    pub deactivated: AtomicU64,
    /// See [`super::SyncSummary::noted`].
    pub noted: std::sync::Mutex<BTreeMap<crate::ledger::NoteCode, Noted>>,
}

impl Tally {
    /// The progress bar's message: the counts so far.
    pub fn message(&self) -> String {
        format!(
            "synced {} · unchanged {} · rejected {} · failed {}",
            self.synced.load(Ordering::Relaxed),
            self.unchanged.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        )
    }

    /// Counts the notes of a row (user `key`) that went through.
    pub fn note(&self, key: Option<&str>, notes: &[RowNote]) {
        if let Ok(mut noted) = self.noted.lock() {
            for note in notes {
                let entry = noted.entry(note.code).or_default();
                entry.count += 1;
                if let Some(key) = key.filter(|_| entry.keys.len() < Noted::KEYS) {
                    entry.keys.push(key.to_owned());
                }
            }
        }
    }

    /// The run's counts as recorded (requests and retries are the dispatcher's).
    pub fn counts(&self) -> RunCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let not_attempted = get(&self.not_attempted);
        RunCounts {
            rows: get(&self.done),
            synced: get(&self.synced),
            unchanged: get(&self.unchanged),
            rejected: get(&self.rejected),
            failed: get(&self.failed).saturating_sub(not_attempted),
            not_attempted,
            created: get(&self.created),
            updated: get(&self.updated),
            deactivated: get(&self.deactivated),
            requests: 0,
            retries: 0,
        }
    }
}
