//! Whatever breaks inside a run fails it closed.
//!
//! A run is several threads and tasks (the reader, the planner, the send stage, the result
//! recorder, the dispatcher, the ledger writer). When one of them panics or fails, the rest must
//! not carry on as if it had finished its part: a reader that dies is not the end of the export,
//! a planner that dies did not plan everything. The first breakage is kept in the run's
//! [`Breakdown`]; from then on no job is handed to the dispatcher ([`gate`]), every row not sent
//! is recorded `not_attempted` saying the run failed internally, the rows a request of which
//! may have left are settled `failed` ([`settle_in_flight`]), and the run ends `aborted`, exit 1,
//! with an error saying what broke.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::Poll;

use futures::{FutureExt as _, Stream, StreamExt as _};
use tokio_stream::wrappers::ReceiverStream;

use crate::dispatch::Job;
use crate::ledger::{
    Ledger, LedgerError, LedgerWriter, OutcomeKind, RowOutcome, RunCounts, RunId, WriterConfig,
};

/// The first internal failure of a run, shared by its tasks. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Breakdown(Arc<OnceLock<String>>);

impl Breakdown {
    /// Says what broke (e.g. "the export reader thread panicked: ..."). Only the first breakage
    /// counts: what follows from it is no news.
    pub fn report(&self, what: impl Into<String>) {
        let what = what.into();
        if self.0.set(what.clone()).is_err() {
            tracing::debug!("after the run broke: {what}");
        }
    }

    /// What broke, if anything did.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    /// Why a row was not sent, once the run broke.
    pub fn why_not_sent(&self) -> Option<String> {
        self.get().map(not_sent_because)
    }
}

/// Why a row was not sent when `what` broke.
pub fn not_sent_because(what: &str) -> String {
    format!("not sent: usersync failed internally ({what})")
}

/// The message of a panic's payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Runs `task`, reporting its panic to `breakdown` as `what` panicked. The breakage is reported
/// before anything the task held (such as its end of a channel) is dropped, so that whoever sees
/// the channel close already knows why. `None` when it panicked.
pub async fn guarded<F: Future>(breakdown: Breakdown, what: &str, task: F) -> Option<F::Output> {
    let mut caught = pin!(AssertUnwindSafe(task).catch_unwind());
    let result = caught.as_mut().await;
    match result {
        Ok(output) => Some(output),
        Err(panic) => {
            breakdown.report(format!(
                "{what} panicked: {}",
                panic_message(panic.as_ref())
            ));
            None
        }
    }
}

/// The dispatcher's jobs, ending as soon as the run broke: the jobs still queued are then left
/// for the caller to record (`send::record_unsent`).
pub fn gate<'a, M: Send + 'a>(
    jobs: &'a mut ReceiverStream<Job<M>>,
    breakdown: &'a Breakdown,
) -> impl Stream<Item = Job<M>> + 'a {
    futures::stream::poll_fn(move |cx| {
        if breakdown.get().is_some() {
            return Poll::Ready(None);
        }
        jobs.poll_next_unpin(cx)
    })
}

/// Gives an outcome to every row of `run` still `in_flight` once a broken run's tasks have
/// ended: their requests were handed on, and may have reached the provider before the run
/// broke, so they are `failed` (the ledger keeps their payloads; `retry` re-sends them). Writes
/// through a writer of its own, the run's may be what broke. Returns how many it settled.
pub async fn settle_in_flight(
    ledger_path: &Path,
    run: RunId,
    breakdown: &Breakdown,
) -> Result<u64, LedgerError> {
    let what = breakdown.get().unwrap_or("the run broke");
    let detail = format!(
        "usersync failed internally while this request was in flight ({what}): it may have \
         reached the provider"
    );
    let mut unsettled = Vec::new();
    Ledger::open(ledger_path)?.each_outcome(run, |o| {
        if o.outcome == OutcomeKind::InFlight {
            unsettled.push(RowOutcome {
                operation: o.operation,
                error_code: Some("internal".into()),
                error_detail: Some(detail.clone()),
                payload: o.payload,
                ..RowOutcome::new(o.line, o.user_key, OutcomeKind::Failed)
            });
        }
        Ok::<_, LedgerError>(())
    })?;
    let settled = unsettled.len() as u64;
    if settled == 0 {
        return Ok(0);
    }
    let (writer, task) = LedgerWriter::spawn(ledger_path, WriterConfig::default())?;
    writer.record_outcomes(run, unsettled).await?;
    writer.flush().await?;
    drop(writer);
    match task.await {
        Ok(written) => written.map(|_| settled),
        Err(e) => Err(LedgerError::WriterStopped {
            path: ledger_path.to_path_buf(),
            reason: format!("it failed: {e}"),
        }),
    }
}

/// What a task's `JoinError` says: its panic's message, or why it did not finish.
pub(super) fn task_failed(what: &str, e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(panic) => format!("{what} panicked: {}", panic_message(panic.as_ref())),
        Err(e) => format!("{what} did not finish: {e}"),
    }
}

/// Gives the rows left in flight by a broken run their outcome, and returns the run's counts as
/// the ledger holds them (the tasks' tallies may be ahead of what was committed).
pub(super) async fn settle_broken_run(
    ledger: &Ledger,
    ledger_path: &Path,
    run: RunId,
    breakdown: &Breakdown,
) -> Option<RunCounts> {
    match settle_in_flight(ledger_path, run, breakdown).await {
        Ok(0) => {}
        Ok(rows) => tracing::warn!(
            run = run.0,
            rows,
            "rows in flight when the run broke recorded failed: they may have reached the provider"
        ),
        Err(e) => {
            tracing::error!(run = run.0, error = %e, "could not record the rows in flight when the run broke");
        }
    }
    ledger.counts(run).ok()
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;
    use crate::ledger::{Intent, NewRun};
    use crate::payload::Payload;
    use crate::provider::{Operation, UserRef};

    #[test]
    fn the_first_breakage_is_the_one_said() {
        let breakdown = Breakdown::default();
        assert_eq!(breakdown.why_not_sent(), None);
        breakdown.clone().report("the planner panicked: boom");
        breakdown.report("the ledger writer stopped");
        assert_eq!(breakdown.get(), Some("the planner panicked: boom"));
        assert_eq!(
            breakdown.why_not_sent().unwrap(),
            "not sent: usersync failed internally (the planner panicked: boom)"
        );
    }

    #[tokio::test]
    async fn a_task_that_panics_is_reported_with_its_message() {
        let breakdown = Breakdown::default();
        let task = async {
            let line = 7;
            if line == 7 {
                panic!("row {line} broke");
            }
        };
        assert_eq!(guarded(breakdown.clone(), "the feeder", task).await, None);
        assert_eq!(breakdown.get(), Some("the feeder panicked: row 7 broke"));
        assert_eq!(guarded(breakdown, "the feeder", async { 3 }).await, Some(3));
    }

    fn job(line: i64) -> Job {
        Job {
            line,
            op: Operation::Create,
            user: UserRef {
                key: format!("u{line}"),
                remote_id: None,
            },
            payload: Payload::new(),
            reactivate: false,
            meta: (),
        }
    }

    #[tokio::test]
    async fn no_job_passes_the_gate_once_the_run_broke() {
        let (tx, rx) = mpsc::channel(4);
        for line in 1..=3 {
            tx.send(job(line)).await.unwrap();
        }
        let breakdown = Breakdown::default();
        let mut jobs = ReceiverStream::new(rx);
        {
            let mut gated = pin!(gate(&mut jobs, &breakdown));
            assert_eq!(gated.next().await.map(|j| j.line), Some(1));
            breakdown.report("the result recorder panicked");
            assert!(gated.next().await.is_none());
        }
        // The jobs it held back are still queued, for the caller to record.
        drop(tx);
        let left: Vec<i64> = jobs.map(|j| j.line).collect().await;
        assert_eq!(left, [2, 3]);
    }

    #[tokio::test]
    async fn rows_left_in_flight_are_settled_failed_with_their_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let ledger = Ledger::open(&path).unwrap();
        let run = ledger
            .begin_run(&NewRun {
                target: "t".into(),
                provider: "meetinglawyers".into(),
                command: "sync".into(),
                parent_run_id: None,
                input_path: None,
                input_sha256: None,
                command_line: None,
                note: None,
                endpoint: None,
            })
            .unwrap();
        let (writer, task) = LedgerWriter::spawn(&path, WriterConfig::default()).unwrap();
        let mut payload = Payload::new();
        payload.insert("id", "u2".into());
        let intents = [2, 3]
            .map(|line| Intent::new(line, format!("u{line}"), Operation::Create, &payload).unwrap())
            .into();
        writer.record_intents(run, intents).await.unwrap();
        let synced = RowOutcome::new(3, Some("u3".into()), OutcomeKind::Synced);
        writer.record_outcome(run, synced).await.unwrap();
        writer.flush().await.unwrap();
        drop(writer);
        task.await.unwrap().unwrap();

        let breakdown = Breakdown::default();
        breakdown.report("the dispatcher panicked: boom");
        assert_eq!(settle_in_flight(&path, run, &breakdown).await.unwrap(), 1);
        let outcomes = ledger.outcomes(run).unwrap();
        let kinds: Vec<_> = outcomes.iter().map(|o| (o.line, o.outcome)).collect();
        assert_eq!(kinds, [(2, OutcomeKind::Failed), (3, OutcomeKind::Synced)]);
        let settled = &outcomes[0];
        assert_eq!(settled.error_code.as_deref(), Some("internal"));
        assert!(settled
            .error_detail
            .as_deref()
            .unwrap()
            .contains("(the dispatcher panicked: boom): it may have reached the provider"));
        assert_eq!(settled.payload.as_ref(), Some(&payload));
        assert_eq!(settled.operation, Some(Operation::Create));
    }
}
