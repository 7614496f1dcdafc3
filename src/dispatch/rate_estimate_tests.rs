//! The estimator's arithmetic on made-up stretches: what a token bucket of a known rate and
//! size lets through, fed back to see the bucket come out.

use super::*;

/// The stretch a bucket of `rate` holding `burst` allows when sending at `pace`, starting
/// full.
fn full(rate: f64, burst: f64, pace: f64) -> Sample {
    let secs = burst / (pace - rate);
    Sample {
        secs,
        sent: (pace * secs).floor(),
        full: true,
    }
}

/// Adds a stretch of even sending to the fit.
fn add(fit: &mut Fit, sample: Sample, prior: Option<f64>) -> Option<Bucket> {
    fit.add(
        Timeline::new(sample.full),
        (sample.secs, sample.sent),
        prior,
    )
}

fn close(actual: f64, expected: f64, within: f64) -> bool {
    (actual - expected).abs() <= within * expected
}

/// Sends at `paces` (requests per second, each for the given seconds) from a full bucket of
/// `rate` holding `burst`, a point every 50 ms; returns the timeline and the end (seconds,
/// requests before the first 429), or `None` if nothing was throttled.
fn send(rate: f64, burst: f64, paces: &[(f64, f64)]) -> (Timeline, Option<(f64, f64)>) {
    let mut timeline = Timeline::new(true);
    let (mut t, mut sent, mut tokens, mut next_point) = (0.0, 0.0, burst, 0.05);
    let mut refilled = 0.0;
    for &(pace, secs) in paces {
        let until = t + secs;
        timeline.push(t, sent);
        while t + 1.0 / pace <= until {
            t += 1.0 / pace;
            tokens = (tokens + rate * (t - refilled)).min(burst);
            refilled = t;
            if tokens < 1.0 {
                return (timeline, Some((t, sent)));
            }
            tokens -= 1.0;
            sent += 1.0;
            if t >= next_point {
                timeline.push(t, sent);
                next_point += 0.05;
            }
        }
        t = until;
    }
    (timeline, None)
}

#[test]
fn a_burst_then_a_long_stretch_tell_the_rate_and_the_burst() {
    let mut fit = Fit::default();
    // The run's start: 2000/s against 200/s holding 20: the burst and a little more.
    assert_eq!(add(&mut fit, full(200.0, 20.0, 2000.0), None), None);
    // Then 5% above the limit: 2 s until the bucket is empty.
    let bucket = add(&mut fit, full(200.0, 20.0, 210.0), None).unwrap();
    assert!(close(bucket.rate, 200.0, 0.01), "{bucket:?}");
    assert!(close(bucket.burst, 20.0, 0.1), "{bucket:?}");
}

#[test]
fn the_burst_does_not_inflate_the_rate() {
    // What got through over the stretch is 210/s: the burst counted as rate.
    let sample = full(200.0, 20.0, 210.0);
    assert!(close(sample.sent / sample.secs, 210.0, 0.01));
    let mut fit = Fit::default();
    add(&mut fit, full(200.0, 20.0, 1000.0), None);
    let bucket = add(&mut fit, sample, None).unwrap();
    assert!(bucket.rate < 201.0, "{bucket:?}");
}

#[test]
fn an_empty_start_is_the_rate_itself() {
    let mut fit = Fit::default();
    let empty = Sample {
        secs: 2.0,
        sent: 100.0,
        full: false,
    };
    assert_eq!(add(&mut fit, empty, None).unwrap().rate, 50.0);
}

#[test]
fn a_known_rate_tells_the_burst_of_a_single_stretch() {
    let mut fit = Fit::default();
    let bucket = add(&mut fit, full(1000.0, 100.0, 1050.0), Some(1000.0)).unwrap();
    assert!(close(bucket.rate, 1000.0, 0.005), "{bucket:?}");
    assert!(close(bucket.burst, 100.0, 0.05), "{bucket:?}");
    assert_eq!(
        add(&mut Fit::default(), full(1000.0, 100.0, 1050.0), None),
        None
    );
}

#[test]
fn alike_stretches_use_the_burst_found_before() {
    let mut fit = Fit::default();
    add(&mut fit, full(50.0, 5.0, 2000.0), None);
    add(&mut fit, full(50.0, 5.0, 60.0), None).unwrap();
    add(&mut fit, full(50.0, 5.0, 52.0), None).unwrap();
    // The limit drops to 40/s; the following stretches tell it.
    for _ in 0..5 {
        add(&mut fit, full(40.0, 5.0, 49.0), None);
    }
    let bucket = add(&mut fit, full(40.0, 5.0, 49.0), None).unwrap();
    assert!(close(bucket.rate, 40.0, 0.02), "{bucket:?}");
}

#[test]
fn noise_in_the_counts_moves_the_rate_little_on_long_stretches() {
    let mut fit = Fit::default();
    let burst = full(200.0, 20.0, 1500.0);
    add(
        &mut fit,
        Sample {
            sent: burst.sent + 2.0,
            ..burst
        },
        None,
    );
    let long = full(200.0, 20.0, 205.0);
    let noisy = Sample {
        sent: long.sent - 3.0,
        secs: long.secs * 1.01,
        ..long
    };
    let bucket = add(&mut fit, noisy, None).unwrap();
    assert!(close(bucket.rate, 200.0, 0.02), "{bucket:?}");
}

#[test]
fn the_replay_finds_where_the_bucket_was_last_full() {
    // 3 s at 190/s (below the limit: the bucket stays full), then 230/s until the 429.
    let (timeline, end) = send(200.0, 20.0, &[(190.0, 3.0), (230.0, 5.0)]);
    let end = end.expect("throttled");
    let bucket = Bucket {
        rate: 200.0,
        burst: 20.0,
    };
    let sample = timeline.sample(end, bucket);
    assert!(close(sample.secs, 20.0 / 30.0, 0.1), "{sample:?}");
    assert!(sample.full);
    // The whole stretch would have read as 192/s after a burst of 20.
    assert!((end.1 - 20.0) / end.0 < 193.0);
}

#[test]
fn a_pace_a_little_over_the_limit_drains_the_bucket_before_the_next_step() {
    // 1% over for 1.5 s (20 tokens, 3 gone), then 50% over: the second step alone would read
    // a 17-token bucket as 20 and the rate as far lower.
    let (timeline, end) = send(200.0, 20.0, &[(202.0, 1.5), (300.0, 2.0)]);
    let end = end.expect("throttled");
    let rate = timeline.solve(end, 20.0).unwrap();
    assert!(close(rate, 200.0, 0.01), "{rate}");
}

#[test]
fn a_ramp_tells_the_rate_when_the_burst_is_known() {
    // Doubling every half second from 40/s: through 200/s after about 1.2 s.
    let paces: Vec<(f64, f64)> = (0..40)
        .map(|i| (40.0 * 2f64.powf(i as f64 * 0.05 / 0.5), 0.05))
        .collect();
    let (timeline, end) = send(200.0, 20.0, &paces);
    let end = end.expect("throttled");
    let rate = timeline.solve(end, 20.0).unwrap();
    assert!(close(rate, 200.0, 0.02), "{rate}");
    // A burst taken too large reads a lower rate: the safe side.
    let cautious = timeline.solve(end, 24.0).unwrap();
    assert!(cautious < rate && cautious > 180.0, "{cautious}");
}

#[test]
fn a_pause_refills_the_bucket_in_the_replay() {
    // From a 429 (empty), a 1 s pause, then 250/s against 200/s holding 20.
    let mut timeline = Timeline::new(false);
    timeline.push(1.0, 0.0);
    let secs_after: f64 = 20.0 / 50.0;
    let sent = (250.0 * secs_after).floor();
    let end = (1.0 + secs_after, sent);
    let bucket = Bucket {
        rate: 200.0,
        burst: 20.0,
    };
    let sample = timeline.sample(end, bucket);
    assert!(
        sample.full && close(sample.secs, secs_after, 0.01),
        "{sample:?}"
    );
    let rate = timeline.solve(end, 20.0).unwrap();
    assert!(close(rate, 200.0, 0.02), "{rate}");
}

#[test]
fn a_cut_timeline_starts_where_the_bucket_was_full() {
    let (mut timeline, _) = send(200.0, 20.0, &[(100.0, 2.0)]);
    let bucket = Bucket {
        rate: 200.0,
        burst: 20.0,
    };
    let before = timeline.len();
    let offset = timeline.cut((2.0, 199.0), bucket).unwrap();
    assert!(offset.0 > 1.9, "{offset:?}");
    assert!(timeline.len() < before);
}
