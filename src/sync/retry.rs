//! `usersync retry`: a sync whose rows come from the ledger instead of an export.
//!
//! The rows of an earlier run that did not go through (`failed`, `not_attempted`, and with
//! `--include-rejected` the rows the provider rejected; never the rows validation rejected,
//! which need fixing at the source) are re-sent from the payloads the ledger kept for them, so
//! the export may be gone. Each is decided again against today's snapshot, exactly as a sync
//! decides a row: a create whose user now exists becomes an update, a row whose payload reached
//! the provider after all costs nothing. A row whose user a later run already synced or
//! deactivated is left alone: re-sending the older payload would undo the newer one.
//!
//! The retry is a new run with `parent_run_id` = the retried run, through the same pipeline
//! (planner, dispatcher, ledger writer) as a sync, with the same outcomes and snapshot changes.

use std::time::Instant;

use super::hold::PassInput;
use super::pipeline::{execute, open_ledger, Controls, Launch};
use super::spec::{RowSource, RunSpec};
use super::SyncSummary;
use crate::ledger::{Ledger, NewRun, RetryCounts, RunId, RunRecord};

/// Which run to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunChoice {
    /// The target's latest run, whatever its command.
    Last,
    Id(RunId),
}

impl std::str::FromStr for RunChoice {
    type Err = String;

    /// `last` or a run id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("last") {
            return Ok(RunChoice::Last);
        }
        s.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(|id| RunChoice::Id(RunId(id)))
            .ok_or_else(|| format!("expected a run id (a positive number) or `last`, not {s:?}"))
    }
}

/// How a retry ended.
pub struct RetrySummary {
    /// The run whose rows were retried.
    pub parent: RunId,
    /// The rows re-sent, and those left alone because a later run superseded them.
    pub counts: RetryCounts,
    /// The retry's own run; `None` when there was nothing to re-send (no run is recorded).
    pub sync: Option<SyncSummary>,
}

/// The run `choice` names, checked to belong to `target`.
pub fn find_run(ledger: &Ledger, target: &str, choice: RunChoice) -> anyhow::Result<RunRecord> {
    let found = match choice {
        RunChoice::Last => ledger.last_run(target)?.ok_or_else(|| {
            anyhow::anyhow!(
                "the ledger {} has no run of target {target}: nothing to retry",
                ledger.path().display()
            )
        })?,
        RunChoice::Id(id) => ledger.run(id)?.ok_or_else(|| {
            anyhow::anyhow!(
                "the ledger {} has no run {id} (see `usersync runs`)",
                ledger.path().display()
            )
        })?,
    };
    if let Some(pruned) = found.pruned_message() {
        anyhow::bail!(pruned);
    }
    if found.target != target {
        anyhow::bail!(
            "run {} belongs to target {}, not {target}",
            found.id,
            found.target
        );
    }
    Ok(found)
}

/// Runs one retry (`spec.rows` is [`RowSource::Kept`]). Errors are fatal problems (ledger,
/// unknown run, connection); row problems end up in the ledger and in the summary's counts, as
/// in a sync.
pub async fn run(spec: &RunSpec, controls: Controls) -> anyhow::Result<RetrySummary> {
    let started = Instant::now();
    let RowSource::Kept {
        run: choice,
        include_rejected,
    } = spec.rows
    else {
        anyhow::bail!(
            "a retry re-sends the rows the ledger kept; an export goes through `sync::run`"
        );
    };
    let target = &spec.target;
    let (ledger, lock) = open_ledger(spec)?;
    let parent = find_run(&ledger, &target.name, choice)?;
    let counts = ledger.retry_counts(parent.id, &target.name, include_rejected)?;
    if counts.superseded > 0 {
        tracing::info!(
            run = parent.id.0,
            superseded = counts.superseded,
            "rows left alone: a later run already synced or deactivated their users"
        );
    }
    if counts.rows == 0 {
        return Ok(RetrySummary {
            parent: parent.id,
            counts,
            sync: None,
        });
    }
    crate::progress::set_total(&controls.progress, counts.rows);
    let snapshot = ledger.snapshot(&target.name)?;
    let new_run = NewRun {
        target: target.name.clone(),
        provider: target.provider.name().to_owned(),
        command: "retry".into(),
        parent_run_id: Some(parent.id),
        input_path: None,
        input_sha256: None,
        command_line: Some(spec.send.command_line.clone()),
        note: Some(format!(
            "re-sends {} rows of run {} from the payloads the ledger kept",
            counts.rows, parent.id
        )),
        // Checked against the ledger, then filled in, when the run starts (`execute`).
        endpoint: None,
    };
    let launch = Launch {
        started,
        ledger,
        lock,
        snapshot,
        input: PassInput::Kept {
            run: parent.id,
            include_rejected,
        },
        new_run,
    };
    let summary = execute(spec, launch, controls).await?;
    Ok(RetrySummary {
        parent: parent.id,
        counts,
        sync: Some(summary),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_chosen_by_id_or_last() {
        assert_eq!("last".parse::<RunChoice>(), Ok(RunChoice::Last));
        assert_eq!("LAST".parse::<RunChoice>(), Ok(RunChoice::Last));
        assert_eq!("12".parse::<RunChoice>(), Ok(RunChoice::Id(RunId(12))));
        assert!("0".parse::<RunChoice>().is_err());
        assert!("yesterday".parse::<RunChoice>().is_err());
    }
}
