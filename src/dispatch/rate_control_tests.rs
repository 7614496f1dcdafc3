//! The rate controller against a simulated provider: a token bucket answering 429 with a
//! one-second `Retry-After` (as `usersync mock-server --rate-limit` does), answers a round trip
//! later, arrival times jittered. Whole syncs run in simulated time, so the tests measure what
//! the aims are about (writes over the whole run, share throttled, the next run's first second)
//! in milliseconds, without a clock.

use super::*;

/// The provider and the client of one simulated run.
#[derive(Debug, Clone, Copy)]
struct World {
    /// The bucket: requests per second, and how many it holds.
    rate: f64,
    burst: f64,
    /// How fast the client sends unpaced at first, and after `ramp` seconds (its concurrency
    /// grows meanwhile).
    unpaced: f64,
    unpaced_later: f64,
    ramp: f64,
    rtt: Duration,
    /// Arrival times at the provider vary by up to this, either way.
    jitter: Duration,
    /// Time from the process's start to the first request (reading the export, the ledger).
    startup: Duration,
}

impl World {
    /// The mock's bucket (it holds a tenth of a second), a client much faster than `rate`.
    fn mock(rate: f64) -> World {
        World {
            rate,
            burst: (rate / 10.0).max(1.0),
            unpaced: 2000.0_f64.max(3.0 * rate),
            unpaced_later: 2000.0_f64.max(3.0 * rate),
            ramp: 0.0,
            rtt: Duration::from_micros(800),
            jitter: Duration::from_micros(500),
            startup: Duration::from_millis(300),
        }
    }
}

/// What a simulated run did.
struct Run {
    ctl: RateControl,
    /// Requests answered without throttling, per second of the run.
    per_second: Vec<u64>,
    sent: u64,
    throttled: u64,
    /// Seconds from the start to the first 429.
    first_429: Option<f64>,
    elapsed: f64,
}

impl Run {
    fn writes_per_second(&self) -> f64 {
        self.per_second.iter().sum::<u64>() as f64 / self.elapsed
    }
    fn throttled_share(&self) -> f64 {
        self.throttled as f64 / self.sent as f64
    }
}

/// Sends `writes` requests (each throttled one again) through `ctl` against `world`.
fn sync(world: World, mut ctl: RateControl, origin: Instant, writes: u64) -> Run {
    let secs = |d: f64| Duration::from_secs_f64(d);
    let mut tokens = world.burst;
    let mut refilled = origin;
    let mut now = origin + world.startup;
    let mut last_send: Option<Instant> = None;
    let mut paused_until = now;
    // (answer time, sent at, throttled)
    let mut answers: VecDeque<(Instant, Instant, bool)> = VecDeque::new();
    let mut seed = 7u64;
    let (mut done, mut sent, mut throttled) = (0u64, 0u64, 0u64);
    let mut first_429 = None;
    let mut per_second = Vec::new();
    while done < writes {
        // The next send: paced, or as fast as the client goes.
        let gap = match ctl.rate(now) {
            Some(rate) => 1.0 / rate,
            None => {
                let t = now.duration_since(origin + world.startup).as_secs_f64();
                let share = if world.ramp > 0.0 {
                    (t / world.ramp).min(1.0)
                } else {
                    1.0
                };
                1.0 / (world.unpaced + share * (world.unpaced_later - world.unpaced))
            }
        };
        let mut at = last_send.map_or(now, |t| (t + secs(gap)).max(now));
        // Answers that came back before it.
        while let Some(&(answer, sent_at, was_throttled)) = answers.front() {
            if answer > at {
                break;
            }
            answers.pop_front();
            if was_throttled {
                let pause = Duration::from_secs(1);
                let cut = ctl.on_throttle(answer, sent_at, pause);
                if cut.is_some() || paused_until < answer {
                    paused_until = paused_until.max(answer + pause);
                }
            }
        }
        if at < paused_until {
            now = paused_until;
            continue;
        }
        if ctl.rate(at).is_some_and(|rate| 1.0 / rate > gap * 1.0001) {
            // The pace dropped meanwhile.
            now = at;
            continue;
        }
        at = at.max(now);
        ctl.on_send(at);
        sent += 1;
        last_send = Some(at);
        now = at;
        // At the provider half a round trip later, give or take the jitter.
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let wobble = ((seed >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 2.0;
        let arrival = at + world.rtt / 2 + secs(0.0).max(world.jitter.mul_f64(wobble.max(0.0)))
            - world.jitter.mul_f64((-wobble).max(0.0)).min(world.rtt / 2);
        if arrival > refilled {
            let gained = arrival.duration_since(refilled).as_secs_f64() * world.rate;
            tokens = (tokens + gained).min(world.burst);
            refilled = arrival;
        }
        let ok = tokens >= 1.0;
        if ok {
            tokens -= 1.0;
            done += 1;
            let second = at.duration_since(origin).as_secs() as usize;
            if per_second.len() <= second {
                per_second.resize(second + 1, 0);
            }
            per_second[second] += 1;
        } else {
            throttled += 1;
            first_429.get_or_insert(at.duration_since(origin).as_secs_f64());
        }
        answers.push_back((at + world.rtt, at, !ok));
    }
    Run {
        ctl,
        per_second,
        sent,
        throttled,
        first_429,
        elapsed: now.duration_since(origin).as_secs_f64(),
    }
}

/// A first run of about `secs` seconds, then the next one from what it learned.
fn two_runs(world: World, secs: f64) -> (Run, Run) {
    let start = Instant::now();
    let writes = (world.rate * secs) as u64;
    let first = sync(world, RateControl::new(), start, writes);
    let learned = first.ctl.settled().expect("a limit found");
    let later = start + Duration::from_secs(3600);
    let second = sync(world, RateControl::learned(learned, later), later, writes);
    (first, second)
}

fn check_aims(world: World, first: &Run, second: &Run) {
    let r = world.rate;
    let whole = first.writes_per_second();
    assert!(
        whole >= 0.93 * r && whole <= 1.02 * r,
        "{r}/s: whole run at {whole:.1}/s ({:?})",
        &first.per_second
    );
    assert!(
        first.throttled_share() < 0.01,
        "{}",
        first.throttled_share()
    );
    let learned = first.ctl.settled().unwrap();
    assert!(
        (0.97 * r..=1.005 * r).contains(&learned),
        "{r}/s: learned {learned:.2}"
    );
    // The next run: at the limit from its first whole second, without a 429 early on.
    let first_second = second.per_second[1] as f64;
    assert!(
        (0.95 * r..=1.02 * r).contains(&first_second),
        "{r}/s: next run's first second {first_second}"
    );
    assert!(second.writes_per_second() >= 0.95 * r);
}

#[test]
fn finds_the_mocks_limits_within_a_few_percent_over_the_whole_run() {
    for rate in [50.0, 200.0, 1000.0] {
        let world = World::mock(rate);
        let (first, second) = two_runs(world, 100.0);
        check_aims(world, &first, &second);
        // Its first 429 is a probe's, long after its start.
        let first_429 = second.first_429.unwrap_or(f64::INFINITY);
        assert!(
            first_429 > 10.0,
            "{rate}/s: throttled after {first_429:.1} s"
        );
    }
}

#[test]
fn a_client_that_reaches_the_limit_slowly_still_finds_it() {
    // A debug build against 1000/s: 600/s at first, 1500/s once its concurrency grew.
    let world = World {
        unpaced: 600.0,
        unpaced_later: 1500.0,
        ramp: 1.5,
        startup: Duration::from_millis(700),
        jitter: Duration::from_millis(2),
        ..World::mock(1000.0)
    };
    let (first, second) = two_runs(world, 100.0);
    check_aims(world, &first, &second);
}

#[test]
fn a_bucket_of_a_whole_second_or_of_two_requests() {
    for burst in [200.0, 2.0] {
        let world = World {
            burst,
            ..World::mock(200.0)
        };
        let (first, _) = two_runs(world, 100.0);
        let whole = first.writes_per_second();
        assert!(whole >= 0.9 * 200.0, "burst {burst}: {whole:.1}/s");
        assert!(first.throttled_share() < 0.02, "burst {burst}");
    }
}

#[test]
fn nothing_met_nothing_paced() {
    let world = World {
        rate: 1e6,
        burst: 1e6,
        ..World::mock(200.0)
    };
    let start = Instant::now();
    let run = sync(world, RateControl::new(), start, 5000);
    assert_eq!(run.throttled, 0);
    assert_eq!(run.ctl.settled(), None);
    assert_eq!(run.ctl.cuts(), 0);
}

#[test]
fn a_limit_that_rose_is_found_by_probing() {
    // Learned 200/s; the provider now allows 300/s.
    let world = World::mock(300.0);
    let start = Instant::now();
    let run = sync(world, RateControl::learned(200.0, start), start, 30_000);
    let limit = run.ctl.settled().unwrap();
    assert!((285.0..=302.0).contains(&limit), "{limit}");
    assert!(
        run.writes_per_second() > 0.85 * 300.0,
        "{:?}",
        run.per_second
    );
}

#[test]
fn a_limit_that_dropped_is_followed() {
    // Learned 300/s; the provider now allows 200/s.
    let world = World::mock(200.0);
    let start = Instant::now();
    let run = sync(world, RateControl::learned(300.0, start), start, 20_000);
    let limit = run.ctl.settled().unwrap();
    assert!((194.0..=201.0).contains(&limit), "{limit}");
    assert!(run.writes_per_second() >= 0.9 * 200.0);
}

#[test]
fn throttles_of_requests_sent_before_a_cut_are_one_event() {
    let t0 = Instant::now();
    let mut rate = RateControl::new();
    for i in 0..100 {
        rate.on_send(t0 + Duration::from_millis(i * 2));
    }
    let at = t0 + Duration::from_millis(200);
    let cut = rate.on_throttle(at, at, Duration::from_secs(1)).unwrap();
    assert_eq!(
        cut.throttled_at.round(),
        495.0,
        "measured: nothing paced it"
    );
    assert_eq!(
        (cut.new_rate * 8.0).round(),
        495.0,
        "the ramp starts at an eighth of it"
    );
    assert_eq!(cut.limit, None, "one burst does not tell the rate");
    let sent_before = at - Duration::from_millis(1);
    assert_eq!(
        rate.on_throttle(at, sent_before, Duration::from_secs(1)),
        None
    );
    assert_eq!(rate.cuts(), 1);
    assert_eq!(rate.rate(at), Some(cut.new_rate), "paused, then paced");
}

#[test]
fn a_learned_limit_is_cruised_just_below_from_the_start() {
    let now = Instant::now();
    let mut rate = RateControl::learned(200.0, now);
    assert_eq!(rate.rate(now), Some(200.0 * (1.0 - MARGIN)));
    assert_eq!(rate.settled(), Some(200.0));
    // Later it probes above it.
    let later = rate.rate(now + PROBE_FIRST).unwrap();
    assert!(later > 200.0, "{later}");
}

#[test]
fn nothing_known_nothing_paced() {
    let mut rate = RateControl::new();
    assert_eq!(rate.rate(Instant::now()), None);
    assert_eq!(rate.settled(), None);
}
