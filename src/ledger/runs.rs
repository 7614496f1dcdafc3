//! Runs: one row per command that sends rows to a target, its status and counts, and recovery
//! of runs a dead process left `running`.

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::error::{LedgerError, SqlContext};
use super::lock::TargetLock;
use super::{parse_timestamp, timestamp, Ledger};

/// A run's id in the ledger (`runs.id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Going on, or its process died (until [`Ledger::recover_interrupted`]).
    Running,
    /// Every row has its final outcome.
    Completed,
    /// Stopped by a signal, a deadline or a crash; the next run picks up the rest.
    Interrupted,
    /// Stopped by a fatal problem (refused credentials, circuit breaker).
    Aborted,
}

impl RunStatus {
    /// The text stored in `runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Aborted => "aborted",
        }
    }

    fn parse(text: &str) -> Option<RunStatus> {
        Some(match text {
            "running" => RunStatus::Running,
            "completed" => RunStatus::Completed,
            "interrupted" => RunStatus::Interrupted,
            "aborted" => RunStatus::Aborted,
            _ => return None,
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known when a run starts. `command_line` and `note` must already have their secrets
/// removed: the ledger stores them as given.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub target: String,
    pub provider: String,
    /// `sync`, `retry`, ...
    pub command: String,
    /// For `retry`: the run whose rows are re-sent.
    pub parent_run_id: Option<RunId>,
    pub input_path: Option<String>,
    /// Hex SHA-256 of the input file.
    pub input_sha256: Option<String>,
    pub command_line: Option<String>,
    pub note: Option<String>,
    /// Where the run sends: `mock`, or the base URL without credentials
    /// ([`crate::config::BaseUrl::endpoint`]). A sync or retry fills it in once it has checked
    /// it against the ledger (`crate::sync::endpoint`).
    pub endpoint: Option<String>,
}

/// A run's counts. `rows` counts every input row; each row has exactly one outcome, so
/// `rows = synced + unchanged + rejected + failed + not_attempted` once the run is over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunCounts {
    pub rows: u64,
    pub synced: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub failed: u64,
    pub not_attempted: u64,
    /// Synced creates.
    pub created: u64,
    /// Synced updates and patches.
    pub updated: u64,
    /// Synced deactivations.
    pub deactivated: u64,
    /// HTTP requests sent for rows.
    pub requests: u64,
    /// Requests beyond each row's first.
    pub retries: u64,
}

/// A stored run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub target: String,
    pub provider: String,
    pub command: String,
    pub parent_run_id: Option<RunId>,
    pub input_path: Option<String>,
    pub input_sha256: Option<String>,
    pub command_line: Option<String>,
    pub note: Option<String>,
    /// Where it sent (see [`NewRun::endpoint`]); `None` for runs recorded before usersync kept
    /// it.
    pub endpoint: Option<String>,
    /// The process that ran it.
    pub pid: Option<u32>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub counts: RunCounts,
    /// When its row details were deleted by the ledger's retention (see
    /// [`Ledger::prune_run`]); `None` while they are all there.
    pub pruned_at: Option<DateTime<Utc>>,
}

/// A run [`Ledger::recover_interrupted`] found left `running` by a dead process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredRun {
    pub id: RunId,
    /// Its rows that were in flight: now `failed` with error code `interrupted`.
    pub in_flight_rows: u64,
}

pub(super) const RUN_COLUMNS: &str = "id, target, provider, command, parent_run_id, input_path, \
     input_sha256, command_line, note, pid, started_at, finished_at, status, exit_code, rows, \
     synced, unchanged, rejected, failed, not_attempted, created, updated, deactivated, requests, \
     retries, endpoint, pruned_at";

/// The counts of a run, from its `row_outcomes`.
const COUNTS_SQL: &str = "SELECT count(*), \
     coalesce(sum(outcome = 'synced'), 0), coalesce(sum(outcome = 'unchanged'), 0), \
     coalesce(sum(outcome = 'rejected'), 0), coalesce(sum(outcome = 'failed'), 0), \
     coalesce(sum(outcome = 'not_attempted'), 0), \
     coalesce(sum(outcome = 'synced' AND operation = 'create'), 0), \
     coalesce(sum(outcome = 'synced' AND operation IN ('update', 'patch')), 0), \
     coalesce(sum(outcome = 'synced' AND operation = 'deactivate'), 0), \
     coalesce(sum(attempts), 0), coalesce(sum(max(attempts - 1, 0)), 0) \
     FROM row_outcomes WHERE run_id = ?1";

/// The message stored on a row that was in flight when its run died.
pub(crate) const INTERRUPTED_DETAIL: &str =
    "the run stopped while this request was in flight: it may have reached the provider";

impl Ledger {
    /// Records the start of a run (status `running`, this process's pid) and returns its id.
    pub fn begin_run(&self, run: &NewRun) -> Result<RunId, LedgerError> {
        self.conn
            .execute(
                "INSERT INTO runs (target, provider, command, parent_run_id, input_path, \
                 input_sha256, command_line, note, pid, started_at, status, endpoint) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'running', ?11)",
                params![
                    run.target,
                    run.provider,
                    run.command,
                    run.parent_run_id.map(|r| r.0),
                    run.input_path,
                    run.input_sha256,
                    run.command_line,
                    run.note,
                    std::process::id(),
                    timestamp(Utc::now()),
                    run.endpoint,
                ],
            )
            .ctx(&self.path, "record a new run")?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Records the end of a run: its status, exit code and counts.
    pub fn finish_run(
        &self,
        id: RunId,
        status: RunStatus,
        exit_code: Option<i32>,
        counts: &RunCounts,
    ) -> Result<(), LedgerError> {
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET finished_at = ?2, status = ?3, exit_code = ?4, rows = ?5, \
                 synced = ?6, unchanged = ?7, rejected = ?8, failed = ?9, not_attempted = ?10, \
                 created = ?11, updated = ?12, deactivated = ?13, requests = ?14, retries = ?15 \
                 WHERE id = ?1",
                params![
                    id.0,
                    timestamp(Utc::now()),
                    status.as_str(),
                    exit_code,
                    counts.rows,
                    counts.synced,
                    counts.unchanged,
                    counts.rejected,
                    counts.failed,
                    counts.not_attempted,
                    counts.created,
                    counts.updated,
                    counts.deactivated,
                    counts.requests,
                    counts.retries,
                ],
            )
            .ctx(&self.path, "record the end of a run")?;
        if changed == 0 {
            return Err(self.unknown_run(id));
        }
        Ok(())
    }

    /// Marks the target's runs left `running` by a dead process as `interrupted`: their
    /// `in_flight` rows become `failed` with error code `interrupted` (they may have reached
    /// the provider), and their counts are computed from their rows.
    ///
    /// Takes the target's lock as proof that no live process is running the target; call it
    /// before [`Ledger::begin_run`]. Runs of this very process are left alone.
    pub fn recover_interrupted(
        &mut self,
        lock: &TargetLock,
    ) -> Result<Vec<RecoveredRun>, LedgerError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .ctx(&path, "recover interrupted runs")?;
        let ids: Vec<i64> = {
            let mut stmt = tx
                .prepare(
                    "SELECT id FROM runs WHERE target = ?1 AND status = 'running' \
                     AND pid IS NOT ?2 ORDER BY id",
                )
                .ctx(&path, "find interrupted runs")?;
            let rows = stmt
                .query_map(params![lock.target(), std::process::id()], |row| row.get(0))
                .ctx(&path, "find interrupted runs")?;
            rows.collect::<Result<_, _>>()
                .ctx(&path, "find interrupted runs")?
        };
        let mut recovered = Vec::with_capacity(ids.len());
        for id in ids {
            let in_flight = tx
                .execute(
                    "UPDATE row_outcomes SET outcome = 'failed', error_code = 'interrupted', \
                     error_detail = ?2 WHERE run_id = ?1 AND outcome = 'in_flight'",
                    params![id, INTERRUPTED_DETAIL],
                )
                .ctx(&path, "mark in-flight rows failed")?;
            let counts = tx
                .query_row(COUNTS_SQL, [id], counts_from_row)
                .ctx(&path, "count an interrupted run's rows")?;
            tx.execute(
                "UPDATE runs SET status = 'interrupted', \
                 finished_at = coalesce((SELECT max(recorded_at) FROM row_outcomes \
                                         WHERE run_id = ?1), started_at), \
                 rows = ?2, synced = ?3, unchanged = ?4, rejected = ?5, failed = ?6, \
                 not_attempted = ?7, created = ?8, updated = ?9, deactivated = ?10, \
                 requests = ?11, retries = ?12 WHERE id = ?1",
                params![
                    id,
                    counts.rows,
                    counts.synced,
                    counts.unchanged,
                    counts.rejected,
                    counts.failed,
                    counts.not_attempted,
                    counts.created,
                    counts.updated,
                    counts.deactivated,
                    counts.requests,
                    counts.retries,
                ],
            )
            .ctx(&path, "mark a run interrupted")?;
            tracing::warn!(
                run = id,
                target_name = lock.target(),
                in_flight_rows = in_flight,
                "an earlier run was left running by a process that died; marked interrupted"
            );
            recovered.push(RecoveredRun {
                id: RunId(id),
                in_flight_rows: in_flight as u64,
            });
        }
        tx.commit().ctx(&path, "recover interrupted runs")?;
        Ok(recovered)
    }

    /// Every run, oldest first; only `target`'s when given.
    pub fn list_runs(&self, target: Option<&str>) -> Result<Vec<RunRecord>, LedgerError> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR target = ?1 ORDER BY id");
        let mut stmt = self.conn.prepare(&sql).ctx(&self.path, "list runs")?;
        let rows = stmt
            .query_map([target], run_from_row)
            .ctx(&self.path, "list runs")?;
        let runs: Vec<Result<RunRecord, LedgerError>> = rows
            .map(|r| r.ctx(&self.path, "list runs").and_then(|r| self.checked(r)))
            .collect();
        runs.into_iter().collect()
    }

    /// The targets that have runs in the ledger, by name.
    pub fn targets(&self) -> Result<Vec<String>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT target FROM runs ORDER BY target")
            .ctx(&self.path, "list the targets")?;
        let rows = stmt
            .query_map([], |row| row.get(0))
            .ctx(&self.path, "list the targets")?;
        rows.collect::<Result<_, _>>()
            .ctx(&self.path, "list the targets")
    }

    /// The run `id`, if it exists.
    pub fn run(&self, id: RunId) -> Result<Option<RunRecord>, LedgerError> {
        self.one_run(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
            params![id.0],
        )
    }

    /// The latest run of `target` that recorded where it sent, with that endpoint: what the
    /// target's snapshot describes.
    pub fn last_endpoint(&self, target: &str) -> Result<Option<(RunId, String)>, LedgerError> {
        self.conn
            .query_row(
                "SELECT id, endpoint FROM runs WHERE target = ?1 AND endpoint IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
                params![target],
                |row| Ok((RunId(row.get(0)?), row.get(1)?)),
            )
            .optional()
            .ctx(&self.path, "read the target's last endpoint")
    }

    /// The latest run of `target`, whatever its command or status.
    pub fn last_run(&self, target: &str) -> Result<Option<RunRecord>, LedgerError> {
        self.one_run(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE target = ?1 ORDER BY id DESC LIMIT 1"),
            params![target],
        )
    }

    /// The latest run of `target` before `before` (for a report's comparison with last time).
    pub fn previous_run(
        &self,
        target: &str,
        before: RunId,
    ) -> Result<Option<RunRecord>, LedgerError> {
        self.one_run(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE target = ?1 AND id < ?2 \
                 ORDER BY id DESC LIMIT 1"
            ),
            params![target, before.0],
        )
    }

    /// A run's counts computed from its `row_outcomes` (so a report can cross-check the counts
    /// stored by [`Ledger::finish_run`]). `requests` and `retries` come from the rows' attempts.
    pub fn counts(&self, run: RunId) -> Result<RunCounts, LedgerError> {
        self.conn
            .prepare_cached(COUNTS_SQL)
            .and_then(|mut stmt| stmt.query_row([run.0], counts_from_row))
            .ctx(&self.path, "count a run's rows")
    }

    pub(super) fn one_run(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<RunRecord>, LedgerError> {
        let raw = self
            .conn
            .query_row(sql, params, run_from_row)
            .optional()
            .ctx(&self.path, "read a run")?;
        raw.map(|r| self.checked(r)).transpose()
    }

    /// Turns the raw columns into a record, or says the file is damaged.
    fn checked(&self, raw: RawRun) -> Result<RunRecord, LedgerError> {
        let started_at = parse_timestamp(&raw.started_at).ok_or_else(|| {
            self.corrupt(format!(
                "run {}: bad started_at {:?}",
                raw.record.id, raw.started_at
            ))
        })?;
        let optional_time = |column: &str, text: Option<String>| match text {
            None => Ok(None),
            Some(text) => parse_timestamp(&text).map(Some).ok_or_else(|| {
                self.corrupt(format!("run {}: bad {column} {text:?}", raw.record.id))
            }),
        };
        let finished_at = optional_time("finished_at", raw.finished_at)?;
        let pruned_at = optional_time("pruned_at", raw.pruned_at)?;
        let status = RunStatus::parse(&raw.status).ok_or_else(|| {
            self.corrupt(format!(
                "run {}: unknown status {:?}",
                raw.record.id, raw.status
            ))
        })?;
        Ok(RunRecord {
            started_at,
            finished_at,
            status,
            pruned_at,
            ..raw.record
        })
    }

    pub(crate) fn unknown_run(&self, run: RunId) -> LedgerError {
        LedgerError::UnknownRun {
            path: self.path.clone(),
            run,
        }
    }
}

/// A run as read, before its text columns are checked.
struct RawRun {
    record: RunRecord,
    started_at: String,
    finished_at: Option<String>,
    status: String,
    pruned_at: Option<String>,
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RawRun> {
    let counts = RunCounts {
        rows: row.get(14)?,
        synced: row.get(15)?,
        unchanged: row.get(16)?,
        rejected: row.get(17)?,
        failed: row.get(18)?,
        not_attempted: row.get(19)?,
        created: row.get(20)?,
        updated: row.get(21)?,
        deactivated: row.get(22)?,
        requests: row.get(23)?,
        retries: row.get(24)?,
    };
    Ok(RawRun {
        record: RunRecord {
            id: RunId(row.get(0)?),
            target: row.get(1)?,
            provider: row.get(2)?,
            command: row.get(3)?,
            parent_run_id: row.get::<_, Option<i64>>(4)?.map(RunId),
            input_path: row.get(5)?,
            input_sha256: row.get(6)?,
            command_line: row.get(7)?,
            note: row.get(8)?,
            endpoint: row.get(25)?,
            pid: row.get(9)?,
            started_at: DateTime::<Utc>::UNIX_EPOCH,
            finished_at: None,
            status: RunStatus::Running,
            exit_code: row.get(13)?,
            counts,
            pruned_at: None,
        },
        started_at: row.get(10)?,
        finished_at: row.get(11)?,
        status: row.get(12)?,
        pruned_at: row.get(26)?,
    })
}

fn counts_from_row(row: &Row<'_>) -> rusqlite::Result<RunCounts> {
    Ok(RunCounts {
        rows: row.get(0)?,
        synced: row.get(1)?,
        unchanged: row.get(2)?,
        rejected: row.get(3)?,
        failed: row.get(4)?,
        not_attempted: row.get(5)?,
        created: row.get(6)?,
        updated: row.get(7)?,
        deactivated: row.get(8)?,
        requests: row.get(9)?,
        retries: row.get(10)?,
    })
}
