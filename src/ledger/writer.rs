//! The ledger writer: one task owns the writing connection and commits intents and outcomes in
//! batched transactions, so that recording a million rows costs a few thousand commits.
//!
//! Callers hold a cloneable [`LedgerHandle`] and send over a bounded channel (a full channel
//! slows the senders: backpressure, flat memory). A batch is committed when it holds
//! `batch_rows` rows, when `batch_delay` has passed since its first message, or at once when
//! someone is waiting for it (intents and `flush`) and nothing else is queued. SQLite work runs
//! on tokio's blocking pool, never on an async worker. When every handle is dropped the writer
//! commits whatever is still queued and ends; its `JoinHandle` then says how it went.
//! A failed commit is fatal: waiters get the error, the writer stops, later sends fail.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::LedgerError;
use super::outcomes::{Intent, RowOutcome};
use super::record::{WriteBatch, WriteState};
use super::runs::RunId;
use super::Ledger;

/// Tuning of the writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Commit once a batch holds this many rows.
    pub batch_rows: usize,
    /// Commit at the latest this long after a batch's first message.
    pub batch_delay: Duration,
    /// Messages queued before senders wait.
    pub channel_capacity: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_rows: 500,
            batch_delay: Duration::from_millis(50),
            channel_capacity: 1024,
        }
    }
}

/// What the writer did, returned when it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub intents: u64,
    pub outcomes: u64,
    pub transactions: u64,
}

type Ack = oneshot::Sender<Result<(), LedgerError>>;

#[derive(Debug)]
enum Message {
    Write {
        record: WriteBatch,
        ack: Option<Ack>,
    },
    Flush(Ack),
}

/// Spawns the writer task.
#[derive(Debug)]
pub struct LedgerWriter;

impl LedgerWriter {
    /// Opens the ledger at `path` for writing and spawns the writer on the current tokio
    /// runtime. Fails at once if the ledger cannot be opened or there is no runtime.
    #[allow(clippy::type_complexity)]
    pub fn spawn(
        path: impl AsRef<Path>,
        config: WriterConfig,
    ) -> Result<(LedgerHandle, JoinHandle<Result<WriterStats, LedgerError>>), LedgerError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| LedgerError::WriterStopped {
                path: path.as_ref().to_path_buf(),
                reason: "it must be spawned inside a tokio runtime".into(),
            })?;
        let ledger = Ledger::open(path)?;
        ledger.tune_for_writing()?;
        let path = ledger.path().to_path_buf();
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let join = runtime.spawn(run(ledger, rx, config));
        Ok((LedgerHandle { tx, path }, join))
    }
}

/// A cloneable way to send rows to the writer.
#[derive(Debug, Clone)]
pub struct LedgerHandle {
    tx: mpsc::Sender<Message>,
    path: PathBuf,
}

impl LedgerHandle {
    /// Records intents (rows `in_flight`, with their payloads) and returns once they are
    /// committed: only then may their requests leave.
    pub async fn record_intents(
        &self,
        run: RunId,
        intents: Vec<Intent>,
    ) -> Result<(), LedgerError> {
        if intents.is_empty() {
            return Ok(());
        }
        let (ack, done) = oneshot::channel();
        let record = WriteBatch::Intents { run, intents };
        self.send(Message::Write {
            record,
            ack: Some(ack),
        })
        .await?;
        self.wait(done).await
    }

    /// Queues a row's outcome (and its snapshot change, in the same transaction). Returns once
    /// queued; [`LedgerHandle::flush`] waits for the commit.
    pub async fn record_outcome(&self, run: RunId, outcome: RowOutcome) -> Result<(), LedgerError> {
        self.record_outcomes(run, vec![outcome]).await
    }

    /// Queues several outcomes as one message (cheaper for rows decided without a request,
    /// such as a batch of unchanged or rejected rows).
    pub async fn record_outcomes(
        &self,
        run: RunId,
        outcomes: Vec<RowOutcome>,
    ) -> Result<(), LedgerError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let record = WriteBatch::Outcomes { run, outcomes };
        self.send(Message::Write { record, ack: None }).await
    }

    /// Returns once everything sent before it is committed.
    pub async fn flush(&self) -> Result<(), LedgerError> {
        let (ack, done) = oneshot::channel();
        self.send(Message::Flush(ack)).await?;
        self.wait(done).await
    }

    async fn send(&self, message: Message) -> Result<(), LedgerError> {
        self.tx
            .send(message)
            .await
            .map_err(|_| self.stopped("it is no longer running (see its earlier error)"))
    }

    async fn wait(
        &self,
        done: oneshot::Receiver<Result<(), LedgerError>>,
    ) -> Result<(), LedgerError> {
        match done.await {
            Ok(result) => result,
            Err(_) => Err(self.stopped("it ended before committing")),
        }
    }

    fn stopped(&self, reason: &str) -> LedgerError {
        LedgerError::WriterStopped {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }
}

/// A batch being gathered.
#[derive(Default)]
struct Batch {
    records: Vec<WriteBatch>,
    acks: Vec<Ack>,
    rows: usize,
}

impl Batch {
    fn push(&mut self, message: Message) {
        match message {
            Message::Write { record, ack } => {
                self.rows += record.rows();
                self.records.push(record);
                self.acks.extend(ack);
            }
            Message::Flush(ack) => self.acks.push(ack),
        }
    }
}

async fn run(
    ledger: Ledger,
    mut rx: mpsc::Receiver<Message>,
    config: WriterConfig,
) -> Result<WriterStats, LedgerError> {
    let path = ledger.path().to_path_buf();
    let mut ledger = Some(ledger);
    let mut state = Some(WriteState::default());
    let mut stats = WriterStats::default();
    let mut open = true;
    while open {
        let Some(first) = rx.recv().await else { break };
        let mut batch = Batch::default();
        batch.push(first);
        let deadline = Instant::now() + config.batch_delay;
        loop {
            // Take everything already queued, up to a full batch.
            while batch.rows < config.batch_rows {
                match rx.try_recv() {
                    Ok(message) => batch.push(message),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            if !open || batch.rows >= config.batch_rows || !batch.acks.is_empty() {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(message)) => batch.push(message),
                Ok(None) => open = false,
                Err(_elapsed) => break,
            }
        }

        for record in &batch.records {
            match record {
                WriteBatch::Intents { intents, .. } => stats.intents += intents.len() as u64,
                WriteBatch::Outcomes { outcomes, .. } => stats.outcomes += outcomes.len() as u64,
            }
        }
        let (Some(mut writing), Some(mut st)) = (ledger.take(), state.take()) else {
            break;
        };
        let records = std::mem::take(&mut batch.records);
        let wrote = !records.is_empty();
        let joined = tokio::task::spawn_blocking(move || {
            let result = if records.is_empty() {
                Ok(())
            } else {
                writing.write_batch(&mut st, records.iter())
            };
            (writing, st, result)
        })
        .await;
        let result = match joined {
            Ok((writing, st, result)) => {
                ledger = Some(writing);
                state = Some(st);
                result
            }
            Err(e) => Err(LedgerError::WriterStopped {
                path: path.clone(),
                reason: format!("the commit task failed: {e}"),
            }),
        };
        stats.transactions += u64::from(wrote);
        match result {
            Ok(()) => {
                for ack in batch.acks {
                    let _ = ack.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(ledger = %path.display(), error = %e, "ledger commit failed");
                for ack in batch.acks {
                    let _ = ack.send(Err(LedgerError::WriterStopped {
                        path: path.clone(),
                        reason: format!("a commit failed: {e}"),
                    }));
                }
                return Err(e);
            }
        }
    }
    tracing::debug!(
        ledger = %path.display(),
        intents = stats.intents,
        outcomes = stats.outcomes,
        transactions = stats.transactions,
        "ledger writer finished"
    );
    Ok(stats)
}
