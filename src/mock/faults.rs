//! Fault injection: what makes the mock behave like a real API on a bad night.
//!
//! Every provider route goes through `inject::inject`, which counts the request and then, by the
//! configured rates and a seeded generator (so a test run is reproducible), answers 500/503,
//! answers 429 with `Retry-After`, never answers at all ("hang"), or lets the handler apply the
//! change and then drops the connection without an answer. A token bucket (`rate_limit`)
//! answers 429 past N requests per second; a capacity (`capacity`) lets only N requests be
//! served at once, each for its latency, so latency grows as clients push harder. Requests
//! about chosen users (`fail_users`) always fail, to leave exactly those rows `failed`.
//!
//! Login and token routes get no faults unless `include_auth` is set: a run's first request
//! failing at random makes tests about rows, not about logging in.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;

/// How long the mock takes to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latency {
    #[default]
    None,
    Fixed(Duration),
    /// Uniformly random in `[min, max]`, per request.
    Range(Duration, Duration),
}

impl Latency {
    fn sample(self, rng: &mut StdRng) -> Duration {
        // Always draw, so that the generator's sequence does not depend on the setting.
        let draw: f64 = rng.gen();
        match self {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Range(min, max) => min + (max.saturating_sub(min)).mul_f64(draw),
        }
    }
}

impl FromStr for Latency {
    type Err = String;
    /// `N` (milliseconds) or `MIN..MAX`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ms = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("invalid latency {s:?}: expected N or MIN..MAX milliseconds"))
        };
        match s.split_once("..") {
            Some((min, max)) => {
                let (min, max) = (ms(min)?, ms(max)?);
                if min > max {
                    return Err(format!("invalid latency {s:?}: MIN is above MAX"));
                }
                Ok(Latency::Range(min, max))
            }
            None => {
                let d = ms(s)?;
                Ok(if d.is_zero() {
                    Latency::None
                } else {
                    Latency::Fixed(d)
                })
            }
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Latency::None => f.write_str("0"),
            Latency::Fixed(d) => write!(f, "{}", d.as_millis()),
            Latency::Range(a, b) => write!(f, "{}..{}", a.as_millis(), b.as_millis()),
        }
    }
}

/// The faults a mock injects. Rates are fractions of requests in `[0, 1]`; the four random
/// rates are exclusive (one request gets at most one), so their sum must not exceed 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Seeds the fault generator (and the GNOSS GUIDs); `None` picks one at random.
    pub seed: Option<u64>,
    /// Answer 500 or 503 (half each) without touching the store.
    pub fail_rate: f64,
    /// Answer 429 with `Retry-After: retry_after_secs` without touching the store.
    pub throttle_rate: f64,
    /// Apply the change, then close the connection without answering.
    pub drop_rate: f64,
    /// Accept the request and never answer (until the client gives up or the server stops).
    pub hang_rate: f64,
    /// At most this many requests per second; past it, 429 with `Retry-After`.
    pub rate_limit: Option<f64>,
    /// The token bucket's size (requests allowed at once); default a tenth of a second's worth.
    pub rate_limit_burst: Option<u32>,
    /// Send `RateLimit-Limit` / `-Remaining` / `-Reset` / `-Policy` with every answer.
    pub rate_limit_headers: bool,
    /// The `Retry-After` seconds of an injected throttle.
    pub retry_after_secs: u64,
    /// How long each request takes.
    pub latency: Latency,
    /// At most this many requests are served at once; the others wait for their turn.
    pub capacity: Option<usize>,
    /// Whether login and token routes get faults too.
    pub include_auth: bool,
    /// Requests about these users always answer 503, store untouched (a user who keeps
    /// failing, for `retry`). A request is about a user when a segment of its path, a value of
    /// its query, or a top-level string of its JSON body equals one of these: the user's key
    /// (MeetingLawyers `user_id`, a Faveo `user_name`, an Abitmedia `email`) or remote id.
    pub fail_users: Vec<String>,
    /// Requests about these users are refused as invalid data (400 with a field error), store
    /// untouched: a row the provider rejects, for `retry --include-rejected`. Matched as
    /// `fail_users` are.
    pub reject_users: Vec<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: None,
            fail_rate: 0.0,
            throttle_rate: 0.0,
            drop_rate: 0.0,
            hang_rate: 0.0,
            rate_limit: None,
            rate_limit_burst: None,
            rate_limit_headers: false,
            retry_after_secs: 1,
            latency: Latency::None,
            capacity: None,
            include_auth: false,
            fail_users: Vec::new(),
            reject_users: Vec::new(),
        }
    }
}

impl FaultConfig {
    /// Checks the rates and limits; the message names the offending setting.
    pub fn check(&self) -> Result<(), String> {
        let rates = [
            ("fail_rate", self.fail_rate),
            ("throttle_rate", self.throttle_rate),
            ("drop_rate", self.drop_rate),
            ("hang_rate", self.hang_rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, not {rate}"));
            }
        }
        let sum: f64 = rates.iter().map(|(_, r)| r).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!(
                "fail_rate + throttle_rate + drop_rate + hang_rate must not exceed 1 (is {sum})"
            ));
        }
        if let Some(limit) = self.rate_limit {
            if !(limit.is_finite() && limit > 0.0) {
                return Err(format!("rate_limit must be above 0, not {limit}"));
            }
        }
        if self.capacity == Some(0) {
            return Err("capacity must be at least 1".into());
        }
        Ok(())
    }
}

/// A token bucket refilled at `rate` per second, holding at most `burst`.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: f64, burst: Option<u32>) -> Self {
        let burst = burst.map_or((rate / 10.0).max(1.0), |b| f64::from(b.max(1)));
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let gained = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + gained).min(self.burst);
        self.last = now;
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self) -> Result<(), Duration> {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }

    /// The `RateLimit-*` headers' values.
    fn headers(&self) -> RateHeaders {
        let missing = (self.burst - self.tokens).max(0.0);
        // The policy: the sustained rate as whole requests per whole seconds.
        let (quota, window) = if self.rate >= 1.0 {
            (self.rate.round() as u64, 1)
        } else {
            (1, (1.0 / self.rate).round() as u64)
        };
        RateHeaders {
            limit: self.rate.round() as u64,
            remaining: self.tokens.floor() as u64,
            reset: (missing / self.rate).ceil() as u64,
            policy: (quota, window),
        }
    }
}

/// What the `RateLimit-*` headers say: `RateLimit-Limit` (requests per second, rounded),
/// `RateLimit-Remaining` (whole tokens left), `RateLimit-Reset` (seconds until the bucket is
/// full) and `RateLimit-Policy: Q;w=W` (the sustained rate, Q requests per W seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RateHeaders {
    pub limit: u64,
    pub remaining: u64,
    pub reset: u64,
    pub policy: (u64, u64),
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    Fail(u16),
    Throttle,
    Drop,
    Hang,
}

/// What the engine decided for one request.
#[derive(Default)]
pub(super) struct Decision {
    /// Refused by the rate limit: the wait until a token is there.
    pub rate_limited: Option<Duration>,
    /// The `RateLimit-*` headers to send, when asked to.
    pub rate_headers: Option<RateHeaders>,
    pub capacity: Option<Arc<Semaphore>>,
    pub latency: Duration,
    pub fault: Option<Fault>,
    pub retry_after_secs: u64,
    /// [`FaultConfig::fail_users`] (empty on login routes).
    pub fail_users: Vec<String>,
    /// [`FaultConfig::reject_users`] (empty on login routes).
    pub reject_users: Vec<String>,
}

/// The fault settings of one server and the state they need (generator, bucket, capacity).
pub struct FaultEngine {
    config: FaultConfig,
    rng: StdRng,
    bucket: Option<TokenBucket>,
    capacity: Option<Arc<Semaphore>>,
}

impl FaultEngine {
    /// An engine for `config` (already checked).
    pub fn new(config: FaultConfig) -> Self {
        let seed = config.seed.unwrap_or_else(rand::random);
        FaultEngine {
            rng: StdRng::seed_from_u64(seed),
            bucket: config
                .rate_limit
                .map(|rate| TokenBucket::new(rate, config.rate_limit_burst)),
            capacity: config.capacity.map(|n| Arc::new(Semaphore::new(n))),
            config,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// The fate of the next request (on a login route when `auth_route`).
    pub(super) fn decide(&mut self, auth_route: bool) -> Decision {
        if auth_route && !self.config.include_auth {
            return Decision::default();
        }
        let c = &self.config;
        // A fixed number of draws per request keeps a seeded run reproducible.
        let draw: f64 = self.rng.gen();
        let coin: bool = self.rng.gen();
        let latency = c.latency.sample(&mut self.rng);
        let code = if coin { 503 } else { 500 };
        let bands = [
            (c.hang_rate, Fault::Hang),
            (c.fail_rate, Fault::Fail(code)),
            (c.throttle_rate, Fault::Throttle),
            (c.drop_rate, Fault::Drop),
        ];
        let mut edge = 0.0;
        let fault = bands.into_iter().find_map(|(rate, fault)| {
            edge += rate;
            (draw < edge).then_some(fault)
        });
        let (rate_limited, rate_headers) = match self.bucket.as_mut() {
            Some(bucket) => {
                let taken = bucket.take();
                let headers = c.rate_limit_headers.then(|| bucket.headers());
                (taken.err(), headers)
            }
            None => (None, None),
        };
        Decision {
            rate_limited,
            rate_headers,
            capacity: self.capacity.clone(),
            latency,
            fault,
            retry_after_secs: c.retry_after_secs,
            fail_users: c.fail_users.clone(),
            reject_users: c.reject_users.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_parses_fixed_and_ranges() {
        assert_eq!("0".parse::<Latency>(), Ok(Latency::None));
        assert_eq!(
            "25".parse::<Latency>(),
            Ok(Latency::Fixed(Duration::from_millis(25)))
        );
        assert_eq!(
            "5..20".parse::<Latency>(),
            Ok(Latency::Range(
                Duration::from_millis(5),
                Duration::from_millis(20)
            ))
        );
        assert!("20..5".parse::<Latency>().is_err());
        assert!("fast".parse::<Latency>().is_err());
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let d = "5..20".parse::<Latency>().unwrap().sample(&mut rng);
            assert!(d >= Duration::from_millis(5) && d <= Duration::from_millis(20));
        }
    }

    #[test]
    fn rates_are_checked() {
        let ok = FaultConfig {
            fail_rate: 0.5,
            drop_rate: 0.5,
            ..FaultConfig::default()
        };
        assert!(ok.check().is_ok());
        let over = FaultConfig {
            throttle_rate: 0.6,
            ..ok.clone()
        };
        assert!(over.check().unwrap_err().contains("must not exceed 1"));
        let negative = FaultConfig {
            hang_rate: -0.1,
            ..FaultConfig::default()
        };
        assert!(negative.check().unwrap_err().contains("hang_rate"));
    }

    #[test]
    fn seeded_rates_are_reproducible_and_close() {
        let config = FaultConfig {
            seed: Some(42),
            fail_rate: 0.1,
            throttle_rate: 0.05,
            drop_rate: 0.02,
            ..FaultConfig::default()
        };
        let faults = |config: &FaultConfig| {
            let mut engine = FaultEngine::new(config.clone());
            (0..10_000)
                .map(|_| engine.decide(false).fault)
                .collect::<Vec<_>>()
        };
        let a = faults(&config);
        assert_eq!(a, faults(&config));
        let count = |pred: fn(&Option<Fault>) -> bool| a.iter().filter(|f| pred(f)).count();
        let fails = count(|f| matches!(f, Some(Fault::Fail(_))));
        let throttles = count(|f| matches!(f, Some(Fault::Throttle)));
        let drops = count(|f| matches!(f, Some(Fault::Drop)));
        assert!((850..1150).contains(&fails), "{fails}");
        assert!((400..600).contains(&throttles), "{throttles}");
        assert!((120..280).contains(&drops), "{drops}");
        let mut engine = FaultEngine::new(config);
        assert!(engine.decide(true).fault.is_none());
    }

    #[test]
    fn token_bucket_refuses_past_its_burst() {
        let mut bucket = TokenBucket::new(10.0, Some(3));
        assert!(bucket.take().is_ok());
        assert!(bucket.take().is_ok());
        assert!(bucket.take().is_ok());
        let wait = bucket.take().unwrap_err();
        assert!(wait <= Duration::from_millis(100));
        assert_eq!(bucket.headers().limit, 10);
        assert_eq!(bucket.headers().policy, (10, 1));
        assert_eq!(TokenBucket::new(0.5, None).headers().policy, (1, 2));
    }
}
