//! The send stage: the pass's items become committed intents and then requests for the
//! dispatcher; outcomes that need no request go straight to the record stage.
//!
//! Before a request leaves, its intent (the operation and the whole payload) is committed, in
//! batches, so that a run cut off mid-flight knows which rows may have reached the provider.
//! Each request carries its row's context through the dispatcher (see `diff::RowContext`), so a
//! result needs nothing kept beside it.

use tokio::sync::{mpsc, oneshot};

use super::breakdown::Breakdown;
use super::diff::{whole_payload, Request};
use super::guard::GuardRefusal;
use super::hold::PassItem;
use super::record::Recorder;
use crate::ledger::Intent;

/// Most intents committed in one transaction before their requests leave (public for the
/// `ledger_writes` bench, which writes as a sync does).
pub const INTENT_BATCH: usize = 256;

/// The capacity of the dispatcher's request queue: room for two batches of intents, so that
/// the next batch's intents commit while the dispatcher still works through the last one (with
/// a queue smaller than a batch, the dispatcher starves during every intent commit).
pub fn queue_capacity(concurrency: usize) -> usize {
    (concurrency.max(1) * 2).max(2 * INTENT_BATCH)
}

/// Why the send stage stopped before the pass's last item.
#[derive(Debug)]
pub enum FeedEnd {
    /// The rows could not be read further.
    Fatal(String),
    /// A broken-export guard refused the run; nothing was sent.
    Refused(GuardRefusal),
    /// The run broke inside (the pass, or the ledger writer): the run's [`Breakdown`] says what.
    Broken,
}

/// Moves the pass's items on: outcomes straight to the ledger, requests through a committed
/// intent to the dispatcher. Once the dispatcher stops taking requests (abort, interrupt), or
/// the run broke, every further request is recorded `not_attempted` with the reason.
pub async fn feed(
    recorder: Recorder,
    mut items: mpsc::Receiver<PassItem>,
    requests: mpsc::Sender<Request>,
    abort_reason: oneshot::Receiver<String>,
    breakdown: Breakdown,
) -> Result<(), FeedEnd> {
    let broke = |what: String| {
        breakdown.report(what);
        FeedEnd::Broken
    };
    let mut requests = Some(requests);
    let mut abort_reason = Some(abort_reason);
    let mut reason: Option<String> = None;
    let mut end = None;
    let mut batch: Vec<Request> = Vec::with_capacity(INTENT_BATCH);
    while let Some(first) = items.recv().await {
        let mut next = Some(first);
        // Take what is already waiting, up to a batch, without waiting for more.
        while let Some(item) = next.take() {
            match item {
                PassItem::Done(outcomes) => {
                    if let Err(e) = recorder.outcomes(outcomes).await {
                        return Err(broke(e.to_string()));
                    }
                }
                PassItem::Send(requests) => batch.extend(requests),
                PassItem::Fatal(message) => end = Some(FeedEnd::Fatal(message)),
                PassItem::Refused(refusal) => end = Some(FeedEnd::Refused(refusal)),
                PassItem::Broken(what) => end = Some(broke(what)),
            }
            if batch.len() < INTENT_BATCH {
                next = items.try_recv().ok();
            }
        }
        if breakdown.get().is_some() {
            // Nothing more is handed over; closing the queue wakes a dispatcher waiting on it.
            requests = None;
        }
        if batch.is_empty() {
            if end.is_some() {
                break;
            }
            continue;
        }
        let unsent = match &requests {
            Some(tx) => hand_over(&recorder, tx, &mut batch).await.map_err(broke)?,
            None => std::mem::take(&mut batch),
        };
        if !unsent.is_empty() {
            // The dispatcher has stopped: these requests and all later ones are not sent.
            requests = None;
            let why = match breakdown.why_not_sent() {
                Some(why) => why,
                None => stop_reason(&mut abort_reason, &mut reason).await,
            };
            recorder
                .not_sent(unsent, &why)
                .await
                .map_err(|e| broke(e.to_string()))?;
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

/// Commits the intents of `batch` and hands its requests to the dispatcher. Returns the
/// requests it no longer took (it stopped): the first one it refused and all after it; or what
/// broke.
async fn hand_over(
    recorder: &Recorder,
    tx: &mpsc::Sender<Request>,
    batch: &mut Vec<Request>,
) -> Result<Vec<Request>, String> {
    let intents = batch
        .iter_mut()
        .map(|request| {
            // The JSON the differ hashed; a leaver's payload has none made yet.
            let payload_json = match std::mem::take(&mut request.meta.json) {
                json if json.is_empty() => serde_json::to_string(whole_payload(request))?,
                json => json,
            };
            Ok(Intent {
                line: request.line,
                user_key: request.user.key.clone(),
                operation: request.op,
                payload_json,
            })
        })
        .collect::<serde_json::Result<_>>()
        .map_err(|e| format!("a payload could not be serialised: {e}"))?;
    recorder
        .writer
        .record_intents(recorder.run, intents)
        .await
        .map_err(|e| e.to_string())?;
    let mut unsent = Vec::new();
    for request in batch.drain(..) {
        if !unsent.is_empty() {
            unsent.push(request);
            continue;
        }
        if let Err(refused) = tx.send(request).await {
            unsent.push(refused.0);
        }
    }
    Ok(unsent)
}

/// Records `not_attempted` every request left in the dispatcher's queue when it stopped
/// (handed over by the send stage, never pulled by the dispatcher): their intents are
/// committed, so without this they would stay `in_flight` with no outcome. Call after closing
/// the queue.
pub async fn record_unsent(
    recorder: &Recorder,
    queue: &mut mpsc::Receiver<Request>,
    why: &str,
) -> Result<(), String> {
    let mut unsent = Vec::new();
    while let Some(request) = queue.recv().await {
        unsent.push(request);
    }
    recorder
        .not_sent(unsent, why)
        .await
        .map_err(|e| e.to_string())
}

/// Why requests are no longer sent: the dispatcher's abort reason, once known.
async fn stop_reason(
    rx: &mut Option<oneshot::Receiver<String>>,
    known: &mut Option<String>,
) -> String {
    if let Some(rx) = rx.take() {
        *known = Some(rx.await.unwrap_or_else(|_| "the run stopped".into()));
    }
    known.clone().unwrap_or_else(|| "the run stopped".into())
}
