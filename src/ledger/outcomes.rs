//! Row outcomes: what happened to each input row in a run, the intents recorded before a request
//! leaves, and the queries over them (a run's rows, and the rows a `retry` re-sends).
//!
//! Writing happens in the writer task (`record.rs`); this file holds the types and the reads.

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::Row;

use super::error::{LedgerError, SqlContext};
use super::field_hashes::FieldHashes;
use super::hash::{Hash, SourceHash};
use super::runs::RunId;
use super::{parse_timestamp, Ledger};
use crate::payload::Payload;
use crate::provider::Operation;
use crate::validate::FieldError;

/// The state of one row in one run (`row_outcomes.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Interim: the request may be on its way (an intent). Never a final outcome.
    InFlight,
    Synced,
    /// Same payload as the snapshot: no request.
    Unchanged,
    /// Refused by validation (no `http_status`) or by the provider (with one).
    Rejected,
    Failed,
    /// Never sent: the run stopped first (auth failure, deadline, signal).
    NotAttempted,
}

impl OutcomeKind {
    /// The text stored in `row_outcomes.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::InFlight => "in_flight",
            OutcomeKind::Synced => "synced",
            OutcomeKind::Unchanged => "unchanged",
            OutcomeKind::Rejected => "rejected",
            OutcomeKind::Failed => "failed",
            OutcomeKind::NotAttempted => "not_attempted",
        }
    }

    /// Whether the row succeeded (its payload is then not kept).
    pub fn succeeded(self) -> bool {
        matches!(self, OutcomeKind::Synced | OutcomeKind::Unchanged)
    }

    pub(crate) fn parse(text: &str) -> Option<OutcomeKind> {
        Some(match text {
            "in_flight" => OutcomeKind::InFlight,
            "synced" => OutcomeKind::Synced,
            "unchanged" => OutcomeKind::Unchanged,
            "rejected" => OutcomeKind::Rejected,
            "failed" => OutcomeKind::Failed,
            "not_attempted" => OutcomeKind::NotAttempted,
            _ => return None,
        })
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request about to leave: recorded (`in_flight`, with its payload) and committed before it
/// is sent, so after a crash the ledger knows the row may have reached the provider.
#[derive(Debug, Clone)]
pub struct Intent {
    /// The input line (negative for leavers, which have none).
    pub line: i64,
    pub user_key: String,
    pub operation: Operation,
    /// The whole payload the request stands for (a patch's too, for `retry`), as its canonical
    /// JSON: the text a sync already made to hash the payload, so it is not made twice.
    pub payload_json: String,
}

impl Intent {
    /// The intent of sending `payload` for the row at `line`.
    pub fn new(
        line: i64,
        user_key: String,
        operation: Operation,
        payload: &Payload,
    ) -> serde_json::Result<Intent> {
        Ok(Intent {
            line,
            user_key,
            operation,
            payload_json: serde_json::to_string(payload)?,
        })
    }
}

/// How a row's outcome changes the target's snapshot (`synced_users`), committed in the same
/// transaction as the outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotChange {
    /// The provider now holds this payload for the user (active again if it was deactivated).
    Upsert {
        /// The provider's id; `None` keeps the one already known.
        remote_id: Option<String>,
        /// The hash of the whole canonical payload now at the provider.
        payload_hash: Hash,
        /// Every field's hash of that whole payload (not only the fields a patch sent).
        field_hashes: FieldHashes,
        /// The fingerprint of the export row the payload came from (`None` when it came from
        /// elsewhere, such as a payload kept for a retry).
        source_hash: Option<SourceHash>,
    },
    /// The user's payload is unchanged, but it now comes from a row with another fingerprint
    /// (a cell that differs only by spaces or case, a new column, another mapping): remember it,
    /// so that the next run recognises the row at once.
    Source(SourceHash),
    /// The user was deactivated.
    Deactivated,
}

/// Something a person has to know, or do, about a row that went through
/// (`row_outcomes.notes_json`; the codes are listed in `migrations/04-row-notes`). Never a
/// field's value: field names, the provider's name and its answer at most.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowNote {
    pub code: NoteCode,
    pub message: String,
}

/// What a [`RowNote`] is about: a stable code, stored in the ledger and shown in every report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NoteCode {
    /// A returning leaver whose access the provider cannot be asked to give back.
    ReactivateByHand,
    /// The provider refused to give a returning leaver their access back.
    ReactivationRefused,
    /// Fields emptied in the export that usersync left as they are at the provider.
    NotCleared,
    /// A protected user (the target's `protect`) whom the row would have changed: left alone.
    Protected,
    /// An operation the target's `mode` does not allow: not sent.
    NotInMode,
}

impl NoteCode {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteCode::ReactivateByHand => "reactivate_by_hand",
            NoteCode::ReactivationRefused => "reactivation_refused",
            NoteCode::NotCleared => "not_cleared",
            NoteCode::Protected => "protected",
            NoteCode::NotInMode => "not_in_mode",
        }
    }
}

impl NoteCode {
    /// Whether a row noted so needs a person: not for what the target's own config asked for
    /// (a protected user left alone, an operation its mode does not allow).
    pub fn needs_a_person(self) -> bool {
        !matches!(self, NoteCode::Protected | NoteCode::NotInMode)
    }
}

impl std::fmt::Display for NoteCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for NoteCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A row's final outcome, sent to the writer. It replaces the row's intent, if any.
#[derive(Debug, Clone)]
pub struct RowOutcome {
    /// The input line (negative for leavers).
    pub line: i64,
    /// `None` when the row was rejected before its key was known.
    pub user_key: Option<String>,
    /// `None` for rows rejected by validation.
    pub operation: Option<Operation>,
    pub outcome: OutcomeKind,
    pub http_status: Option<u16>,
    /// Stable code (`timeout`, `http_500`, `auth_failed`, ...).
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    /// Field errors of a rejected row.
    pub errors: Vec<FieldError>,
    pub attempts: u32,
    pub latency_ms: Option<u64>,
    /// The payload to keep for a failed, not attempted or rejected row (`None` keeps the one
    /// its intent recorded). Ignored, and the stored one dropped, when the row succeeded.
    pub payload: Option<Payload>,
    /// The snapshot change that goes with a success.
    pub snapshot: Option<SnapshotChange>,
    /// What a person has to know about the row (see [`RowNote`]).
    pub notes: Vec<RowNote>,
}

impl RowOutcome {
    /// An outcome with only the essentials set; fill in the rest with struct update syntax.
    pub fn new(line: i64, user_key: Option<String>, outcome: OutcomeKind) -> RowOutcome {
        RowOutcome {
            line,
            user_key,
            operation: None,
            outcome,
            http_status: None,
            error_code: None,
            error_detail: None,
            errors: Vec::new(),
            attempts: 0,
            latency_ms: None,
            payload: None,
            snapshot: None,
            notes: Vec::new(),
        }
    }
}

/// A row outcome as stored.
#[derive(Debug, Clone)]
pub struct StoredOutcome {
    pub run_id: RunId,
    pub line: i64,
    pub user_key: Option<String>,
    pub operation: Option<Operation>,
    pub outcome: OutcomeKind,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub attempts: u32,
    pub latency_ms: Option<u64>,
    /// Kept only while the row has not succeeded.
    pub payload: Option<Payload>,
    pub recorded_at: DateTime<Utc>,
    pub notes: Vec<RowNote>,
}

pub(super) const OUTCOME_COLUMNS: &str =
    "run_id, line, user_key, operation, outcome, http_status, \
     error_code, error_detail, errors_json, attempts, latency_ms, payload, recorded_at, \
     notes_json";

impl Ledger {
    /// Every row outcome of `run`, by line.
    pub fn outcomes(&self, run: RunId) -> Result<Vec<StoredOutcome>, LedgerError> {
        let mut all = Vec::new();
        self.each_outcome(run, |row| {
            all.push(row);
            Ok::<(), LedgerError>(())
        })?;
        Ok(all)
    }

    /// Streams `run`'s row outcomes, by line, into `f` without holding them all in memory.
    /// Stops at the first error `f` returns.
    pub fn each_outcome<E, F>(&self, run: RunId, mut f: F) -> Result<(), E>
    where
        E: From<LedgerError>,
        F: FnMut(StoredOutcome) -> Result<(), E>,
    {
        let sql =
            format!("SELECT {OUTCOME_COLUMNS} FROM row_outcomes WHERE run_id = ?1 ORDER BY line");
        self.stream_outcomes(&sql, run, &mut f)
    }

    /// The rows of `run` that a `retry` re-sends, by line, with their payloads: `failed` and
    /// `not_attempted`, plus rows the provider `rejected` when `include_rejected` (rows refused
    /// by validation are never retried: they need fixing at the source). Rows without a stored
    /// payload cannot be re-sent and are left out.
    pub fn retryable(
        &self,
        run: RunId,
        include_rejected: bool,
    ) -> Result<Vec<StoredOutcome>, LedgerError> {
        let sql = format!(
            "SELECT {OUTCOME_COLUMNS} FROM row_outcomes WHERE run_id = ?1 \
             AND payload IS NOT NULL AND operation IS NOT NULL \
             AND (outcome IN ('failed', 'not_attempted') \
                  OR (outcome = 'rejected' AND http_status IS NOT NULL AND {include_rejected})) \
             ORDER BY line"
        );
        let mut rows = Vec::new();
        self.stream_outcomes(&sql, run, &mut |row| {
            rows.push(row);
            Ok::<(), LedgerError>(())
        })?;
        Ok(rows)
    }

    /// How many rows of `run` a `retry` of it on `target` would re-send (as in
    /// [`Ledger::retryable`], but never rows a guard refused), and how many of those it skips because a later run of the target
    /// already synced or deactivated their user (re-sending the older payload would undo it).
    pub fn retry_counts(
        &self,
        run: RunId,
        target: &str,
        include_rejected: bool,
    ) -> Result<RetryCounts, LedgerError> {
        let sql = format!(
            "SELECT count(*), coalesce(sum({SUPERSEDED}), 0) FROM row_outcomes \
             WHERE {}",
            retryable_filter(include_rejected)
        );
        self.conn
            .query_row(&sql, rusqlite::params![run.0, target], |row| {
                let rows: u64 = row.get(0)?;
                let superseded: u64 = row.get(1)?;
                Ok(RetryCounts {
                    rows: rows - superseded,
                    superseded,
                })
            })
            .ctx(&self.path, "count a run's rows to retry")
    }

    /// Streams the rows a `retry` of `run` on `target` re-sends, by line (deactivations, with
    /// their negative lines, first): [`Ledger::retryable`]'s rows without the superseded ones
    /// (see [`Ledger::retry_counts`]). Stops at the first error `f` returns.
    pub fn each_retryable<E, F>(
        &self,
        run: RunId,
        target: &str,
        include_rejected: bool,
        mut f: F,
    ) -> Result<(), E>
    where
        E: From<LedgerError>,
        F: FnMut(StoredOutcome) -> Result<(), E>,
    {
        let sql = format!(
            "SELECT {OUTCOME_COLUMNS} FROM row_outcomes WHERE {} AND NOT {SUPERSEDED} \
             ORDER BY line",
            retryable_filter(include_rejected)
        );
        self.stream_outcomes_with(&sql, rusqlite::params![run.0, target], &mut f)
    }

    pub(super) fn stream_outcomes<E, F>(&self, sql: &str, run: RunId, f: &mut F) -> Result<(), E>
    where
        E: From<LedgerError>,
        F: FnMut(StoredOutcome) -> Result<(), E>,
    {
        self.stream_outcomes_with(sql, [run.0], f)
    }

    pub(super) fn stream_outcomes_with<E, F>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: &mut F,
    ) -> Result<(), E>
    where
        E: From<LedgerError>,
        F: FnMut(StoredOutcome) -> Result<(), E>,
    {
        let action = "read a run's rows";
        let mut stmt = self.conn.prepare(sql).ctx(&self.path, action)?;
        let mut rows = stmt.query(params).ctx(&self.path, action)?;
        while let Some(row) = rows.next().ctx(&self.path, action)? {
            let stored = self.outcome_from_row(row)?;
            f(stored)?;
        }
        Ok(())
    }

    fn outcome_from_row(&self, row: &Row<'_>) -> Result<StoredOutcome, LedgerError> {
        let action = "read a run's rows";
        let line: i64 = row.get(1).ctx(&self.path, action)?;
        let bad = |what: &str, text: &str| {
            self.corrupt(format!("row_outcomes line {line}: bad {what} {text:?}"))
        };
        let operation = match row.get::<_, Option<String>>(3).ctx(&self.path, action)? {
            None => None,
            Some(text) => Some(parse_operation(&text).ok_or_else(|| bad("operation", &text))?),
        };
        let outcome_text: String = row.get(4).ctx(&self.path, action)?;
        let outcome =
            OutcomeKind::parse(&outcome_text).ok_or_else(|| bad("outcome", &outcome_text))?;
        let errors = match row.get::<_, Option<String>>(8).ctx(&self.path, action)? {
            None => Vec::new(),
            Some(json) => parse_errors(&json).ok_or_else(|| bad("errors_json", &json))?,
        };
        let payload = match row.get::<_, Option<String>>(11).ctx(&self.path, action)? {
            None => None,
            // Never echo a payload (personal data) into an error message.
            Some(json) => {
                Some(serde_json::from_str::<Payload>(&json).map_err(|_| bad("payload", "(json)"))?)
            }
        };
        let notes = match row.get::<_, Option<String>>(13).ctx(&self.path, action)? {
            None => Vec::new(),
            Some(json) => serde_json::from_str(&json).map_err(|_| bad("notes_json", &json))?,
        };
        let recorded_text: String = row.get(12).ctx(&self.path, action)?;
        let recorded_at =
            parse_timestamp(&recorded_text).ok_or_else(|| bad("recorded_at", &recorded_text))?;
        Ok(StoredOutcome {
            run_id: RunId(row.get(0).ctx(&self.path, action)?),
            line,
            user_key: row.get(2).ctx(&self.path, action)?,
            operation,
            outcome,
            http_status: row.get(5).ctx(&self.path, action)?,
            error_code: row.get(6).ctx(&self.path, action)?,
            error_detail: row.get(7).ctx(&self.path, action)?,
            errors,
            attempts: row.get(9).ctx(&self.path, action)?,
            latency_ms: row.get(10).ctx(&self.path, action)?,
            payload,
            recorded_at,
            notes,
        })
    }
}

/// What a `retry` of a run would do: see [`Ledger::retry_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryCounts {
    /// Rows to re-send.
    pub rows: u64,
    /// Rows left alone: a later run of the target already synced or deactivated their user.
    pub superseded: u64,
}

/// The `error_code` of the rows of a run that a broken-export guard refused (nothing was
/// sent). A retry leaves them alone: fix the export, or sync again with `--force`.
pub const GUARD_REFUSED: &str = "guard_refused";

/// The rows of run `?1` a retry re-sends (see [`Ledger::retryable`]), except those a guard
/// refused.
fn retryable_filter(include_rejected: bool) -> String {
    format!(
        "run_id = ?1 AND payload IS NOT NULL AND operation IS NOT NULL \
         AND (outcome IN ('failed', 'not_attempted') \
              OR (outcome = 'rejected' AND http_status IS NOT NULL AND {include_rejected})) \
         AND coalesce(error_code, '') <> '{GUARD_REFUSED}'"
    )
}

/// Whether a later run than `?1` of target `?2` synced or deactivated the row's user.
const SUPERSEDED: &str = "EXISTS (SELECT 1 FROM synced_users s WHERE s.target = ?2 \
     AND s.user_key = row_outcomes.user_key AND s.run_id > ?1)";

pub(crate) fn parse_operation(text: &str) -> Option<Operation> {
    Some(match text {
        "create" => Operation::Create,
        "update" => Operation::Update,
        "patch" => Operation::Patch,
        "deactivate" => Operation::Deactivate,
        _ => return None,
    })
}

/// The JSON stored in `errors_json`, `None` for a row without field errors.
pub(crate) fn errors_to_json(errors: &[FieldError]) -> Option<String> {
    if errors.is_empty() {
        None
    } else {
        serde_json::to_string(errors).ok()
    }
}

/// The JSON stored in `notes_json`, `None` for a row without notes.
pub(crate) fn notes_to_json(notes: &[RowNote]) -> Option<String> {
    if notes.is_empty() {
        None
    } else {
        serde_json::to_string(notes).ok()
    }
}

fn parse_errors(json: &str) -> Option<Vec<FieldError>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let text = |v: &serde_json::Value, k: &str| v.get(k)?.as_str().map(str::to_string);
    value
        .as_array()?
        .iter()
        .map(|e| {
            Some(FieldError::new(
                text(e, "field")?,
                text(e, "code")?,
                text(e, "message")?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_round_trip_through_json() {
        let errors = vec![
            FieldError::new("email", "email_invalid", "not an email"),
            FieldError::new("dni", "nid_checksum", "wrong check letter"),
        ];
        let json = errors_to_json(&errors).unwrap();
        assert_eq!(parse_errors(&json).unwrap(), errors);
        assert_eq!(errors_to_json(&[]), None);
    }

    #[test]
    fn outcome_names_round_trip() {
        for kind in [
            OutcomeKind::InFlight,
            OutcomeKind::Synced,
            OutcomeKind::Unchanged,
            OutcomeKind::Rejected,
            OutcomeKind::Failed,
            OutcomeKind::NotAttempted,
        ] {
            assert_eq!(OutcomeKind::parse(kind.as_str()), Some(kind));
        }
    }
}
