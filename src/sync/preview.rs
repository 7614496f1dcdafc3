//! What a sync would do, without sending anything: `usersync plan` and `sync --dry-run`.
//!
//! The same planner as a real sync (same scan, same guards, same diff), run on this thread,
//! with every decision handed to the caller instead of the dispatcher. Only field names leave
//! this module, never values, so a plan can be pasted into a ticket.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;

use super::planner::{Planned, Planner};
use super::scan::{self, FileStamp};
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
}

/// The inputs of a preview.
pub struct PreviewRequest {
    pub input: PathBuf,
    pub input_options: InputOptions,
    pub ledger_path: PathBuf,
    pub full: bool,
    pub deactivate_missing: bool,
    pub force: bool,
}

/// Plans a sync of `req.input` to `target`, calling `each` for every operation and rejection.
/// The guards apply as in a real sync: a refusal is an error.
pub fn preview(
    target: &Target,
    req: &PreviewRequest,
    mut each: impl FnMut(&PlanLine),
) -> anyhow::Result<PlanCounts> {
    let ledger = Ledger::open(&req.ledger_path)?;
    let snapshot = ledger.snapshot(&target.name)?;
    let stamp = FileStamp::of(&req.input)
        .with_context(|| format!("could not read {}", req.input.display()))?;
    let leavers = scan::leavers_checked(
        target,
        &req.input,
        &req.input_options,
        &snapshot,
        req.deactivate_missing,
        req.force,
    )?;
    let hasher = ledger.hasher();
    let planner = Planner {
        ledger,
        snapshot,
        hasher,
        target: target.clone(),
        input: req.input.clone(),
        input_options: req.input_options.clone(),
        leavers,
        full: req.full,
        stop_reading: Arc::new(AtomicBool::new(false)),
        stamp: Some(stamp),
    };
    let mut counts = PlanCounts::default();
    let mut fatal = None;
    planner.run(|item| {
        match item {
            Planned::Done(outcome) => match outcome.outcome {
                OutcomeKind::Unchanged => counts.unchanged += 1,
                _ => {
                    counts.rejected += 1;
                    each(&PlanLine {
                        line: outcome.line,
                        key: outcome.user_key.clone(),
                        op: "rejected",
                        fields: outcome.errors.iter().map(|e| e.field.clone()).collect(),
                    });
                }
            },
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
                    Operation::Update | Operation::Patch => {
                        counts.update += 1;
                        "update"
                    }
                };
                each(&PlanLine {
                    line: p.job.line,
                    key: Some(p.job.user.key.clone()),
                    op,
                    fields: p.fields.clone(),
                });
            }
            Planned::Fatal(message) => fatal = Some(message),
        }
        true
    });
    match fatal {
        Some(message) => Err(anyhow::anyhow!(message)),
        None => Ok(counts),
    }
}
