//! The async half of the pipeline: planned rows become committed intents and then jobs for the
//! dispatcher; the dispatcher's results become row outcomes and snapshot changes in the ledger.
//!
//! The whole payload of a row (a patch sends only part of one) goes to the ledger with its
//! intent, and stays there until the row succeeds, so a failure keeps it for `retry` without
//! sending it again. Both halves share the hashes of the rows in flight (the whole payload's and
//! each field's), so that a success records what is now at the provider. That map holds at most
//! the rows in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use indicatif::ProgressBar;
use tokio::sync::{mpsc, oneshot};

use super::planner::{Pending, Planned};
use super::Tally;
use crate::dispatch::{FinalOutcome, Job, JobResult};
use crate::ledger::{
    Hash, Intent, LedgerError, LedgerHandle, OutcomeKind, RowOutcome, RunId, SnapshotChange,
};
use crate::payload::Payload;
use crate::provider::Operation;

/// What the snapshot records once a row in flight succeeds, by line.
pub type PendingMap = Arc<Mutex<HashMap<i64, Hashes>>>;

/// The hash of a row's whole payload and of each of its fields (None for deactivations).
#[derive(Debug, Default)]
pub struct Hashes {
    payload: Option<Hash>,
    fields: Option<BTreeMap<String, Hash>>,
}

/// Most results turned into outcomes and sent to the ledger writer as one message.
const OUTCOME_BATCH: usize = 64;

/// Most intents committed in one transaction before their requests leave.
const INTENT_BATCH: usize = 256;

/// The capacity of the dispatcher's job queue: room for two batches of intents, so that the
/// next batch's intents commit while the dispatcher still works through the last one (with a
/// queue smaller than a batch, the dispatcher starves during every intent commit).
pub fn queue_capacity(concurrency: usize) -> usize {
    (concurrency.max(1) * 2).max(2 * INTENT_BATCH)
}

/// Moves planned rows on: outcomes straight to the ledger, jobs through a committed intent to
/// the dispatcher. Once the dispatcher stops taking jobs (abort, interrupt), every further job
/// is recorded `not_attempted` with the reason. Returns Err(message) on a fatal input error.
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
) -> Result<(), String> {
    let mut jobs = Some(jobs);
    let mut abort_reason = Some(abort_reason);
    let mut reason: Option<String> = None;
    let mut fatal = None;
    let mut batch: Vec<Pending> = Vec::with_capacity(INTENT_BATCH);
    let mut done: Vec<RowOutcome> = Vec::with_capacity(OUTCOME_BATCH);
    while let Some(first) = planned.recv().await {
        let mut next = Some(first);
        // Take what is already waiting, up to a batch, without waiting for more.
        while let Some(item) = next.take() {
            match item {
                Planned::Done(outcome) => {
                    count(&tally, &progress, outcome.outcome);
                    done.push(*outcome);
                    if done.len() >= OUTCOME_BATCH {
                        record_done(run, &writer, &mut done).await?;
                    }
                }
                Planned::Send(p) => batch.push(*p),
                Planned::Fatal(message) => fatal = Some(message),
            }
            if batch.len() < INTENT_BATCH {
                next = planned.try_recv().ok();
            }
        }
        record_done(run, &writer, &mut done).await?;
        if batch.is_empty() {
            continue;
        }
        if let Some(tx) = &jobs {
            // The whole payload moves into the intent: from now on the ledger holds it.
            let intents = batch
                .iter_mut()
                .map(|p| Intent {
                    line: p.job.line,
                    user_key: p.job.user.key.clone(),
                    operation: p.job.op,
                    payload: p.full.take().unwrap_or_else(|| p.job.payload.clone()),
                })
                .collect();
            writer
                .record_intents(run, intents)
                .await
                .map_err(|e| e.to_string())?;
            let mut rest = batch.drain(..);
            for p in rest.by_ref() {
                let hashes = Hashes {
                    payload: p.hash,
                    fields: p.field_hashes,
                };
                pending
                    .lock()
                    .map_err(|_| "poisoned")?
                    .insert(p.job.line, hashes);
                if let Err(refused) = tx.send(p.job).await {
                    // The dispatcher has stopped: this job and all later ones are not sent.
                    let job = refused.0;
                    take(&pending, job.line);
                    let why = stop_reason(&mut abort_reason, &mut reason).await;
                    not_attempted(run, &writer, &tally, &progress, job, None, &why).await?;
                    jobs = None;
                    break;
                }
            }
            let leftover: Vec<Pending> = rest.collect();
            for p in leftover {
                let why = stop_reason(&mut abort_reason, &mut reason).await;
                not_attempted(run, &writer, &tally, &progress, p.job, None, &why).await?;
            }
        } else {
            // No intent was recorded for these: their outcome carries the whole payload.
            for p in batch.drain(..) {
                let why = stop_reason(&mut abort_reason, &mut reason).await;
                let payload = p.full.unwrap_or_else(|| p.job.payload.clone());
                not_attempted(run, &writer, &tally, &progress, p.job, Some(payload), &why).await?;
            }
        }
        if fatal.is_some() {
            break;
        }
    }
    match fatal {
        Some(message) => Err(message),
        None => Ok(()),
    }
}

/// Sends the outcomes decided without a request (rejected, unchanged) to the writer.
async fn record_done(
    run: RunId,
    writer: &LedgerHandle,
    done: &mut Vec<RowOutcome>,
) -> Result<(), String> {
    writer
        .record_outcomes(run, std::mem::take(done))
        .await
        .map_err(|_| "the ledger writer stopped".to_string())
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

fn take(pending: &PendingMap, line: i64) -> Hashes {
    pending
        .lock()
        .ok()
        .and_then(|mut m| m.remove(&line))
        .unwrap_or_default()
}

/// Records a job `not_attempted`. `payload` is None when the row's intent (which holds the
/// whole payload, and keeps it) was committed.
async fn not_attempted(
    run: RunId,
    writer: &LedgerHandle,
    tally: &Tally,
    progress: &ProgressBar,
    job: Job,
    payload: Option<Payload>,
    why: &str,
) -> Result<(), String> {
    count(tally, progress, OutcomeKind::NotAttempted);
    let outcome = RowOutcome {
        operation: Some(job.op),
        error_code: Some("not_attempted".into()),
        error_detail: Some(why.to_owned()),
        payload,
        ..RowOutcome::new(job.line, Some(job.user.key), OutcomeKind::NotAttempted)
    };
    writer
        .record_outcome(run, outcome)
        .await
        .map_err(|e| e.to_string())
}

/// Records `not_attempted` every job left in the dispatcher's queue when it stopped (its
/// intent was committed, so without this the row would stay `in_flight`). Call after closing
/// `queue`, so that the feeder records its later jobs itself.
pub async fn record_unsent(
    run: RunId,
    mut queue: mpsc::Receiver<Job>,
    writer: &LedgerHandle,
    pending: &PendingMap,
    tally: &Tally,
    progress: &ProgressBar,
    why: &str,
) -> Result<(), String> {
    while let Some(job) = queue.recv().await {
        take(pending, job.line);
        not_attempted(run, writer, tally, progress, job, None, why).await?;
    }
    Ok(())
}

/// Turns every dispatcher result into its row outcome (and snapshot change) in the ledger.
pub async fn record_results(
    run: RunId,
    mut results: mpsc::Receiver<JobResult>,
    writer: LedgerHandle,
    pending: PendingMap,
    tally: Arc<Tally>,
    progress: ProgressBar,
) -> Result<(), LedgerError> {
    let mut outcomes = Vec::with_capacity(OUTCOME_BATCH);
    while let Some(first) = results.recv().await {
        // Take what is already waiting, up to a batch: one message to the writer for all.
        let mut next = Some(first);
        while let Some(result) = next.take() {
            let hashes = take(&pending, result.job.line);
            let outcome = to_outcome(result, hashes);
            count(&tally, &progress, outcome.outcome);
            outcomes.push(outcome);
            if outcomes.len() < OUTCOME_BATCH {
                next = results.try_recv().ok();
            }
        }
        writer
            .record_outcomes(run, std::mem::take(&mut outcomes))
            .await?;
    }
    Ok(())
}

/// The ledger row for one dispatcher result. A row that did not succeed keeps the payload its
/// intent recorded (the outcome carries none).
fn to_outcome(result: JobResult, hashes: Hashes) -> RowOutcome {
    let JobResult {
        job,
        op_sent,
        outcome,
        attempts,
        latency,
        last_status,
    } = result;
    let base = RowOutcome {
        operation: Some(op_sent),
        http_status: last_status,
        attempts,
        latency_ms: Some(latency.as_millis() as u64),
        ..RowOutcome::new(job.line, Some(job.user.key.clone()), OutcomeKind::Synced)
    };
    match outcome {
        FinalOutcome::Synced { remote_id } => {
            let snapshot = match (op_sent, hashes.payload, hashes.fields) {
                (Operation::Deactivate, _, _) => Some(SnapshotChange::Deactivated),
                (_, Some(hash), Some(fields)) => Some(SnapshotChange::Upsert {
                    remote_id: remote_id.or(job.user.remote_id.clone()),
                    payload_hash: hash,
                    field_hashes: fields,
                }),
                _ => None,
            };
            RowOutcome { snapshot, ..base }
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
            ..base
        },
        FinalOutcome::Failed {
            status,
            code,
            detail,
        } => RowOutcome {
            outcome: OutcomeKind::Failed,
            http_status: status.or(last_status),
            error_code: Some(code),
            error_detail: Some(detail),
            ..base
        },
        FinalOutcome::NotAttempted { reason } => RowOutcome {
            outcome: OutcomeKind::NotAttempted,
            error_code: Some("not_attempted".into()),
            error_detail: Some(reason),
            ..base
        },
    }
}

fn count(tally: &Tally, progress: &ProgressBar, outcome: OutcomeKind) {
    let counter = match outcome {
        OutcomeKind::Synced => &tally.synced,
        OutcomeKind::Unchanged => &tally.unchanged,
        OutcomeKind::Rejected => &tally.rejected,
        _ => &tally.failed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    tally.done.fetch_add(1, Ordering::Relaxed);
    progress.inc(1);
    if tally.done.load(Ordering::Relaxed).is_multiple_of(64) {
        progress.set_message(tally.message());
    }
}

impl Tally {
    /// The progress bar's message: the counts so far.
    pub fn message(&self) -> String {
        format!(
            "synced {} · unchanged {} · rejected {} · failed {}",
            self.synced.load(Ordering::Relaxed),
            self.unchanged.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        )
    }
}
