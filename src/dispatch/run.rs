//! The [`Dispatcher`]: takes jobs from a stream, at most `concurrency` at a time, drives them
//! together, and hands every result to the caller's channel.
//!
//! The jobs are futures polled by the run itself (not spawned tasks): a finished request wakes
//! one task instead of two, which measurably cuts CPU per request; the connections' I/O still
//! runs on hyper's own tasks, on every core.
//!
//! Backpressure both ways: a job is pulled only when a place is free (memory stays flat on a huge
//! stream), and a result is handed on only when the receiver (the ledger writer) takes it.

use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, Stream, StreamExt};
use governor::{Quota, RateLimiter};
use tokio::sync::mpsc;

use super::breaker::Breaker;
use super::control::{Control, Destination, Phase};
use super::stop::{StopLevel, StopSignal};
use super::{job, AbortReason, DispatchReport, DispatchSettings, Job, JobResult};
use crate::provider::{Bulk, Options, Provider, Session};

/// Sends jobs to one target. Build one per target and run; the rate limiter persists across runs.
pub struct Dispatcher {
    target: Arc<Destination>,
}

/// A setting the dispatcher cannot work with.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct InvalidSettings {
    /// The setting's name (`rate_limit`, `burst`, `concurrency`).
    pub key: &'static str,
    pub message: String,
}

impl Dispatcher {
    /// A dispatcher sending through `provider` with `session`'s authentication, over `client`
    /// (see [`super::http_client`]), to `base_url`.
    pub fn new(
        provider: &'static dyn Provider,
        session: Arc<dyn Session>,
        client: reqwest::Client,
        mut base_url: url::Url,
        settings: DispatchSettings,
    ) -> Result<Dispatcher, InvalidSettings> {
        if settings.concurrency == 0 {
            return Err(InvalidSettings {
                key: "concurrency",
                message: "must be at least 1".into(),
            });
        }
        let limiter = match settings.rate_limit {
            None => None,
            Some(rate) => Some(RateLimiter::direct(quota(rate, settings.burst)?)),
        };
        // Until `with_options`: the provider's defaults, which every provider accepts.
        let options = provider
            .parse_options(&toml::Table::new())
            .map_err(|e| InvalidSettings {
                key: "options",
                message: e.to_string(),
            })?;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(Dispatcher {
            target: Arc::new(Destination {
                provider,
                session,
                client,
                base_url,
                settings,
                options,
                create_only: Vec::new(),
                limiter,
                bulk: None,
            }),
        })
    }

    /// Gives the adapter the target's options, as its provider parsed them (GNOSS
    /// `community_id`, Faveo's deactivate actions, MeetingLawyers' `conflict_statuses`, ...).
    pub fn with_options(mut self, options: Options) -> Dispatcher {
        if let Some(target) = Arc::get_mut(&mut self.target) {
            target.options = options;
        }
        self
    }

    /// Sets the fields sent only when a user is created: stripped from every other request.
    pub fn with_create_only(mut self, fields: Vec<String>) -> Dispatcher {
        if let Some(target) = Arc::get_mut(&mut self.target) {
            target.create_only = fields;
        }
        self
    }

    /// Sends writes in bulk requests within `bulk`'s limits (a target that said it takes them).
    /// `concurrency` then bounds HTTP requests in flight, each carrying up to a batch of jobs.
    pub fn with_bulk(mut self, bulk: Bulk) -> Dispatcher {
        if let Some(target) = Arc::get_mut(&mut self.target) {
            target.bulk = Some(bulk);
        }
        self
    }

    /// Sends every job of `jobs` and sends one [`JobResult`] per job pulled to `results`, until
    /// the stream ends or the run stops (refused credentials, circuit breaker, `stop`, deadline,
    /// request quota). Jobs left in the stream are not pulled: recording them is the caller's.
    pub async fn run<S, M>(
        &self,
        jobs: S,
        results: mpsc::Sender<JobResult<M>>,
        mut stop: StopSignal,
    ) -> DispatchReport
    where
        S: Stream<Item = Job<M>>,
        M: Send + 'static,
    {
        let started = Instant::now();
        let settings = &self.target.settings;
        let ctl = Arc::new(Control::new(self.target.clone()));
        let mut phase = ctl.phase_rx();
        let mut breaker = Breaker::new(settings.breaker_threshold);
        let mut working: FuturesUnordered<_> = FuturesUnordered::new();
        let mut jobs = pin!(jobs);
        let mut exhausted = false;
        let mut pulled = 0u64;

        let far_future = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let deadline = settings.deadline.map(tokio::time::Instant::from_std);
        let mut deadline_timer = pin!(tokio::time::sleep_until(deadline.unwrap_or(far_future)));
        let mut drain_timer = pin!(tokio::time::sleep_until(far_future));
        let mut draining = false;

        apply_stop(&ctl, stop.level());
        loop {
            let current = *phase.borrow_and_update();
            let halted = current >= Phase::Halted;
            if halted && !draining {
                draining = true;
                drain_timer
                    .as_mut()
                    .reset(tokio::time::Instant::now() + settings.drain_timeout);
            }
            if working.is_empty() && (exhausted || halted) {
                break;
            }
            let can_pull = !exhausted && !halted && ctl.has_room(working.len());

            tokio::select! {
                biased;
                level = stop.raised() => apply_stop(&ctl, level),
                _ = drain_timer.as_mut(), if draining && current < Phase::Abandoned => {
                    tracing::info!(in_flight = working.len(), "drain timeout: abandoning in-flight requests");
                    ctl.abandon();
                }
                _ = deadline_timer.as_mut(), if deadline.is_some() && !halted => {
                    ctl.abort(AbortReason::Deadline);
                }
                _ = phase.changed() => {}
                _ = ctl.concurrency_raised(), if !exhausted && !halted => {}
                Some(result) = working.next(), if !working.is_empty() => {
                    hand_over(&ctl, &mut breaker, &results, result).await;
                }
                next = jobs.next(), if can_pull => match next {
                    Some(job) => {
                        pulled += 1;
                        // The meta waits beside the job's future: attempts never clone it.
                        let (job, meta) = job.split();
                        working.push(job::process(ctl.clone(), job).map(|r| r.with_meta(meta)));
                    }
                    None => exhausted = true,
                },
            }
        }

        let counters = ctl.counters();
        DispatchReport {
            aborted: ctl.reason(),
            requests: counters.requests,
            retries: counters.retries,
            throttled: counters.throttled,
            responses: counters.responses,
            jobs: pulled,
            elapsed: started.elapsed(),
            adaptive: ctl.adaptive_report(),
        }
    }
}

/// Passes a finished job's result on, after the circuit breaker has seen it.
async fn hand_over<M>(
    ctl: &Control,
    breaker: &mut Breaker,
    results: &mpsc::Sender<JobResult<M>>,
    result: JobResult<M>,
) {
    if let Some((kind, count)) = breaker.observe(&result.outcome) {
        ctl.abort(AbortReason::CircuitBreaker { kind, count });
    }
    if results.send(result).await.is_err() {
        ctl.abort(AbortReason::ResultsClosed);
        ctl.abandon();
    }
}

/// Turns a stop level into the run's phase.
fn apply_stop(ctl: &Control, level: StopLevel) {
    match level {
        StopLevel::Run => {}
        StopLevel::Graceful => ctl.abort(AbortReason::Interrupted),
        StopLevel::Hard => {
            ctl.abort(AbortReason::HardInterrupted);
            ctl.abandon();
        }
    }
}

/// The governor quota for `rate` requests per second with bursts of `burst`.
fn quota(rate: f64, burst: u32) -> Result<Quota, InvalidSettings> {
    let invalid = |message: &str| InvalidSettings {
        key: "rate_limit",
        message: message.into(),
    };
    if !rate.is_finite() || rate <= 0.0 {
        return Err(invalid("must be a positive number of requests per second"));
    }
    let period = Duration::try_from_secs_f64(1.0 / rate)
        .ok()
        .filter(|p| !p.is_zero())
        .ok_or_else(|| invalid("is too large"))?;
    let burst = NonZeroU32::new(burst).ok_or(InvalidSettings {
        key: "burst",
        message: "must be at least 1".into(),
    })?;
    Quota::with_period(period)
        .map(|q| q.allow_burst(burst))
        .ok_or_else(|| invalid("is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_follows_the_rate_and_burst() {
        let q = quota(20.0, 3).unwrap();
        assert_eq!(q.replenish_interval(), Duration::from_millis(50));
        assert_eq!(q.burst_size().get(), 3);
        let slow = quota(0.5, 1).unwrap();
        assert_eq!(slow.replenish_interval(), Duration::from_secs(2));
    }

    #[test]
    fn quota_refuses_nonsense() {
        assert_eq!(quota(0.0, 1).unwrap_err().key, "rate_limit");
        assert_eq!(quota(-3.0, 1).unwrap_err().key, "rate_limit");
        assert_eq!(quota(f64::NAN, 1).unwrap_err().key, "rate_limit");
        assert_eq!(quota(1e30, 1).unwrap_err().key, "rate_limit");
        assert_eq!(quota(10.0, 0).unwrap_err().key, "burst");
    }
}
