//! The streaming pass of a sync, on a blocking thread: every row is prepared, hashed with the
//! ledger's key and compared with the snapshot, and comes out as [`Planned`] items: outcomes
//! that need no request (rejected, unchanged), in batches, or jobs to send.
//!
//! Rows come from a [`Source`]: the export file (`sync`, `plan`), or the payloads the ledger
//! kept for the rows of an earlier run that did not go through (`retry`). How each source is
//! walked (one pass over the export, the requests held back until the leavers and the guards
//! are decided, leavers first) is in `passes.rs`; this file decides one row.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::config::Target;
use crate::dispatch::Job;
use crate::input::InputOptions;
use crate::ledger::{
    Hash, Ledger, OutcomeKind, PayloadHasher, RowNote, RowOutcome, RunId, Snapshot, SnapshotChange,
    SourceHash, StoredOutcome,
};
use crate::notes;
use crate::payload::Payload;
use crate::plan::{self, Decision, GuardRefusal, Known};
use crate::prepare::{KnownRows, PreparedRow};
use crate::provider::{Operation, Reactivation, UserRef};

/// What the planner hands on: rows' fates, decided before any request.
#[derive(Debug)]
pub enum Planned {
    /// Outcomes that need no request (rejected by validation, unchanged), in a batch; or
    /// rows recorded `not_attempted` because the run stopped before sending them.
    Done(Vec<RowOutcome>),
    /// A request to send, with what the ledger needs once it succeeds.
    Send(Box<Pending>),
    /// A guard refused the run: nothing was sent (the last item).
    Refused(GuardRefusal),
    /// The rows could not be read further (the last item).
    Fatal(String),
    /// A thread of the pass (the export's reader, the planner) broke: says what broke (the last
    /// item). The run fails closed (see `breakdown.rs`).
    Broken(String),
}

/// A job and the whole payload it stands for (a patch sends only part of it).
#[derive(Debug)]
pub struct Pending {
    pub job: Job,
    /// The changed field names (never values), for `plan --json`.
    pub fields: Vec<String>,
    /// Fields emptied in the export that the provider cannot clear (not sent).
    pub uncleared: Vec<String>,
    /// The whole canonical payload when the job sends less or other than it (an update, a
    /// patch); `None` when the job's own payload is the whole one (a create) or there is none
    /// (a deactivation).
    pub full: Option<Payload>,
    pub hash: Option<Hash>,
    /// The fingerprint of the export row it came from, for the snapshot once it succeeds.
    pub source_hash: Option<SourceHash>,
    /// What a person has to know about the row once it goes through (see `crate::notes`).
    pub notes: Vec<RowNote>,
}

impl Pending {
    /// The requests it takes: two for a returning user sent a reactivation first.
    pub fn requests(&self) -> u64 {
        1 + u64::from(self.job.reactivate)
    }
}

/// Where the rows of a pass come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An export file, read, mapped and validated row by row.
    File {
        input: PathBuf,
        options: InputOptions,
    },
    /// The rows of `run` that a `retry` re-sends, with the payloads the ledger kept for them
    /// (see [`Ledger::each_retryable`]), streamed from the ledger.
    Kept { run: RunId, include_rejected: bool },
}

/// How a pass over an export treats the users it lacks, and the broken-export guards.
#[derive(Debug, Clone, Copy)]
pub struct Guards {
    /// `--deactivate-missing` (or the target's `deactivate_missing`).
    pub deactivate_missing: bool,
    /// The target's `max_deactivate`.
    pub max_deactivate: f64,
    /// `--force`: pass the guards.
    pub force: bool,
}

impl Guards {
    /// The guards of a pass over an export for `target`, with the command line's
    /// `--deactivate-missing` (or the target's setting) and `--force`.
    pub fn for_target(target: &Target, deactivate_missing: bool, force: bool) -> Guards {
        Guards {
            deactivate_missing,
            max_deactivate: target.max_deactivate,
            force,
        }
    }
}

/// What the planner needs; moved onto its thread.
pub struct Planner {
    pub ledger: Ledger,
    /// Shared with the reader thread, which skips the rows it knows by their fingerprint.
    pub snapshot: Arc<Snapshot>,
    pub hasher: PayloadHasher,
    pub target: Target,
    pub source: Source,
    /// Leavers and guards (used for an export; a retry has neither).
    pub guards: Guards,
    pub full: bool,
    /// Set on Ctrl-C: stop reading.
    pub stop_reading: Arc<AtomicBool>,
    /// How many requests the pass over an export holds back before it reads the file a second
    /// time for the rest ([`super::passes::HOLD_LIMIT`]).
    pub hold_limit: usize,
    /// The caller wants the number of requests before the first one is handed on (`sync -v`'s
    /// estimate, `plan`): hold them during the pass even when the ledger knows no user of the
    /// target, where nothing else needs them held (see `passes.rs`).
    pub count_first: bool,
}

/// One row's fate. Returned by value, row after row: the outcome is not boxed (most rows of
/// a nightly run are outcomes).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum Step {
    /// No request needed.
    Done(RowOutcome),
    /// A request to send.
    Send(Box<Pending>),
}

impl Planner {
    /// Decides a row an earlier run kept (see [`Source::Kept`]).
    pub(super) fn plan_kept(&self, kept: StoredOutcome) -> Step {
        let line = kept.line;
        let (Some(key), Some(payload), Some(op)) = (kept.user_key, kept.payload, kept.operation)
        else {
            // The ledger's query only returns rows with all three.
            return Step::Done(RowOutcome {
                error_code: Some("internal".into()),
                error_detail: Some(format!(
                    "run {}, line {line}: the ledger kept no payload to re-send",
                    kept.run_id
                )),
                ..RowOutcome::new(line, None, OutcomeKind::Failed)
            });
        };
        if op == Operation::Deactivate {
            let remote_id = self
                .snapshot
                .get(&key)
                .and_then(|u| u.remote_id.map(str::to_owned));
            return Step::Send(Box::new(deactivation(line, &key, &remote_id)));
        }
        let found = self.snapshot.position(&key);
        self.plan_payload(line, key, payload, None, found, None)
    }

    /// Decides a row of the export (its user's position in the snapshot is looked up unless the
    /// row already carries it).
    pub(super) fn plan_row(&self, row: PreparedRow) -> Step {
        let line = row.line as i64;
        if row.known {
            // The very row its user was last synced from (see `PreparedRow::known`).
            return Step::Done(RowOutcome::new(line, row.key, OutcomeKind::Unchanged));
        }
        let payload = match row.result {
            Ok(payload) => payload,
            Err(errors) => {
                return Step::Done(RowOutcome {
                    error_code: errors.first().map(|e| e.code.clone()),
                    error_detail: Some(summarise(&errors)),
                    errors,
                    ..RowOutcome::new(line, row.key, OutcomeKind::Rejected)
                })
            }
        };
        let Some(key) = row.key else {
            // Validation requires the key field, so this is only reachable with a broken schema.
            return Step::Done(RowOutcome {
                error_code: Some("required".into()),
                error_detail: Some(format!("the key field `{}` is empty", self.target.key)),
                ..RowOutcome::new(line, None, OutcomeKind::Rejected)
            });
        };
        let found = row.position.or_look_up(|| self.snapshot.position(&key));
        self.plan_payload(line, key, payload, row.remote_id, found, row.source_hash)
    }

    /// Diffs one valid payload against the snapshot (`found`: its user's position there;
    /// `source_hash`: the fingerprint of the row it came from).
    fn plan_payload(
        &self,
        line: i64,
        key: String,
        payload: Payload,
        remote_id: Option<String>,
        found: Option<usize>,
        source_hash: Option<SourceHash>,
    ) -> Step {
        let provider = self.target.provider;
        let hash = self.hasher.hash_payload(&payload);
        let previous = found.and_then(|index| self.snapshot.user_at(index));
        let decision = plan::decide(
            &self.target.update_rules,
            &payload,
            &hash,
            previous.as_ref().map(|u| Known {
                hash: u.payload_hash,
                active: u.active,
            }),
            || {
                self.ledger
                    .field_hashes(&self.target.name, &key)
                    .unwrap_or_default()
            },
            |name, value| self.hasher.hash_field(name, value),
            self.full,
        );
        let remote_id = previous
            .and_then(|u| u.remote_id.map(str::to_owned))
            .or(remote_id);
        let (op, fields, uncleared, body, full, returning) = match decision {
            Decision::Unchanged => {
                // Same payload from other bytes: remember them, so the next run knows the row.
                let known_source = previous.and_then(|u| u.source_hash);
                let snapshot = match source_hash {
                    Some(h) if known_source != Some(&h) => Some(SnapshotChange::Source(h)),
                    _ => None,
                };
                return Step::Done(RowOutcome {
                    snapshot,
                    ..RowOutcome::new(line, Some(key), OutcomeKind::Unchanged)
                });
            }
            Decision::Refresh { uncleared } => {
                // Only emptied fields that stay at the provider, or create-only fields, changed:
                // nothing the provider can be sent. Remember the export's state so the next run
                // does not note it again.
                let notes = if uncleared.is_empty() {
                    Vec::new()
                } else {
                    vec![notes::not_cleared(&uncleared, provider.name())]
                };
                let snapshot = SnapshotChange::Upsert {
                    remote_id: None,
                    payload_hash: hash,
                    field_hashes: self.hasher.hash_fields(&payload),
                    source_hash,
                };
                return Step::Done(RowOutcome {
                    snapshot: Some(snapshot),
                    notes,
                    ..RowOutcome::new(line, Some(key), OutcomeKind::Unchanged)
                });
            }
            Decision::Create => (
                Operation::Create,
                payload.keys().map(str::to_owned).collect(),
                Vec::new(),
                payload,
                None,
                false,
            ),
            Decision::Update {
                op,
                payload: body,
                fields,
                uncleared,
                returning,
            } => (op, fields, uncleared, body, Some(payload), returning),
        };
        // Said in the log, and recorded, with the row's outcome once it goes through.
        let mut row_notes = Vec::new();
        if !uncleared.is_empty() {
            row_notes.push(notes::not_cleared(&uncleared, provider.name()));
        }
        let reactivation = returning.then(|| provider.reactivation());
        if reactivation == Some(Reactivation::Unsupported) {
            row_notes.push(notes::reactivate_by_hand(provider.name()));
        }
        Step::Send(Box::new(Pending {
            job: Job {
                line,
                op,
                user: UserRef { key, remote_id },
                payload: body,
                reactivate: reactivation == Some(Reactivation::ByRequest),
            },
            fields,
            uncleared,
            full,
            hash: Some(hash),
            source_hash,
            notes: row_notes,
        }))
    }
}

/// The job that deactivates a leaver. Leavers have no input line: they get -1, -2, ...
pub(super) fn deactivation(line: i64, key: &str, remote_id: &Option<String>) -> Pending {
    Pending {
        job: Job {
            line,
            op: Operation::Deactivate,
            user: UserRef {
                key: key.to_owned(),
                remote_id: remote_id.clone(),
            },
            payload: Payload::new(),
            reactivate: false,
        },
        fields: Vec::new(),
        uncleared: Vec::new(),
        full: None,
        hash: None,
        source_hash: None,
        notes: Vec::new(),
    }
}

impl KnownRows for Snapshot {
    fn find(&self, source: &SourceHash) -> Option<(usize, &str)> {
        let index = self.by_source(source)?;
        Some((index, self.user_at(index)?.key))
    }

    fn position(&self, key: &str) -> Option<usize> {
        Snapshot::position(self, key)
    }

    fn len(&self) -> usize {
        Snapshot::len(self)
    }
}

/// One line naming every field and code of a rejected row.
pub fn summarise(errors: &[crate::validate::FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}
