//! The read queries behind `usersync report`: a run's outcomes by operation, its latencies, its
//! rows over time, its problems grouped by cause, and its problem rows one by one.
//!
//! Everything is aggregated in SQL (or streamed) so that a report on a run of a million rows
//! holds only the numbers it shows, never the rows, in memory.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::error::{LedgerError, SqlContext};
use super::outcomes::{parse_operation, OutcomeKind, StoredOutcome, OUTCOME_COLUMNS};
use super::runs::RunId;
use super::{parse_timestamp, timestamp, Ledger};
use crate::provider::Operation;

/// How many rows of one run ended with one outcome after one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationOutcomeCount {
    /// `None` for rows refused by validation (never sent).
    pub operation: Option<Operation>,
    pub outcome: OutcomeKind,
    pub rows: u64,
}

/// When a run's rows were recorded, and how many went to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunActivity {
    /// Rows with at least one request.
    pub sent_rows: u64,
    /// The first and last `recorded_at` of the run's rows.
    pub first_recorded: Option<DateTime<Utc>>,
    pub last_recorded: Option<DateTime<Utc>>,
}

/// The rows that went to the provider and were recorded in one slice of a run's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSlice {
    /// The slice's number: it covers `[index * width, (index + 1) * width)` after the start.
    pub index: u64,
    pub outcome: OutcomeKind,
    pub rows: u64,
}

/// Rows whose field errors share a field and a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldErrorGroup {
    pub field: String,
    pub code: String,
    /// Rows with this error.
    pub rows: u64,
    /// The message of one of them.
    pub example: String,
}

/// Problem rows without field errors that share an outcome, an HTTP status, a code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorGroup {
    pub outcome: OutcomeKind,
    pub http_status: Option<u16>,
    pub code: Option<String>,
    pub detail: Option<String>,
    pub rows: u64,
}

/// How many notes of one code a run's rows carry (see [`super::RowNote`]); also the JSON
/// report's `follow_ups.by_code`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NoteCount {
    pub code: String,
    pub rows: u64,
}

/// The outcomes a report lists row by row.
const PROBLEM_OUTCOMES: &str = "outcome IN ('rejected', 'failed', 'not_attempted', 'in_flight')";

impl Ledger {
    /// `run`'s rows counted by operation and outcome.
    pub fn outcomes_by_operation(
        &self,
        run: RunId,
    ) -> Result<Vec<OperationOutcomeCount>, LedgerError> {
        let action = "count a run's rows by operation";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT operation, outcome, count(*) FROM row_outcomes WHERE run_id = ?1 \
                 GROUP BY operation, outcome ORDER BY operation, outcome",
            )
            .ctx(&self.path, action)?;
        let raw: Vec<(Option<String>, String, u64)> = stmt
            .query_map([run.0], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .ctx(&self.path, action)?
            .collect::<Result<_, _>>()
            .ctx(&self.path, action)?;
        raw.into_iter()
            .map(|(operation, outcome, rows)| {
                let operation = match operation {
                    None => None,
                    Some(text) => Some(parse_operation(&text).ok_or_else(|| {
                        self.corrupt(format!("run {run}: bad operation {text:?}"))
                    })?),
                };
                let outcome = OutcomeKind::parse(&outcome)
                    .ok_or_else(|| self.corrupt(format!("run {run}: bad outcome {outcome:?}")))?;
                Ok(OperationOutcomeCount {
                    operation,
                    outcome,
                    rows,
                })
            })
            .collect()
    }

    /// Every `latency_ms` recorded in `run`, smallest first.
    pub fn latencies(&self, run: RunId) -> Result<Vec<u64>, LedgerError> {
        let action = "read a run's latencies";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT latency_ms FROM row_outcomes WHERE run_id = ?1 \
                 AND latency_ms IS NOT NULL ORDER BY latency_ms",
            )
            .ctx(&self.path, action)?;
        let rows = stmt
            .query_map([run.0], |row| row.get::<_, i64>(0))
            .ctx(&self.path, action)?;
        rows.map(|r| r.map(|ms| ms.max(0) as u64))
            .collect::<Result<_, _>>()
            .ctx(&self.path, action)
    }

    /// How many of `run`'s rows went to the provider, and when its rows were recorded.
    pub fn run_activity(&self, run: RunId) -> Result<RunActivity, LedgerError> {
        let action = "read a run's activity";
        let (sent_rows, first, last): (u64, Option<String>, Option<String>) = self
            .conn
            .query_row(
                "SELECT coalesce(sum(attempts > 0), 0), min(recorded_at), max(recorded_at) \
                 FROM row_outcomes WHERE run_id = ?1",
                [run.0],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .ctx(&self.path, action)?;
        let time = |text: Option<String>| match text {
            None => Ok(None),
            Some(text) => parse_timestamp(&text)
                .map(Some)
                .ok_or_else(|| self.corrupt(format!("run {run}: bad recorded_at {text:?}"))),
        };
        Ok(RunActivity {
            sent_rows,
            first_recorded: time(first)?,
            last_recorded: time(last)?,
        })
    }

    /// `run`'s rows that went to the provider, counted by outcome in slices of `width_ms`
    /// milliseconds after `start` (by when each was recorded).
    pub fn rows_over_time(
        &self,
        run: RunId,
        start: DateTime<Utc>,
        width_ms: u64,
    ) -> Result<Vec<TimeSlice>, LedgerError> {
        let action = "read a run's rows over time";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT max(CAST((julianday(recorded_at) - julianday(?2)) * 86400000.0 \
                 AS INTEGER), 0) / ?3 AS slice, outcome, count(*) \
                 FROM row_outcomes WHERE run_id = ?1 AND attempts > 0 \
                 GROUP BY slice, outcome ORDER BY slice",
            )
            .ctx(&self.path, action)?;
        let raw: Vec<(i64, String, u64)> = stmt
            .query_map(
                params![run.0, timestamp(start), width_ms.max(1) as i64],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .ctx(&self.path, action)?
            .collect::<Result<_, _>>()
            .ctx(&self.path, action)?;
        raw.into_iter()
            .map(|(index, outcome, rows)| {
                let outcome = OutcomeKind::parse(&outcome)
                    .ok_or_else(|| self.corrupt(format!("run {run}: bad outcome {outcome:?}")))?;
                Ok(TimeSlice {
                    index: index.max(0) as u64,
                    outcome,
                    rows,
                })
            })
            .collect()
    }

    /// `run`'s field errors grouped by field and code, the most frequent first (at most
    /// `limit` groups), with the total number of groups.
    pub fn field_error_groups(
        &self,
        run: RunId,
        limit: usize,
    ) -> Result<(Vec<FieldErrorGroup>, u64), LedgerError> {
        let action = "group a run's field errors";
        let from = "FROM row_outcomes r, json_each(r.errors_json) e \
                    WHERE r.run_id = ?1 AND r.errors_json IS NOT NULL";
        let total: u64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 {from} GROUP BY \
                     json_extract(e.value, '$.field'), json_extract(e.value, '$.code'))"
                ),
                [run.0],
                |row| row.get(0),
            )
            .ctx(&self.path, action)?;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT coalesce(json_extract(e.value, '$.field'), ''), \
                 coalesce(json_extract(e.value, '$.code'), ''), count(DISTINCT r.line), \
                 coalesce(min(json_extract(e.value, '$.message')), '') {from} \
                 GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT ?2"
            ))
            .ctx(&self.path, action)?;
        let groups = stmt
            .query_map(params![run.0, limit as i64], |row| {
                Ok(FieldErrorGroup {
                    field: row.get(0)?,
                    code: row.get(1)?,
                    rows: row.get(2)?,
                    example: row.get(3)?,
                })
            })
            .ctx(&self.path, action)?
            .collect::<Result<_, _>>()
            .ctx(&self.path, action)?;
        Ok((groups, total))
    }

    /// `run`'s problem rows without field errors (provider errors, transport failures, rows not
    /// attempted) grouped by outcome, HTTP status, code and message, the most frequent first
    /// (at most `limit` groups), with the total number of groups.
    pub fn error_groups(
        &self,
        run: RunId,
        limit: usize,
    ) -> Result<(Vec<ErrorGroup>, u64), LedgerError> {
        let action = "group a run's errors";
        let from = format!(
            "FROM row_outcomes WHERE run_id = ?1 AND errors_json IS NULL AND {PROBLEM_OUTCOMES}"
        );
        let total: u64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 {from} \
                     GROUP BY outcome, http_status, error_code, error_detail)"
                ),
                [run.0],
                |row| row.get(0),
            )
            .ctx(&self.path, action)?;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT outcome, http_status, error_code, error_detail, count(*) {from} \
                 GROUP BY outcome, http_status, error_code, error_detail \
                 ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT ?2"
            ))
            .ctx(&self.path, action)?;
        type Raw = (String, Option<u16>, Option<String>, Option<String>, u64);
        let raw: Vec<Raw> = stmt
            .query_map(params![run.0, limit as i64], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .ctx(&self.path, action)?
            .collect::<Result<_, _>>()
            .ctx(&self.path, action)?;
        let groups = raw
            .into_iter()
            .map(|(outcome, http_status, code, detail, rows)| {
                let outcome = OutcomeKind::parse(&outcome)
                    .ok_or_else(|| self.corrupt(format!("run {run}: bad outcome {outcome:?}")))?;
                Ok(ErrorGroup {
                    outcome,
                    http_status,
                    code,
                    detail,
                    rows,
                })
            })
            .collect::<Result<_, LedgerError>>()?;
        Ok((groups, total))
    }

    /// `run`'s notes (`row_outcomes.notes_json`) counted by code, the most frequent first.
    pub fn note_counts(&self, run: RunId) -> Result<Vec<NoteCount>, LedgerError> {
        let action = "count a run's notes";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT json_extract(n.value, '$.code') AS code, count(*) \
                 FROM row_outcomes r, json_each(r.notes_json) n \
                 WHERE r.run_id = ?1 AND r.notes_json IS NOT NULL \
                 GROUP BY code ORDER BY 2 DESC, 1",
            )
            .ctx(&self.path, action)?;
        let counts = stmt
            .query_map([run.0], |row| {
                Ok(NoteCount {
                    code: row.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    rows: row.get(1)?,
                })
            })
            .ctx(&self.path, action)?
            .collect::<Result<_, _>>()
            .ctx(&self.path, action)?;
        Ok(counts)
    }

    /// Streams the first `limit` of `run`'s rows that carry notes, by line, into `f`.
    pub fn each_noted<E, F>(&self, run: RunId, limit: usize, mut f: F) -> Result<(), E>
    where
        E: From<LedgerError>,
        F: FnMut(StoredOutcome) -> Result<(), E>,
    {
        let sql = format!(
            "SELECT {OUTCOME_COLUMNS} FROM row_outcomes \
             WHERE run_id = ?1 AND notes_json IS NOT NULL ORDER BY line LIMIT ?2"
        );
        self.stream_outcomes_with(&sql, params![run.0, limit as i64], &mut f)
    }

    /// Streams `run`'s rows that did not succeed (rejected, failed, not attempted, still in
    /// flight), by line, into `f`. Stops at the first error `f` returns.
    pub fn each_problem<E, F>(&self, run: RunId, mut f: F) -> Result<(), E>
    where
        E: From<LedgerError>,
        F: FnMut(StoredOutcome) -> Result<(), E>,
    {
        let sql = format!(
            "SELECT {OUTCOME_COLUMNS} FROM row_outcomes WHERE run_id = ?1 AND {PROBLEM_OUTCOMES} \
             ORDER BY line"
        );
        self.stream_outcomes(&sql, run, &mut f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{NewRun, RowOutcome};
    use crate::validate::FieldError;

    fn ledger_with_rows(rows: Vec<RowOutcome>) -> (tempfile::TempDir, Ledger, RunId) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let ledger = Ledger::open(&path).unwrap();
        let run = ledger
            .begin_run(&NewRun {
                target: "t".into(),
                provider: "meetinglawyers".into(),
                command: "sync".into(),
                ..NewRun::default()
            })
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (writer, task) =
                crate::ledger::LedgerWriter::spawn(&path, Default::default()).unwrap();
            for row in rows {
                writer.record_outcome(run, row).await.unwrap();
            }
            drop(writer);
            task.await.unwrap().unwrap();
        });
        (dir, ledger, run)
    }

    fn rejected(line: i64, errors: Vec<FieldError>) -> RowOutcome {
        RowOutcome {
            errors,
            ..RowOutcome::new(line, Some(format!("k{line}")), OutcomeKind::Rejected)
        }
    }

    fn failed(line: i64, status: u16, ms: u64) -> RowOutcome {
        RowOutcome {
            operation: Some(Operation::Create),
            http_status: Some(status),
            error_code: Some("server_error".into()),
            error_detail: Some(format!("HTTP {status}")),
            attempts: 2,
            latency_ms: Some(ms),
            ..RowOutcome::new(line, Some(format!("k{line}")), OutcomeKind::Failed)
        }
    }

    #[test]
    fn groups_problems_by_cause_and_streams_them_by_line() {
        let email = |m: &str| FieldError::new("email", "invalid_email", m);
        let (_dir, ledger, run) = ledger_with_rows(vec![
            rejected(
                2,
                vec![email("a"), FieldError::new("dni", "invalid_nid", "x")],
            ),
            rejected(3, vec![email("b")]),
            failed(4, 503, 30),
            failed(5, 503, 10),
            failed(6, 500, 20),
            RowOutcome {
                operation: Some(Operation::Create),
                attempts: 1,
                latency_ms: Some(5),
                ..RowOutcome::new(7, Some("k7".into()), OutcomeKind::Synced)
            },
        ]);
        let (fields, total) = ledger.field_error_groups(run, 10).unwrap();
        assert_eq!(total, 2);
        assert_eq!(
            fields[0],
            FieldErrorGroup {
                field: "email".into(),
                code: "invalid_email".into(),
                rows: 2,
                example: "a".into()
            }
        );
        let (errors, total) = ledger.error_groups(run, 1).unwrap();
        assert_eq!(total, 2, "503 and 500");
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].http_status, errors[0].rows), (Some(503), 2));
        assert_eq!(ledger.latencies(run).unwrap(), vec![5, 10, 20, 30]);
        let mut lines = Vec::new();
        ledger
            .each_problem(run, |row| {
                lines.push(row.line);
                Ok::<_, LedgerError>(())
            })
            .unwrap();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
        let activity = ledger.run_activity(run).unwrap();
        assert_eq!(activity.sent_rows, 4);
        let by_op = ledger.outcomes_by_operation(run).unwrap();
        let created_failed = by_op
            .iter()
            .find(|c| c.operation == Some(Operation::Create) && c.outcome == OutcomeKind::Failed)
            .unwrap();
        assert_eq!(created_failed.rows, 3);
        let start = activity.first_recorded.unwrap() - chrono::Duration::milliseconds(1);
        let slices = ledger.rows_over_time(run, start, 3_600_000).unwrap();
        assert_eq!(slices.iter().map(|s| s.rows).sum::<u64>(), 4);
        assert!(slices.iter().all(|s| s.index == 0));
    }
}
