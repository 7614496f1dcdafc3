//! The async half of the pipeline: planned rows become committed intents and then jobs for the
//! dispatcher; the dispatcher's results become row outcomes and snapshot changes in the ledger.
//!
//! Both halves share the whole payloads of the rows in flight (a patch sends only part of one),
//! so that a success records the hash of the whole payload now at the provider, and a failure
//! keeps the whole payload for `retry`. That map holds at most the rows in flight.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use indicatif::ProgressBar;
use tokio::sync::{mpsc, oneshot};

use super::breakdown::Breakdown;
use super::planner::{Pending, Planned};
use super::Tally;
use crate::dispatch::{FinalOutcome, Job, JobResult};
use crate::ledger::{
    Hash, Intent, LedgerError, LedgerHandle, OutcomeKind, PayloadHasher, RowNote, RowOutcome,
    RunId, SnapshotChange, SourceHash,
};
use crate::notes;
use crate::payload::Payload;
use crate::plan::GuardRefusal;
use crate::provider::Operation;

/// What the snapshot needs of a row in flight once it succeeds, by line.
pub type PendingMap = Arc<Mutex<HashMap<i64, InFlight>>>;

/// A row in flight: its whole payload when the job's own is not (see `Pending::full`), the
/// hash of that payload, and the fingerprint of the export row it came from.
#[derive(Debug, Default)]
pub struct InFlight {
    full: Option<Payload>,
    hash: Option<Hash>,
    source_hash: Option<SourceHash>,
    /// See `Pending::notes`: the row's outcome gets them once it succeeds.
    notes: Vec<RowNote>,
}

/// Most intents committed in one transaction before their requests leave (public for the
/// `ledger_writes` bench, which writes as a sync does).
pub const INTENT_BATCH: usize = 256;

/// Most results turned into outcomes and sent to the ledger writer as one message.
pub const OUTCOME_BATCH: usize = 64;

/// The capacity of the dispatcher's job queue: room for two batches of intents, so that the
/// next batch's intents commit while the dispatcher still works through the last one (with a
/// queue smaller than a batch, the dispatcher starves during every intent commit).
pub fn queue_capacity(concurrency: usize) -> usize {
    (concurrency.max(1) * 2).max(2 * INTENT_BATCH)
}

/// Why the feeder stopped before the planner's last row.
#[derive(Debug)]
pub enum FeedEnd {
    /// The rows could not be read further.
    Fatal(String),
    /// A broken-export guard refused the run; nothing was sent.
    Refused(GuardRefusal),
    /// The run broke inside (the pass, or the ledger writer): the run's [`Breakdown`] says what.
    Broken,
}

/// Moves planned rows on: outcomes straight to the ledger, jobs through a committed intent to
/// the dispatcher. Once the dispatcher stops taking jobs (abort, interrupt), or the run broke,
/// every further job is recorded `not_attempted` with the reason.
#[allow(clippy::too_many_arguments)]
pub async fn feed(
    run: RunId,
    mut planned: mpsc::Receiver<Planned>,
    jobs: mpsc::Sender<Job>,
    writer: LedgerHandle,
    pending: PendingMap,
    tally: Arc<Tally>,
    progress: ProgressBar,
    abort_reason: oneshot::Receiver<String>,
    breakdown: Breakdown,
) -> Result<(), FeedEnd> {
    let broke = |what: String| {
        breakdown.report(what);
        FeedEnd::Broken
    };
    let mut jobs = Some(jobs);
    let mut abort_reason = Some(abort_reason);
    let mut reason: Option<String> = None;
    let mut end = None;
    let mut batch: Vec<Pending> = Vec::with_capacity(INTENT_BATCH);
    while let Some(first) = planned.recv().await {
        let mut next = Some(first);
        // Take what is already waiting, up to a batch, without waiting for more.
        while let Some(item) = next.take() {
            match item {
                Planned::Done(outcomes) => {
                    for outcome in &outcomes {
                        count(&tally, &progress, outcome);
                    }
                    if let Err(e) = writer.record_outcomes(run, outcomes).await {
                        return Err(broke(e.to_string()));
                    }
                }
                Planned::Send(p) => batch.push(*p),
                Planned::Fatal(message) => end = Some(FeedEnd::Fatal(message)),
                Planned::Refused(refusal) => end = Some(FeedEnd::Refused(refusal)),
                Planned::Broken(what) => end = Some(broke(what)),
            }
            if batch.len() < INTENT_BATCH {
                next = planned.try_recv().ok();
            }
        }
        if breakdown.get().is_some() {
            // Nothing more is handed over; closing the queue wakes a dispatcher waiting on it.
            jobs = None;
        }
        if batch.is_empty() {
            if end.is_some() {
                break;
            }
            continue;
        }
        let unsent = match &jobs {
            Some(tx) => hand_over(run, &writer, &pending, tx, &mut batch)
                .await
                .map_err(broke)?,
            None => batch.drain(..).map(|p| (p.job, p.full)).collect(),
        };
        if !unsent.is_empty() {
            // The dispatcher has stopped: these jobs and all later ones are not sent.
            jobs = None;
            let why = match breakdown.why_not_sent() {
                Some(why) => why,
                None => stop_reason(&mut abort_reason, &mut reason).await,
            };
            record_stopped(run, &writer, &tally, &progress, unsent, &why)
                .await
                .map_err(broke)?;
        }
        if end.is_some() {
            break;
        }
    }
    match end {
        Some(end) => Err(end),
        None => Ok(()),
    }
}

/// A job that will never be sent, with the whole payload it stands for.
type Unsent = (Job, Option<Payload>);

/// Commits the intents of `batch` and hands its jobs to the dispatcher. Returns the jobs it no
/// longer took (it stopped): the first one it refused and all after it; or what broke.
async fn hand_over(
    run: RunId,
    writer: &LedgerHandle,
    pending: &PendingMap,
    tx: &mpsc::Sender<Job>,
    batch: &mut Vec<Pending>,
) -> Result<Vec<Unsent>, String> {
    let intents = batch
        .iter()
        .map(|p| Intent {
            line: p.job.line,
            user_key: p.job.user.key.clone(),
            operation: p.job.op,
            payload: p.full.clone().unwrap_or_else(|| p.job.payload.clone()),
        })
        .collect();
    writer
        .record_intents(run, intents)
        .await
        .map_err(|e| e.to_string())?;
    let mut unsent = Vec::new();
    for p in batch.drain(..) {
        if !unsent.is_empty() {
            unsent.push((p.job, p.full));
            continue;
        }
        pending
            .lock()
            .map_err(|_| "a task panicked holding the rows in flight".to_owned())?
            .insert(
                p.job.line,
                InFlight {
                    full: p.full,
                    hash: p.hash,
                    source_hash: p.source_hash,
                    notes: p.notes,
                },
            );
        if let Err(refused) = tx.send(p.job).await {
            let job = refused.0;
            let full = take(pending, job.line).full;
            unsent.push((job, full));
        }
    }
    Ok(unsent)
}

/// Records `not_attempted` every job left in the dispatcher's channel when it stopped (handed
/// over by the feeder, never pulled by the dispatcher): their intents are committed, so without
/// this they would stay `in_flight` with no outcome. Call after closing the channel.
pub async fn record_unsent(
    run: RunId,
    jobs: &mut mpsc::Receiver<Job>,
    writer: &LedgerHandle,
    pending: &PendingMap,
    tally: &Tally,
    progress: &ProgressBar,
    why: &str,
) -> Result<(), String> {
    let mut unsent = Vec::new();
    while let Some(job) = jobs.recv().await {
        let full = take(pending, job.line).full;
        unsent.push((job, full));
    }
    record_stopped(run, writer, tally, progress, unsent, why).await
}

/// Why jobs are no longer sent: the dispatcher's abort reason, once known.
async fn stop_reason(
    rx: &mut Option<oneshot::Receiver<String>>,
    known: &mut Option<String>,
) -> String {
    if let Some(rx) = rx.take() {
        *known = Some(rx.await.unwrap_or_else(|_| "the run stopped".into()));
    }
    known.clone().unwrap_or_else(|| "the run stopped".into())
}

fn take(pending: &PendingMap, line: i64) -> InFlight {
    pending
        .lock()
        .ok()
        .and_then(|mut m| m.remove(&line))
        .unwrap_or_default()
}

/// The one way a job the run stopped before sending ends: recorded `not_attempted` with `why`,
/// its whole payload kept for `retry`. Both the feeder (jobs the dispatcher would no longer
/// take) and [`record_unsent`] (jobs it took but never pulled) come here.
async fn record_stopped(
    run: RunId,
    writer: &LedgerHandle,
    tally: &Tally,
    progress: &ProgressBar,
    unsent: Vec<Unsent>,
    why: &str,
) -> Result<(), String> {
    for (job, full) in unsent {
        let outcome = RowOutcome {
            operation: Some(job.op),
            error_code: Some("not_attempted".into()),
            error_detail: Some(why.to_owned()),
            payload: Some(full.unwrap_or(job.payload)),
            ..RowOutcome::new(job.line, Some(job.user.key), OutcomeKind::NotAttempted)
        };
        count(tally, progress, &outcome);
        writer
            .record_outcome(run, outcome)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Turns every dispatcher result into its row outcome (and snapshot change) in the ledger.
pub async fn record_results(
    run: RunId,
    mut results: mpsc::Receiver<JobResult>,
    writer: LedgerHandle,
    pending: PendingMap,
    hasher: PayloadHasher,
    tally: Arc<Tally>,
    progress: ProgressBar,
) -> Result<(), LedgerError> {
    let mut outcomes = Vec::with_capacity(OUTCOME_BATCH);
    while let Some(first) = results.recv().await {
        // Take what is already waiting, up to a batch: one message to the writer for all.
        let mut next = Some(first);
        while let Some(result) = next.take() {
            let in_flight = take(&pending, result.job.line);
            let outcome = to_outcome(result, in_flight, &hasher);
            count(&tally, &progress, &outcome);
            outcomes.push(outcome);
            if outcomes.len() < OUTCOME_BATCH {
                next = results.try_recv().ok();
            }
        }
        writer
            .record_outcomes(
                run,
                std::mem::replace(&mut outcomes, Vec::with_capacity(OUTCOME_BATCH)),
            )
            .await?;
    }
    Ok(())
}

/// The ledger row for one dispatcher result.
/// The per-field hashes are computed here, on the async workers, as each result comes in:
/// computing them on the planner's thread instead made requests leave faster and burstier, and
/// the adaptive rate search then ended below a 200/s limit (tests/it/adaptive.rs).
fn to_outcome(result: JobResult, in_flight: InFlight, hasher: &PayloadHasher) -> RowOutcome {
    let InFlight {
        full,
        hash,
        source_hash,
        notes: planned_notes,
    } = in_flight;
    let JobResult {
        job,
        op_sent,
        outcome,
        attempts,
        latency,
        last_status,
        notes,
    } = result;
    let base = RowOutcome {
        operation: Some(op_sent),
        http_status: last_status,
        attempts,
        latency_ms: Some(latency.as_millis() as u64),
        ..RowOutcome::new(job.line, Some(job.user.key.clone()), OutcomeKind::Synced)
    };
    let kept = || Some(full.clone().unwrap_or_else(|| job.payload.clone()));
    match outcome {
        FinalOutcome::Synced { remote_id } => {
            let snapshot = match (op_sent, hash) {
                (Operation::Deactivate, _) => Some(SnapshotChange::Deactivated),
                (_, Some(hash)) => Some(SnapshotChange::Upsert {
                    remote_id: remote_id.or(job.user.remote_id.clone()),
                    payload_hash: hash,
                    field_hashes: hasher.hash_fields(full.as_ref().unwrap_or(&job.payload)),
                    source_hash,
                }),
                (_, None) => None,
            };
            // What the planner foresaw holds only for a row that went through.
            let notes = planned_notes.into_iter().chain(notes).collect();
            RowOutcome {
                snapshot,
                notes,
                ..base
            }
        }
        FinalOutcome::Rejected {
            status,
            errors,
            detail,
        } => RowOutcome {
            outcome: OutcomeKind::Rejected,
            http_status: Some(status),
            error_code: Some(
                errors
                    .first()
                    .map(|e| e.code.clone())
                    .unwrap_or_else(|| format!("http_{status}")),
            ),
            error_detail: Some(detail),
            errors,
            payload: kept(),
            ..base
        },
        FinalOutcome::Failed {
            status,
            code,
            detail,
        } => RowOutcome {
            outcome: OutcomeKind::Failed,
            http_status: status.or(last_status),
            error_code: Some(code.to_string()),
            error_detail: Some(detail),
            payload: kept(),
            ..base
        },
        FinalOutcome::NotAttempted { reason } => RowOutcome {
            outcome: OutcomeKind::NotAttempted,
            error_code: Some("not_attempted".into()),
            error_detail: Some(reason),
            payload: kept(),
            ..base
        },
    }
}

/// Counts a row's final outcome, as the ledger's run counts count it.
fn count(tally: &Tally, progress: &ProgressBar, outcome: &RowOutcome) {
    let counter = match outcome.outcome {
        OutcomeKind::Synced => &tally.synced,
        OutcomeKind::Unchanged => &tally.unchanged,
        OutcomeKind::Rejected => &tally.rejected,
        _ => &tally.failed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let detail = match (outcome.outcome, outcome.operation) {
        (OutcomeKind::NotAttempted, _) => Some(&tally.not_attempted),
        (OutcomeKind::Synced, Some(Operation::Create)) => Some(&tally.created),
        (OutcomeKind::Synced, Some(Operation::Update | Operation::Patch)) => Some(&tally.updated),
        (OutcomeKind::Synced, Some(Operation::Deactivate)) => Some(&tally.deactivated),
        _ => None,
    };
    if let Some(counter) = detail {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    if !outcome.notes.is_empty() {
        // Every row's outcome comes here once, so every note is said once, however many
        // passes read its row.
        notes::log(outcome.line, outcome.user_key.as_deref(), &outcome.notes);
        tally.note(outcome.user_key.as_deref(), &outcome.notes);
    }
    tally.done.fetch_add(1, Ordering::Relaxed);
    progress.inc(1);
    if tally.done.load(Ordering::Relaxed).is_multiple_of(64) {
        progress.set_message(tally.message());
    }
}
