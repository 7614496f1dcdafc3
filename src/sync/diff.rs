//! The diff stage: one row against the ledger's snapshot. Every prepared row (or, for a `retry`,
//! every row an earlier run kept) comes out as its [`Fate`]: an outcome that needs no request
//! (rejected, unchanged), or a [`Request`] carrying what the ledger needs once it is answered.
//!
//! The rules of the decision itself are pure and live in `decide.rs`; this stage brings the
//! snapshot, the ledger's hashes and the provider's notes to them. How the rows are walked, and
//! when their requests may leave, is the next stage's (`hold.rs`).

use std::sync::Arc;

use super::decide::{self, Decision, LastSynced};
use crate::config::Target;
use crate::dispatch::Job;
use crate::ledger::{
    Hash, Ledger, OutcomeKind, PayloadHasher, RowNote, RowOutcome, Snapshot, SnapshotChange,
    SourceHash, StoredOutcome,
};
use crate::notes;
use crate::payload::{FieldName, Payload};
use crate::prepare::{KnownRows, PreparedRow, RowResult};
use crate::provider::{Operation, Reactivation, RowRules, UserRef};

/// A request to send for one row: the dispatcher's job, carrying its row's context.
pub type Request = Job<RowContext>;

/// What the ledger needs of a row once its request is answered, carried by the request through
/// the dispatcher (which never reads it).
#[derive(Debug, Default, Clone)]
pub struct RowContext {
    /// The changed field names (never values), for `plan --json`. Names from the provider's
    /// schema are borrowed, so a create's list of every field costs no allocation per row.
    pub fields: Vec<FieldName>,
    /// Fields emptied in the export that the provider cannot clear (not sent).
    pub uncleared: Vec<String>,
    /// The whole canonical payload when the job sends less or other than it (an update, a
    /// patch); `None` when the job's own payload is the whole one (a create) or there is none
    /// (a deactivation).
    pub full: Option<Payload>,
    pub hash: Option<Hash>,
    /// The whole payload's canonical JSON, made once to hash it: what the request's intent
    /// records. Empty for a deactivation (a leaver's, or a retried one).
    pub json: String,
    /// The fingerprint of the export row it came from, for the snapshot once it succeeds.
    pub source_hash: Option<SourceHash>,
    /// What a person has to know about the row once it goes through (see `crate::notes`).
    pub notes: Vec<RowNote>,
}

/// The whole payload a request stands for (a patch sends only part of it): what its intent
/// records, and what the ledger keeps for `retry` when it does not go through.
pub fn whole_payload(request: &Request) -> &Payload {
    request.meta.full.as_ref().unwrap_or(&request.payload)
}

/// The outcome of a request that is never sent, with `code` and `why`; its whole payload is
/// kept for `retry`.
pub fn not_attempted(request: Request, code: &str, why: &str) -> RowOutcome {
    RowOutcome {
        operation: Some(request.op),
        error_code: Some(code.to_owned()),
        error_detail: Some(why.to_owned()),
        payload: Some(whole_payload(&request).clone()),
        ..RowOutcome::new(
            request.line,
            Some(request.user.key),
            OutcomeKind::NotAttempted,
        )
    }
}

/// One row's fate. Returned by value, row after row: the outcome is not boxed (most rows of
/// a nightly run are outcomes).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Fate {
    /// No request needed.
    Done(RowOutcome),
    /// A request to send.
    Send(Box<Request>),
}

/// What the diff of one run needs; moved onto the pass's thread.
pub struct Differ {
    pub ledger: Ledger,
    /// Shared with the reader thread, which skips the rows it knows by their fingerprint.
    pub snapshot: Arc<Snapshot>,
    pub hasher: PayloadHasher,
    pub target: Target,
    /// `--full`: send every row whatever the snapshot says.
    pub full: bool,
    /// What the target declares a row must be besides the provider's schema (found out when
    /// the run connected); `None` when it declares nothing more.
    pub target_rules: Option<Arc<dyn RowRules>>,
}

impl Differ {
    /// Decides a row an earlier run kept (see [`super::RowSource::Kept`]).
    pub fn kept(&self, kept: StoredOutcome) -> Fate {
        let line = kept.line;
        let (Some(key), Some(payload), Some(op)) = (kept.user_key, kept.payload, kept.operation)
        else {
            // The ledger's query only returns rows with all three.
            return Fate::Done(RowOutcome {
                error_code: Some("internal".into()),
                error_detail: Some(format!(
                    "run {}, line {line}: the ledger kept no payload to re-send",
                    kept.run_id
                )),
                ..RowOutcome::new(line, None, OutcomeKind::Failed)
            });
        };
        if op == Operation::Deactivate {
            if let Some(note) = self.forbidden(&key, op) {
                return Fate::Done(left_alone(line, key, note));
            }
            let remote_id = self
                .snapshot
                .get(&key)
                .and_then(|u| u.remote_id.map(str::to_owned));
            return Fate::Send(Box::new(deactivation(line, &key, &remote_id)));
        }
        let found = self.snapshot.position(&key);
        self.payload(line, key, payload, None, found, None)
    }

    /// Decides a row of the export (its user's position in the snapshot is looked up unless the
    /// row already carries it).
    pub fn row(&self, row: PreparedRow) -> Fate {
        let line = row.line as i64;
        let payload = match row.result {
            // The very row its user was last synced from.
            RowResult::Known => {
                return Fate::Done(RowOutcome::new(line, row.key, OutcomeKind::Unchanged))
            }
            RowResult::Valid(payload) => payload,
            RowResult::Invalid(errors) => {
                return Fate::Done(RowOutcome {
                    error_code: errors.first().map(|e| e.code.clone()),
                    error_detail: Some(summarise(&errors)),
                    errors,
                    ..RowOutcome::new(line, row.key, OutcomeKind::Rejected)
                })
            }
        };
        let Some(key) = row.key else {
            // Validation requires the key field, so this is only reachable with a broken schema.
            return Fate::Done(RowOutcome {
                error_code: Some("required".into()),
                error_detail: Some(format!("the key field `{}` is empty", self.target.key)),
                ..RowOutcome::new(line, None, OutcomeKind::Rejected)
            });
        };
        let found = row.position.or_look_up(|| self.snapshot.position(&key));
        self.payload(line, key, payload, row.remote_id, found, row.source_hash)
    }

    /// Diffs one valid payload against the snapshot (`found`: its user's position there;
    /// `source_hash`: the fingerprint of the row it came from).
    fn payload(
        &self,
        line: i64,
        key: String,
        payload: Payload,
        remote_id: Option<String>,
        found: Option<usize>,
        source_hash: Option<SourceHash>,
    ) -> Fate {
        let provider = self.target.provider;
        let (hash, json) = self.hasher.hash_payload_json(&payload);
        let previous = found.and_then(|index| self.snapshot.user_at(index));
        let decision = decide::decide(
            &self.target.update_rules,
            &payload,
            &hash,
            previous.as_ref().map(|u| LastSynced {
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
                return Fate::Done(RowOutcome {
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
                return Fate::Done(RowOutcome {
                    snapshot: Some(snapshot),
                    notes,
                    ..RowOutcome::new(line, Some(key), OutcomeKind::Unchanged)
                });
            }
            Decision::Create => (
                Operation::Create,
                payload.entries().map(|(name, _)| name.clone()).collect(),
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
            } => (
                op,
                fields.into_iter().map(FieldName::Owned).collect(),
                uncleared,
                body,
                Some(payload),
                returning,
            ),
        };
        if let Some(note) = self.forbidden(&key, op) {
            return Fate::Done(left_alone(line, key, note));
        }
        // Said in the log, and recorded, with the row's outcome once it goes through.
        let mut row_notes = Vec::new();
        if !uncleared.is_empty() {
            row_notes.push(notes::not_cleared(&uncleared, provider.name()));
        }
        let reactivation = returning.then(|| provider.reactivation());
        if reactivation == Some(Reactivation::Unsupported) {
            row_notes.push(notes::reactivate_by_hand(provider.name()));
        }
        Fate::Send(Box::new(Job {
            line,
            op,
            user: UserRef { key, remote_id },
            payload: body,
            reactivate: reactivation == Some(Reactivation::ByRequest),
            meta: RowContext {
                fields,
                uncleared,
                full,
                hash: Some(hash),
                json,
                source_hash,
                notes: row_notes,
            },
        }))
    }
}

impl Differ {
    /// Why `op` on the user `key` must not be sent (the target's `protect` or `mode`), if it
    /// must not.
    pub fn forbidden(&self, key: &str, op: Operation) -> Option<RowNote> {
        let policy = &self.target.policy;
        if policy.is_protected(key) {
            Some(notes::protected(op))
        } else if !policy.mode.allows(op) {
            Some(notes::not_in_mode(op, policy.mode))
        } else {
            None
        }
    }
}

/// The outcome of a row whose operation was not sent, with the note saying why: `unchanged`,
/// and the snapshot left as it is, so that the next run decides the row again.
pub fn left_alone(line: i64, key: String, note: RowNote) -> RowOutcome {
    RowOutcome {
        notes: vec![note],
        ..RowOutcome::new(line, Some(key), OutcomeKind::Unchanged)
    }
}

/// The request that deactivates a leaver. Leavers have no input line: they get -1, -2, ...
pub fn deactivation(line: i64, key: &str, remote_id: &Option<String>) -> Request {
    Job {
        line,
        op: Operation::Deactivate,
        user: UserRef {
            key: key.to_owned(),
            remote_id: remote_id.clone(),
        },
        payload: Payload::new(),
        reactivate: false,
        meta: RowContext::default(),
    }
}

impl KnownRows for Snapshot {
    fn find(&self, source: &SourceHash) -> Option<(usize, &str)> {
        let index = self.by_source(source)?;
        Some((index, self.user_at(index)?.key))
    }

    fn find_many<'a>(
        &'a self,
        sources: &[Option<SourceHash>],
        found: &mut Vec<Option<(usize, &'a str)>>,
    ) {
        let mut positions = Vec::with_capacity(sources.len());
        self.by_source_many(sources, &mut positions);
        found.clear();
        found.extend(positions.into_iter().map(|index| {
            let index = index?;
            Some((index, self.user_at(index)?.key))
        }));
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
