//! Counts of what the mock was asked and what it answered, for `GET /__mock/stats` and tests.
//!
//! Requests are counted by method, route, status, outcome and injected fault, and per second
//! since the server started (requests begun and requests throttled in each second), so rate
//! tests can read the rate the mock actually saw. Admin routes are not counted.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

/// At most this many one-second buckets are kept (a day); later requests count in the last one.
const MAX_SECONDS: usize = 86_400;

/// One second of the server's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SecondStats {
    /// Requests that arrived in this second.
    pub requests: u64,
    /// Requests answered 429 (rate limit or injected throttling) that arrived in this second.
    pub throttled: u64,
}

/// A copy of the counters, as `GET /__mock/stats` serves them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsSnapshot {
    /// Requests received (admin routes excluded).
    pub requests: u64,
    /// Requests answered or given up (dropped, hung requests excluded until the server stops).
    pub completed: u64,
    pub by_method: BTreeMap<String, u64>,
    /// `"POST /s2s/v1/users"`, with the route's own pattern (`/s2s/v1/users/{user_id}`).
    pub by_route: BTreeMap<String, u64>,
    /// The status sent, or `dropped` / `hung` when none was.
    pub by_status: BTreeMap<String, u64>,
    /// `success` (2xx), `client_error` (4xx), `server_error` (5xx), `dropped`, `hung`.
    pub by_outcome: BTreeMap<String, u64>,
    /// Injected faults: `fail_500`, `fail_503`, `throttle`, `rate_limit`, `drop`, `hang`.
    pub by_fault: BTreeMap<String, u64>,
    /// TCP connections accepted (a client that keeps its connections opens few).
    pub connections: u64,
    /// Requests in flight now, and the most at any time.
    pub in_flight: u64,
    pub max_in_flight: u64,
    /// Seconds since the server started.
    pub elapsed_secs: f64,
    /// Per second since the server started.
    pub per_second: Vec<SecondStats>,
}

impl StatsSnapshot {
    /// Requests answered with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status
            .get(&status.to_string())
            .copied()
            .unwrap_or(0)
    }

    /// How many times `fault` was injected.
    pub fn fault(&self, fault: &str) -> u64 {
        self.by_fault.get(fault).copied().unwrap_or(0)
    }
}

/// The live counters of one mock server.
pub struct Stats {
    started: Instant,
    inner: Mutex<StatsSnapshot>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            inner: Mutex::new(StatsSnapshot::default()),
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Answered(u16),
    Dropped,
    Hung,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, StatsSnapshot> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn second(&self, snapshot: &mut StatsSnapshot) -> usize {
        let second = (self.started.elapsed().as_secs() as usize).min(MAX_SECONDS - 1);
        if snapshot.per_second.len() <= second {
            snapshot
                .per_second
                .resize(second + 1, SecondStats::default());
        }
        second
    }

    /// A request arrived on `route`; returns the second it arrived in (for [`Stats::end`]).
    pub fn begin(&self, method: &str, route: &str) -> usize {
        let mut s = self.lock();
        s.requests += 1;
        *s.by_method.entry(method.to_string()).or_default() += 1;
        *s.by_route.entry(format!("{method} {route}")).or_default() += 1;
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        let second = self.second(&mut s);
        s.per_second[second].requests += 1;
        second
    }

    /// A fault was injected.
    pub fn fault(&self, fault: &str) {
        *self.lock().by_fault.entry(fault.to_string()).or_default() += 1;
    }

    /// The request that arrived in `second` ended so.
    pub fn end(&self, second: usize, ending: Ending) {
        let mut s = self.lock();
        let (status, outcome) = match ending {
            Ending::Answered(code) => (
                code.to_string(),
                match code {
                    200..=399 => "success",
                    400..=499 => "client_error",
                    _ => "server_error",
                },
            ),
            Ending::Dropped => ("dropped".to_string(), "dropped"),
            Ending::Hung => ("hung".to_string(), "hung"),
        };
        if ending == Ending::Answered(429) {
            if let Some(bucket) = s.per_second.get_mut(second) {
                bucket.throttled += 1;
            }
        }
        *s.by_status.entry(status).or_default() += 1;
        *s.by_outcome.entry(outcome.to_string()).or_default() += 1;
        if ending != Ending::Hung {
            s.completed += 1;
        }
    }

    /// Counts a connection accepted.
    pub fn connected(&self) {
        self.lock().connections += 1;
    }

    /// A request left (answered, dropped or abandoned by its connection).
    pub fn leave(&self) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }

    /// A copy of the counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut s = self.lock().clone();
        s.elapsed_secs = self.started.elapsed().as_secs_f64();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_every_key() {
        let stats = Stats::default();
        let a = stats.begin("POST", "/users");
        let b = stats.begin("PUT", "/users/{id}");
        assert_eq!(stats.snapshot().max_in_flight, 2);
        stats.fault("throttle");
        stats.end(a, Ending::Answered(429));
        stats.leave();
        stats.end(b, Ending::Dropped);
        stats.leave();
        let s = stats.snapshot();
        assert_eq!(s.requests, 2);
        assert_eq!(s.completed, 2);
        assert_eq!(s.in_flight, 0);
        assert_eq!(s.by_method["POST"], 1);
        assert_eq!(s.by_route["PUT /users/{id}"], 1);
        assert_eq!(s.status(429), 1);
        assert_eq!(s.by_status["dropped"], 1);
        assert_eq!(s.by_outcome["client_error"], 1);
        assert_eq!(s.fault("throttle"), 1);
        assert_eq!(s.per_second[0].requests, 2);
        assert_eq!(s.per_second[0].throttled, 1);
    }
}
