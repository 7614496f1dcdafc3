//! What every job of a run shares: the target, the rate limiter, the stop phase, the
//! `Retry-After` pause and the counters.
//!
//! A job asks [`Control::wait_turn`] before every attempt; that is where the rate limit, a
//! provider's request to pause, the pace (rate-limit headers, adaptive rate), the request quota
//! and a stop are all enforced, so a stopped run sends nothing more. After every attempt it
//! tells [`Control::observe`] what came back, which feeds the pacer and the adaptive
//! controllers.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::DefaultDirectRateLimiter;
use tokio::sync::watch;

use super::adaptive::{Adaptive, AdaptiveReport, Observation};
use super::attempt::{self, Answer, AnswerKind, Prepared};
use super::bulk::Batcher;
use super::pacer::Pacer;
use super::{AbortReason, DispatchSettings, FailureCode};
use crate::ledger::Responses;
use crate::provider::{Bulk, Operation, Options, Outcome, Provider, Session};

/// The target a dispatcher sends to, and how.
pub(super) struct Destination {
    pub provider: &'static dyn Provider,
    pub session: Arc<dyn Session>,
    pub client: reqwest::Client,
    /// With a trailing slash, so joining a relative path keeps its path.
    pub base_url: url::Url,
    pub settings: DispatchSettings,
    /// The target's options, for the adapter's `build_request` and `classify`.
    pub options: Options,
    /// Fields sent only when a user is created (see `Provider::create_only`).
    pub create_only: Vec<String>,
    pub limiter: Option<DefaultDirectRateLimiter>,
    /// Writes go in bulk requests within these limits (see `bulk.rs`).
    pub bulk: Option<Bulk>,
}

/// How far a run is from stopping. Only goes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    Running,
    /// No new jobs, no new requests; in-flight requests may finish.
    Halted,
    /// In-flight requests are abandoned.
    Abandoned,
}

/// The shared state of one run.
pub(super) struct Control {
    pub target: Arc<Destination>,
    phase: watch::Sender<Phase>,
    reason: Mutex<Option<AbortReason>>,
    started: Instant,
    /// Milliseconds after `started` before which no request leaves (a `Retry-After`); 0 for none.
    pause_until_ms: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    /// Answers by status class, and attempts that got none (see [`Responses`]).
    responses: [AtomicU64; 5],
    pacer: Pacer,
    adaptive: Option<Adaptive>,
    /// Jobs waiting to retry (not in flight).
    backing_off: AtomicUsize,
    /// The batching of writes into bulk requests, for a target that takes them.
    batcher: Option<Batcher>,
}

/// Marks a job as waiting to retry while it lives.
pub(super) struct BackingOff<'a>(&'a Control);

impl Drop for BackingOff<'_> {
    fn drop(&mut self) {
        self.0.backing_off.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The counters of a run, for its report.
#[derive(Debug, Clone, Copy)]
pub(super) struct Counters {
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub responses: Responses,
}

impl Control {
    pub(super) fn new(target: Arc<Destination>) -> Control {
        let adaptive =
            target.settings.adaptive.as_ref().map(|start| {
                Adaptive::new(start, target.settings.concurrency, target.provider.name())
            });
        let batcher = target
            .bulk
            .clone()
            .map(|bulk| Batcher::new(bulk, target.settings.concurrency));
        Control {
            batcher,
            pacer: Pacer::default(),
            adaptive,
            backing_off: AtomicUsize::new(0),
            target,
            phase: watch::Sender::new(Phase::Running),
            reason: Mutex::new(None),
            started: Instant::now(),
            pause_until_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            responses: Default::default(),
        }
    }

    /// A watcher of the phase (one per job).
    pub(super) fn phase_rx(&self) -> watch::Receiver<Phase> {
        self.phase.subscribe()
    }

    /// Stops the run for `reason`: no new jobs, no new requests. The first reason is kept, except
    /// that a hard interrupt replaces a graceful stop, a deadline or a spent quota (the user
    /// insisted).
    pub(super) fn abort(&self, reason: AbortReason) {
        {
            let mut slot = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
            let replace = match &*slot {
                None => true,
                // A hard interrupt replaces a stop that was letting requests finish.
                Some(current) => {
                    reason == AbortReason::HardInterrupted
                        && matches!(
                            current,
                            AbortReason::Interrupted
                                | AbortReason::Deadline
                                | AbortReason::RequestQuota { .. }
                        )
                }
            };
            if replace {
                tracing::info!(provider = self.target.provider.name(), reason = %reason, "dispatch stopping");
                *slot = Some(reason);
            }
        }
        self.raise(Phase::Halted);
    }

    /// Abandons in-flight requests (after a hard stop or the drain timeout).
    pub(super) fn abandon(&self) {
        self.raise(Phase::Abandoned);
    }

    fn raise(&self, phase: Phase) {
        self.phase.send_if_modified(|current| {
            if phase > *current {
                *current = phase;
                true
            } else {
                false
            }
        });
    }

    /// Why the run stopped, if it did.
    pub(super) fn reason(&self) -> Option<AbortReason> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends a job's request for `op` once: alone, or in a bulk request with others.
    pub(super) async fn send(&self, op: Operation, prepared: &Prepared) -> Answer {
        match &self.batcher {
            Some(batcher) => batcher.send(&self.target, op, prepared).await,
            None => attempt::send(&self.target, op, prepared).await,
        }
    }

    /// Waits until a request may leave: after any `Retry-After` pause, within the rate limit and
    /// the request quota. Returns false, at once, when the run is stopping.
    pub(super) async fn wait_turn(&self, phase: &mut watch::Receiver<Phase>) -> bool {
        tokio::select! {
            biased;
            _ = reached(phase, Phase::Halted) => false,
            allowed = self.turn() => allowed,
        }
    }

    async fn turn(&self) -> bool {
        loop {
            self.wait_pause().await;
            let now = Instant::now();
            let rate = self.adaptive.as_ref().and_then(|a| a.rate(now));
            if let Some(at) = self.pacer.slot(now, rate) {
                if at > now {
                    tokio::time::sleep_until(at.into()).await;
                    // A provider may have asked for a pause meanwhile.
                    if self.paused_at(Instant::now()).is_some() {
                        continue;
                    }
                }
            }
            break;
        }
        if let Some(limiter) = &self.target.limiter {
            while let Err(not_until) = limiter.check() {
                tokio::time::sleep(not_until.wait_time_from(limiter.clock().now())).await;
            }
        }
        let allowed = self.take_request();
        if allowed {
            if let Some(adaptive) = &self.adaptive {
                adaptive.on_send(Instant::now());
            }
        }
        allowed
    }

    /// Waits out any pause a provider asked for.
    async fn wait_pause(&self) {
        while let Some(until) = self.paused_at(Instant::now()) {
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// The end of the pause in force at `now`, if any.
    fn paused_at(&self, now: Instant) -> Option<Instant> {
        let until = self.pause_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return None;
        }
        let at = self.started + Duration::from_millis(until);
        (at > now).then_some(at)
    }

    /// Whether a run with `working` jobs may take another. A static run keeps each job's place
    /// while it waits to retry; an adaptive one counts only the jobs not waiting (its limit is
    /// on requests in flight: a job backing off must not hold back the others), never more
    /// jobs than the configured concurrency.
    pub(super) fn has_room(&self, working: usize) -> bool {
        let concurrency = self.target.settings.concurrency;
        let ceiling = match &self.batcher {
            Some(batcher) => batcher.jobs_for(concurrency),
            None => concurrency,
        };
        match &self.adaptive {
            Some(adaptive) => {
                let waiting = self.backing_off.load(Ordering::Relaxed);
                working.saturating_sub(waiting) < adaptive.limit() && working < ceiling
            }
            None => working < ceiling,
        }
    }

    /// Marks the calling job as waiting to retry until the returned guard is dropped; an
    /// adaptive run may take another job meanwhile.
    pub(super) fn backing_off(&self) -> BackingOff<'_> {
        self.backing_off.fetch_add(1, Ordering::Relaxed);
        if let Some(adaptive) = &self.adaptive {
            adaptive.wake();
        }
        BackingOff(self)
    }

    /// Resolves when the adaptive limit went up; never for a static run.
    pub(super) async fn concurrency_raised(&self) {
        match &self.adaptive {
            Some(adaptive) => adaptive.raised().await,
            None => std::future::pending().await,
        }
    }

    /// Takes in what an attempt's answer tells about the provider's limits: rate-limit headers
    /// (pace, or pause when the window is spent), and for an adaptive run its round trip and
    /// any push-back.
    pub(super) fn observe(&self, answer: &Answer) {
        let class = match answer.status {
            Some(200..=299) => 0,
            Some(300..=399) => 1,
            Some(400..=499) => 2,
            Some(500..=599) => 3,
            _ => 4,
        };
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if let Some(info) = &answer.rate_limit {
            if let Some(pause) = self.pacer.observe(info, now) {
                tracing::debug!(
                    pause_ms = pause.as_millis() as u64,
                    "the provider's rate-limit window is spent: pausing until it resets"
                );
                self.pause_for(pause);
            }
        }
        let Some(adaptive) = &self.adaptive else {
            return;
        };
        let (throttled, overloaded, pause) = match &answer.kind {
            AnswerKind::Classified(Outcome::Retry { status, after, .. }) => (
                *status == Some(429) || after.is_some(),
                *status == Some(503),
                after.map(|a| a.min(self.target.settings.retry_after_max)),
            ),
            AnswerKind::Transport { code, .. } => (false, *code == FailureCode::Timeout, None),
            _ => (answer.status == Some(429), answer.status == Some(503), None),
        };
        adaptive.on_answer(
            now,
            Observation {
                sent_at: answer.sent_at,
                rtt: answer.status.map(|_| answer.latency),
                throttled,
                overloaded,
                pause,
            },
        );
    }

    /// What the adaptive controllers settled on, for an adaptive run.
    pub(super) fn adaptive_report(&self) -> Option<AdaptiveReport> {
        self.adaptive
            .as_ref()
            .map(|a| a.report(self.pacer.announced()))
    }

    /// Counts one request against the quota; false (and the run stops) when it is spent.
    fn take_request(&self) -> bool {
        let sent = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        match self.target.settings.max_requests {
            Some(max) if sent > max => {
                self.requests.fetch_sub(1, Ordering::Relaxed);
                self.abort(AbortReason::RequestQuota { max });
                false
            }
            _ => true,
        }
    }

    /// No request leaves for `after` (a provider's `Retry-After` applies to the whole client).
    pub(super) fn pause_for(&self, after: Duration) {
        let after = after.min(self.target.settings.retry_after_max);
        let at = self.started.elapsed() + after;
        let at_ms = u64::try_from(at.as_millis()).unwrap_or(u64::MAX).max(1);
        self.pause_until_ms.fetch_max(at_ms, Ordering::Relaxed);
    }

    pub(super) fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn counters(&self) -> Counters {
        Counters {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            responses: {
                let count = |i: usize| self.responses[i].load(Ordering::Relaxed);
                Responses {
                    status_2xx: count(0),
                    status_3xx: count(1),
                    status_4xx: count(2),
                    status_5xx: count(3),
                    no_answer: count(4),
                }
            },
        }
    }
}

/// Resolves once the phase is at least `phase`.
pub(super) async fn reached(rx: &mut watch::Receiver<Phase>, phase: Phase) {
    if rx.wait_for(|current| *current >= phase).await.is_err() {
        // The sender lives as long as the run's `Control`: this cannot happen while a job runs.
        std::future::pending::<()>().await;
    }
}
