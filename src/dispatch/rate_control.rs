//! How many requests per second under `concurrency = "auto"`: the provider's limit estimated
//! from its 429s, then sending just below it, with a rare probe above it in case it rose. This
//! is how TCP BBR runs a path: estimate the bottleneck rate from what got through, cruise just
//! under it, probe up now and then, drain.
//!
//! - Until the first 429 nothing is paced: concurrency alone bounds the requests. That first
//!   stretch, a burst, tells how much the provider's bucket holds at most.
//! - Then the pace ramps up from an eighth of the rate that was throttled, doubling every half
//!   second, until a 429: knowing the bucket's size, the ramp tells the rate.
//! - Every stretch that ends in a 429 is a sample for [`rate_estimate`](super::rate_estimate),
//!   which keeps the rate and the bucket's size that explain them.
//! - Known, the pace cruises [`MARGIN`] below the rate. After `probe_every` (soon while the
//!   estimate is rough, longer each time a probe confirms it) it probes above it until a 429,
//!   a long sample that sharpens the estimate, or until the bucket would long have been empty:
//!   the limit rose, and the probes go up faster.
//!
//! The whole run waits out a provider's `Retry-After` (see `control.rs`); the timeline counts the
//! pause, so the bucket is seen to refill meanwhile. Pure logic over explicit instants, tested
//! against a simulated token bucket without a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::rate_estimate::{Bucket, Fit, Timeline};

/// How far below the estimated limit the pace cruises.
const MARGIN: f64 = 0.01;
/// How far above the limit a probe goes at least.
const PROBE_GAIN: f64 = 0.05;
const PROBE_GAIN_MAX: f64 = 0.5;
/// The most a probe goes above a rough estimate at first.
const ROUGH_GAIN_MAX: f64 = 0.2;
/// A probe whose estimate is this close to the limit confirms it.
const CONFIRMED: f64 = 0.02;
/// An estimate less sure than this (a request's worth over the seconds of sending it rests on,
/// as a share of it) is rough.
const ROUGH: f64 = 0.02;
/// Past this many stretches a rough estimate is probed no sooner than a precise one.
const SURE_AFTER: usize = 4;
/// When the first probe comes after a precise estimate; each confirmation doubles it.
const PROBE_FIRST: Duration = Duration::from_secs(45);
const PROBE_MAX: Duration = Duration::from_secs(300);
/// When the next probe comes after a rough estimate.
const PROBE_SOON: Duration = Duration::from_secs(2);
/// A probe is held this many times as long as the bucket would take to empty at it, before
/// concluding the limit is higher.
const HOLD_FACTOR: f64 = 2.0;
const HOLD_MIN: Duration = Duration::from_millis(300);
const HOLD_MAX: Duration = Duration::from_secs(60);
/// The ramp after the first 429: from this share of the rate that was throttled, doubling every
/// `RAMP_DOUBLING`, never above `RAMP_CEILING` times that rate.
const RAMP_FROM: f64 = 0.125;
const RAMP_DOUBLING: Duration = Duration::from_millis(500);
const RAMP_CEILING: f64 = 4.0;
/// The ramp's start when the first stretch was too short to measure a rate.
const RAMP_FLOOR: f64 = 10.0;
/// How often the timeline takes a point (and at every change of pace).
const POINT_EVERY: Duration = Duration::from_millis(50);
/// The most points kept: past it the timeline is cut where the bucket was last full.
const MAX_POINTS: usize = 512;
/// Sends remembered to tell how many left before a throttled one (at least the most requests
/// in flight).
const RECENT: usize = 1024;
/// The bucket's size taken for holding probes while it is not known, in seconds of the rate.
const UNKNOWN_BURST_SECS: f64 = 0.2;
/// A pause at least this long (a provider's `Retry-After`) is taken to refill the bucket.
const REFILL: Duration = Duration::from_millis(250);
/// The slowest the controller ever goes.
const MIN_RATE: f64 = 0.5;

/// One cut of the rate, for the logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cut {
    /// The pace (or, unpaced, the rate sent) that was throttled, in requests per second.
    pub throttled_at: f64,
    /// The provider's limit as estimated now, once known.
    pub limit: Option<f64>,
    /// The pace from now on.
    pub new_rate: f64,
    /// What the bucket was estimated to hold, and the stretch that ended (seconds, requests).
    pub burst: Option<f64>,
    pub stretch: (f64, f64),
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No limit met: unpaced.
    Unbounded,
    /// The limit not yet known: doubling every `RAMP_DOUBLING` from `from` at `since`.
    Ramp {
        from: f64,
        since: Instant,
        ceiling: f64,
    },
    /// Just below the limit until `until`, then a probe.
    Cruise { until: Instant },
    /// `gain` above the limit until a 429, or `until` (the limit rose).
    Probe { gain: f64, until: Instant },
}

/// What was sent since a moment the bucket's level was known.
#[derive(Debug)]
struct Stretch {
    start: Instant,
    timeline: Timeline,
    sent: u64,
    last_point: Instant,
}

impl Stretch {
    fn new(start: Instant, full: bool) -> Stretch {
        Stretch {
            start,
            timeline: Timeline::new(full),
            sent: 0,
            last_point: start,
        }
    }

    fn point(&mut self, at: Instant) {
        let secs = at.saturating_duration_since(self.start).as_secs_f64();
        self.timeline.push(secs, self.sent as f64);
        self.last_point = at;
    }
}

/// The rate controller of one run.
#[derive(Debug)]
pub(super) struct RateControl {
    fit: Fit,
    /// The provider's limit as estimated; `None` until known.
    limit: Option<f64>,
    /// The last estimate, with the bucket's size, once the fit could tell both.
    bucket: Option<Bucket>,
    phase: Phase,
    /// `None` until the first request.
    stretch: Option<Stretch>,
    /// The instants of the last sends.
    recent: VecDeque<Instant>,
    /// Throttles of requests sent before this belong to the event already reacted to.
    last_cut: Option<Instant>,
    probe_every: Duration,
    /// How unsure the estimate is, as a share of it.
    doubt: f64,
    cuts: u64,
}

impl RateControl {
    /// A controller knowing nothing yet.
    pub(super) fn new() -> RateControl {
        RateControl {
            fit: Fit::default(),
            limit: None,
            bucket: None,
            phase: Phase::Unbounded,
            stretch: None,
            recent: VecDeque::with_capacity(RECENT),
            last_cut: None,
            probe_every: PROBE_FIRST,
            doubt: 0.0,
            cuts: 0,
        }
    }

    /// A controller starting at a limit learned by an earlier run: cruising just below it from
    /// the first request, probing above it soon (the bucket's size is not known yet).
    pub(super) fn learned(limit: f64, now: Instant) -> RateControl {
        RateControl {
            limit: Some(limit.max(MIN_RATE)),
            phase: Phase::Cruise {
                until: now + PROBE_FIRST / 3,
            },
            ..RateControl::new()
        }
    }

    /// The rate to pace at now, in requests per second; `None` while no limit was met.
    pub(super) fn rate(&mut self, now: Instant) -> Option<f64> {
        self.tick(now);
        self.pace(now)
    }

    /// The provider's limit as estimated, for the next run to start from.
    pub(super) fn settled(&self) -> Option<f64> {
        self.limit
    }

    /// How many times the rate was cut.
    pub(super) fn cuts(&self) -> u64 {
        self.cuts
    }

    /// A request left at `now`.
    pub(super) fn on_send(&mut self, now: Instant) {
        // The run's first request: the bucket is taken to be full.
        let stretch = self.stretch.get_or_insert_with(|| Stretch::new(now, true));
        if now >= stretch.start {
            stretch.sent += 1;
            if now.duration_since(stretch.last_point) >= POINT_EVERY {
                stretch.point(now);
            }
        }
        if stretch.timeline.len() > MAX_POINTS {
            self.compact(now);
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
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
        let throttled_at = self.pace(sent_at);
        let stretch = self.stretch.as_ref()?;
        // Sent before the throttled request (whose own send came just before `sent_at`).
        let before = stretch.sent.saturating_sub(self.sent_since(sent_at) + 1);
        let end = (
            sent_at
                .saturating_duration_since(stretch.start)
                .as_secs_f64(),
            before as f64,
        );
        let throttled_at = throttled_at.or_else(|| (end.0 >= 0.001).then(|| end.1 / end.0));
        let (estimate, rough) = self.estimate(end);
        // A throttled pace is above the limit, whatever the estimate says.
        let estimate = estimate.map(|rate| match throttled_at {
            Some(pace) => rate.min(pace).max(MIN_RATE),
            None => rate.max(MIN_RATE),
        });

        self.cuts += 1;
        self.last_cut = Some(now);
        let resume = now + pause;
        let pace = match estimate {
            Some(rate) => {
                let confirmed = matches!(self.phase, Phase::Probe { .. })
                    && self
                        .limit
                        .is_some_and(|limit| (rate - limit).abs() <= CONFIRMED * limit);
                self.probe_every = match (rough, confirmed) {
                    (true, _) => PROBE_SOON,
                    (false, true) => (self.probe_every * 2).clamp(PROBE_FIRST, PROBE_MAX),
                    (false, false) => PROBE_FIRST,
                };
                self.limit = Some(rate);
                self.phase = Phase::Cruise {
                    until: resume + self.probe_every,
                };
                rate * (1.0 - MARGIN)
            }
            None => {
                let throttled = throttled_at.unwrap_or(RAMP_FLOOR / RAMP_FROM);
                self.phase = Phase::Ramp {
                    from: (throttled * RAMP_FROM).max(MIN_RATE),
                    since: resume,
                    ceiling: throttled * RAMP_CEILING,
                };
                self.pace(resume).unwrap_or(MIN_RATE)
            }
        };
        // The bucket is empty now. A provider's `Retry-After` says when it has refilled; a
        // shorter pause (or none) is replayed from empty.
        self.stretch = Some(if pause >= REFILL {
            Stretch::new(resume, true)
        } else {
            let mut stretch = Stretch::new(now, false);
            stretch.point(resume);
            stretch
        });
        Some(Cut {
            throttled_at: throttled_at.unwrap_or(pace),
            limit: self.limit,
            new_rate: pace,
            burst: self.bucket.map(|b| b.burst),
            stretch: end,
        })
    }

    /// Adds the stretch ending at `end` to the fit; returns the rate it tells, and whether it
    /// is rough (the stretches too short to tell it to within [`ROUGH`]).
    fn estimate(&mut self, end: (f64, f64)) -> (Option<f64>, bool) {
        let Some(stretch) = self.stretch.take() else {
            return (None, true);
        };
        let Some(bucket) = self.fit.add(stretch.timeline, end, self.limit) else {
            return (None, true);
        };
        self.bucket = Some(bucket);
        // A request's worth over the stretches the estimate rests on: its counts' noise. A
        // small bucket may keep it rough for good: past a few stretches it is what it is.
        self.doubt = 1.0 / self.fit.seconds().max(1e-3) / bucket.rate;
        let rough = self.doubt > ROUGH && self.fit.len() < SURE_AFTER;
        (Some(bucket.rate), rough)
    }

    /// Moves on when the phase's time is up.
    fn tick(&mut self, now: Instant) {
        match self.phase {
            Phase::Cruise { until } if now >= until => self.probe(now, PROBE_GAIN),
            Phase::Probe { gain, until } if now >= until => {
                // The bucket would long have been empty: the limit is higher, by more than
                // half the gain.
                if let Some(limit) = &mut self.limit {
                    *limit *= 1.0 + gain / 2.0;
                }
                self.probe(now, (gain * 2.0).min(PROBE_GAIN_MAX));
            }
            Phase::Ramp { .. } => {
                if let Some(stretch) = &mut self.stretch {
                    if now.saturating_duration_since(stretch.last_point) >= POINT_EVERY {
                        stretch.point(now);
                    }
                }
            }
            _ => {}
        }
    }

    fn probe(&mut self, now: Instant, gain: f64) {
        let Some(limit) = self.limit else { return };
        // A rough estimate is probed above its doubt, not much more: the closer above the
        // limit, the longer the stretch to the 429 and the more it tells.
        let gain = gain.max(PROBE_GAIN + self.doubt.min(ROUGH_GAIN_MAX));
        self.phase = Phase::Probe {
            gain,
            until: now + self.hold(limit, gain),
        };
        if let Some(stretch) = &mut self.stretch {
            stretch.point(now);
        }
    }

    fn pace(&self, now: Instant) -> Option<f64> {
        match self.phase {
            Phase::Unbounded => None,
            Phase::Ramp {
                from,
                since,
                ceiling,
            } => {
                let doublings = now.saturating_duration_since(since).as_secs_f64()
                    / RAMP_DOUBLING.as_secs_f64();
                Some((from * doublings.exp2()).min(ceiling))
            }
            Phase::Cruise { .. } => self.limit.map(|l| l * (1.0 - MARGIN)),
            Phase::Probe { gain, .. } => self.limit.map(|l| l * (1.0 + gain)),
        }
    }

    /// How long to hold `rate × (1 + gain)` before concluding the limit is above it: a few
    /// times as long as the bucket takes to empty when the limit is `rate`.
    fn hold(&self, rate: f64, gain: f64) -> Duration {
        let burst = self.fit.burst().or(self.fit.burst_bound(self.bucket));
        // Not known yet (a limit learned before): half a second's worth, as many buckets hold.
        let burst = burst.unwrap_or(rate * UNKNOWN_BURST_SECS);
        let secs = HOLD_FACTOR * burst / (gain * rate).max(MIN_RATE);
        Duration::from_secs_f64(secs.min(HOLD_MAX.as_secs_f64())).max(HOLD_MIN)
    }

    /// Keeps the timeline short: drops what came before the bucket was last full, or starts
    /// again from now (as full) when that tells nothing.
    fn compact(&mut self, now: Instant) {
        let Some(stretch) = &mut self.stretch else {
            return;
        };
        let at = (
            now.saturating_duration_since(stretch.start).as_secs_f64(),
            stretch.sent as f64,
        );
        let cut = self.bucket.and_then(|b| stretch.timeline.cut(at, b));
        match cut {
            Some((secs, sent)) if stretch.timeline.len() <= MAX_POINTS / 2 => {
                stretch.start += Duration::from_secs_f64(secs);
                stretch.sent = stretch.sent.saturating_sub(sent as u64);
            }
            _ => *stretch = Stretch::new(now, true),
        }
    }

    /// Requests sent at or after `at`.
    fn sent_since(&self, at: Instant) -> u64 {
        self.recent.iter().rev().take_while(|t| **t >= at).count() as u64
    }
}

#[cfg(test)]
#[path = "rate_control_tests.rs"]
mod tests;
