//! One sync of one export to one target: the pipeline of issue 4.
//!
//! ```text
//! scan (pass 1: leavers, guards) ─┐
//! planner thread: read → map → validate → hash → diff ──► feeder: intents committed ──► dispatcher
//!        │ rejected / unchanged                                                            │
//!        └──────────────────────────────► ledger writer ◄──── results (outcome + snapshot) ◄┘
//! ```
//! Every stage is a bounded channel, so memory stays flat however large the file. Before a
//! request leaves, its intent is committed; every row read ends with exactly one outcome.

pub mod connect;
mod feeder;
pub mod planner;
pub mod preview;
pub mod scan;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::ProgressBar;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::{BaseUrl, Concurrency, Target, DEFAULT_CONCURRENCY};
use crate::dispatch::{
    self, AbortReason, DispatchReport, DispatchSettings, Dispatcher, StopHandle,
};
use crate::exit::Exit;
use crate::input::InputOptions;
use crate::ledger::{Ledger, LedgerWriter, NewRun, RunCounts, RunId, RunStatus, WriterConfig};
use crate::plan::{check_guards, PlanCounts};

pub use connect::Connection;
pub use planner::{Pending, Planned, Planner};
pub use scan::Scan;

/// Everything one sync needs besides the target.
pub struct SyncRequest {
    pub input: PathBuf,
    pub input_options: InputOptions,
    pub ledger_path: PathBuf,
    pub base_url: BaseUrl,
    /// `--full`: send every row whatever the snapshot says.
    pub full: bool,
    /// `--deactivate-missing` (or the target's `deactivate_missing`).
    pub deactivate_missing: bool,
    /// `--force`: pass the broken-export guards.
    pub force: bool,
    /// `--rate` and `--concurrency` overrides.
    pub rate_limit: Option<f64>,
    pub concurrency: Option<usize>,
    /// The command line, secrets removed, for the ledger.
    pub command_line: String,
    pub progress: ProgressBar,
    /// Ctrl-C handling: the caller raises this (graceful, then hard).
    pub stop: Option<(StopHandle, dispatch::StopSignal)>,
}

/// How a sync ended.
pub struct SyncSummary {
    pub run: RunId,
    pub counts: RunCounts,
    pub aborted: Option<AbortReason>,
    pub exit: Exit,
    pub elapsed: Duration,
    pub dispatch: DispatchReport,
    /// The in-process mock, when the target is `base_url = "mock"` (for tests and demos).
    pub mock: Option<crate::mock::MockHandle>,
}

/// Progress counters shared by the pipeline's tasks.
#[derive(Debug, Default)]
pub struct Tally {
    pub done: std::sync::atomic::AtomicU64,
    pub synced: std::sync::atomic::AtomicU64,
    pub unchanged: std::sync::atomic::AtomicU64,
    pub rejected: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
}

/// The dispatch settings of a target, with the command line's overrides.
pub fn dispatch_settings(
    target: &Target,
    rate: Option<f64>,
    concurrency: Option<usize>,
) -> DispatchSettings {
    let default = DispatchSettings::default();
    DispatchSettings {
        rate_limit: rate.or(target.rate_limit.map(f64::from)),
        burst: target.burst.unwrap_or(default.burst).max(1),
        concurrency: concurrency.unwrap_or(match target.concurrency {
            Concurrency::Fixed(n) => n,
            // Until the adaptive controller exists, "auto" starts from the default, capped.
            Concurrency::Auto => target.concurrency_max.map_or(DEFAULT_CONCURRENCY, |m| {
                (m as usize).min(DEFAULT_CONCURRENCY)
            }),
        }),
        max_retries: target.max_retries,
        timeout: target.timeout,
        max_requests: target.max_requests,
        ..default
    }
}

/// Runs one sync. Errors are fatal problems before or outside the rows (ledger, file, guards);
/// row problems end up in the ledger and in the summary's counts.
pub async fn run(target: &Target, req: SyncRequest) -> anyhow::Result<SyncSummary> {
    let started = Instant::now();
    let mut ledger = Ledger::open(&req.ledger_path)?;
    let lock = ledger.lock_target(&target.name)?;
    for recovered in ledger.recover_interrupted(&lock)? {
        tracing::warn!(run = recovered.id.0, in_flight = recovered.in_flight_rows, "an earlier run was cut off: marked interrupted; its rows in flight may have reached the provider");
    }
    let snapshot = ledger.snapshot(&target.name)?;
    let hasher = ledger.hasher();

    // Pass 1: leavers and guards, decided before the first request leaves.
    let mut leavers = Vec::new();
    if !snapshot.is_empty() {
        let scan = Scan::run(&req.input, target, &req.input_options, &snapshot)?;
        if req.deactivate_missing {
            leavers = scan
                .leavers(&snapshot)
                .map(|u| (u.key.to_owned(), u.remote_id.map(str::to_owned)))
                .collect();
        }
        check_guards(
            scan.users,
            snapshot.active_len() as u64,
            leavers.len() as u64,
            target.max_deactivate,
            req.force,
        )?;
    }
    let input_sha256 = scan::sha256_file(&req.input)
        .with_context(|| format!("could not read {}", req.input.display()))?;

    let connection = Connection::open(target, &req.base_url).await?;
    let settings = dispatch_settings(target, req.rate_limit, req.concurrency);
    let client = dispatch::http_client(&settings).context("could not build the HTTP client")?;
    let dispatcher = Dispatcher::new(
        target.provider,
        connection.session.clone(),
        client,
        connection.context.base_url.clone(),
        settings.clone(),
    )?
    .with_options(connection.context.options.clone());

    let run = ledger.begin_run(&NewRun {
        target: target.name.clone(),
        provider: target.provider.name().to_owned(),
        command: "sync".into(),
        parent_run_id: None,
        input_path: Some(req.input.display().to_string()),
        input_sha256: Some(input_sha256),
        command_line: Some(req.command_line.clone()),
        note: None,
    })?;
    let (writer, writer_task) = LedgerWriter::spawn(&req.ledger_path, WriterConfig::default())?;

    let (stop_handle, stop_signal) = req.stop.unwrap_or_else(dispatch::stop_signal);
    let stop_reading = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let pending: feeder::PendingMap = Arc::new(Mutex::new(HashMap::new()));

    // Planner thread -> feeder.
    let (planned_tx, planned_rx) = mpsc::channel::<Planned>(1024);
    let planner = Planner {
        ledger,
        snapshot,
        hasher,
        target: target.clone(),
        input: req.input.clone(),
        input_options: req.input_options.clone(),
        leavers,
        full: req.full,
        stop_reading: stop_reading.clone(),
    };
    let planner_task = tokio::task::spawn_blocking(move || {
        planner.run(|item| planned_tx.blocking_send(item).is_ok())
    });

    // Feeder -> dispatcher -> results.
    let (jobs_tx, jobs_rx) = mpsc::channel(feeder::queue_capacity(settings.concurrency));
    let (results_tx, results_rx) = mpsc::channel(1024);
    let (abort_tx, abort_rx) = oneshot::channel::<String>();
    let feeder = tokio::spawn(feeder::feed(
        run,
        planned_rx,
        jobs_tx,
        writer.clone(),
        pending.clone(),
        tally.clone(),
        req.progress.clone(),
        abort_rx,
    ));
    let recorder = tokio::spawn(feeder::record_results(
        run,
        results_rx,
        writer.clone(),
        pending.clone(),
        tally.clone(),
        req.progress.clone(),
    ));

    // Ctrl-C: the first stops reading and lets in-flight requests finish; the second abandons them.
    let stop_watch = {
        let stop_reading = stop_reading.clone();
        let mut signal = stop_signal.clone();
        tokio::spawn(async move {
            signal.raised().await;
            stop_reading.store(true, Ordering::Relaxed);
        })
    };

    let mut jobs_stream = ReceiverStream::new(jobs_rx);
    let report = dispatcher
        .run(&mut jobs_stream, results_tx, stop_signal)
        .await;
    let reason = report
        .aborted
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "the run stopped".into());
    // Jobs the feeder queued (their intents committed) but the dispatcher never pulled: closing
    // the queue makes the feeder record its later jobs itself; these are recorded here.
    let mut unsent = jobs_stream.into_inner();
    unsent.close();
    let unsent = feeder::record_unsent(
        run,
        unsent,
        &writer,
        &pending,
        &tally,
        &req.progress,
        &reason,
    )
    .await;
    let _ = abort_tx.send(reason);
    let feed_result = feeder.await.context("the feeder task failed")?.and(unsent);
    recorder.await.context("the result recorder failed")??;
    stop_watch.abort();
    drop(stop_handle);
    let _ = planner_task.await;
    writer.flush().await?;
    drop(writer);
    writer_task.await.context("the ledger writer failed")??;

    let ledger = Ledger::open(&req.ledger_path)?;
    let mut counts = ledger.counts(run)?;
    counts.requests = report.requests;
    counts.retries = report.retries;
    let interrupted = stop_reading.load(Ordering::Relaxed);
    let (status, exit) = match (&report.aborted, &feed_result) {
        (_, Err(fatal)) => {
            tracing::error!(run = run.0, "{fatal}");
            (RunStatus::Aborted, Exit::Fatal)
        }
        (Some(reason), _) => (reason_status(reason), reason.exit()),
        (None, _) if interrupted => (RunStatus::Interrupted, Exit::Interrupted),
        (None, _) if counts.rejected + counts.failed + counts.not_attempted > 0 => {
            (RunStatus::Completed, Exit::RowErrors)
        }
        (None, _) => (RunStatus::Completed, Exit::Ok),
    };
    ledger.finish_run(run, status, Some(exit.code() as i32), &counts)?;
    drop(lock);
    if let Err(fatal) = feed_result {
        anyhow::bail!(fatal);
    }
    Ok(SyncSummary {
        run,
        counts,
        aborted: report.aborted.clone(),
        exit,
        elapsed: started.elapsed(),
        dispatch: report,
        mock: connection.mock,
    })
}

fn reason_status(reason: &AbortReason) -> RunStatus {
    match reason {
        AbortReason::Interrupted
        | AbortReason::HardInterrupted
        | AbortReason::Deadline
        | AbortReason::RequestQuota { .. } => RunStatus::Interrupted,
        _ => RunStatus::Aborted,
    }
}

/// What `plan` and `sync --dry-run` print: the counts of what a sync would do.
pub type Plan = PlanCounts;
