//! Writes sent together in bulk requests, for a target that takes them (SCIM's `/Bulk`).
//!
//! Each job still lives its own life (`job.rs`): it waits its turn under the rate limit, sends
//! its request, and reads its own answer with its provider's rules, retrying or looking the
//! user up as it would alone. Only the sending is shared: a job's write joins the batch being
//! filled, and the job that fills it (or, when nothing more comes within [`LINGER`], the first
//! to give up waiting) sends the batch and hands every other job its operation's answer. So
//! no task is spawned and nothing waits on a timer thread.
//!
//! With bulk, `concurrency` bounds HTTP requests in flight (bulk requests and the lookups sent
//! on their own), and up to `concurrency` batches of jobs are worked on at once. A target that
//! refuses a bulk request as a whole (anything but a passing problem or refused credentials)
//! gets every write on its own from then on, with one warning.
//!
//! `rate_limit` and `max_requests` count writes, not bulk requests: a provider that limits user
//! changes is not outrun by putting them in one request, which is the safe reading. So a target
//! with a rate limit gets batches only of the writes that come within [`LINGER`] of each other
//! (at 50 writes/s, about one); bulk pays off on targets without one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{oneshot, Semaphore};

use super::attempt::{self, Answer, AnswerKind, Prepared};
use super::control::Destination;
use super::FailureCode;
use crate::provider::{Bulk, BulkOp, Operation, Outcome};

/// How long a write waits for others to fill its batch before the batch leaves as it is.
const LINGER: Duration = Duration::from_millis(20);

/// The batching of one run's writes.
pub(super) struct Batcher {
    bulk: Bulk,
    queue: Mutex<Queue>,
    /// HTTP requests in flight.
    in_flight: Semaphore,
    /// The target refused a bulk request as a whole: writes go alone.
    refused: AtomicBool,
}

/// The batch being filled.
#[derive(Default)]
struct Queue {
    items: Vec<Queued>,
    bytes: usize,
    /// Counts the batches taken, so a waiting write knows whether its own has left.
    taken: u64,
}

/// One write waiting in a batch.
struct Queued {
    op: Operation,
    prepared: Prepared,
    reply: oneshot::Sender<Answer>,
}

impl Batcher {
    pub(super) fn new(bulk: Bulk, concurrency: usize) -> Batcher {
        Batcher {
            bulk,
            queue: Mutex::new(Queue::default()),
            in_flight: Semaphore::new(concurrency.max(1)),
            refused: AtomicBool::new(false),
        }
    }

    /// How many jobs may be worked on at once: a batch for each request in flight.
    pub(super) fn jobs_for(&self, concurrency: usize) -> usize {
        concurrency.saturating_mul(self.bulk.max_operations)
    }

    /// Sends `prepared` (the request of `op`) in the next bulk request, or alone when it is
    /// not a write or does not fit one; its answer as if it had gone alone.
    pub(super) async fn send(
        &self,
        target: &Destination,
        op: Operation,
        prepared: &Prepared,
    ) -> Answer {
        let size = prepared.path.len()
            + prepared.body.as_ref().map_or(0, Bytes::len)
            + self.bulk.api.overhead();
        let write = matches!(
            prepared.method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH | http::Method::DELETE
        );
        if !write || self.refused.load(Ordering::Relaxed) || size + ENVELOPE > self.bulk.max_payload
        {
            return self.alone(target, op, prepared).await;
        }
        let (reply, mut answer) = oneshot::channel();
        let item = Queued {
            op,
            prepared: prepared.clone(),
            reply,
        };
        let (before, full, mine) = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let before = (queue.bytes + size + ENVELOPE > self.bulk.max_payload)
                .then(|| take(&mut queue))
                .flatten();
            queue.items.push(item);
            queue.bytes += size;
            let mine = queue.taken;
            let full = (queue.items.len() >= self.bulk.max_operations)
                .then(|| take(&mut queue))
                .flatten();
            (before, full, mine)
        };
        for batch in [before, full].into_iter().flatten() {
            self.flush(target, batch).await;
        }
        loop {
            tokio::select! {
                answer = &mut answer => {
                    return answer.unwrap_or_else(|_| lost("the bulk request carrying it was abandoned"));
                }
                _ = tokio::time::sleep(LINGER) => {
                    let batch = {
                        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                        if queue.taken == mine { take(&mut queue) } else { None }
                    };
                    if let Some(batch) = batch {
                        self.flush(target, batch).await;
                    }
                }
            }
        }
    }

    /// Sends one request on its own, within the bound on requests in flight.
    async fn alone(&self, target: &Destination, op: Operation, prepared: &Prepared) -> Answer {
        let _permit = self.in_flight.acquire().await;
        attempt::send(target, op, prepared).await
    }

    /// Sends `batch` as one bulk request and answers each of its writes.
    async fn flush(&self, target: &Destination, batch: Vec<Queued>) {
        let permit = self.in_flight.acquire().await;
        let ops: Vec<BulkOp<'_>> = batch
            .iter()
            .map(|q| BulkOp {
                method: &q.prepared.method,
                path: &q.prepared.path,
                body: q.prepared.body.as_deref(),
                if_match: q.prepared.if_match.as_ref().and_then(|v| v.to_str().ok()),
            })
            .collect();
        let (path, body) = self.bulk.api.request(&ops);
        drop(ops);
        tracing::debug!(operations = batch.len(), bytes = body.len(), "bulk request");
        let url = match target.base_url.join(&path) {
            Ok(url) => url,
            Err(e) => {
                let why = format!("the bulk request has an invalid path: {e}");
                return answer_all(batch, |_| lost(&why));
            }
        };
        let request = reqwest::Request::new(http::Method::POST, url);
        let exchanged = match attempt::exchange(target, request, Some(Bytes::from(body))).await {
            Ok(exchanged) => exchanged,
            Err(failed) => return answer_all(batch, |_| failed.clone()),
        };
        let raw = exchanged.raw;
        let (started, latency) = (exchanged.started, exchanged.latency);
        match raw.status {
            200 => {}
            // Passing problems and refused credentials are each write's, read as its own.
            401 | 403 | 408 | 429 | 500..=599 => {
                return answer_all(batch, |q| {
                    attempt::classify(target, q.op, &raw, started, latency)
                });
            }
            status => {
                tracing::warn!(
                    status,
                    "the target refused a bulk request as a whole: sending each write on its own"
                );
                self.refused.store(true, Ordering::Relaxed);
                drop(permit);
                return self.each_alone(target, batch).await;
            }
        }
        match self.bulk.api.answers(&raw, batch.len()) {
            Ok(answers) => {
                for (queued, answer) in batch.into_iter().zip(answers) {
                    let answer = match answer {
                        Some(own) => attempt::classify(target, queued.op, &own, started, latency),
                        None => lost("the bulk answer did not mention this write"),
                    };
                    let _ = queued.reply.send(answer);
                }
            }
            Err(why) => {
                let reason = format!("the bulk request's answer was not understood: {why}");
                answer_all(batch, |_| Answer {
                    kind: AnswerKind::Classified(Outcome::Retry {
                        status: Some(200),
                        after: None,
                        reason: reason.clone(),
                    }),
                    status: Some(200),
                    latency,
                    sent_at: started,
                    rate_limit: None,
                });
            }
        }
    }

    /// Sends each write of a batch the target refused as a whole on its own, together.
    async fn each_alone(&self, target: &Destination, batch: Vec<Queued>) {
        let sends = batch.into_iter().map(|q| async move {
            let _permit = self.in_flight.acquire().await;
            let answer = attempt::send(target, q.op, &q.prepared).await;
            let _ = q.reply.send(answer);
        });
        futures::future::join_all(sends).await;
    }
}

/// Room for a bulk request's envelope (`schemas`, `Operations`, brackets).
const ENVELOPE: usize = 128;

/// The batch being filled, taken to be sent; `None` when it is empty.
fn take(queue: &mut Queue) -> Option<Vec<Queued>> {
    if queue.items.is_empty() {
        return None;
    }
    queue.bytes = 0;
    queue.taken += 1;
    Some(std::mem::take(&mut queue.items))
}

/// Answers every write of `batch` with `answer`'s answer for it.
fn answer_all(batch: Vec<Queued>, answer: impl Fn(&Queued) -> Answer) {
    for queued in batch {
        let answer = answer(&queued);
        let _ = queued.reply.send(answer);
    }
}

/// A write whose answer never came: as a dropped connection, so a create is looked up before
/// it is sent again.
fn lost(reason: &str) -> Answer {
    Answer {
        kind: AnswerKind::Transport {
            code: FailureCode::Connection,
            reason: reason.to_owned(),
        },
        status: None,
        latency: Duration::ZERO,
        sent_at: Instant::now(),
        rate_limit: None,
    }
}
