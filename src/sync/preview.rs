//! What a sync would do, without sending anything: `usersync plan` and `sync --dry-run`.
//!
//! The same planner as a real sync (same pass, same guards, same diff), run on this thread,
//! with every decision handed to the caller instead of the dispatcher. Only field names leave
//! this module, never values, so a plan can be pasted into a ticket.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::Serialize;

use super::diff::Differ;
use super::hold::{Opened, Pass, PassInput, PassItem};
use super::spec::{RowSource, RunSpec};
use crate::ledger::{Ledger, OutcomeKind};
use crate::provider::Operation;

/// Counts of what a sync would do, for `plan`, `sync --dry-run` and the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanCounts {
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
    pub deactivate: u64,
    pub rejected: u64,
    /// Operations the export called for that the target's `protect` or `mode` leave undone.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub left_alone: u64,
}

impl PlanCounts {
    /// Counts a planned request of `op`; its name in a plan: `create`, `update` or
    /// `deactivate` (a reactivation or a lookup is never a job's own operation: each precedes
    /// another).
    pub fn count(&mut self, op: Operation) -> &'static str {
        match op {
            Operation::Create => {
                self.create += 1;
                "create"
            }
            Operation::Deactivate => {
                self.deactivate += 1;
                "deactivate"
            }
            Operation::Update | Operation::Patch | Operation::Reactivate | Operation::Lookup => {
                self.update += 1;
                "update"
            }
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Whether `outcome` is an operation the target's `protect` or `mode` left undone.
fn left_alone(outcome: &crate::ledger::RowOutcome) -> bool {
    use crate::ledger::NoteCode;
    outcome
        .notes
        .iter()
        .any(|n| matches!(n.code, NoteCode::Protected | NoteCode::NotInMode))
}

/// One planned operation, as `plan --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanLine {
    /// The input line (negative for leavers, who have none).
    pub line: i64,
    pub key: Option<String>,
    /// `create`, `update`, `deactivate`, `rejected`, or `left_alone` (the target's `protect` or
    /// `mode`: its notes say which).
    pub op: &'static str,
    /// The changed (or, for rejected rows, the faulty) field names.
    pub fields: Vec<String>,
    /// Fields emptied in the export that the provider cannot clear (GNOSS): not sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_cleared: Vec<String>,
    /// The codes of the notes the row will carry once it goes through: what a person will have
    /// to do (`reactivate_by_hand`, `not_cleared`; see `crate::notes`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What a preview found: its counts, and the hash of the snapshot it compared the export with
/// (for a saved plan, `saved_plan.rs`).
pub struct Preview {
    pub counts: PlanCounts,
    /// `None` unless asked for (a plan that is saved): hashing a snapshot reads every user.
    pub snapshot_sha256: Option<String>,
}

/// Plans the sync `spec` describes, calling `each` for every operation and rejection
/// (rejections as the file is read, then deactivations, then creates and updates: the order a
/// sync sends them). The guards apply as in a real sync: a refusal is an error. With
/// `fingerprint`, the preview also hashes the snapshot it compared the export with.
pub fn preview(
    spec: &RunSpec,
    fingerprint: bool,
    mut each: impl FnMut(&PlanLine),
) -> anyhow::Result<Preview> {
    let RowSource::Export { input, options } = &spec.rows else {
        anyhow::bail!("a plan reads an export");
    };
    let target = &spec.target;
    let opened = Opened::open(input, target, options)?;
    let ledger = Ledger::open(&spec.ledger)?;
    let snapshot = ledger.snapshot(&target.name)?;
    let snapshot_sha256 = fingerprint.then(|| super::saved_plan::snapshot_sha256(&snapshot));
    let endpoint = spec.send.base_url.endpoint();
    let change = super::endpoint::change(&ledger, target, &snapshot, &endpoint)?;
    if let Some(change) = change.filter(|_| !spec.send.endpoint_moved) {
        // A plan sends nothing: it is made against what the ledger knows, and says so.
        tracing::warn!(
            "a sync would be refused: {change}. This plan compares the export with what the \
             ledger knows at {}",
            change.known
        );
    }
    let differ = Differ {
        hasher: ledger.hasher(),
        ledger,
        snapshot: Arc::new(snapshot),
        target: target.clone(),
        full: spec.full,
        target_rules: None,
    };
    let input = PassInput::Export {
        input: input.clone(),
        options: options.clone(),
        opened: Some(Box::new(opened)),
    };
    let stop_reading = Arc::new(AtomicBool::new(false));
    let mut pass = Pass::new(differ, input, spec.guards, stop_reading);
    pass.count_first = true;
    let mut counts = PlanCounts::default();
    let mut end = None;
    pass.run(|item| {
        match item {
            PassItem::Done(outcomes) => {
                for outcome in outcomes {
                    match outcome.outcome {
                        OutcomeKind::Unchanged if left_alone(&outcome) => {
                            counts.left_alone += 1;
                            each(&PlanLine {
                                line: outcome.line,
                                key: outcome.user_key.clone(),
                                op: "left_alone",
                                fields: Vec::new(),
                                not_cleared: Vec::new(),
                                notes: outcome.notes.iter().map(|n| n.code.to_string()).collect(),
                            });
                        }
                        OutcomeKind::Unchanged => counts.unchanged += 1,
                        OutcomeKind::Rejected => {
                            counts.rejected += 1;
                            each(&PlanLine {
                                line: outcome.line,
                                key: outcome.user_key.clone(),
                                op: "rejected",
                                fields: outcome.errors.iter().map(|e| e.field.clone()).collect(),
                                not_cleared: Vec::new(),
                                notes: Vec::new(),
                            });
                        }
                        // Rows a refused plan would not send.
                        _ => {}
                    }
                }
            }
            PassItem::Send(requests) => {
                for p in requests {
                    let op = counts.count(p.op);
                    each(&PlanLine {
                        line: p.line,
                        key: Some(p.user.key.clone()),
                        op,
                        fields: p.meta.fields.iter().map(|f| f.to_string()).collect(),
                        not_cleared: p.meta.uncleared.clone(),
                        notes: p.meta.notes.iter().map(|n| n.code.to_string()).collect(),
                    });
                }
            }
            PassItem::Refused(refusal) => end = Some(anyhow::Error::new(refusal)),
            // A plan from part of the export is no plan: nothing is printed as if complete.
            PassItem::Fatal(message) | PassItem::Broken(message) => {
                end = Some(anyhow::anyhow!(message))
            }
        }
        true
    });
    match end {
        Some(e) => Err(e),
        None => Ok(Preview {
            counts,
            snapshot_sha256,
        }),
    }
}
