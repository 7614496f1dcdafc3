//! How many requests per second under `concurrency = "auto"`, found from throttling: a
//! multiplicative cut when the provider answers 429 (or sends `Retry-After`), then a cubic
//! climb back (as TCP CUBIC does), so that most of the time is spent just below the rate that
//! was throttled last.
//!
//! - No rate is known at first: requests are bounded only by concurrency.
//! - A throttle sets the top of the next climb just below the rate being sent (3% below: that
//!   rate overshot the limit a little), and the rate to that top cut in half when the throttle
//!   came right after sending resumed (far too fast, the top is then the rate measured), or by
//!   10% otherwise (5% once the same limit was met twice). Throttles of requests sent before the
//!   last cut are the same event.
//! - After a cut the rate climbs back to the top over `K` seconds, flat near it, then probes
//!   above it ever faster (half again the top after `2K`). Each time the limit is met again at about the same rate, `K`
//!   doubles (up to two minutes): a stable limit is probed more and more rarely.
//!
//! Pure logic over explicit instants, tested without a clock.

use std::time::{Duration, Instant};

/// Time to climb back to the throttled rate after a first cut.
const K_START: Duration = Duration::from_secs(10);
/// The longest climb, once the limit is well known.
const K_MAX: Duration = Duration::from_secs(120);
/// A throttle this soon after sending resumed means the rate was far too high.
const QUICK: Duration = Duration::from_millis(500);
/// The shortest stretch between throttles whose mean rate tells the limit.
const MIN_STRETCH: Duration = Duration::from_secs(3);
/// The shortest span over which the rate sent is measured.
const MIN_MEASURE: Duration = Duration::from_millis(5);
/// How far above the top the probe has gone at 2K, as a share of the top.
const PROBE: f64 = 0.5;
/// The top of the next climb, as a share of the rate that was throttled.
const OVERSHOOT: f64 = 0.97;
/// The slowest the controller ever goes.
const MIN_RATE: f64 = 0.5;

/// One cut of the rate, for the logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cut {
    /// The rate that was throttled (requests per second).
    pub throttled_at: f64,
    pub new_rate: f64,
}

/// The rate controller of one run.
#[derive(Debug)]
pub(super) struct RateAimd {
    /// The rate that was throttled last (the top of the climb); `None` until a throttle.
    w_max: Option<f64>,
    /// The rate right after the last cut (the bottom of the climb).
    floor: f64,
    /// When the climb started (after the last cut's pause).
    epoch: Instant,
    k: Duration,
    /// When the last cut happened; throttles of requests sent earlier are ignored.
    last_cut: Option<Instant>,
    /// When sending (re)started: the run's start, or the end of the last cut's pause.
    resumed: Instant,
    /// Requests sent since `resumed`.
    sent: u64,
    /// The best mean rate of a stretch between throttles (of at least `MIN_STRETCH`).
    best_stretch: Option<f64>,
    cuts: u64,
}

impl RateAimd {
    /// A controller knowing nothing yet.
    pub(super) fn new(now: Instant) -> RateAimd {
        RateAimd {
            w_max: None,
            floor: 0.0,
            epoch: now,
            k: K_START,
            last_cut: None,
            resumed: now,
            sent: 0,
            best_stretch: None,
            cuts: 0,
        }
    }

    /// A controller starting from a limit learned by an earlier run: just below it, climbing
    /// slowly as for a limit met twice.
    pub(super) fn learned(limit: f64, now: Instant) -> RateAimd {
        let limit = limit.max(MIN_RATE);
        RateAimd {
            w_max: Some(limit),
            floor: limit * 0.95,
            k: K_START * 2,
            ..RateAimd::new(now)
        }
    }

    /// The rate to pace at now, in requests per second; `None` while no limit is known.
    pub(super) fn rate(&self, now: Instant) -> Option<f64> {
        let w_max = self.w_max?;
        let k = self.k.as_secs_f64();
        let t = now.saturating_duration_since(self.epoch).as_secs_f64();
        let x = (t - k) / k;
        // x = -1 at the cut (the floor), 0 at K (the top), then probing above it: half again
        // the top by 2K.
        let scale = if x < 0.0 {
            w_max - self.floor
        } else {
            w_max * PROBE
        };
        let rate = w_max + scale * x.powi(3);
        Some(rate.clamp(MIN_RATE, w_max * 10.0))
    }

    /// The rate this controller settled on, for the next run to start from: the best mean rate
    /// the provider took without throttling over a stretch of a few seconds (the stretch going
    /// on included), else the top of its climb (or the learned rate it started from).
    pub(super) fn settled(&self, now: Instant) -> Option<f64> {
        let current = self.stretch_rate(now);
        match (self.best_stretch, current) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (None, None) => self.w_max,
            (a, b) => a.or(b),
        }
        .filter(|_| self.w_max.is_some())
    }

    /// The mean rate sent since sending last resumed, over a stretch long enough to tell.
    fn stretch_rate(&self, now: Instant) -> Option<f64> {
        let span = now.saturating_duration_since(self.resumed);
        (span >= MIN_STRETCH).then(|| self.sent as f64 / span.as_secs_f64())
    }

    /// How many times the rate was cut.
    pub(super) fn cuts(&self) -> u64 {
        self.cuts
    }

    /// A request left at `now`.
    pub(super) fn on_send(&mut self, now: Instant) {
        if now >= self.resumed {
            self.sent += 1;
        }
    }

    /// A request sent at `sent_at` was throttled at `now`; nothing leaves for `pause`.
    /// Returns the cut, unless this throttle belongs to one already reacted to.
    pub(super) fn on_throttle(
        &mut self,
        now: Instant,
        sent_at: Instant,
        pause: Duration,
    ) -> Option<Cut> {
        if self.last_cut.is_some_and(|cut| sent_at < cut) {
            return None;
        }
        let measured = self.measured(now);
        if let Some(rate) = self.stretch_rate(now) {
            self.best_stretch = Some(self.best_stretch.map_or(rate, |best| best.max(rate)));
        }
        // The rate being sent when throttled: the pace (bounded by what was really sent, when
        // concurrency held it lower), or what was measured when nothing paced it.
        let base = match (self.rate(now), measured) {
            (Some(pace), Some(m)) => pace.min(m * 1.25),
            (Some(pace), None) => pace,
            (None, Some(m)) => m,
            // Too little sent to tell a rate: leave it to the concurrency cut.
            (None, None) => return None,
        }
        .max(MIN_RATE);
        let quick = now.saturating_duration_since(self.resumed) < QUICK;
        // That rate overshot the limit a little: the next climb tops out just below it.
        let top = if quick { base } else { base * OVERSHOOT };
        let again = !quick && self.w_max.is_some_and(|w| (top - w).abs() <= 0.1 * w);
        let beta = if quick {
            0.5
        } else if again {
            0.95
        } else {
            0.9
        };
        self.k = if again {
            (self.k * 2).min(K_MAX)
        } else {
            K_START
        };
        self.w_max = Some(top);
        self.floor = (top * beta).max(MIN_RATE);
        self.epoch = now + pause;
        self.resumed = now + pause;
        self.sent = 0;
        self.last_cut = Some(now);
        self.cuts += 1;
        Some(Cut {
            throttled_at: base,
            new_rate: self.floor,
        })
    }

    /// The mean rate sent since sending last resumed, when there is enough to measure.
    fn measured(&self, now: Instant) -> Option<f64> {
        let span = now.saturating_duration_since(self.resumed);
        (span >= MIN_MEASURE && self.sent >= 3).then(|| self.sent as f64 / span.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: Duration = Duration::from_secs(1);

    /// Sends at the controller's pace (or `unpaced` per second without one) against a token
    /// bucket of `limit` per second holding `burst`, for `secs`. Returns (sent, throttled) per
    /// second.
    fn simulate(limit: f64, burst: f64, unpaced: f64, secs: u64) -> (RateAimd, Vec<(u64, u64)>) {
        let start = Instant::now();
        let mut rate = RateAimd::new(start);
        let mut tokens = burst;
        let mut now = start;
        let mut last = start;
        let mut per_second = vec![(0u64, 0u64); secs as usize];
        let mut paused_until = start;
        while now < start + Duration::from_secs(secs) {
            let step = 1.0 / rate.rate(now).unwrap_or(unpaced);
            now += Duration::from_secs_f64(step);
            if now < paused_until {
                now = paused_until;
            }
            tokens = (tokens + now.duration_since(last).as_secs_f64() * limit).min(burst);
            last = now;
            let second = now.duration_since(start).as_secs() as usize;
            if second >= per_second.len() {
                break;
            }
            rate.on_send(now);
            per_second[second].0 += 1;
            if tokens >= 1.0 {
                tokens -= 1.0;
            } else {
                per_second[second].1 += 1;
                if rate.on_throttle(now, now, PAUSE).is_some() {
                    paused_until = now + PAUSE;
                }
            }
        }
        (rate, per_second)
    }

    #[test]
    fn finds_a_200_per_second_limit_and_stays_near_it() {
        let (rate, seconds) = simulate(200.0, 20.0, 2000.0, 200);
        let settled = &seconds[20..];
        let sent: u64 = settled.iter().map(|s| s.0).sum();
        let throttled: u64 = seconds.iter().map(|s| s.1).sum();
        let total: u64 = seconds.iter().map(|s| s.0).sum();
        let mean = sent as f64 / settled.len() as f64;
        assert!((180.0..=210.0).contains(&mean), "settled at {mean}/s");
        assert!(
            (throttled as f64) < 0.02 * total as f64,
            "{throttled} of {total}"
        );
        let settled = rate
            .settled(Instant::now() + Duration::from_secs(200))
            .unwrap();
        assert!((185.0..=215.0).contains(&settled), "{settled}");
    }

    #[test]
    fn a_learned_limit_starts_just_below_it_without_throttling() {
        let now = Instant::now();
        let rate = RateAimd::learned(200.0, now);
        let start = rate.rate(now).unwrap();
        assert!((185.0..200.0).contains(&start), "{start}");
        let later = rate.rate(now + Duration::from_secs(10)).unwrap();
        assert!(later > start && later <= 200.0, "{later}");
    }

    #[test]
    fn throttles_of_requests_sent_before_a_cut_are_one_event() {
        let t0 = Instant::now();
        let mut rate = RateAimd::new(t0);
        for i in 0..100 {
            rate.on_send(t0 + Duration::from_millis(i * 2));
        }
        let at = t0 + Duration::from_millis(200);
        let cut = rate.on_throttle(at, at, PAUSE).unwrap();
        assert_eq!(
            cut.throttled_at.round(),
            500.0,
            "measured: nothing paced it"
        );
        assert_eq!(cut.new_rate.round(), 250.0, "quick: halved");
        let sent_before = at - Duration::from_millis(1);
        assert_eq!(rate.on_throttle(at, sent_before, PAUSE), None);
        assert_eq!(rate.cuts(), 1);
    }

    #[test]
    fn nothing_known_nothing_paced() {
        let rate = RateAimd::new(Instant::now());
        assert_eq!(rate.rate(Instant::now()), None);
        assert_eq!(rate.settled(Instant::now()), None);
    }
}
