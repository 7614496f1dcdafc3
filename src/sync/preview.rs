//! What a sync would do, without sending anything: `usersync plan` and `sync --dry-run`.
//!
//! The same planner as a real sync (same pass, same guards, same diff), run on this thread,
//! with every decision handed to the caller instead of the dispatcher. Only field names leave
//! this module, never values, so a plan can be pasted into a ticket.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::Serialize;

use super::planner::{Guards, Planned, Planner, Source};
use crate::config::Target;
use crate::input::InputOptions;
use crate::ledger::{Ledger, OutcomeKind};
use crate::plan::PlanCounts;
use crate::provider::Operation;

/// One planned operation, as `plan --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanLine {
    /// The input line (negative for leavers, who have none).
    pub line: i64,
    pub key: Option<String>,
    /// `create`, `update`, `deactivate` or `rejected`.
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

/// The inputs of a preview.
pub struct PreviewRequest {
    pub input: PathBuf,
    pub input_options: InputOptions,
    pub ledger_path: PathBuf,
    pub full: bool,
    pub deactivate_missing: bool,
    pub force: bool,
    /// Where the sync would send (`mock` or a base URL, [`crate::config::BaseUrl::endpoint`]),
    /// and whether `--endpoint-moved` was given: a plan warns where that sync would be refused.
    pub endpoint: String,
    pub endpoint_moved: bool,
}

/// Plans a sync of `req.input` to `target`, calling `each` for every operation and rejection
/// (rejections as the file is read, then deactivations, then creates and updates: the order a
/// sync sends them). The guards apply as in a real sync: a refusal is an error.
pub fn preview(
    target: &Target,
    req: &PreviewRequest,
    mut each: impl FnMut(&PlanLine),
) -> anyhow::Result<PlanCounts> {
    drop(crate::prepare::Rows::open(
        &req.input,
        target,
        &req.input_options,
    )?);
    let ledger = Ledger::open(&req.ledger_path)?;
    let snapshot = ledger.snapshot(&target.name)?;
    let change = super::endpoint::change(&ledger, target, &snapshot, &req.endpoint)?;
    if let Some(change) = change.filter(|_| !req.endpoint_moved) {
        // A plan sends nothing: it is made against what the ledger knows, and says so.
        tracing::warn!(
            "a sync would be refused: {change}. This plan compares the export with what the \
             ledger knows at {}",
            change.known
        );
    }
    let hasher = ledger.hasher();
    let planner = Planner {
        ledger,
        snapshot: std::sync::Arc::new(snapshot),
        hasher,
        target: target.clone(),
        source: Source::File {
            input: req.input.clone(),
            options: req.input_options.clone(),
        },
        guards: Guards::for_target(target, req.deactivate_missing, req.force),
        full: req.full,
        stop_reading: Arc::new(AtomicBool::new(false)),
        hold_limit: super::passes::HOLD_LIMIT,
        count_first: true,
    };
    let mut counts = PlanCounts::default();
    let mut end = None;
    planner.run(|item| {
        match item {
            Planned::Done(outcomes) => {
                for outcome in outcomes {
                    match outcome.outcome {
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
            Planned::Send(p) => {
                let op = match p.job.op {
                    Operation::Create => {
                        counts.create += 1;
                        "create"
                    }
                    Operation::Deactivate => {
                        counts.deactivate += 1;
                        "deactivate"
                    }
                    // (A reactivation or a lookup is never a job's own operation: each precedes
                    // another.)
                    Operation::Update
                    | Operation::Patch
                    | Operation::Reactivate
                    | Operation::Lookup => {
                        counts.update += 1;
                        "update"
                    }
                };
                each(&PlanLine {
                    line: p.job.line,
                    key: Some(p.job.user.key.clone()),
                    op,
                    fields: p.fields.clone(),
                    not_cleared: p.uncleared.clone(),
                    notes: p.notes.iter().map(|n| n.code.to_string()).collect(),
                });
            }
            Planned::Refused(refusal) => end = Some(anyhow::Error::new(refusal)),
            // A plan from part of the export is no plan: nothing is printed as if complete.
            Planned::Fatal(message) | Planned::Broken(message) => {
                end = Some(anyhow::anyhow!(message))
            }
        }
        true
    });
    match end {
        Some(e) => Err(e),
        None => Ok(counts),
    }
}
