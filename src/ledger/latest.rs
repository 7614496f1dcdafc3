//! A target's latest runs that sent (`sync` and `retry`): the latest that ended, and the latest
//! that ended cleanly. The metrics file (`crate::signals`) is computed from them, so that it
//! says the same whichever run wrote it.

use rusqlite::params;

use super::error::LedgerError;
use super::runs::RUN_COLUMNS;
use super::{Ledger, RunRecord};

impl Ledger {
    /// The latest `sync` or `retry` run of `target` that is no longer running.
    pub fn last_ended_send(&self, target: &str) -> Result<Option<RunRecord>, LedgerError> {
        self.one_run(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE target = ?1 \
                 AND command IN ('sync', 'retry') AND status <> 'running' \
                 ORDER BY id DESC LIMIT 1"
            ),
            params![target],
        )
    }

    /// The latest `sync` or `retry` run of `target` that completed with exit code 0.
    pub fn last_clean_send(&self, target: &str) -> Result<Option<RunRecord>, LedgerError> {
        self.one_run(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE target = ?1 \
                 AND command IN ('sync', 'retry') AND status = 'completed' AND exit_code = 0 \
                 ORDER BY id DESC LIMIT 1"
            ),
            params![target],
        )
    }
}
