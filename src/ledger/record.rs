//! The write side of row outcomes: one batch of intents and outcomes, with the snapshot changes
//! that go with them, committed in one transaction.
//!
//! Called only by the writer task (`writer.rs`), which owns the writing [`Ledger`]. Statements
//! are prepared once and cached; a batch of 500 rows is one transaction.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::Utc;
use rusqlite::{params, CachedStatement, OptionalExtension, Transaction};

use super::error::{LedgerError, SqlContext};
use super::outcomes::{
    errors_to_json, notes_to_json, Intent, OutcomeKind, RowOutcome, SnapshotChange,
};
use super::runs::RunId;
use super::{timestamp, Ledger};

/// One message's worth of rows for the writer.
#[derive(Debug)]
pub(crate) enum WriteBatch {
    Intents {
        run: RunId,
        intents: Vec<Intent>,
    },
    Outcomes {
        run: RunId,
        outcomes: Vec<RowOutcome>,
    },
}

impl WriteBatch {
    /// The number of rows it writes (what batch sizes count).
    pub(crate) fn rows(&self) -> usize {
        match self {
            WriteBatch::Intents { intents, .. } => intents.len(),
            WriteBatch::Outcomes { outcomes, .. } => outcomes.len(),
        }
    }
}

const INTENT_SQL: &str = "INSERT INTO row_outcomes \
     (run_id, line, user_key, operation, outcome, attempts, payload, recorded_at) \
     VALUES (?1, ?2, ?3, ?4, 'in_flight', 0, ?5, ?6) \
     ON CONFLICT (run_id, line) DO UPDATE SET user_key = excluded.user_key, \
     operation = excluded.operation, outcome = 'in_flight', http_status = NULL, \
     error_code = NULL, error_detail = NULL, errors_json = NULL, payload = excluded.payload, \
     recorded_at = excluded.recorded_at, notes_json = NULL";

const OUTCOME_SQL: &str = "INSERT INTO row_outcomes \
     (run_id, line, user_key, operation, outcome, http_status, error_code, error_detail, \
      errors_json, attempts, latency_ms, payload, recorded_at, notes_json) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15) \
     ON CONFLICT (run_id, line) DO UPDATE SET \
     user_key = coalesce(excluded.user_key, user_key), \
     operation = coalesce(excluded.operation, operation), outcome = excluded.outcome, \
     http_status = excluded.http_status, error_code = excluded.error_code, \
     error_detail = excluded.error_detail, errors_json = excluded.errors_json, \
     attempts = excluded.attempts, latency_ms = excluded.latency_ms, \
     payload = CASE WHEN ?14 THEN NULL ELSE coalesce(excluded.payload, payload) END, \
     recorded_at = excluded.recorded_at, notes_json = excluded.notes_json";

/// [`OUTCOME_SQL`] for the commonest row of a nightly run, `unchanged` with nothing else to
/// say: four values to bind instead of fifteen.
const UNCHANGED_SQL: &str = "INSERT INTO row_outcomes \
     (run_id, line, user_key, outcome, attempts, recorded_at) \
     VALUES (?1, ?2, ?3, 'unchanged', 0, ?4) \
     ON CONFLICT (run_id, line) DO UPDATE SET \
     user_key = coalesce(excluded.user_key, user_key), outcome = 'unchanged', \
     http_status = NULL, error_code = NULL, error_detail = NULL, errors_json = NULL, \
     attempts = 0, latency_ms = NULL, payload = NULL, recorded_at = excluded.recorded_at, \
     notes_json = NULL";

/// Plain `unchanged` rows written by one statement (a nightly run is mostly these: one statement
/// for many rows spares SQLite most of its per-statement work).
const UNCHANGED_CHUNK: usize = 64;

/// [`UNCHANGED_SQL`] for [`UNCHANGED_CHUNK`] rows: `?1` the run, `?2` the time, then each row's
/// line and key.
fn unchanged_chunk_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let values: Vec<String> = (0..UNCHANGED_CHUNK)
            .map(|i| format!("(?1, ?{}, ?{}, 'unchanged', 0, ?2)", 3 + 2 * i, 4 + 2 * i))
            .collect();
        format!(
            "INSERT INTO row_outcomes (run_id, line, user_key, outcome, attempts, recorded_at) \
             VALUES {} \
             ON CONFLICT (run_id, line) DO UPDATE SET \
             user_key = coalesce(excluded.user_key, user_key), outcome = 'unchanged', \
             http_status = NULL, error_code = NULL, error_detail = NULL, errors_json = NULL, \
             attempts = 0, latency_ms = NULL, payload = NULL, recorded_at = excluded.recorded_at, \
             notes_json = NULL",
            values.join(", ")
        )
    })
}

const UPSERT_USER_SQL: &str = "INSERT INTO synced_users \
     (target, user_key, remote_id, run_id, synced_at, payload_hash, field_hashes, active, \
      deactivated_at, source_hash) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, NULL, ?8) \
     ON CONFLICT (target, user_key) DO UPDATE SET \
     remote_id = coalesce(excluded.remote_id, remote_id), run_id = excluded.run_id, \
     synced_at = excluded.synced_at, payload_hash = excluded.payload_hash, \
     field_hashes = excluded.field_hashes, active = 1, deactivated_at = NULL, \
     source_hash = excluded.source_hash";

const SOURCE_USER_SQL: &str =
    "UPDATE synced_users SET source_hash = ?3 WHERE target = ?1 AND user_key = ?2";

const DEACTIVATE_USER_SQL: &str = "UPDATE synced_users \
     SET active = 0, deactivated_at = ?3, synced_at = ?3, run_id = ?4 \
     WHERE target = ?1 AND user_key = ?2";

/// What the writer remembers between batches: each run's target.
#[derive(Debug, Default)]
pub(crate) struct WriteState {
    run_targets: HashMap<RunId, String>,
}

impl Ledger {
    /// Writes `records` in one transaction: everything or nothing.
    pub(crate) fn write_batch<'a>(
        &mut self,
        state: &mut WriteState,
        records: impl Iterator<Item = &'a WriteBatch>,
    ) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let now = timestamp(Utc::now());
        let tx = self.conn.transaction().ctx(&path, "start a transaction")?;
        {
            let mut stmts = Statements::prepare(&tx).ctx(&path, "prepare the ledger's writes")?;
            for record in records {
                match record {
                    WriteBatch::Intents { run, intents } => stmts
                        .intents(*run, intents, &now)
                        .ctx(&path, "record request intents")?,
                    WriteBatch::Outcomes { run, outcomes } => {
                        let target = run_target(&tx, state, *run, &path)?;
                        stmts
                            .outcomes(*run, target, outcomes, &now)
                            .ctx(&path, "record row outcomes")?;
                    }
                }
            }
        }
        tx.commit().ctx(&path, "commit row outcomes")
    }
}

/// The run's target, from the cache or the `runs` table.
fn run_target<'s>(
    tx: &Transaction<'_>,
    state: &'s mut WriteState,
    run: RunId,
    path: &std::path::Path,
) -> Result<&'s str, LedgerError> {
    match state.run_targets.entry(run) {
        Entry::Occupied(known) => Ok(known.into_mut()),
        Entry::Vacant(slot) => {
            let target: Option<String> = tx
                .query_row("SELECT target FROM runs WHERE id = ?1", [run.0], |row| {
                    row.get(0)
                })
                .optional()
                .ctx(path, "find a run's target")?;
            let target = target.ok_or_else(|| LedgerError::UnknownRun {
                path: path.to_path_buf(),
                run,
            })?;
            Ok(slot.insert(target))
        }
    }
}

/// The batch's statements, looked up in the cache once per transaction rather than per row.
struct Statements<'tx> {
    intent: CachedStatement<'tx>,
    outcome: CachedStatement<'tx>,
    unchanged: CachedStatement<'tx>,
    unchanged_chunk: CachedStatement<'tx>,
    upsert_user: CachedStatement<'tx>,
    source_user: CachedStatement<'tx>,
    deactivate_user: CachedStatement<'tx>,
}

impl<'tx> Statements<'tx> {
    fn prepare(tx: &'tx Transaction<'_>) -> rusqlite::Result<Statements<'tx>> {
        Ok(Statements {
            intent: tx.prepare_cached(INTENT_SQL)?,
            outcome: tx.prepare_cached(OUTCOME_SQL)?,
            unchanged: tx.prepare_cached(UNCHANGED_SQL)?,
            unchanged_chunk: tx.prepare_cached(unchanged_chunk_sql())?,
            upsert_user: tx.prepare_cached(UPSERT_USER_SQL)?,
            source_user: tx.prepare_cached(SOURCE_USER_SQL)?,
            deactivate_user: tx.prepare_cached(DEACTIVATE_USER_SQL)?,
        })
    }

    fn intents(&mut self, run: RunId, intents: &[Intent], now: &str) -> rusqlite::Result<()> {
        for intent in intents {
            self.intent.execute(params![
                run.0,
                intent.line,
                intent.user_key,
                intent.operation.as_str(),
                intent.payload_json,
                now,
            ])?;
        }
        Ok(())
    }

    fn outcomes(
        &mut self,
        run: RunId,
        target: &str,
        outcomes: &[RowOutcome],
        now: &str,
    ) -> rusqlite::Result<()> {
        let mut plain: Vec<&RowOutcome> = Vec::with_capacity(UNCHANGED_CHUNK);
        for row in outcomes {
            if is_plain_unchanged(row) {
                plain.push(row);
                if plain.len() == UNCHANGED_CHUNK {
                    self.unchanged_rows(run, &plain, now)?;
                    plain.clear();
                }
                continue;
            }
            let payload = match (&row.payload, row.outcome.succeeded()) {
                (Some(payload), false) => Some(payload_json(payload)?),
                _ => None,
            };
            self.outcome.execute(params![
                run.0,
                row.line,
                row.user_key,
                row.operation.map(|op| op.as_str()),
                row.outcome.as_str(),
                row.http_status,
                row.error_code,
                row.error_detail,
                errors_to_json(&row.errors),
                row.attempts,
                row.latency_ms,
                payload,
                now,
                row.outcome.succeeded(),
                notes_to_json(&row.notes),
            ])?;
            if let Some(change) = &row.snapshot {
                self.snapshot_change(run, target, row, change, now)?;
            }
        }
        self.unchanged_rows(run, &plain, now)
    }

    /// Writes plain `unchanged` rows: a full chunk in one statement, fewer one by one.
    fn unchanged_rows(
        &mut self,
        run: RunId,
        rows: &[&RowOutcome],
        now: &str,
    ) -> rusqlite::Result<()> {
        if rows.len() == UNCHANGED_CHUNK {
            let stmt = &mut self.unchanged_chunk;
            stmt.raw_bind_parameter(1, run.0)?;
            stmt.raw_bind_parameter(2, now)?;
            for (i, row) in rows.iter().enumerate() {
                stmt.raw_bind_parameter(3 + 2 * i, row.line)?;
                stmt.raw_bind_parameter(4 + 2 * i, row.user_key.as_deref())?;
            }
            stmt.raw_execute()?;
            return Ok(());
        }
        for row in rows {
            self.unchanged
                .execute(params![run.0, row.line, row.user_key, now])?;
        }
        Ok(())
    }

    fn snapshot_change(
        &mut self,
        run: RunId,
        target: &str,
        row: &RowOutcome,
        change: &SnapshotChange,
        now: &str,
    ) -> rusqlite::Result<()> {
        let Some(key) = row.user_key.as_deref() else {
            tracing::error!(
                line = row.line,
                "a snapshot change without a user key was ignored (a bug in the caller)"
            );
            return Ok(());
        };
        if !row.outcome.succeeded() {
            tracing::error!(
                line = row.line,
                outcome = %row.outcome,
                "a snapshot change on a row that did not succeed was ignored (a bug in the caller)"
            );
            return Ok(());
        }
        match change {
            SnapshotChange::Upsert {
                remote_id,
                payload_hash,
                field_hashes,
                source_hash,
            } => {
                let fields = field_hashes.to_blob();
                self.upsert_user.execute(params![
                    target,
                    key,
                    remote_id,
                    run.0,
                    now,
                    &payload_hash[..],
                    fields,
                    source_hash.as_ref().map(|h| &h[..]),
                ])?;
            }
            SnapshotChange::Source(source_hash) => {
                self.source_user
                    .execute(params![target, key, &source_hash[..]])?;
            }
            SnapshotChange::Deactivated => {
                self.deactivate_user
                    .execute(params![target, key, now, run.0])?;
            }
        }
        Ok(())
    }
}

/// An `unchanged` row with nothing else to record (no snapshot change, no detail).
fn is_plain_unchanged(row: &RowOutcome) -> bool {
    matches!(row.outcome, OutcomeKind::Unchanged)
        && row.snapshot.is_none()
        && row.operation.is_none()
        && row.http_status.is_none()
        && row.error_code.is_none()
        && row.error_detail.is_none()
        && row.errors.is_empty()
        && row.attempts == 0
        && row.latency_ms.is_none()
        && row.notes.is_empty()
}

fn payload_json(payload: &crate::payload::Payload) -> rusqlite::Result<String> {
    serde_json::to_string(payload).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}
