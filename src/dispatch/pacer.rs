//! Spaces requests out at a rate that changes during a run: the rate the adaptive controller
//! chose, and whatever a provider's rate-limit headers allow. (A configured `rate_limit` is
//! enforced separately, by the run's fixed rate limiter.)
//!
//! From the headers ([`RateLimitInfo`]):
//! - a stated policy (`limit` per `window`) becomes a ceiling just below `limit / window`;
//! - `remaining: 0` with a reset pauses every request until the reset (the next one would be
//!   throttled);
//! - without a policy, a nearly spent window (`remaining` under a tenth of `limit`) spreads the
//!   remaining requests evenly until the reset.
//!
//! Requests take turns from one schedule: each reserves the next slot, one interval after the
//! previous one, so a burst of waiting jobs leaves evenly spaced, and a request that comes a
//! few milliseconds late for its slot leaves at once without shifting the ones after it.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::ratelimit_headers::RateLimitInfo;

/// How late a request may be for its slot and still keep the schedule.
const CATCH_UP: Duration = Duration::from_millis(10);
/// How close to an announced rate we go.
const HEADER_MARGIN: f64 = 0.98;

#[derive(Debug, Default)]
struct State {
    /// The next free slot.
    next: Option<Instant>,
    /// From a stated policy: requests per second.
    ceiling: Option<f64>,
    /// From a nearly spent window: (requests per second, until).
    budget: Option<(f64, Instant)>,
    /// The provider's announced sustained rate (`limit / window`), unmargined.
    announced: Option<f64>,
}

/// The shared schedule of one run.
#[derive(Debug, Default)]
pub(super) struct Pacer {
    state: Mutex<State>,
}

impl Pacer {
    /// Reserves the next slot for a request at `now`, paced at the lowest of `rate` (the
    /// adaptive controller's), the headers' ceiling and budget. Returns when it may leave;
    /// `None` when nothing paces it.
    pub(super) fn slot(&self, now: Instant, rate: Option<f64>) -> Option<Instant> {
        let mut state = self.lock();
        if state.budget.is_some_and(|(_, until)| until <= now) {
            state.budget = None;
        }
        let rate = [rate, state.ceiling, state.budget.map(|(r, _)| r)]
            .into_iter()
            .flatten()
            .filter(|r| r.is_finite() && *r > 0.0)
            .reduce(f64::min);
        let Some(rate) = rate else {
            state.next = None;
            return None;
        };
        let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
        // A request a little late for its slot (timers wake late) keeps the schedule, so lateness
        // does not add up; after a longer gap the schedule starts again from now.
        let at = match state.next {
            Some(next) if next + CATCH_UP >= now => next,
            _ => now,
        };
        state.next = Some(at + interval);
        Some(at)
    }

    /// Takes in what an answer's rate-limit headers announced. Returns how long no request
    /// should leave (the window is spent), if so.
    pub(super) fn observe(&self, info: &RateLimitInfo, now: Instant) -> Option<Duration> {
        let mut state = self.lock();
        if let Some(rate) = info.policy_rate() {
            if state.announced != Some(rate) {
                tracing::info!(
                    rate = format_args!("{rate:.1}"),
                    "the provider announces its rate limit: pacing just below it"
                );
            }
            state.announced = Some(rate);
            state.ceiling = Some(rate * HEADER_MARGIN);
        }
        let reset = info.reset.filter(|r| !r.is_zero());
        match (info.remaining, reset) {
            (Some(0), Some(reset)) => return Some(reset),
            (Some(remaining), Some(reset)) if info.policy_rate().is_none() => {
                let nearly_spent = info
                    .limit
                    .is_some_and(|limit| remaining.saturating_mul(10) < limit);
                if nearly_spent && reset >= Duration::from_secs(1) {
                    let rate = remaining as f64 / reset.as_secs_f64();
                    state.budget = Some((rate, now + reset));
                }
            }
            _ => {}
        }
        None
    }

    /// The provider's announced sustained rate, if it stated one.
    pub(super) fn announced(&self) -> Option<f64> {
        self.lock().announced
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(limit: u64, remaining: u64, reset: u64, window: Option<u64>) -> RateLimitInfo {
        RateLimitInfo {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(Duration::from_secs(reset)),
            window: window.map(Duration::from_secs),
        }
    }

    #[test]
    fn unpaced_until_something_says_otherwise() {
        let pacer = Pacer::default();
        let now = Instant::now();
        assert_eq!(pacer.slot(now, None), None);
        assert_eq!(pacer.slot(now, None), None);
    }

    #[test]
    fn slots_are_spaced_at_the_rate() {
        let pacer = Pacer::default();
        let now = Instant::now();
        let a = pacer.slot(now, Some(100.0)).unwrap();
        let b = pacer.slot(now, Some(100.0)).unwrap();
        let c = pacer.slot(now, Some(100.0)).unwrap();
        assert_eq!(a, now);
        assert_eq!(b - a, Duration::from_millis(10));
        assert_eq!(c - b, Duration::from_millis(10));
        // Late by a few milliseconds: the schedule holds.
        let late = c + Duration::from_millis(14);
        assert_eq!(
            pacer.slot(late, Some(100.0)),
            Some(c + Duration::from_millis(10))
        );
        // After a long gap it starts again.
        let idle = late + Duration::from_secs(1);
        assert_eq!(pacer.slot(idle, Some(100.0)), Some(idle));
    }

    #[test]
    fn a_stated_policy_is_a_ceiling() {
        let pacer = Pacer::default();
        let now = Instant::now();
        assert_eq!(pacer.observe(&info(200, 150, 1, Some(1)), now), None);
        assert_eq!(pacer.announced(), Some(200.0));
        let a = pacer.slot(now, Some(1000.0)).unwrap();
        let b = pacer.slot(now, Some(1000.0)).unwrap();
        let spacing = (b - a).as_secs_f64();
        assert!((spacing - 1.0 / 196.0).abs() < 1e-6, "{spacing}");
    }

    #[test]
    fn a_spent_window_pauses_until_its_reset() {
        let pacer = Pacer::default();
        let pause = pacer.observe(&info(5000, 0, 90, None), Instant::now());
        assert_eq!(pause, Some(Duration::from_secs(90)));
    }

    #[test]
    fn a_nearly_spent_window_spreads_what_is_left() {
        let pacer = Pacer::default();
        let now = Instant::now();
        assert_eq!(pacer.observe(&info(1000, 20, 10, None), now), None);
        let a = pacer.slot(now, None).unwrap();
        let b = pacer.slot(now, None).unwrap();
        assert_eq!(b - a, Duration::from_millis(500), "20 requests over 10 s");
        // After the reset the budget no longer applies.
        assert_eq!(pacer.slot(now + Duration::from_secs(11), None), None);
    }
}
