//! What a run tells the world once it is over, for the nights nobody watches: the metrics file
//! for Prometheus (`metrics.rs`) and a webhook notification (`notify.rs`).
//!
//! `sync` and `retry` call [`after_run`] once their run is recorded, whether it completed,
//! failed, was aborted or interrupted. Both signals are read from the ledger, so they say what
//! the ledger says; a run that failed before the ledger recorded it signals nothing. Neither can
//! fail a night: a problem is a warning on stderr, and the exit code stays the run's.

pub mod metrics;
pub mod notify;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::{webhook_origin, Config, Notify};
use crate::ledger::{Ledger, RunRecord};

/// What a command hands over once its run is over.
#[derive(Debug)]
pub struct AfterRun<'a> {
    pub config: &'a Config,
    /// The ledger the run used.
    pub ledger: &'a Path,
    /// The target's name.
    pub target: &'a str,
    /// `--metrics-file`, which wins over the config's `metrics_file`.
    pub metrics_file: Option<&'a Path>,
    /// When the command started: an earlier run is not this command's.
    pub since: DateTime<Utc>,
}

/// Writes the metrics file and sends the notification of the run this process just recorded
/// for the target, if it recorded one.
pub fn after_run(after: &AfterRun<'_>) {
    let metrics_file = after.metrics_file.or(after.config.metrics_file.as_deref());
    if metrics_file.is_none() && after.config.notify.is_none() {
        return;
    }
    let found = Ledger::open(after.ledger).and_then(|ledger| {
        let run = this_run(&ledger, after.target, after.since)?;
        Ok((ledger, run))
    });
    let (ledger, run) = match found {
        Ok((ledger, Some(run))) => (ledger, run),
        Ok((_, None)) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the ledger: no metrics file and no notification for this run");
            return;
        }
    };
    if let Some(file) = metrics_file {
        match metrics::write(file, &ledger) {
            Ok(()) => tracing::info!(file = %file.display(), "wrote the metrics file"),
            Err(e) => tracing::warn!(
                file = %file.display(),
                "cannot write the metrics file: {e:#}"
            ),
        }
    }
    if let Some(notify) = &after.config.notify {
        let notes = match ledger.note_counts(run.id) {
            Ok(notes) => notes.into_iter().map(|n| n.code).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the run's notes: notifying without them");
                Vec::new()
            }
        };
        notify_run(notify, &run, &notes);
    }
}

/// The run this process recorded for `target` since `since`: the target's latest, if its pid is
/// ours and it started after the command did.
fn this_run(
    ledger: &Ledger,
    target: &str,
    since: DateTime<Utc>,
) -> Result<Option<RunRecord>, crate::ledger::LedgerError> {
    Ok(ledger.last_run(target)?.filter(|run| {
        run.pid == Some(std::process::id())
            && run.started_at >= since - chrono::Duration::seconds(1)
            && matches!(run.command.as_str(), "sync" | "retry")
    }))
}

/// Posts `run`'s notification when one of its events is among `notify`'s; warns when it fails.
fn notify_run(notify: &Notify, run: &RunRecord, notes: &[String]) {
    let Some(event) = notify::events_of(run, notes)
        .into_iter()
        .find(|e| notify.events.contains(e))
    else {
        return;
    };
    let url = match notify.url() {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(run = run.id.0, "no notification sent: {e}");
            return;
        }
    };
    let message = notify::message(event, run);
    match block_on(notify::send(&url, &message, notify.timeout)) {
        Ok(Ok(status)) => tracing::info!(
            run = run.id.0,
            event = %event,
            webhook = %webhook_origin(&url),
            status = status.as_u16(),
            "notification sent"
        ),
        Ok(Err(e)) => tracing::warn!(
            run = run.id.0,
            event = %event,
            "the notification was not sent: {e}; the run's exit code is unchanged"
        ),
        Err(e) => tracing::warn!(run = run.id.0, "the notification was not sent: {e}"),
    }
}

/// Runs `future` on a runtime of its own: the commands call this after theirs is done with.
pub fn block_on<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(future))
}
