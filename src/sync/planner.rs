//! The streaming pass of a sync, on a blocking thread: every row of the export is prepared,
//! hashed with the ledger's key and compared with the snapshot, and comes out as one
//! [`Planned`] item: an outcome that needs no request (rejected, unchanged) or a job to send.
//!
//! Leavers (snapshot users missing from the export) come out first, since a person who left
//! losing access is the most urgent change of the night.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::config::Target;
use crate::dispatch::Job;
use crate::input::InputOptions;
use crate::ledger::{Hash, Ledger, OutcomeKind, PayloadHasher, RowOutcome, Snapshot};
use crate::payload::Payload;
use crate::plan::{self, Decision};
use crate::prepare::{PreparedRow, Rows};
use crate::provider::{Operation, UserRef};

/// One row's fate, decided before any request.
#[derive(Debug)]
pub enum Planned {
    /// No request: rejected by validation, or unchanged since the last sync.
    Done(Box<RowOutcome>),
    /// A request to send, with what the ledger needs once it succeeds.
    Send(Box<Pending>),
    /// The file could not be read further (the rows before it were planned).
    Fatal(String),
}

/// A job and the whole payload it stands for (a patch sends only part of it).
#[derive(Debug)]
pub struct Pending {
    pub job: Job,
    /// The changed field names (never values), for `plan --json`.
    pub fields: Vec<String>,
    /// The whole canonical payload (None for deactivations).
    pub full: Option<Payload>,
    pub hash: Option<Hash>,
    /// The keyed hash of each field of `full`: what the snapshot records once the row is synced
    /// (computed here, on the planner's thread, so the payload itself need not be kept).
    pub field_hashes: Option<BTreeMap<String, Hash>>,
}

/// What the planner needs; moved onto its thread.
pub struct Planner {
    pub ledger: Ledger,
    pub snapshot: Snapshot,
    pub hasher: PayloadHasher,
    pub target: Target,
    pub input: std::path::PathBuf,
    pub input_options: InputOptions,
    /// The snapshot users to deactivate: key and remote id.
    pub leavers: Vec<(String, Option<String>)>,
    pub full: bool,
    /// Set on Ctrl-C: stop reading.
    pub stop_reading: Arc<AtomicBool>,
}

impl Planner {
    /// Runs the pass, handing every item to `send`. Returns when the file is done, the reader
    /// is told to stop, or `send` returns false (nobody listens any more).
    pub fn run(self, mut send: impl FnMut(Planned) -> bool) {
        for (n, (key, remote_id)) in self.leavers.iter().enumerate() {
            if !send(Planned::Send(Box::new(deactivation(n, key, remote_id)))) {
                return;
            }
        }
        let rows = match Rows::open(Path::new(&self.input), &self.target, &self.input_options) {
            Ok(rows) => rows,
            Err(e) => {
                send(Planned::Fatal(e.to_string()));
                return;
            }
        };
        for row in rows {
            if self.stop_reading.load(Ordering::Relaxed) {
                return;
            }
            let item = match row {
                Ok(row) => self.plan_row(row),
                Err(e) => Planned::Fatal(e.to_string()),
            };
            let fatal = matches!(item, Planned::Fatal(_));
            if !send(item) || fatal {
                return;
            }
        }
    }

    fn plan_row(&self, row: PreparedRow) -> Planned {
        let line = row.line as i64;
        let payload = match row.result {
            Ok(payload) => payload,
            Err(errors) => {
                return Planned::Done(Box::new(RowOutcome {
                    error_code: errors.first().map(|e| e.code.clone()),
                    error_detail: Some(summarise(&errors)),
                    errors,
                    ..RowOutcome::new(line, row.key, OutcomeKind::Rejected)
                }))
            }
        };
        let Some(key) = row.key else {
            // Validation requires the key field, so this is only reachable with a broken schema.
            return Planned::Done(Box::new(RowOutcome {
                error_code: Some("required".into()),
                error_detail: Some(format!("the key field `{}` is empty", self.target.key)),
                ..RowOutcome::new(line, None, OutcomeKind::Rejected)
            }));
        };
        let provider = self.target.provider;
        let hash = self.hasher.hash_payload(&payload);
        let previous = self.snapshot.get(&key);
        let decision = plan::decide(
            provider,
            &payload,
            &hash,
            previous.as_ref().map(|u| u.payload_hash),
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
            .or(row.remote_id);
        let user = UserRef {
            key: key.clone(),
            remote_id,
        };
        let (op, body, fields) = match decision {
            Decision::Unchanged => {
                return Planned::Done(Box::new(RowOutcome {
                    operation: None,
                    ..RowOutcome::new(line, Some(key), OutcomeKind::Unchanged)
                }))
            }
            Decision::Create => (
                Operation::Create,
                payload.clone(),
                payload.keys().cloned().collect(),
            ),
            Decision::Update {
                op,
                payload: body,
                fields,
            } => (op, body, fields),
        };
        Planned::Send(Box::new(Pending {
            job: Job {
                line,
                op,
                user,
                payload: body,
            },
            fields,
            field_hashes: Some(self.hasher.hash_fields(&payload)),
            full: Some(payload),
            hash: Some(hash),
        }))
    }
}

/// The job that deactivates a leaver. Leavers have no input line: they get -1, -2, ...
fn deactivation(n: usize, key: &str, remote_id: &Option<String>) -> Pending {
    Pending {
        job: Job {
            line: -(n as i64) - 1,
            op: Operation::Deactivate,
            user: UserRef {
                key: key.to_owned(),
                remote_id: remote_id.clone(),
            },
            payload: Payload::new(),
        },
        fields: Vec::new(),
        full: None,
        hash: None,
        field_hashes: None,
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
