//! How many requests may be in flight under `concurrency = "auto"`: additive increase,
//! multiplicative decrease, in the spirit of Vector's adaptive request concurrency, with TCP
//! Vegas's reading of round trips.
//!
//! Time is cut into periods of about one round trip. At the end of each period:
//! - the provider pushed back (503, a timeout): the limit is cut by 10%;
//! - the period's mean round trip is more than twice the lowest recent one (the provider is
//!   swamped): cut by 10%;
//! - else the round trip above the lowest recent one tells how many requests wait in a queue at
//!   the provider (Vegas: `in flight × (rtt − lowest) / rtt`). More than one and a half: one
//!   fewer may be in flight. Under half, the limit reached and the round trip near its moving
//!   average: one more may. In between the limit holds.
//!
//! A provider that serves N requests at once answers N in flight in its service time and N + 1
//! in one more N-th of it: the limit settles at N or N + 1, where a cut by a tenth at every
//! rise of the round trip would settle well below, or a rise up to a quarter above the lowest
//! (the round trip's noise on a loopback) well above. 429s are not this controller's: they say
//! nothing about requests in flight (see `rate_control.rs`). Pure logic over explicit instants,
//! tested without a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Weight of a new period in the moving average (Vector's default).
const EWMA_ALPHA: f64 = 0.4;
/// A period's round trip up to this factor of the average is "near" it (rounding and noise).
const AVERAGE_TOLERANCE: f64 = 1.05;
/// The multiplicative cut.
const DECREASE: f64 = 0.9;
/// Requests waiting at the provider under which one more may be in flight, and over which one
/// fewer may: at N + 1 one waits, and noise moves the limit between N and N + 1, not N + 2.
const QUEUE_LOW: f64 = 0.3;
const QUEUE_HIGH: f64 = 1.2;
/// A round trip this far above the lowest recent one means the provider is swamped.
const SWAMPED_FACTOR: f64 = 2.0;
const SWAMPED_SLACK: Duration = Duration::from_millis(5);
/// The round trip's noise, not counted as queueing: on a loopback (round trips under
/// `SHORT_RTT`) a couple of milliseconds of scheduling, beside a real provider a fifth of a
/// millisecond and a two-hundredth of the round trip.
const SHORT_RTT: Duration = Duration::from_millis(5);
const SHORT_SLACK: Duration = Duration::from_millis(2);
const SHORT_SLACK_SHARE: f64 = 0.25;
const SLACK: Duration = Duration::from_micros(200);
const SLACK_SHARE: f64 = 0.005;
/// The run's settled limit is the one held longest over this last stretch.
const SETTLED_WINDOW: Duration = Duration::from_secs(20);
/// Holding a queue this long, the limit steps down a period to measure the lowest round trip.
const REFRESH: Duration = Duration::from_secs(10);
/// The lowest round trip is the lowest period mean of the last this many seconds.
const BASELINE_WINDOW_SECS: usize = 30;
/// No period is shorter than this (round trips on a loopback mock are far below a millisecond).
const MIN_PERIOD: Duration = Duration::from_millis(5);

/// A moving average.
#[derive(Debug, Clone, Copy, Default)]
struct Ewma {
    mean: f64,
    primed: bool,
}

impl Ewma {
    fn update(&mut self, x: f64) {
        if !self.primed {
            *self = Ewma {
                mean: x,
                primed: true,
            };
            return;
        }
        self.mean += EWMA_ALPHA * (x - self.mean);
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
    /// The most requests in flight during the period.
    most_in_flight: usize,
    /// When a period's round trip was last near the lowest one.
    near_lowest_at: Instant,
    back_pressure: bool,
    average: Ewma,
    /// (second since `origin`, lowest period mean in that second), oldest first.
    lows: VecDeque<(u64, f64)>,
    origin: Instant,
    /// The highest limit reached.
    peak: usize,
    /// The limits held lately: (since when, limit), oldest first, for [`Self::settled`].
    held: VecDeque<(Instant, usize)>,
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
            most_in_flight: 0,
            near_lowest_at: now,
            back_pressure: false,
            average: Ewma::default(),
            lows: VecDeque::new(),
            origin: now,
            peak: limit,
            held: VecDeque::from([(now, limit)]),
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

    /// When the limit last changed (the run's start, if it never did).
    fn changed_at(&self) -> Instant {
        self.held.back().map_or(self.origin, |&(since, _)| since)
    }

    /// The limit held longest over the last `SETTLED_WINDOW` before `now`: where the run
    /// settled, whatever step it took last.
    pub(super) fn settled(&self, now: Instant) -> usize {
        let window_start = now.checked_sub(SETTLED_WINDOW).unwrap_or(now);
        let mut spans: Vec<(usize, Duration)> = Vec::new();
        let ends = self.held.iter().skip(1).map(|(at, _)| *at).chain([now]);
        for (&(since, limit), until) in self.held.iter().zip(ends) {
            let held = until.saturating_duration_since(since.max(window_start));
            match spans.iter_mut().find(|(l, _)| *l == limit) {
                Some((_, total)) => *total += held,
                None => spans.push((limit, held)),
            }
        }
        // Of limits held as long, the lower.
        spans
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or(self.limit, |(limit, _)| limit)
    }

    /// A request left.
    pub(super) fn on_send(&mut self) {
        self.in_flight += 1;
        self.most_in_flight = self.most_in_flight.max(self.in_flight);
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
        // Only requests sent since the limit last changed tell what the new limit does.
        let changed_at = self.changed_at();
        let sent_since_change = |rtt: &Duration| now.checked_sub(*rtt) > Some(changed_at);
        if let Some(rtt) = rtt.filter(sent_since_change) {
            self.rtt_sum += rtt.as_secs_f64();
            self.rtt_count += 1;
        }
        self.back_pressure |= back_pressure;
        let period = Duration::from_secs_f64(self.average.mean.max(0.0)).max(MIN_PERIOD);
        let elapsed = now.duration_since(self.period_start);
        // A period tells once a whole limit's worth of requests sent since the last change came
        // back (or it ran long).
        let told = self.rtt_count as usize >= self.limit || elapsed >= period * 4;
        if elapsed < period || !(told || self.back_pressure) {
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
            let queue = baseline.map(|low| (low, self.queue(rtt, low)));
            match queue {
                Some((low, _)) if rtt > low * SWAMPED_FACTOR + SWAMPED_SLACK.as_secs_f64() => {
                    self.cut()
                }
                Some((_, queue)) if queue > QUEUE_HIGH => {
                    self.limit = self.limit.saturating_sub(1).max(1);
                }
                Some((_, queue)) if queue >= QUEUE_LOW => {
                    // Holding one request in the provider's queue for long, the lowest round
                    // trip would age out of its window and the queue look empty: one fewer for
                    // a period measures it again (BBR's ProbeRTT, in small).
                    if now.duration_since(self.near_lowest_at) >= REFRESH {
                        self.limit = self.limit.saturating_sub(1).max(1);
                        self.near_lowest_at = now;
                    }
                }
                _ if near_average && self.reached_limit => {
                    self.near_lowest_at = now;
                    self.limit = (self.limit + 1).min(self.max);
                }
                _ => self.near_lowest_at = now,
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
        self.most_in_flight = self.in_flight;
        self.peak = self.peak.max(self.limit);
        if self.limit != before {
            self.held.push_back((now, self.limit));
            while self.held.len() > 1 && now.duration_since(self.held[1].0) > SETTLED_WINDOW {
                self.held.pop_front();
            }
        }
        match self.limit.cmp(&before) {
            std::cmp::Ordering::Greater => Some(Change::Raised(self.limit)),
            std::cmp::Ordering::Less => Some(Change::Cut {
                from: before,
                to: self.limit,
            }),
            std::cmp::Ordering::Equal => None,
        }
    }

    /// Requests waiting at the provider, from a period's mean round trip `rtt` and the lowest
    /// recent one (seconds).
    fn queue(&self, rtt: f64, low: f64) -> f64 {
        let slack = if low < SHORT_RTT.as_secs_f64() {
            SHORT_SLACK.as_secs_f64() + SHORT_SLACK_SHARE * low
        } else {
            SLACK.as_secs_f64() + SLACK_SHARE * low
        };
        let waiting = (rtt - low - slack).max(0.0);
        self.most_in_flight.max(1) as f64 * waiting / rtt
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

    /// Drives the controller in a closed loop against a server that serves `capacity` at once
    /// in `service` each, queueing the rest (a request sent with n in flight takes
    /// `service × n / capacity` past it), round trips `noise` apart in turn above and below.
    /// Returns the limit after each answer.
    fn settle(capacity: usize, service: Duration, noise: Duration, secs: u64) -> Vec<usize> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let start = Instant::now();
        let mut aimd = ConcurrencyAimd::new(1, 1000, start);
        let mut answers: BinaryHeap<Reverse<(Instant, Duration)>> = BinaryHeap::new();
        let mut limits = Vec::new();
        let (mut now, mut turn) = (start, 0u32);
        while now < start + Duration::from_secs(secs) {
            while answers.len() < aimd.limit() {
                aimd.on_send();
                turn += 1;
                let n = answers.len() + 1;
                let rtt = service.mul_f64((n as f64 / capacity as f64).max(1.0));
                let rtt = if turn % 2 == 0 {
                    rtt + noise
                } else {
                    rtt - noise
                };
                answers.push(Reverse((now + rtt, rtt)));
            }
            let Reverse((at, rtt)) = answers.pop().unwrap();
            now = at;
            aimd.on_answer(now, Some(rtt), false);
            limits.push(aimd.limit());
        }
        limits
    }

    #[test]
    fn settles_within_one_of_the_providers_capacity() {
        for (capacity, service) in [(10, 100), (8, 50), (32, 50), (64, 200)] {
            let service = Duration::from_millis(service);
            for noise in [Duration::ZERO, service / 200] {
                let limits = settle(capacity, service, noise, 120);
                let late = &limits[limits.len() / 2..];
                let (low, high) = (late.iter().min().unwrap(), late.iter().max().unwrap());
                assert!(
                    *low + 1 >= capacity && *high <= capacity + 1,
                    "{capacity} at once, {service:?}, noise {noise:?}: {low}..={high}"
                );
            }
        }
    }

    #[test]
    fn settled_is_the_limit_held_longest_lately() {
        let t0 = Instant::now();
        let mut aimd = ConcurrencyAimd::new(10, 100, t0);
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        assert_eq!(aimd.settled(at(1)), 10);
        // 11 for most of the last 20 s, 12 for the last one.
        aimd.held.push_back((at(30), 11));
        aimd.held.push_back((at(49), 12));
        aimd.limit = 12;
        assert_eq!(aimd.settled(at(50)), 11);
        assert_eq!(aimd.settled(at(70)), 12);
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
