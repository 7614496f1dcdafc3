//! `concurrency = "auto"`: the run finds the provider's limits itself. Two controllers share
//! what every answer tells:
//! - [`aimd`](super::aimd): how many requests may be in flight (round trips and push-back);
//! - [`rate_control`](super::rate_control): how many per second (throttling).
//!
//! A configured `rate_limit` and `concurrency_max` stay hard ceilings: the run's fixed rate
//! limiter still applies, and the concurrency never exceeds the maximum. What the controllers
//! settled on is reported ([`AdaptiveReport`]) so the caller can store it and start the next
//! run from it ([`AdaptiveSettings`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::aimd::{Change, ConcurrencyAimd};
use super::rate_control::RateControl;

/// Where `concurrency = "auto"` starts. The most requests in flight is the dispatch settings'
/// `concurrency` (the target's `concurrency_max`, or a generous default).
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveSettings {
    /// Requests in flight at the start (1 for a target never synced; what the last run settled
    /// on otherwise).
    pub initial_concurrency: usize,
    /// Requests per second at the start: the limit an earlier run was throttled at, if any.
    pub initial_rate: Option<f64>,
}

impl Default for AdaptiveSettings {
    fn default() -> Self {
        AdaptiveSettings {
            initial_concurrency: 1,
            initial_rate: None,
        }
    }
}

/// What the adaptive controllers did and settled on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AdaptiveReport {
    /// Where the run started.
    pub start_concurrency: usize,
    pub start_rate: Option<f64>,
    /// Requests allowed in flight where the run settled (the limit held longest over its last
    /// seconds), and the most allowed at any time.
    pub concurrency: usize,
    pub peak_concurrency: usize,
    /// The provider's limit as found, in requests per second: the rate it announced in its
    /// headers, or else the best rate it took without throttling. `None` when nothing limited
    /// the rate.
    pub rate: Option<f64>,
    /// Whether `rate` is what the provider announced in rate-limit headers.
    pub announced: bool,
    /// Times the rate was cut after throttling.
    pub rate_cuts: u64,
}

/// What one answer tells the controllers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observation {
    pub sent_at: Instant,
    /// The round trip, when an answer came back.
    pub rtt: Option<Duration>,
    /// 429, or a `Retry-After`: too many requests per second.
    pub throttled: bool,
    /// 503 or a timeout: too many requests at once.
    pub overloaded: bool,
    /// The pause the provider asked for (already capped), if any.
    pub pause: Option<Duration>,
}

struct State {
    concurrency: ConcurrencyAimd,
    rate: RateControl,
}

/// The adaptive controllers of one run.
pub(super) struct Adaptive {
    state: Mutex<State>,
    /// A copy of the concurrency limit, read by the run loop on every turn.
    limit: AtomicUsize,
    raised: Notify,
    start: AdaptiveSettings,
    provider: &'static str,
}

impl Adaptive {
    pub(super) fn new(
        start: &AdaptiveSettings,
        max_concurrency: usize,
        provider: &'static str,
    ) -> Adaptive {
        let now = Instant::now();
        let concurrency = ConcurrencyAimd::new(start.initial_concurrency, max_concurrency, now);
        let rate = match start.initial_rate {
            Some(rate) if rate.is_finite() && rate > 0.0 => RateControl::learned(rate, now),
            _ => RateControl::new(),
        };
        tracing::info!(
            provider,
            concurrency = concurrency.limit(),
            max_concurrency,
            rate = start.initial_rate.map(|r| format!("{r:.1}")),
            "adaptive concurrency: starting"
        );
        Adaptive {
            limit: AtomicUsize::new(concurrency.limit()),
            state: Mutex::new(State { concurrency, rate }),
            raised: Notify::new(),
            start: start.clone(),
            provider,
        }
    }

    /// Requests allowed in flight now.
    pub(super) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Resolves when the limit went up (a place may be free for another job).
    pub(super) async fn raised(&self) {
        self.raised.notified().await;
    }

    /// Wakes the run loop: a place may be free.
    pub(super) fn wake(&self) {
        self.raised.notify_one();
    }

    /// The rate to pace at now, if the controller knows one.
    pub(super) fn rate(&self, now: Instant) -> Option<f64> {
        self.lock().rate.rate(now)
    }

    /// A request left at `now`.
    pub(super) fn on_send(&self, now: Instant) {
        let mut state = self.lock();
        state.concurrency.on_send();
        state.rate.on_send(now);
    }

    /// A request ended.
    pub(super) fn on_answer(&self, now: Instant, seen: Observation) {
        let mut state = self.lock();
        if seen.throttled {
            let pause = seen.pause.unwrap_or(Duration::ZERO);
            if let Some(cut) = state.rate.on_throttle(now, seen.sent_at, pause) {
                tracing::info!(
                    provider = self.provider,
                    throttled_at = format_args!("{:.1}", cut.throttled_at),
                    limit = cut.limit.map(|l| format!("{l:.1}")),
                    rate = format_args!("{:.1}", cut.new_rate),
                    "throttled: slowing down"
                );
                tracing::debug!(
                    provider = self.provider,
                    burst = cut.burst.map(|b| format!("{b:.1}")),
                    stretch_secs = format_args!("{:.3}", cut.stretch.0),
                    stretch_sent = cut.stretch.1,
                    "the provider's bucket as estimated"
                );
            }
        }
        // A 429 is the rate controller's: it says nothing about requests in flight, and its
        // round trip (answered before any work) would pass for an idle provider's.
        let rtt = seen.rtt.filter(|_| !seen.throttled);
        let change = state.concurrency.on_answer(now, rtt, seen.overloaded);
        let limit = state.concurrency.limit();
        drop(state);
        self.limit.store(limit, Ordering::Relaxed);
        match change {
            Some(Change::Raised(limit)) => {
                tracing::trace!(provider = self.provider, limit, "concurrency raised");
                self.raised.notify_one();
            }
            Some(Change::Cut { from, to }) => {
                tracing::debug!(provider = self.provider, from, to, "concurrency cut");
            }
            None => {}
        }
    }

    /// What the run settled on; `announced` is the provider's announced rate, if any.
    pub(super) fn report(&self, announced: Option<f64>) -> AdaptiveReport {
        let state = self.lock();
        let throttled_at = state.rate.settled();
        let rate = match (announced, throttled_at) {
            (Some(a), Some(t)) => Some(a.min(t)),
            (a, t) => a.or(t),
        };
        AdaptiveReport {
            start_concurrency: self.start.initial_concurrency,
            start_rate: self.start.initial_rate,
            concurrency: state.concurrency.settled(Instant::now()),
            peak_concurrency: state.concurrency.peak(),
            rate,
            announced: announced.is_some() && rate == announced,
            rate_cuts: state.rate.cuts(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
