//! What a provider's rate limit is, read from the stretches of sending that ended in a 429.
//!
//! Providers limit with a token bucket (or something that behaves like one): it refills at `R`
//! requests per second and holds at most `B`. From the last moment the bucket was full until
//! the first 429, the requests sent took every token there was:
//!
//! ```text
//!     sent = B + R × seconds
//! ```
//!
//! (From a moment it was empty, `sent = R × seconds`.) One stretch has two unknowns; two of
//! different lengths give both, and more give a least-squares fit ([`Fit`]). That is exact where
//! a rate averaged over what got through is not: the burst a full bucket lets through is counted
//! as what it is instead of inflating the rate, and the 429's timing says how far above `R` the
//! sending was.
//!
//! Which moment the bucket was last full depends on the pace, which changes (a ramp, a probe,
//! a pause): a [`Timeline`] of what was sent when replays the bucket over it to find that moment,
//! or, with the bucket's size known, the rate that would have emptied it just when the 429 came.
//! A few stretches may fit more than one bucket (a large one refilling slowly, a small one
//! refilling fast): the fit starts from several and keeps the one whose replay explains every
//! stretch best.
//!
//! Pure arithmetic, tested with made-up stretches.

use std::collections::VecDeque;

/// The stretches the fit keeps: the first and the last few, so that a limit the provider
/// changes is followed.
const KEPT: usize = 6;
/// An estimate resting on this many stretches is settled: a stretch far from it means the
/// limit changed.
const SETTLED: usize = 3;
/// Below this spread of stretch lengths (see [`Fit::solve`]) a fit cannot tell the burst from
/// the rate.
const MIN_SPREAD: f64 = 0.1;
/// A sample this far from the estimate (requests, and share of what it should have taken)
/// means the limit changed.
const CHANGED_BY: f64 = 3.0;
const CHANGED_SHARE: f64 = 0.05;
/// The most a bucket is taken to hold, in seconds of a rate known before, while stretches
/// cannot tell.
const PRIOR_BURST_SECS: f64 = 0.2;
/// At most this many rounds of cutting and fitting.
const ROUNDS: usize = 8;
/// Starting points for the fit: buckets halving from the largest possible.
const STARTS: usize = 12;
/// Misfits this close (tokens squared) explain the stretches as well.
const MISFIT_TIE: f64 = 0.5;
/// A request is refused when the bucket holds less than one token: the level left at a 429 is
/// between 0 and 1.
const LEFT_AT_429: f64 = 0.5;

/// One stretch of sending, from a moment the bucket's level was known to the first request that
/// was throttled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sample {
    /// From the stretch's start to the throttled request, in seconds.
    pub secs: f64,
    /// Requests sent in that time, before the throttled one: all of them took a token.
    pub sent: f64,
    /// Whether the bucket was full when the stretch started (else it was empty).
    pub full: bool,
}

/// The provider's token bucket as estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bucket {
    /// Requests per second.
    pub rate: f64,
    /// Requests the bucket holds.
    pub burst: f64,
}

/// The fit over the recent stretches.
#[derive(Debug, Default)]
pub(super) struct Fit {
    /// Each stretch's timeline and its end (seconds, requests sent before the 429).
    stretches: VecDeque<(Timeline, (f64, f64))>,
    /// The last burst the fit could tell, for samples that cannot tell it again.
    burst: Option<f64>,
    /// The last estimate.
    last: Option<Bucket>,
}

impl Fit {
    /// Adds a stretch that ended in a 429 at `end` and returns the bucket as estimated now.
    /// `prior` is a rate known from elsewhere (an earlier run): with it, a single stretch that
    /// started full tells the burst. `None` while the stretches cannot tell a rate.
    pub(super) fn add(
        &mut self,
        timeline: Timeline,
        end: (f64, f64),
        prior: Option<f64>,
    ) -> Option<Bucket> {
        if end.0 <= 0.0 {
            return self.last;
        }
        if let Some(last) = self.last {
            let settled = self.stretches.len() >= SETTLED;
            if settled && disagrees(&timeline.sample(end, last), last) {
                // The provider changed its limit: the stretches before tell the old one (but
                // the first, the run's burst, still tells the bucket's size best).
                self.stretches.truncate(1);
            }
        }
        if self.stretches.len() == KEPT {
            // The first stays, for the same reason.
            self.stretches.remove(1);
        }
        self.stretches.push_back((timeline, end));
        // Several buckets may explain a few stretches (a large one refilling slowly, a small
        // one refilling fast): refine each starting point, keep the one whose replay explains
        // every stretch best, the smaller bucket of two that explain them as well.
        let mut best: Option<(f64, Bucket)> = None;
        for start in self.starts(prior) {
            let Some(bucket) = self.refine(start, prior) else {
                continue;
            };
            let misfit = self.misfit(bucket);
            let better = best.is_none_or(|(m, b)| {
                misfit < m - MISFIT_TIE || (misfit <= m + MISFIT_TIE && bucket.burst < b.burst)
            });
            if better {
                best = Some((misfit, bucket));
            }
        }
        self.last = best.map(|(_, bucket)| bucket);
        tracing::trace!(
            estimate = ?self.last,
            samples = ?self.samples(self.last).collect::<Vec<_>>(),
            "rate fit"
        );
        if let Some(bucket) = self.last {
            if self.samples(Some(bucket)).any(|s| s.full) {
                self.burst = Some(bucket.burst);
            }
        }
        self.last
    }

    /// Where to start refining from: the last estimate, the rate known before, and the rate
    /// the newest stretch tells for buckets from the largest possible down.
    fn starts(&self, prior: Option<f64>) -> Vec<Option<Bucket>> {
        // `None`: the stretches whole.
        let mut starts = vec![None, self.last];
        starts.extend(prior.map(|rate| Some(Bucket { rate, burst: 0.0 })));
        let bound = self.burst.or(self.burst_bound(self.last));
        if let (Some(bound), Some((timeline, end))) = (bound, self.stretches.back()) {
            let bursts = (0..STARTS).map(|k| bound * 0.5f64.powi(k as i32));
            for burst in bursts.chain([0.0]) {
                if let Some(rate) = timeline.solve(*end, burst) {
                    starts.push(Some(Bucket { rate, burst }));
                }
            }
        }
        starts
    }

    /// Cuts every stretch where `start` says the bucket was last full, fits, and again with the
    /// new estimate until it settles.
    fn refine(&self, start: Option<Bucket>, prior: Option<f64>) -> Option<Bucket> {
        let mut guess = start;
        for _ in 0..ROUNDS {
            let Some(next) = self.solve(guess, prior) else {
                // Cut there, the stretches tell nothing: the last fit stands, if any.
                return guess.filter(|_| start != guess);
            };
            let settled = guess.is_some_and(|g| {
                (next.rate - g.rate).abs() <= 1e-4 * g.rate && (next.burst - g.burst).abs() <= 0.01
            });
            guess = Some(next);
            if settled {
                break;
            }
        }
        guess
    }

    /// How badly `bucket` explains the stretches: the bucket's level replayed to each 429
    /// (which comes with less than a token left), and any earlier point where it would have run
    /// dry, in tokens squared.
    fn misfit(&self, bucket: Bucket) -> f64 {
        self.stretches
            .iter()
            .map(|(timeline, end)| {
                let (level, lowest) = timeline.levels(*end, bucket);
                (level - LEFT_AT_429).powi(2) + (LEFT_AT_429 - lowest).max(0.0).powi(2)
            })
            .sum()
    }

    /// How many stretches the estimate rests on.
    pub(super) fn len(&self) -> usize {
        self.stretches.len()
    }

    /// The burst as last estimated, if known.
    pub(super) fn burst(&self) -> Option<f64> {
        self.burst
    }

    /// The seconds of sending that tell the estimate: the stretches from where the bucket was
    /// last full (or empty) to their 429.
    pub(super) fn seconds(&self) -> f64 {
        self.samples(self.last).map(|s| s.secs).sum()
    }

    /// The fewest requests a stretch from a full bucket took: at least the bucket's size.
    pub(super) fn burst_bound(&self, guess: Option<Bucket>) -> Option<f64> {
        self.samples(guess)
            .filter(|s| s.full)
            .map(|s| s.sent)
            .reduce(f64::min)
    }

    /// The stretches as samples, cut where `guess` says the bucket was last full.
    fn samples(&self, guess: Option<Bucket>) -> impl Iterator<Item = Sample> + '_ {
        self.stretches
            .iter()
            .map(move |(timeline, end)| match guess {
                Some(bucket) => timeline.sample(*end, bucket),
                None => timeline.whole(*end),
            })
            .filter(|s| s.secs > 0.0)
            .map(|s| Sample {
                sent: s.sent.max(0.0),
                ..s
            })
    }

    /// Least squares of `sent = full × B + R × secs` over the stretches cut with `guess`,
    /// with `B` between 0 and the fewest requests a full stretch took.
    fn solve(&self, guess: Option<Bucket>, prior: Option<f64>) -> Option<Bucket> {
        let (mut a, mut b, mut c, mut d, mut e) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for s in self.samples(guess) {
            let f = if s.full { 1.0 } else { 0.0 };
            a += f;
            b += f * s.secs;
            c += s.secs * s.secs;
            d += f * s.sent;
            e += s.secs * s.sent;
        }
        if c <= 0.0 {
            return None;
        }
        // How far the full stretches' lengths differ: 0 when they are all alike (the burst and
        // the rate cannot be told apart), up to 1.
        let spread = if a > 0.0 {
            (a * c - b * b) / (a * c)
        } else {
            0.0
        };
        let burst = if a == 0.0 {
            0.0
        } else if spread >= MIN_SPREAD {
            (c * d - b * e) / (a * c - b * b)
        } else if let Some(burst) = self.burst {
            burst
        } else if let Some(rate) = prior {
            // The burst that makes the full stretches agree with the rate known before; none
            // (they took less than a token above it) means the rate is lower now. A large one
            // more likely means it is higher: buckets seldom hold more than a fraction of a
            // second.
            let burst = (d - rate * b) / a;
            if burst < 1.0 {
                return None;
            }
            burst.min(PRIOR_BURST_SECS * rate)
        } else {
            return None;
        };
        let burst = burst.clamp(0.0, self.burst_bound(guess).unwrap_or(0.0));
        // The rate for that burst, each stretch weighing by its length.
        let rate = (e - burst * b) / c;
        if !rate.is_finite() || rate <= 0.0 {
            return None;
        }
        Some(Bucket { rate, burst })
    }
}

/// Whether `sample` is far from what `bucket` says it should have taken.
fn disagrees(sample: &Sample, bucket: Bucket) -> bool {
    let burst = if sample.full { bucket.burst } else { 0.0 };
    let expected = burst + bucket.rate * sample.secs;
    (sample.sent - expected).abs() > CHANGED_BY.max(CHANGED_SHARE * expected)
}

/// What was sent when, since a moment the bucket's level was known.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Timeline {
    /// (seconds since the start, requests sent since the start), in order, from (0, 0). The
    /// sending between two points is taken as even (a point at every change of pace).
    points: Vec<(f64, f64)>,
    full: bool,
}

impl Timeline {
    /// A timeline starting with the bucket full, or empty.
    pub(super) fn new(full: bool) -> Timeline {
        Timeline {
            points: vec![(0.0, 0.0)],
            full,
        }
    }

    /// `sent` requests had left `secs` after the start.
    pub(super) fn push(&mut self, secs: f64, sent: f64) {
        self.points.push((secs, sent));
    }

    pub(super) fn len(&self) -> usize {
        self.points.len()
    }

    /// The stretch from the last moment a bucket of `bucket.rate` and `bucket.burst` was full
    /// to `end` (seconds, requests sent before the 429): the sample it makes.
    pub(super) fn sample(&self, end: (f64, f64), bucket: Bucket) -> Sample {
        match self.replay(end, bucket).1 {
            Some((secs, sent)) => Sample {
                secs: end.0 - secs,
                sent: end.1 - sent,
                full: true,
            },
            None => self.whole(end),
        }
    }

    /// The whole stretch to `end` as a sample.
    pub(super) fn whole(&self, end: (f64, f64)) -> Sample {
        Sample {
            secs: end.0,
            sent: end.1,
            full: self.full,
        }
    }

    /// The rate at which a bucket holding `burst` would have been empty at `end`.
    pub(super) fn solve(&self, end: (f64, f64), burst: f64) -> Option<f64> {
        if end.0 <= 0.0 {
            return None;
        }
        let level = |rate| self.replay(end, Bucket { rate, burst }).0;
        if level(0.0) >= LEFT_AT_429 {
            // The bucket alone held more than was sent.
            return None;
        }
        let (mut lo, mut hi) = (0.0, (end.1 + burst + 1.0) / end.0 * 4.0 + 1.0);
        while level(hi) < LEFT_AT_429 {
            hi *= 2.0;
            if hi > 1e9 {
                return None;
            }
        }
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if level(mid) < LEFT_AT_429 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some((lo + hi) / 2.0)
    }

    /// Cuts the timeline at the last moment the bucket was full before `at` seconds; returns the
    /// seconds and requests cut off (the new start's offset), or `None` when it never was.
    pub(super) fn cut(&mut self, at: (f64, f64), bucket: Bucket) -> Option<(f64, f64)> {
        let (_, Some(full)) = self.replay(at, bucket) else {
            return None;
        };
        let kept: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.0 >= full.0)
            .map(|p| (p.0 - full.0, p.1 - full.1))
            .collect();
        self.points = if kept.first() == Some(&(0.0, 0.0)) {
            kept
        } else {
            std::iter::once((0.0, 0.0)).chain(kept).collect()
        };
        self.full = true;
        Some(full)
    }

    /// The bucket's level at `end`, and the lowest it was at the points before.
    fn levels(&self, end: (f64, f64), bucket: Bucket) -> (f64, f64) {
        let (level, _, lowest) = self.run(end, bucket);
        (level, lowest)
    }

    /// The bucket's level at `end` and the last point it was full (if ever), replayed.
    fn replay(&self, end: (f64, f64), bucket: Bucket) -> (f64, Option<(f64, f64)>) {
        let (level, last_full, _) = self.run(end, bucket);
        (level, last_full)
    }

    /// Replays the bucket to `end`: its level there, the last point it was full, and the lowest
    /// level at the points before.
    fn run(&self, end: (f64, f64), bucket: Bucket) -> (f64, Option<(f64, f64)>, f64) {
        let mut level = if self.full { bucket.burst } else { 0.0 };
        let mut last_full = self.full.then_some((0.0, 0.0));
        let mut lowest = f64::INFINITY;
        let mut from = (0.0, 0.0);
        let inside = self.points.iter().skip(1).filter(|p| p.0 < end.0);
        for &to in inside {
            level += bucket.rate * (to.0 - from.0) - (to.1 - from.1);
            if level >= bucket.burst {
                level = bucket.burst;
                last_full = Some(to);
            }
            lowest = lowest.min(level);
            from = to;
        }
        level += bucket.rate * (end.0 - from.0) - (end.1 - from.1);
        (level.min(bucket.burst), last_full, lowest)
    }
}

#[cfg(test)]
#[path = "rate_estimate_tests.rs"]
mod tests;
