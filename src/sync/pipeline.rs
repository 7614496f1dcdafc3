//! The pipeline of one run, wired once from its [`RunSpec`]: the stages of the module's
//! diagram, each on its own thread or task, joined by bounded channels, then joined again and
//! settled into one [`SyncSummary`]. `sync` and `retry` differ only in where the rows come from
//! ([`PassInput`]) and in the run they record ([`Launch`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use indicatif::ProgressBar;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use super::breakdown::{self, guarded, settle_broken_run, task_failed, Breakdown};
use super::diff::Differ;
use super::hold::{Pass, PassInput, PassItem};
use super::record::{self, Recorder};
use super::send::{self, FeedEnd};
use super::spec::RunSpec;
use super::{connect, endpoint, estimate, learned, Connection, SyncSummary, Tally};
use crate::dispatch::{self, AbortReason, Dispatcher, StopHandle, StopSignal};
use crate::exit::Exit;
use crate::ledger::{Ledger, LedgerWriter, NewRun, RunStatus, Snapshot, TargetLock, WriterConfig};
use crate::provider::Discovered;

/// What a run needs from its caller besides its description: the progress bar to move, and
/// Ctrl-C (the caller raises the stop: graceful, then hard).
pub struct Controls {
    pub progress: ProgressBar,
    pub stop: Option<(StopHandle, StopSignal)>,
}

/// A run whose rows and ledger record are decided: what `sync` and `retry` hand to
/// [`execute`].
pub struct Launch {
    pub started: Instant,
    pub ledger: Ledger,
    /// Held until the run is recorded as finished.
    pub lock: TargetLock,
    pub snapshot: Snapshot,
    pub input: PassInput,
    pub new_run: NewRun,
}

/// Opens the ledger, takes the target's run lock and recovers the runs a dead process left
/// `running`.
pub fn open_ledger(spec: &RunSpec) -> anyhow::Result<(Ledger, TargetLock)> {
    let mut ledger = Ledger::open(&spec.ledger)?;
    let lock = ledger.lock_target(&spec.target.name)?;
    for recovered in ledger.recover_interrupted(&lock)? {
        tracing::warn!(run = recovered.id.0, in_flight = recovered.in_flight_rows, "an earlier run was cut off: marked interrupted; its rows in flight may have reached the provider");
    }
    Ok((ledger, lock))
}

/// Bulk requests in flight at once when `concurrency = "auto"` meets a target that takes bulk
/// requests (each carries up to its `maxOperations` writes).
const BULK_AUTO_CONCURRENCY: usize = 4;

/// Requests the pass hands on together. The send stage commits the intents of what it finds
/// waiting in one transaction; handed on one at a time through a short queue, they made a
/// handful of rows per commit, and commits were a fifth of a first sync's CPU.
const SEND_BATCH: usize = 64;

/// Items (batches of up to 64 requests or 512 outcomes) queued between the pass and the
/// send stage. A nightly re-sync reads faster than the ledger writer records: every queue ahead
/// of it stays full, so each is kept short.
const PASS_QUEUE: usize = 8;

/// The ledger writer of a run. Outcomes arrive in batches of hundreds, so a short queue keeps
/// memory flat when the file is read faster than SQLite writes; big transactions make the
/// unchanged rows of a nightly run cheap to record.
fn writer_config() -> WriterConfig {
    WriterConfig {
        batch_rows: 4096,
        // A full batch of outcomes waits while one is written, no more.
        channel_capacity: 8,
        ..WriterConfig::default()
    }
}

/// Connects to the target, records the run, and streams its rows through the pass, the send
/// stage, the dispatcher and the record stage until every row has its outcome.
pub async fn execute(
    spec: &RunSpec,
    launch: Launch,
    controls: Controls,
) -> anyhow::Result<SyncSummary> {
    let Launch {
        started,
        ledger,
        lock,
        snapshot,
        input,
        mut new_run,
    } = launch;
    let Controls { progress, stop } = controls;
    let target = &spec.target;
    let send_spec = &spec.send;

    // Connect: the endpoint the ledger knows, the session, the dispatcher.
    let endpoint = send_spec.base_url.endpoint();
    endpoint::check(
        &ledger,
        target,
        &snapshot,
        &endpoint,
        send_spec.endpoint_moved,
    )?;
    if let Some(warning) = &target.warning {
        tracing::warn!(target = %target.name, "{warning}");
    }
    new_run.endpoint = Some(endpoint);
    let hasher = ledger.hasher();
    // What a held run's plan is fingerprinted with (see `hold`).
    let new_run_input = new_run
        .input_path
        .clone()
        .zip(new_run.input_sha256.clone())
        .map(|(path, sha)| (std::path::PathBuf::from(path), sha));
    let connection = Connection::open(target, &send_spec.base_url).await?;
    let mock_file = connect::mock_store_path(&spec.ledger, &target.name);
    connection.restore_mock(&mock_file)?;
    let mut settings = send_spec.dispatch.clone();
    learned::start_from_learned(&ledger, &target.name, &mut settings)?;
    let client = dispatch::http_client(&settings).context("could not build the HTTP client")?;
    let mapped: Vec<&str> = target.fields.iter().map(|f| f.field.as_str()).collect();
    let Discovered {
        warnings,
        options,
        bulk,
        rules,
    } = dispatch::discover(
        target.provider,
        &connection.session,
        &client,
        &connection.context.base_url,
        &connection.context.options,
        &mapped,
    )
    .await
    .map_err(|why| {
        anyhow::anyhow!(
            "target {} ({}) cannot be synced as configured: {why}",
            target.name,
            target.provider.name()
        )
    })?;
    for warning in &warnings {
        tracing::warn!(target = %target.name, "{warning}");
    }
    let options = options.unwrap_or_else(|| connection.context.options.clone());
    if let Some(bulk) = &bulk {
        if settings.adaptive.take().is_some() {
            // The adaptive controller reads each request's round trip and pushes back on
            // requests in flight; a batch's round trip would mislead it. A few bulk requests
            // in flight carry hundreds of writes.
            settings.concurrency = settings.concurrency.min(BULK_AUTO_CONCURRENCY);
        }
        tracing::info!(
            target = %target.name,
            max_operations = bulk.max_operations,
            max_payload = bulk.max_payload,
            requests_in_flight = settings.concurrency,
            "writes go in bulk requests"
        );
    }
    let mut dispatcher = Dispatcher::new(
        target.provider,
        connection.session.clone(),
        client,
        connection.context.base_url.clone(),
        settings.clone(),
    )?
    .with_options(options)
    .with_create_only(target.update_rules.create_only.clone());
    if let Some(bulk) = bulk {
        dispatcher = dispatcher.with_bulk(bulk);
    }
    // `-v`: the rate is known now, the requests once the pass has counted them.
    let estimate_rate = if send_spec.log_estimate {
        estimate::expected_rate(&target.name, &send_spec.dispatch, &ledger)
            .map_err(|e| tracing::debug!("no estimate: {e:#}"))
            .ok()
    } else {
        None
    };

    // Record the run, and start its ledger writer.
    let run = ledger.begin_run(&new_run)?;
    let (writer, writer_task) = LedgerWriter::spawn(&spec.ledger, writer_config())?;
    let tally = Arc::new(Tally::default());
    let recorder = Recorder {
        run,
        writer: writer.clone(),
        tally: tally.clone(),
        progress: progress.clone(),
    };

    // The pass, on a thread of its own (outcomes come in batches: a few queued are plenty).
    let (stop_handle, stop_signal) = stop.unwrap_or_else(dispatch::stop_signal);
    let stop_reading = Arc::new(AtomicBool::new(false));
    let (items_tx, items_rx) = mpsc::channel::<PassItem>(PASS_QUEUE);
    let differ = Differ {
        ledger,
        snapshot: Arc::new(snapshot),
        hasher: hasher.clone(),
        target: target.clone(),
        full: spec.full,
        target_rules: rules,
    };
    let mut pass = Pass::new(differ, input, spec.guards, stop_reading.clone());
    pass.count_first = estimate_rate.is_some();
    pass.send_batch = SEND_BATCH;
    let bar = progress.clone();
    let deadline = settings.deadline;
    let pass_task = tokio::task::spawn_blocking(move || {
        pass.run_counting(
            |item| items_tx.blocking_send(item).is_ok(),
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

    // Send -> dispatcher -> record. Each task reports its own breakage at once, so that nothing
    // more is sent after it.
    let (requests_tx, requests_rx) = mpsc::channel(send::queue_capacity(settings.concurrency));
    let (results_tx, results_rx) = mpsc::channel(1024);
    let (abort_tx, abort_rx) = oneshot::channel::<String>();
    let breakdown = Breakdown::default();
    let sender = tokio::spawn(guarded(
        breakdown.clone(),
        "the feeder task",
        send::feed(
            recorder.clone(),
            items_rx,
            requests_tx,
            abort_rx,
            breakdown.clone(),
        ),
    ));
    let results_task = {
        let breakdown = breakdown.clone();
        let recording = record::results(recorder.clone(), results_rx, hasher);
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

    let mut requests = ReceiverStream::new(requests_rx);
    let dispatching = dispatcher.run(
        breakdown::gate(&mut requests, &breakdown),
        results_tx,
        stop_signal,
    );
    let report = guarded(breakdown.clone(), "the dispatcher", dispatching)
        .await
        .unwrap_or_default();

    // Join: every row still queued gets its outcome, every task is awaited.
    let reason = breakdown
        .why_not_sent()
        .or_else(|| report.aborted.as_ref().map(ToString::to_string))
        .unwrap_or_else(|| "the run stopped".into());
    // Requests already handed over but never pulled (the dispatcher stopped first) are recorded
    // here; the send stage records the ones it could no longer hand over.
    let mut unsent = requests.into_inner();
    unsent.close();
    let _ = abort_tx.send(reason.clone());
    if let Err(e) = send::record_unsent(&recorder, &mut unsent, &reason).await {
        breakdown.report(e);
    }
    let feed_result = match sender.await {
        Ok(Some(fed)) => fed,
        Ok(None) => Err(FeedEnd::Broken),
        Err(e) => {
            breakdown.report(task_failed("the feeder task", e));
            Err(FeedEnd::Broken)
        }
    };
    if let Err(e) = results_task.await {
        breakdown.report(task_failed("the result recorder", e));
    }
    stop_watch.abort();
    drop(stop_handle);
    if let Err(e) = pass_task.await {
        breakdown.report(task_failed("the planner", e));
    }
    drop(recorder);
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

    // Settle: the run's status and exit, recorded.
    let ledger = Ledger::open(&spec.ledger)?;
    let broken = breakdown.get().map(str::to_owned);
    let mut counts = tally.counts();
    if let Some(what) = &broken {
        tracing::error!(run = run.0, "{what}");
        counts = settle_broken_run(&ledger, &spec.ledger, run, &breakdown)
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
        // Held for a person (`held_runs`): nothing was sent.
        (_, Err(FeedEnd::Refused(_))) => (RunStatus::Aborted, Exit::Held),
        (_, Err(FeedEnd::Broken)) => (RunStatus::Aborted, Exit::Fatal),
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
    ledger.record_responses(run, report.throttled, &report.responses)?;
    let held = match &feed_result {
        Err(FeedEnd::Refused(refusal)) => {
            hold(spec, &ledger, run, &new_run_input)?;
            Some(refusal.to_string())
        }
        _ => None,
    };
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
        Err(FeedEnd::Refused(_)) => {}
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
        held,
    })
}

/// Holds `run`, whose guards tripped, with the saved plan of what it would have sent: the
/// requests the pass held back (recorded not sent, `guard_refused`), and the fingerprints of the
/// export (`input`: its path and SHA-256), the target's config and the snapshot as the run left
/// it (the rows that needed no request are recorded), which a sync of the same export decides
/// exactly those requests from. `usersync approve` sends that plan.
fn hold(
    spec: &RunSpec,
    ledger: &Ledger,
    run: crate::ledger::RunId,
    input: &Option<(std::path::PathBuf, String)>,
) -> anyhow::Result<()> {
    let snapshot_sha256 = super::saved_plan::snapshot_sha256(&ledger.snapshot(&spec.target.name)?);
    use super::saved_plan::{self, Fingerprints, PlanFlags, SavedOperation, SavedPlan};
    let (Some((path, export_sha256)), super::RowSource::Export { options, .. }) =
        (input, &spec.rows)
    else {
        return Ok(());
    };
    let mut summary = super::preview::PlanCounts::default();
    let mut operations = Vec::new();
    // Streamed: a held run may have a million rows, and only its held requests matter here.
    ledger.each_outcome(run, |outcome| {
        if outcome.error_code.as_deref() == Some(crate::ledger::GUARD_REFUSED) {
            let op = outcome
                .operation
                .unwrap_or(crate::provider::Operation::Update);
            operations.push(SavedOperation {
                line: outcome.line,
                op: summary.count(op).to_owned(),
                key: outcome.user_key,
                fields: Vec::new(),
                notes: Vec::new(),
            });
        }
        Ok::<_, crate::ledger::LedgerError>(())
    })?;
    let plan = SavedPlan {
        usersync_plan: saved_plan::FORMAT,
        target: spec.target.name.clone(),
        provider: spec.target.provider.name().to_owned(),
        created_at: chrono::Utc::now(),
        export: path.clone(),
        fingerprints: Fingerprints {
            export_sha256: export_sha256.clone(),
            config_sha256: saved_plan::config_sha256(&spec.target, options),
            snapshot_sha256,
        },
        flags: PlanFlags {
            full: spec.full,
            deactivate_missing: spec.guards.deactivate_missing,
            force: true,
        },
        summary,
        operations,
    };
    ledger.hold_run(run, &serde_json::to_string(&plan)?)?;
    Ok(())
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
