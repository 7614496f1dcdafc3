//! How many requests may be in flight under `concurrency = "auto"`: additive increase,
//! multiplicative decrease, in the spirit of Vector's adaptive request concurrency.
//!
//! Time is cut into periods of about one round trip. At the end of each period:
//! - the provider pushed back (429, 503, a `Retry-After`, a timeout): the limit is cut by 10%;
//! - else, the limit was reached and the period's mean round trip stayed near its moving
//!   average and near the lowest recent round trip: one more request may be in flight;
//! - else, the mean round trip is far above the average (a spike) or twice the lowest recent one
//!   (a queue is building at the provider): cut by 10%;
//! - otherwise the limit holds.
//!
//! Comparing with the lowest recent round trip as well as the moving average keeps the limit
//! from creeping up while a queue builds slowly (the average would follow it). Pure logic over
//! explicit instants, so it is tested without a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Weight of a new period in the moving average (Vector's default).
const EWMA_ALPHA: f64 = 0.4;
/// A period's round trip up to this factor of the average is "near" it (rounding and noise).
const AVERAGE_TOLERANCE: f64 = 1.05;
/// A period's round trip this many deviations above the average is "far above" it.
const DEVIATION_SCALE: f64 = 2.5;
/// The multiplicative cut.
const DECREASE: f64 = 0.9;
/// Round trips this close to the lowest recent one count as "near" it...
const NEAR_FACTOR: f64 = 1.25;
/// ...and this far above it mean a queue is building.
const QUEUE_FACTOR: f64 = 2.0;
/// Slack for scheduler noise on round trips of a few milliseconds.
const NEAR_SLACK: Duration = Duration::from_millis(2);
const QUEUE_SLACK: Duration = Duration::from_millis(5);
/// The lowest round trip is the lowest period mean of the last this many seconds.
const BASELINE_WINDOW_SECS: usize = 30;
/// No period is shorter than this (round trips on a loopback mock are far below a millisecond).
const MIN_PERIOD: Duration = Duration::from_millis(5);

/// A moving average with its variance.
#[derive(Debug, Clone, Copy, Default)]
struct Ewma {
    mean: f64,
    var: f64,
    primed: bool,
}

impl Ewma {
    fn update(&mut self, x: f64) {
        if !self.primed {
            *self = Ewma {
                mean: x,
                var: 0.0,
                primed: true,
            };
            return;
        }
        let delta = x - self.mean;
        self.mean += EWMA_ALPHA * delta;
        self.var = (1.0 - EWMA_ALPHA) * (self.var + EWMA_ALPHA * delta * delta);
    }
}

/// What a period decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    Raised(usize),
    Cut { from: usize, to: usize },
}

/// The concurrency controller of one run.
#[derive(Debug)]
pub(super) struct ConcurrencyAimd {
    limit: usize,
    max: usize,
    in_flight: usize,
    period_start: Instant,
    rtt_sum: f64,
    rtt_count: u32,
    reached_limit: bool,
    back_pressure: bool,
    average: Ewma,
    /// (second since `origin`, lowest period mean in that second), oldest first.
    lows: VecDeque<(u64, f64)>,
    origin: Instant,
    /// The highest limit reached.
    peak: usize,
}

impl ConcurrencyAimd {
    /// Starts at `initial` requests in flight, never above `max` (both at least 1).
    pub(super) fn new(initial: usize, max: usize, now: Instant) -> ConcurrencyAimd {
        let max = max.max(1);
        let limit = initial.clamp(1, max);
        ConcurrencyAimd {
            limit,
            max,
            in_flight: 0,
            period_start: now,
            rtt_sum: 0.0,
            rtt_count: 0,
            reached_limit: false,
            back_pressure: false,
            average: Ewma::default(),
            lows: VecDeque::new(),
            origin: now,
            peak: limit,
        }
    }

    /// Requests allowed in flight now.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// The highest limit reached so far.
    pub(super) fn peak(&self) -> usize {
        self.peak
    }

    /// A request left.
    pub(super) fn on_send(&mut self) {
        self.in_flight += 1;
        if self.in_flight >= self.limit {
            self.reached_limit = true;
        }
    }

    /// A request ended: `rtt` when an answer came back, `back_pressure` when the provider asked
    /// us to slow down. Returns the change of limit, if the period ended with one.
    pub(super) fn on_answer(
        &mut self,
        now: Instant,
        rtt: Option<Duration>,
        back_pressure: bool,
    ) -> Option<Change> {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(rtt) = rtt {
            self.rtt_sum += rtt.as_secs_f64();
            self.rtt_count += 1;
        }
        self.back_pressure |= back_pressure;
        let period = Duration::from_secs_f64(self.average.mean.max(0.0)).max(MIN_PERIOD);
        if now.duration_since(self.period_start) < period {
            return None;
        }
        self.end_period(now)
    }

    fn end_period(&mut self, now: Instant) -> Option<Change> {
        let current = (self.rtt_count > 0).then(|| self.rtt_sum / f64::from(self.rtt_count));
        let before = self.limit;
        let baseline = self.baseline();
        if self.back_pressure {
            self.cut();
        } else if let Some(rtt) = current {
            let near_average = !self.average.primed || rtt <= self.average.mean * AVERAGE_TOLERANCE;
            let near_lowest =
                baseline.is_none_or(|low| rtt <= low * NEAR_FACTOR + NEAR_SLACK.as_secs_f64());
            let spike = self.average.primed
                && rtt
                    > self.average.mean
                        + (DEVIATION_SCALE * self.average.var.sqrt()).max(0.1 * self.average.mean);
            let queueing =
                baseline.is_some_and(|low| rtt > low * QUEUE_FACTOR + QUEUE_SLACK.as_secs_f64());
            if near_average && near_lowest && self.reached_limit {
                self.limit = (self.limit + 1).min(self.max);
            } else if spike || queueing {
                self.cut();
            }
        }
        if let Some(rtt) = current {
            self.average.update(rtt);
            self.note_low(now, rtt);
        }
        self.period_start = now;
        self.rtt_sum = 0.0;
        self.rtt_count = 0;
        self.back_pressure = false;
        self.reached_limit = self.in_flight >= self.limit;
        self.peak = self.peak.max(self.limit);
        match self.limit.cmp(&before) {
            std::cmp::Ordering::Greater => Some(Change::Raised(self.limit)),
            std::cmp::Ordering::Less => Some(Change::Cut {
                from: before,
                to: self.limit,
            }),
            std::cmp::Ordering::Equal => None,
        }
    }

    fn cut(&mut self) {
        self.limit = ((self.limit as f64 * DECREASE).floor() as usize).max(1);
    }

    /// The lowest period mean of the last `BASELINE_WINDOW_SECS` seconds.
    fn baseline(&self) -> Option<f64> {
        self.lows.iter().map(|(_, low)| *low).reduce(f64::min)
    }

    fn note_low(&mut self, now: Instant, rtt: f64) {
        let second = now.duration_since(self.origin).as_secs();
        match self.lows.back_mut() {
            Some((s, low)) if *s == second => *low = low.min(rtt),
            _ => self.lows.push_back((second, rtt)),
        }
        while let Some((s, _)) = self.lows.front() {
            if second.saturating_sub(*s) >= BASELINE_WINDOW_SECS as u64 {
                self.lows.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the controller against a server that serves `capacity` requests at once in
    /// `service` each (more wait in a queue), keeping the limit's worth in flight, for `secs`.
    fn simulate(capacity: usize, service: Duration, secs: u64) -> ConcurrencyAimd {
        let start = Instant::now();
        let mut aimd = ConcurrencyAimd::new(1, 1000, start);
        let mut now = start;
        while now < start + Duration::from_secs(secs) {
            let n = aimd.limit();
            // Little's law: n in flight at a server of `capacity` take this long each.
            let rounds = n.div_ceil(capacity) as u32;
            let rtt = service * rounds.max(1);
            for _ in 0..n {
                aimd.on_send();
            }
            now += rtt;
            for _ in 0..n {
                aimd.on_answer(now, Some(rtt), false);
            }
        }
        aimd
    }

    #[test]
    fn grows_to_the_capacity_and_not_far_past_it() {
        let aimd = simulate(32, Duration::from_millis(20), 20);
        let limit = aimd.limit();
        assert!((24..=48).contains(&limit), "settled at {limit}");
    }

    #[test]
    fn grows_while_round_trips_stay_flat() {
        let aimd = simulate(10_000, Duration::from_millis(10), 5);
        assert!(aimd.limit() > 100, "{}", aimd.limit());
    }

    #[test]
    fn back_pressure_cuts_by_a_tenth_and_never_below_one() {
        let now = Instant::now();
        let mut aimd = ConcurrencyAimd::new(50, 100, now);
        aimd.on_send();
        aimd.on_send();
        assert_eq!(aimd.on_answer(now, None, true), None, "the period goes on");
        let later = now + MIN_PERIOD;
        let change = aimd.on_answer(later, Some(Duration::from_millis(5)), true);
        assert_eq!(change, Some(Change::Cut { from: 50, to: 45 }));
        let mut one = ConcurrencyAimd::new(1, 100, now);
        one.on_send();
        one.on_answer(later, None, true);
        assert_eq!(one.limit(), 1);
    }

    #[test]
    fn the_maximum_is_a_hard_ceiling() {
        let now = Instant::now();
        let mut aimd = ConcurrencyAimd::new(500, 4, now);
        assert_eq!(aimd.limit(), 4);
        let mut t = now;
        for _ in 0..100 {
            for _ in 0..4 {
                aimd.on_send();
            }
            t += Duration::from_millis(10);
            for _ in 0..4 {
                aimd.on_answer(t, Some(Duration::from_millis(10)), false);
            }
        }
        assert_eq!(aimd.limit(), 4);
        assert_eq!(aimd.peak(), 4);
    }

    #[test]
    fn a_latency_spike_cuts() {
        let start = Instant::now();
        let mut aimd = ConcurrencyAimd::new(20, 100, start);
        let mut t = start;
        for _ in 0..50 {
            aimd.on_send();
            t += Duration::from_millis(20);
            aimd.on_answer(t, Some(Duration::from_millis(20)), false);
        }
        let before = aimd.limit();
        aimd.on_send();
        t += Duration::from_millis(200);
        let change = aimd.on_answer(t, Some(Duration::from_millis(200)), false);
        assert!(matches!(change, Some(Change::Cut { .. })), "{change:?}");
        assert!(aimd.limit() < before);
    }
}
