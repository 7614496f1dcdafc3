//! How a run's requests were answered (`run_responses`), for the metrics file: the answers that
//! asked it to slow down, and every attempt by HTTP status class or no answer. Counts only.

use rusqlite::{params, OptionalExtension};

use super::error::SqlContext;
use super::runs::RunId;
use super::{Ledger, LedgerError};

/// A run's attempts by how they were answered: HTTP status class, or no answer (a timeout, a
/// dropped connection, a login that failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Responses {
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub no_answer: u64,
}

impl Ledger {
    /// Records how run `run`'s requests were answered, and how many asked it to slow down.
    pub fn record_responses(
        &self,
        run: RunId,
        throttled: u64,
        r: &Responses,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO run_responses (run_id, throttled, status_2xx, \
                 status_3xx, status_4xx, status_5xx, no_answer) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    run.0,
                    throttled as i64,
                    r.status_2xx as i64,
                    r.status_3xx as i64,
                    r.status_4xx as i64,
                    r.status_5xx as i64,
                    r.no_answer as i64
                ],
            )
            .ctx(&self.path, "record a run's answers")?;
        Ok(())
    }

    /// How run `run`'s requests were answered (throttled, by class), when it was recorded.
    pub fn run_responses(&self, run: RunId) -> Result<Option<(u64, Responses)>, LedgerError> {
        self.conn
            .query_row(
                "SELECT throttled, status_2xx, status_3xx, status_4xx, status_5xx, no_answer \
                 FROM run_responses WHERE run_id = ?1",
                [run.0],
                |row| {
                    let n = |i: usize| row.get::<_, i64>(i).map(|v| v.max(0) as u64);
                    Ok((
                        n(0)?,
                        Responses {
                            status_2xx: n(1)?,
                            status_3xx: n(2)?,
                            status_4xx: n(3)?,
                            status_5xx: n(4)?,
                            no_answer: n(5)?,
                        },
                    ))
                },
            )
            .optional()
            .ctx(&self.path, "read a run's answers")
    }
}
