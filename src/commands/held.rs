//! `usersync approve RUN` and `usersync reject RUN`: what a person decides about a run whose
//! broken-export guards tripped, which sent nothing and was held with the saved plan of what it
//! would have sent (`ledger/held.rs`).
//!
//! Approving sends exactly that plan (`apply.rs`), as a new run, and refuses (exit 2, naming
//! what) when the export, the target's config or the ledger's users of the target changed since
//! the run was held, or when it was held longer ago than `--max-age`. Rejecting closes it.
//! Either is recorded with the user name of the process, for `runs` and the reports.

use std::time::Duration;

use crate::cli::{ApproveArgs, GlobalArgs, RejectArgs};
use crate::commands::{ledger_path, UsageError};
use crate::config;
use crate::exit::Exit;
use crate::ledger::{Decision, HeldRun, Ledger, RunId};
use crate::sync::saved_plan::SavedPlan;

/// Runs `approve`.
pub fn approve(global: &GlobalArgs, args: &ApproveArgs) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let ledger_file = ledger_path(&args.ledger, &config);
    let run = RunId(args.run);
    let held = waiting(&Ledger::open(&ledger_file)?, run)?;
    let age = (chrono::Utc::now() - held.held_at)
        .to_std()
        .unwrap_or(Duration::ZERO);
    if age > args.max_age {
        return Err(UsageError(format!(
            "run {run} was held {} ago, longer than --max-age {}: the export it held may no \
             longer be right; reject it and let the next night decide again",
            humantime::format_duration(Duration::from_secs(age.as_secs())),
            humantime::format_duration(args.max_age)
        ))
        .into());
    }
    let plan: SavedPlan = serde_json::from_str(&held.plan_json)
        .map_err(|e| anyhow::anyhow!("run {run}'s held plan is unreadable: {e}"))?;
    let label = std::path::PathBuf::from(format!("held by run {run}"));
    let exit = super::apply::send_plan(global, &config, &plan, &label, &args.ledger, &args.send)?;
    let ledger = Ledger::open(&ledger_file)?;
    let sent_by = ledger.last_run(&plan.target)?.map(|r| r.id);
    ledger.decide_held(run, Decision::Approved, &user_name(), sent_by)?;
    Ok(exit)
}

/// Runs `reject`.
pub fn reject(global: &GlobalArgs, args: &RejectArgs) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let ledger = Ledger::open(ledger_path(&args.ledger, &config))?;
    let run = RunId(args.run);
    waiting(&ledger, run)?;
    ledger.decide_held(run, Decision::Rejected, &user_name(), None)?;
    println!("run {run} rejected: nothing it held will be sent");
    Ok(Exit::Ok)
}

/// The held run `run`, waiting for a decision.
fn waiting(ledger: &Ledger, run: RunId) -> anyhow::Result<HeldRun> {
    let held = ledger.held_run(run)?.ok_or_else(|| {
        UsageError(format!(
            "run {run} was not held (see `usersync runs`): there is nothing to decide"
        ))
    })?;
    if let Some((decision, by, at)) = &held.decision {
        return Err(UsageError(format!(
            "run {run} was {} by {by} at {}",
            decision.as_str(),
            at.format("%Y-%m-%d %H:%M UTC")
        ))
        .into());
    }
    Ok(held)
}

/// Who decides: the user name of the process.
fn user_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}
