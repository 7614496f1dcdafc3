//! One sync of one export to one target: the pipeline.
//!
//! ```text
//! planner thread: read → map → validate → hash → diff ──► feeder: intents committed ──► dispatcher
//!   (requests held until the leavers    │ rejected / unchanged                              │
//!    and the guards are decided)        └──► ledger writer ◄── results (outcome + snapshot) ◄┘
//! ```
//! Every stage is a bounded channel, so memory stays flat however large the file (the planner
//! holds at most `passes::HOLD_LIMIT` requests). Before a request leaves, its intent is
//! committed; every row read ends with exactly one outcome. A `retry` runs the same pipeline
//! on rows the ledger kept (`retry.rs`). A thread or task that panics or fails ends the run
//! `aborted`, sending nothing more (`breakdown.rs`).

mod breakdown;
pub mod connect;
pub mod endpoint;
pub mod estimate;
mod feeder;
mod learned;
pub mod passes;
pub mod planner;
pub mod preview;
mod reader;
pub mod retry;
pub mod scan;
mod tally;
pub mod window;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::ProgressBar;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use crate::config::{BaseUrl, Concurrency, Target};
use crate::dispatch::{
    self, AbortReason, AdaptiveSettings, DispatchReport, DispatchSettings, Dispatcher, StopHandle,
};
use crate::exit::Exit;
use crate::input::InputOptions;
use crate::ledger::{
    Ledger, LedgerWriter, NewRun, RunCounts, RunId, RunStatus, Snapshot, TargetLock, WriterConfig,
};
use crate::plan::PlanCounts;
use breakdown::{guarded, settle_broken_run, task_failed, Breakdown};
use feeder::FeedEnd;

pub use connect::Connection;
pub use endpoint::EndpointChanged;
pub use feeder::{INTENT_BATCH, OUTCOME_BATCH};
pub use planner::{Guards, Pending, Planned, Planner, Source};
pub use retry::{RetryRequest, RetrySummary, RunChoice};
pub use scan::Scan;
pub use tally::Tally;

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
    /// `--endpoint-moved`: the ledger's users of the target are at `base_url` now (see
    /// [`EndpointChanged`]).
    pub endpoint_moved: bool,
    /// `--deadline` / `--max-duration`: stop taking new rows at this instant (see [`window`]).
    pub deadline: Option<Instant>,
    /// The command line, secrets removed, for the ledger.
    pub command_line: String,
    pub progress: ProgressBar,
    /// Ctrl-C handling: the caller raises this (graceful, then hard).
    pub stop: Option<(StopHandle, dispatch::StopSignal)>,
    /// `-v`: log how long the run should take once its export is planned ([`estimate::log`]).
    pub log_estimate: bool,
}

/// How a sync ended.
pub struct SyncSummary {
    pub run: RunId,
    pub counts: RunCounts,
    pub aborted: Option<AbortReason>,
    pub exit: Exit,
    pub elapsed: Duration,
    pub dispatch: DispatchReport,
    /// Whether what adaptive concurrency settled on was stored for the next run.
    pub learned: bool,
    /// The in-process mock, when the target is `base_url = "mock"` (for tests and demos).
    pub mock: Option<crate::mock::MockHandle>,
    /// The rows that went through but need a person (see `crate::notes`), by note code.
    pub noted: BTreeMap<crate::ledger::NoteCode, Noted>,
}

/// The rows of one note code: how many, and the first [`Noted::KEYS`] user keys (a summary
/// line, not a list: the reports and the log name every one).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Noted {
    pub count: u64,
    pub keys: Vec<String>,
}

impl Noted {
    pub const KEYS: usize = 10;
}

impl SyncSummary {
    /// Whether a person should read this run's summary: it did not end cleanly, or rows that
    /// went through need a person (a user to reactivate by hand, a field not cleared). `-q`
    /// prints the summary only then.
    pub fn needs_a_person(&self) -> bool {
        self.exit != Exit::Ok || !self.noted.is_empty()
    }
}

/// The most requests in flight `concurrency = "auto"` may reach without a `concurrency_max`.
pub const AUTO_MAX_CONCURRENCY: usize = 256;

/// The dispatch settings of a target, with the command line's overrides. `--concurrency N`
/// turns `concurrency = "auto"` into a fixed N.
pub fn dispatch_settings(
    target: &Target,
    rate: Option<f64>,
    concurrency: Option<usize>,
) -> DispatchSettings {
    let default = DispatchSettings::default();
    let auto = concurrency.is_none() && target.concurrency == Concurrency::Auto;
    DispatchSettings {
        rate_limit: rate.or(target.rate_limit.map(f64::from)),
        burst: target.burst.unwrap_or(default.burst).max(1),
        concurrency: match (concurrency, target.concurrency) {
            (Some(n), _) => n,
            (None, Concurrency::Fixed(n)) => n,
            // The ceiling the adaptive controller never exceeds.
            (None, Concurrency::Auto) => target
                .concurrency_max
                .map_or(AUTO_MAX_CONCURRENCY, |m| m as usize)
                .max(1),
        },
        adaptive: auto.then(AdaptiveSettings::default),
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
    // The file opens and the mapping fits its header (else a usage error, before anything).
    drop(crate::prepare::Rows::open(
        &req.input,
        target,
        &req.input_options,
    )?);
    // The file's SHA-256 is read beside the snapshot's loading.
    let hashing = {
        let input = req.input.clone();
        std::thread::spawn(move || scan::sha256_file(&input))
    };
    let (ledger, lock) = open_ledger(target, &req.ledger_path)?;
    let snapshot = ledger.snapshot(&target.name)?;
    let input_sha256 = hashing
        .join()
        .map_err(|_| anyhow::anyhow!("the thread hashing the export failed"))?
        .with_context(|| format!("could not read {}", req.input.display()))?;
    let new_run = NewRun {
        target: target.name.clone(),
        provider: target.provider.name().to_owned(),
        command: "sync".into(),
        parent_run_id: None,
        input_path: Some(req.input.display().to_string()),
        input_sha256: Some(input_sha256),
        command_line: Some(req.command_line.clone()),
        note: None,
        // Checked against the ledger, then filled in, when the run starts (`execute`).
        endpoint: None,
    };
    let launch = Launch {
        started,
        ledger,
        lock,
        snapshot,
        source: Source::File {
            input: req.input.clone(),
            options: req.input_options.clone(),
        },
        guards: Guards::for_target(target, req.deactivate_missing, req.force),
        new_run,
        full: req.full,
        ledger_path: req.ledger_path,
        base_url: req.base_url,
        rate_limit: req.rate_limit,
        concurrency: req.concurrency,
        endpoint_moved: req.endpoint_moved,
        deadline: req.deadline,
        progress: req.progress,
        stop: req.stop,
        log_estimate: req.log_estimate,
    };
    execute(target, launch).await
}

/// Opens the ledger, takes the target's run lock and recovers the runs a dead process left
/// `running`.
fn open_ledger(target: &Target, path: &std::path::Path) -> anyhow::Result<(Ledger, TargetLock)> {
    let mut ledger = Ledger::open(path)?;
    let lock = ledger.lock_target(&target.name)?;
    for recovered in ledger.recover_interrupted(&lock)? {
        tracing::warn!(run = recovered.id.0, in_flight = recovered.in_flight_rows, "an earlier run was cut off: marked interrupted; its rows in flight may have reached the provider");
    }
    Ok((ledger, lock))
}

/// A run whose rows, leavers and ledger record are decided: what `sync` and `retry` hand to
/// [`execute`].
struct Launch {
    started: Instant,
    ledger: Ledger,
    /// Held until the run is recorded as finished.
    lock: TargetLock,
    snapshot: Snapshot,
    source: Source,
    guards: Guards,
    new_run: NewRun,
    full: bool,
    ledger_path: PathBuf,
    base_url: BaseUrl,
    rate_limit: Option<f64>,
    concurrency: Option<usize>,
    endpoint_moved: bool,
    /// Stop taking new rows at this instant (`--deadline`, `--max-duration`).
    deadline: Option<Instant>,
    progress: ProgressBar,
    stop: Option<(StopHandle, dispatch::StopSignal)>,
    /// Log the duration estimate once the export is planned (`sync -v`).
    log_estimate: bool,
}

/// Connects to the target, records the run, and streams its rows through the planner, the
/// dispatcher and the ledger writer until every row has its outcome.
async fn execute(target: &Target, launch: Launch) -> anyhow::Result<SyncSummary> {
    let Launch {
        started,
        ledger,
        lock,
        snapshot,
        source,
        guards,
        mut new_run,
        full,
        ledger_path,
        base_url,
        rate_limit,
        concurrency,
        endpoint_moved,
        deadline,
        progress,
        stop,
        log_estimate,
    } = launch;
    let endpoint = base_url.endpoint();
    endpoint::check(&ledger, target, &snapshot, &endpoint, endpoint_moved)?;
    if let Some(warning) = &target.warning {
        tracing::warn!(target = %target.name, "{warning}");
    }
    new_run.endpoint = Some(endpoint);
    let hasher = ledger.hasher();
    let connection = Connection::open(target, &base_url).await?;
    let mock_file = connect::mock_store_path(&ledger_path, &target.name);
    connection.restore_mock(&mock_file)?;
    let mut settings = dispatch_settings(target, rate_limit, concurrency);
    settings.deadline = deadline;
    learned::start_from_learned(&ledger, &target.name, &mut settings)?;
    let client = dispatch::http_client(&settings).context("could not build the HTTP client")?;
    let dispatcher = Dispatcher::new(
        target.provider,
        connection.session.clone(),
        client,
        connection.context.base_url.clone(),
        settings.clone(),
    )?
    .with_options(connection.context.options.clone())
    .with_create_only(target.update_rules.create_only.clone());

    let run = ledger.begin_run(&new_run)?;
    let (writer, writer_task) = LedgerWriter::spawn(&ledger_path, writer_config())?;

    let (stop_handle, stop_signal) = stop.unwrap_or_else(dispatch::stop_signal);
    let stop_reading = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let pending: feeder::PendingMap = Arc::new(Mutex::new(HashMap::new()));
    // `-v`: the rate is known now, the requests once the planner's pass has counted them.
    let estimate_rate = if log_estimate {
        estimate::expected_rate(target, rate_limit, concurrency.is_some(), &ledger)
            .map_err(|e| tracing::debug!("no estimate: {e:#}"))
            .ok()
    } else {
        None
    };

    // Planner thread -> feeder (outcomes come in batches: a few in the channel are plenty).
    let (planned_tx, planned_rx) = mpsc::channel::<Planned>(PLANNED_QUEUE);
    let planner = Planner {
        ledger,
        snapshot: Arc::new(snapshot),
        hasher: hasher.clone(),
        target: target.clone(),
        source,
        guards,
        full,
        stop_reading: stop_reading.clone(),
        hold_limit: passes::HOLD_LIMIT,
        count_first: estimate_rate.is_some(),
    };
    let bar = progress.clone();
    let planner_task = tokio::task::spawn_blocking(move || {
        planner.run_counting(
            |item| planned_tx.blocking_send(item).is_ok(),
            |requests, leavers| {
                // Each leaver is one outcome more than the export has rows (the bar's total,
                // counted long before a pass over the export ends).
                bar.inc_length(leavers);
                if let Some(rate) = estimate_rate {
                    estimate::log(requests, rate, deadline);
                }
            },
        )
    });

    // Feeder -> dispatcher -> results.
    let (jobs_tx, jobs_rx) = mpsc::channel(feeder::queue_capacity(settings.concurrency));
    let (results_tx, results_rx) = mpsc::channel(1024);
    let (abort_tx, abort_rx) = oneshot::channel::<String>();
    // Each task reports its own breakage at once, so that nothing more is sent after it.
    let breakdown = Breakdown::default();
    let feeder = tokio::spawn(guarded(
        breakdown.clone(),
        "the feeder task",
        feeder::feed(
            run,
            planned_rx,
            jobs_tx,
            writer.clone(),
            pending.clone(),
            tally.clone(),
            progress.clone(),
            abort_rx,
            breakdown.clone(),
        ),
    ));
    let recorder = {
        let breakdown = breakdown.clone();
        let recording = feeder::record_results(
            run,
            results_rx,
            writer.clone(),
            pending.clone(),
            hasher.clone(),
            tally.clone(),
            progress.clone(),
        );
        tokio::spawn(async move {
            let recorded = guarded(breakdown.clone(), "the result recorder", recording).await;
            if let Some(Err(e)) = recorded {
                breakdown.report(format!("the result recorder stopped: {e}"));
            }
        })
    };

    // Ctrl-C: the first stops reading and lets in-flight requests finish; the second abandons them.
    let stop_watch = {
        let stop_reading = stop_reading.clone();
        let mut signal = stop_signal.clone();
        tokio::spawn(async move {
            signal.raised().await;
            stop_reading.store(true, Ordering::Relaxed);
        })
    };

    let mut jobs = ReceiverStream::new(jobs_rx);
    let dispatching = dispatcher.run(
        breakdown::gate(&mut jobs, &breakdown),
        results_tx,
        stop_signal,
    );
    let report = guarded(breakdown.clone(), "the dispatcher", dispatching)
        .await
        .unwrap_or_default();
    let reason = breakdown
        .why_not_sent()
        .or_else(|| report.aborted.as_ref().map(ToString::to_string))
        .unwrap_or_else(|| "the run stopped".into());
    // Jobs already handed over but never pulled (the dispatcher stopped first) are recorded
    // here; the feeder records the ones it could no longer hand over.
    let mut unsent = jobs.into_inner();
    unsent.close();
    let _ = abort_tx.send(reason.clone());
    let unsent = feeder::record_unsent(
        run,
        &mut unsent,
        &writer,
        &pending,
        &tally,
        &progress,
        &reason,
    )
    .await;
    if let Err(e) = unsent {
        breakdown.report(e);
    }
    let feed_result = match feeder.await {
        Ok(Some(fed)) => fed,
        Ok(None) => Err(FeedEnd::Broken),
        Err(e) => {
            breakdown.report(task_failed("the feeder task", e));
            Err(FeedEnd::Broken)
        }
    };
    if let Err(e) = recorder.await {
        breakdown.report(task_failed("the result recorder", e));
    }
    stop_watch.abort();
    drop(stop_handle);
    if let Err(e) = planner_task.await {
        breakdown.report(task_failed("the planner", e));
    }
    let flushed = writer.flush().await;
    drop(writer);
    match writer_task.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => breakdown.report(e.to_string()),
        Err(e) => breakdown.report(task_failed("the ledger writer", e)),
    }
    if let Err(e) = flushed {
        breakdown.report(e.to_string());
    }
    if let Err(e) = connection.keep_mock(&mock_file) {
        tracing::warn!(file = %mock_file.display(), error = %e, "could not save the built-in mock's users for the next run");
    }

    let ledger = Ledger::open(&ledger_path)?;
    let broken = breakdown.get().map(str::to_owned);
    let mut counts = tally.counts();
    if let Some(what) = &broken {
        tracing::error!(run = run.0, "{what}");
        counts = settle_broken_run(&ledger, &ledger_path, run, &breakdown)
            .await
            .unwrap_or(counts);
    }
    counts.requests = report.requests;
    counts.retries = report.retries;
    let interrupted = stop_reading.load(Ordering::Relaxed);
    let (status, exit) = match (&report.aborted, &feed_result) {
        _ if broken.is_some() => (RunStatus::Aborted, Exit::Fatal),
        (_, Err(FeedEnd::Fatal(fatal))) => {
            tracing::error!(run = run.0, "{fatal}");
            (RunStatus::Aborted, Exit::Fatal)
        }
        (_, Err(FeedEnd::Refused(_) | FeedEnd::Broken)) => (RunStatus::Aborted, Exit::Fatal),
        (Some(reason), _) => (reason_status(reason), reason.exit()),
        (None, _) if interrupted => (RunStatus::Interrupted, Exit::Interrupted),
        (None, _) if counts.rejected + counts.failed + counts.not_attempted > 0 => {
            (RunStatus::Completed, Exit::RowErrors)
        }
        (None, _) => (RunStatus::Completed, Exit::Ok),
    };
    let finished = ledger.finish_run(run, status, Some(exit.code() as i32), &counts);
    if let Some(what) = broken {
        // What broke is the news; a ledger that cannot take the run's end is said beside it.
        if let Err(e) = finished {
            tracing::error!(run = run.0, error = %e, "could not record the run's end");
        }
        drop(lock);
        anyhow::bail!(what);
    }
    finished?;
    let learned = learned::remember(&ledger, &target.name, &report)?;
    drop(lock);
    tracing::debug!(
        run = run.0,
        status = %status,
        rows = counts.rows,
        requests = counts.requests,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "run recorded"
    );
    match feed_result {
        Err(FeedEnd::Fatal(fatal)) => anyhow::bail!(fatal),
        Err(FeedEnd::Refused(refusal)) => return Err(refusal.into()),
        // Always with a breakdown, handled above.
        Err(FeedEnd::Broken) => anyhow::bail!("the run broke"),
        Ok(()) => {}
    }
    Ok(SyncSummary {
        run,
        counts,
        aborted: report.aborted.clone(),
        exit,
        elapsed: started.elapsed(),
        dispatch: report,
        learned,
        mock: connection.mock,
        noted: tally.noted.lock().map(|n| n.clone()).unwrap_or_default(),
    })
}

/// Items (single requests, or batches of outcomes) queued between the planner and the feeder.
const PLANNED_QUEUE: usize = 64;

/// The ledger writer of a run. Outcomes arrive in batches of hundreds, so a short queue keeps
/// memory flat when the file is read faster than SQLite writes; big transactions make the
/// unchanged rows of a nightly run cheap to record.
fn writer_config() -> WriterConfig {
    WriterConfig {
        batch_rows: 4096,
        channel_capacity: 64,
        ..WriterConfig::default()
    }
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
