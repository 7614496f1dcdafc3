//! `usersync apply PLAN`: sends exactly a plan saved by `usersync plan --out`
//! (`crate::sync::saved_plan`).
//!
//! The target's config is checked here (its hash, with the usersync version); the export's bytes
//! and the ledger's users of the target are checked by the sync itself, once it holds the
//! target's run lock, so that nothing can change between the check and the run. When one of the
//! three is not what the plan was made from, the run is refused (exit 2) naming which; otherwise
//! the sync, a pure function of the three and the plan's flags, decides exactly the plan's
//! operations.

use std::path::Path;

use crate::cli::{ApplyArgs, DiffArgs, GlobalArgs, InputArgs, LedgerArgs, SendArgs};
use crate::commands::{spec, UsageError};
use crate::config::{self, Config};
use crate::exit::Exit;
use crate::sync::saved_plan::{self, SavedPlan};
use crate::sync::{PlanExpected, PlanStale, RowSource};

/// Runs `apply`.
pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let plan = SavedPlan::read(&args.plan).map_err(|e| UsageError(format!("{e:#}")))?;
    let config = config::load(&global.config)?;
    send_plan(global, &config, &plan, &args.plan, &args.ledger, &args.send)
}

/// Sends exactly `plan` (named `label` in messages) to its target of `config`: `apply`'s work,
/// and `approve`'s for a held run.
pub(super) fn send_plan(
    global: &GlobalArgs,
    config: &Config,
    plan: &SavedPlan,
    label: &Path,
    ledger: &LedgerArgs,
    send: &SendArgs,
) -> anyhow::Result<Exit> {
    let target = config.target(Some(&plan.target))?;
    if target.provider.name() != plan.provider {
        return Err(UsageError(format!(
            "the plan is for a {} target, and target {} is {}",
            plan.provider,
            target.name,
            target.provider.name()
        ))
        .into());
    }
    let input = InputArgs {
        input: plan.export.clone(),
        format: None,
        delimiter: None,
        encoding: None,
        sheet: None,
    };
    let diff = DiffArgs {
        full: plan.flags.full,
        deactivate_missing: plan.flags.deactivate_missing,
        force: plan.flags.force,
    };
    let rows = spec::Rows::Export {
        input: &input,
        diff: &diff,
    };
    let mut spec = spec::build(global, config, target, ledger, rows, Some(send), None)?;
    let RowSource::Export { options, .. } = &spec.rows else {
        unreachable!("an export's run");
    };
    if saved_plan::config_sha256(target, options) != plan.fingerprints.config_sha256 {
        return Err(PlanStale {
            plan: label.to_owned(),
            what: "the target's config (or the usersync version) changed since the plan was made",
        }
        .into());
    }
    spec.expected = Some(PlanExpected {
        plan: label.to_owned(),
        export_sha256: plan.fingerprints.export_sha256.clone(),
        snapshot_sha256: plan.fingerprints.snapshot_sha256.clone(),
    });
    let finish = super::sync::Finish {
        report: None,
        mask_pii: false,
        ledger_flag: ledger.ledger.as_deref(),
        metrics_file: None,
        since: chrono::Utc::now(),
    };
    super::sync::execute(global, config, target, spec, &finish)
}
