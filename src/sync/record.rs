//! The record stage: every row's outcome into the ledger. Outcomes decided before any request
//! (rejected, unchanged) and rows the run stopped before sending come from the send stage; the
//! dispatcher's results come here and become outcomes and snapshot changes. Every row is
//! counted once, as it is recorded, for the progress bar and the run's summary.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use indicatif::ProgressBar;
use tokio::sync::mpsc;

use super::diff::{not_attempted, Request, RowContext};
use super::Tally;
use crate::dispatch::{FinalOutcome, JobResult};
use crate::ledger::{
    LedgerError, LedgerHandle, OutcomeKind, PayloadHasher, RowOutcome, RunId, SnapshotChange,
};
use crate::notes;
use crate::provider::Operation;

/// Most results turned into outcomes and sent to the ledger writer as one message.
pub const OUTCOME_BATCH: usize = 64;

/// Where a run's outcomes go: the ledger writer, the run's tally and its progress bar.
#[derive(Clone)]
pub struct Recorder {
    pub run: RunId,
    pub writer: LedgerHandle,
    pub tally: Arc<Tally>,
    pub progress: ProgressBar,
}

impl Recorder {
    /// Counts and records a batch of outcomes.
    pub async fn outcomes(&self, outcomes: Vec<RowOutcome>) -> Result<(), LedgerError> {
        for outcome in &outcomes {
            self.count(outcome);
        }
        self.writer.record_outcomes(self.run, outcomes).await
    }

    /// The one way a request the run stopped before sending ends: recorded `not_attempted`
    /// with `why`, its whole payload kept for `retry`. Both the send stage (requests the
    /// dispatcher would no longer take) and the requests left in the dispatcher's queue come
    /// here.
    pub async fn not_sent(&self, requests: Vec<Request>, why: &str) -> Result<(), LedgerError> {
        let outcomes = requests
            .into_iter()
            .map(|request| not_attempted(request, "not_attempted", why))
            .collect();
        self.outcomes(outcomes).await
    }

    /// Counts a row's final outcome, as the ledger's run counts count it.
    fn count(&self, outcome: &RowOutcome) {
        let (tally, progress) = (&self.tally, &self.progress);
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
            (OutcomeKind::Synced, Some(Operation::Update | Operation::Patch)) => {
                Some(&tally.updated)
            }
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
}

/// Turns every dispatcher result into its row outcome (and snapshot change) in the ledger.
pub async fn results(
    recorder: Recorder,
    mut results: mpsc::Receiver<JobResult<RowContext>>,
    hasher: PayloadHasher,
) -> Result<(), LedgerError> {
    let mut outcomes = Vec::with_capacity(OUTCOME_BATCH);
    while let Some(first) = results.recv().await {
        // Take what is already waiting, up to a batch: one message to the writer for all.
        let mut next = Some(first);
        while let Some(result) = next.take() {
            outcomes.push(to_outcome(result, &hasher));
            if outcomes.len() < OUTCOME_BATCH {
                next = results.try_recv().ok();
            }
        }
        let batch = std::mem::replace(&mut outcomes, Vec::with_capacity(OUTCOME_BATCH));
        recorder.outcomes(batch).await?;
    }
    Ok(())
}

/// The ledger row for one dispatcher result.
/// The per-field hashes are computed here, on the async workers, as each result comes in:
/// computing them on the planner's thread instead made requests leave faster and burstier, and
/// the adaptive rate search then ended below a 200/s limit (tests/it/adaptive.rs).
fn to_outcome(result: JobResult<RowContext>, hasher: &PayloadHasher) -> RowOutcome {
    let JobResult {
        job,
        op_sent,
        outcome,
        attempts,
        latency,
        last_status,
        notes,
    } = result;
    let (job, context) = job.split();
    let RowContext {
        full,
        hash,
        source_hash,
        notes: planned_notes,
        ..
    } = context;
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
