//! What a report says about a run, independent of its format: the numbers and groups every
//! exporter draws from, already masked when `--mask-pii` was given.
//!
//! These types are also the JSON report's schema (`docs/report-schema.md`): renaming a field is
//! a breaking change that needs a new [`SCHEMA_VERSION`].

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ledger::{NoteCount, RunCounts};

/// The version of the JSON report's schema. Adding a field keeps it; renaming, removing or
/// changing the meaning of one bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a report shows about one run, except its problem rows (streamed separately, so
/// that a run of a million failed rows is never held in memory).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// `usersync X.Y.Z`.
    pub generator: String,
    /// Whether e-mails, ID numbers and phone numbers were masked.
    pub pii_masked: bool,
    pub run: RunInfo,
    pub counts: Counts,
    /// Rows by the operation they needed and how it ended.
    pub operations: Vec<OperationCounts>,
    pub throughput: Throughput,
    pub latency: Latency,
    pub timeline: Timeline,
    /// What this run changed at the provider, compared with the run before it.
    pub changes: Changes,
    pub problems: Problems,
    /// Rows that went through but need a person.
    pub follow_ups: FollowUps,
    /// Things the reader should know, e.g. that the run is still going on.
    pub notes: Vec<String>,
}

/// The run itself.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub id: i64,
    pub target: String,
    pub provider: String,
    /// `sync`, `retry`, ...
    pub command: String,
    pub parent_run_id: Option<i64>,
    pub input_path: Option<String>,
    pub input_sha256: Option<String>,
    /// As typed, with secrets removed (who triggered the run, and how).
    pub command_line: Option<String>,
    /// Where the run sent: `mock` (the built-in mock) or the API's base URL, without
    /// credentials; null for runs recorded before usersync kept it.
    pub endpoint: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// From the start to the end (or, while running, to the last recorded row).
    pub duration_secs: f64,
    /// `running`, `completed`, `interrupted` or `aborted`.
    pub status: String,
    pub exit_code: Option<i32>,
}

/// Counts by outcome, computed from the run's rows (so they match the ledger's
/// `row_outcomes` even for a run that is still going on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Every input row (and every leaver) of the run.
    pub rows: u64,
    pub synced: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub failed: u64,
    pub not_attempted: u64,
    /// Requests possibly on their way (only while a run is going on, or after a crash).
    pub in_flight: u64,
    /// Synced creations, updates (full or partial) and deactivations.
    pub created: u64,
    pub updated: u64,
    pub deactivated: u64,
    /// Rows that went to the provider at least once.
    pub sent_rows: u64,
    /// HTTP requests sent for rows (every attempt).
    pub requests: u64,
    /// Requests beyond each row's first.
    pub retries: u64,
}

impl Counts {
    /// The counts of a ledger's [`RunCounts`], with the rows it does not count.
    pub fn new(c: &RunCounts, sent_rows: u64) -> Counts {
        let ended = c.synced + c.unchanged + c.rejected + c.failed + c.not_attempted;
        Counts {
            rows: c.rows,
            synced: c.synced,
            unchanged: c.unchanged,
            rejected: c.rejected,
            failed: c.failed,
            not_attempted: c.not_attempted,
            in_flight: c.rows.saturating_sub(ended),
            created: c.created,
            updated: c.updated,
            deactivated: c.deactivated,
            sent_rows,
            requests: c.requests,
            retries: c.retries,
        }
    }

    /// Rows that did not succeed: rejected, failed, not attempted or in flight.
    pub fn problems(&self) -> u64 {
        self.rejected + self.failed + self.not_attempted + self.in_flight
    }
}

/// The rows of one operation, by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperationCounts {
    /// `create`, `update`, `patch`, `deactivate`, or `none` for rows refused by validation.
    pub operation: String,
    pub total: u64,
    pub synced: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub failed: u64,
    pub not_attempted: u64,
    pub in_flight: u64,
}

/// How fast the run went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Throughput {
    /// Every row over the run's duration.
    pub rows_per_sec: f64,
    /// HTTP requests over the run's duration.
    pub requests_per_sec: f64,
}

/// Request latencies (`row_outcomes.latency_ms`: a row's time from its first attempt to its
/// outcome, retries included).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Rows with a latency.
    pub samples: u64,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub max_ms: Option<u64>,
    pub mean_ms: Option<f64>,
    /// The distribution, in bins that grow 1-2-5 (0-1 ms, 1-2 ms, 2-5 ms, ...); empty bins at
    /// either end are left out.
    pub histogram: Vec<LatencyBin>,
}

/// One bar of the latency distribution: `from_ms <= latency < to_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatencyBin {
    pub from_ms: u64,
    pub to_ms: u64,
    pub rows: u64,
}

/// The rows that went to the provider, by when their outcome was recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// The width of every bucket, in seconds.
    pub bucket_secs: f64,
    pub buckets: Vec<TimeBucket>,
}

/// One slice of the run's time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TimeBucket {
    /// Seconds from the run's start to the bucket's start.
    pub start_secs: f64,
    pub synced: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Rows per second in this bucket (all outcomes).
    pub rows_per_sec: f64,
}

/// What this run changed at the provider, and the previous run of the target to compare with.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    pub created: u64,
    pub updated: u64,
    pub deactivated: u64,
    pub previous_run: Option<PreviousRun>,
}

/// The run of the same target before this one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviousRun {
    pub id: i64,
    pub command: String,
    pub started_at: DateTime<Utc>,
    pub status: String,
    pub exit_code: Option<i32>,
    /// Its counts as stored when it ended.
    pub counts: RunCounts,
}

/// What went wrong, grouped by cause.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Problems {
    /// Rows that did not succeed.
    pub rows: u64,
    /// Field errors (validation, or a provider naming a field) by field and code.
    pub rejections: Vec<RejectionCause>,
    /// Groups of field errors not listed (beyond the report's limit).
    pub rejection_causes_not_listed: u64,
    /// Provider and transport errors (no field named) by outcome, HTTP status, code and message.
    pub errors: Vec<ErrorCause>,
    pub error_causes_not_listed: u64,
}

/// Rows refused for the same field and code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionCause {
    pub field: String,
    pub code: String,
    pub rows: u64,
    /// The message of one of these rows.
    pub example: String,
}

/// Rows that ended the same way without a field error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorCause {
    /// `rejected`, `failed`, `not_attempted` or `in_flight`.
    pub outcome: String,
    pub http_status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub rows: u64,
}

/// Rows that went through (synced or unchanged) but need a person: a user whose access the
/// provider cannot give back, fields it cannot clear (`row_outcomes.notes_json`, whose codes
/// `crate::notes` lists).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FollowUps {
    /// Every note of the run (a row can carry two).
    pub total: u64,
    /// Notes by code, the most frequent first.
    pub by_code: Vec<NoteCount>,
    /// The notes of the run's first `FOLLOW_UPS_LISTED` rows with notes, by line.
    pub listed: Vec<FollowUp>,
    /// Notes not in `listed`.
    pub not_listed: u64,
}

/// One note of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    /// The row's line in the input; `None` for a leaver.
    pub line: Option<u64>,
    pub key: Option<String>,
    /// `synced` or `unchanged`.
    pub outcome: String,
    pub operation: Option<String>,
    /// `reactivate_by_hand`, `reactivation_refused` or `not_cleared`.
    pub code: String,
    /// What happened and what to do, for a person.
    pub message: String,
}

/// One error of one problem row: a rejected row with two field errors gives two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemRow {
    /// The row's line in the input; `None` for a leaver (a user missing from the export).
    pub line: Option<u64>,
    /// The user key; `None` when the row was refused before its key was known.
    pub key: Option<String>,
    pub outcome: String,
    /// The operation it needed; `None` when validation refused it.
    pub operation: Option<String>,
    pub http_status: Option<u16>,
    pub field: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub attempts: u32,
}
