//! Sends jobs (one user operation each) through a provider, and reports one final result per job.
//!
//! Everything a provider adapter should not have to know lives here, once: the pooled HTTP client,
//! the rate limit (per attempt, retries included), the bound on requests in flight, retries with
//! exponential backoff and full jitter, `Retry-After`, the create-that-already-exists fallback to
//! an update, the abort on refused credentials, the circuit breaker, and graceful or hard stops.
//!
//! The pieces, one file each:
//! - `client.rs`: the one pooled `reqwest::Client` ([`http_client`]);
//! - `stop.rs`: the stop signal a caller raises on Ctrl-C ([`stop_signal`]);
//! - `backoff.rs`: retry delays and `Retry-After` parsing;
//! - `attempt.rs`: one HTTP attempt, classified;
//! - `job.rs`: one job's attempts until its final outcome;
//! - `control.rs`: what every job of a run shares (rate limiter, stop phase, counters);
//! - `breaker.rs`: the circuit breaker;
//! - `bulk.rs`: writes sent together in bulk requests, for a target that takes them;
//! - `ratelimit_headers.rs`: a provider's `RateLimit-*` / `X-RateLimit-*` headers, read;
//! - `pacer.rs`: spacing requests at a rate that changes during the run (headers, adaptive);
//! - `aimd.rs`, `rate_control.rs`, `rate_estimate.rs`, `adaptive.rs`: `concurrency = "auto"`
//!   (requests in flight from round trips and push-back, requests per second from the
//!   provider's bucket as its 429s tell it);
//! - `run.rs`: [`Dispatcher`] and its run loop.
//!
//! Every job the dispatcher pulls from its stream yields exactly one [`JobResult`], on every
//! path (success, rejection, retries exhausted, abort, stop, even a panicking adapter). Jobs it has
//! not pulled when it stops are the caller's to record (see [`JobResult::not_attempted`]).

mod adaptive;
mod aimd;
mod attempt;
mod backoff;
mod breaker;
mod bulk;
mod client;
mod code;
mod control;
mod job;
mod oneshot;
mod pacer;
mod rate_control;
mod rate_estimate;
mod ratelimit_headers;
mod run;
mod stop;

use std::fmt;
use std::time::{Duration, Instant};

use crate::exit::Exit;
use crate::ledger::RowNote;
use crate::payload::Payload;
use crate::provider::{Operation, UserRef};
use crate::validate::FieldError;

pub use adaptive::{AdaptiveReport, AdaptiveSettings};
pub use backoff::backoff_delay;
pub use client::{http_client, USER_AGENT};
pub use code::FailureCode;
pub use oneshot::{discover, send_once};
pub use ratelimit_headers::{parse_rate_limit, RateLimitInfo};
pub use run::{Dispatcher, InvalidSettings};
pub use stop::{stop_signal, StopHandle, StopLevel, StopSignal};

/// How the dispatcher paces, retries and stops. Built once from the validated plan.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Requests per second (attempts, retries included); `None` for no limit.
    pub rate_limit: Option<f64>,
    /// How many requests may leave at once after an idle period (at least 1).
    pub burst: u32,
    /// At most this many jobs are taken from the stream and worked on at once, so at most this
    /// many requests are in flight. A job keeps its place while it waits to retry. With
    /// `adaptive`, the ceiling the controller never exceeds.
    pub concurrency: usize,
    /// `concurrency = "auto"`: the number of jobs at once (up to `concurrency`) and a rate (under
    /// `rate_limit`) are found at run time. `None`: both stay as configured.
    pub adaptive: Option<AdaptiveSettings>,
    /// Retries of a passing problem (5xx, 429, timeout, dropped connection) after the first attempt.
    pub max_retries: u32,
    /// Per-request timeout (connect, send, answer and body).
    pub timeout: Duration,
    /// The first retry waits a random time in `[0, backoff_base]`, the n-th in
    /// `[0, min(backoff_max, backoff_base * 2^n)]` (full jitter).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The longest `Retry-After` honoured; a provider asking for more waits this long.
    pub retry_after_max: Duration,
    /// This many consecutive final failures of the same kind abort the run; 0 disables.
    pub breaker_threshold: u32,
    /// After a graceful stop or an abort, how long in-flight requests may take to finish before
    /// they are abandoned.
    pub drain_timeout: Duration,
    /// Stop taking new jobs at this time (the nightly window); in-flight requests finish.
    pub deadline: Option<Instant>,
    /// Stop taking new jobs once this many requests have been sent (a provider's daily quota).
    pub max_requests: Option<u64>,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            rate_limit: None,
            burst: 1,
            concurrency: 8,
            adaptive: None,
            max_retries: 5,
            timeout: Duration::from_secs(30),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            retry_after_max: Duration::from_secs(300),
            breaker_threshold: 200,
            drain_timeout: Duration::from_secs(30),
            deadline: None,
            max_requests: None,
        }
    }
}

/// One operation on one user, from one input row, carrying the caller's `meta` about the row
/// (what the ledger needs once it is answered): the dispatcher never reads it, and hands it
/// back with the job's result, so no side table has to follow the rows in flight.
#[derive(Clone)]
pub struct Job<M = ()> {
    /// The input line the row came from (negative for leavers, who have none).
    pub line: i64,
    pub op: Operation,
    pub user: UserRef,
    /// The validated canonical fields (for a patch, only the changed ones).
    pub payload: Payload,
    /// Send [`Operation::Reactivate`] first: the user was deactivated by an earlier run and is
    /// back, at a provider that gives access back by a request of its own (GNOSS).
    pub reactivate: bool,
    pub meta: M,
}

impl<M> Job<M> {
    /// The requests it takes: two for a returning user sent a reactivation first.
    pub fn requests(&self) -> u64 {
        1 + u64::from(self.reactivate)
    }

    /// The job without its meta, and the meta.
    pub fn split(self) -> (Job, M) {
        let Job {
            line,
            op,
            user,
            payload,
            reactivate,
            meta,
        } = self;
        let job = Job {
            line,
            op,
            user,
            payload,
            reactivate,
            meta: (),
        };
        (job, meta)
    }
}

impl Job {
    /// This job carrying `meta`.
    pub fn with_meta<M>(self, meta: M) -> Job<M> {
        Job {
            line: self.line,
            op: self.op,
            user: self.user,
            payload: self.payload,
            reactivate: self.reactivate,
            meta,
        }
    }
}

impl<M> fmt::Debug for Job<M> {
    /// Field names only: payloads hold personal data and sometimes a user's password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("line", &self.line)
            .field("op", &self.op)
            .field("reactivate", &self.reactivate)
            .field("user", &self.user.key)
            .field("fields", &self.payload.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum FinalOutcome {
    /// The provider applied the change.
    Synced { remote_id: Option<String> },
    /// The provider refused the data; sending it again will not help.
    Rejected {
        status: u16,
        errors: Vec<FieldError>,
        detail: String,
    },
    /// The job did not succeed; `code` says why (reports group by it).
    Failed {
        status: Option<u16>,
        code: FailureCode,
        detail: String,
    },
    /// No request was sent for this job (the run stopped first).
    NotAttempted { reason: String },
}

impl FinalOutcome {
    /// The ledger's name for this outcome: `synced`, `rejected`, `failed` or `not_attempted`.
    pub fn kind(&self) -> &'static str {
        match self {
            FinalOutcome::Synced { .. } => "synced",
            FinalOutcome::Rejected { .. } => "rejected",
            FinalOutcome::Failed { .. } => "failed",
            FinalOutcome::NotAttempted { .. } => "not_attempted",
        }
    }
}

/// The one result of one job.
#[derive(Debug, Clone)]
pub struct JobResult<M = ()> {
    pub job: Job<M>,
    /// The operation last sent: a create that met a conflict is sent again as an update. A
    /// reactivation counts as part of the update it precedes: never `Reactivate`.
    pub op_sent: Operation,
    pub outcome: FinalOutcome,
    /// Requests sent for this job (0 when none was).
    pub attempts: u32,
    /// From the first request leaving to the final answer, waits between retries included;
    /// zero when no request was sent.
    pub latency: Duration,
    /// The HTTP status of the last answer, if any.
    pub last_status: Option<u16>,
    /// What a person has to know about the job (a refused reactivation; see `crate::notes`).
    pub notes: Vec<RowNote>,
}

impl JobResult {
    /// This result with its job carrying `meta` again (see [`Job::split`]).
    pub fn with_meta<M>(self, meta: M) -> JobResult<M> {
        JobResult {
            job: self.job.with_meta(meta),
            op_sent: self.op_sent,
            outcome: self.outcome,
            attempts: self.attempts,
            latency: self.latency,
            last_status: self.last_status,
            notes: self.notes,
        }
    }
}

impl<M> JobResult<M> {
    /// The result of a job that was never sent: for the caller's rows left in the stream when a
    /// run stops.
    pub fn not_attempted(job: Job<M>, reason: impl Into<String>) -> JobResult<M> {
        JobResult {
            op_sent: job.op,
            job,
            outcome: FinalOutcome::NotAttempted {
                reason: reason.into(),
            },
            attempts: 0,
            latency: Duration::ZERO,
            last_status: None,
            notes: Vec::new(),
        }
    }
}

/// Why a run stopped before its stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbortReason {
    /// The provider refused the credentials (and logging in again did not help).
    AuthFailed { status: Option<u16>, detail: String },
    /// `count` consecutive final failures of the same `kind` (e.g. `server_error (HTTP 500)`).
    CircuitBreaker { kind: String, count: u32 },
    /// A graceful stop (first Ctrl-C): in-flight requests were allowed to finish.
    Interrupted,
    /// A hard stop (second Ctrl-C): in-flight requests were abandoned.
    HardInterrupted,
    /// The settings' deadline was reached.
    Deadline,
    /// The settings' `max_requests` were sent.
    RequestQuota { max: u64 },
    /// The receiver of results went away (the ledger writer stopped): nothing more can be recorded.
    ResultsClosed,
}

impl AbortReason {
    /// The exit status a run that stopped for this reason ends with.
    pub fn exit(&self) -> Exit {
        match self {
            AbortReason::AuthFailed { .. }
            | AbortReason::CircuitBreaker { .. }
            | AbortReason::ResultsClosed => Exit::Fatal,
            AbortReason::Interrupted | AbortReason::HardInterrupted => Exit::Interrupted,
            AbortReason::Deadline | AbortReason::RequestQuota { .. } => Exit::Deadline,
        }
    }
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbortReason::AuthFailed {
                status: Some(status),
                detail,
            } => write!(
                f,
                "the provider refused the credentials (HTTP {status}): {detail}"
            ),
            AbortReason::AuthFailed { status: None, detail } => {
                write!(f, "the provider refused the credentials: {detail}")
            }
            AbortReason::CircuitBreaker { kind, count } => write!(
                f,
                "{count} consecutive failures of the same kind ({kind}): stopped to spare the provider"
            ),
            AbortReason::Interrupted => f.write_str("interrupted"),
            AbortReason::HardInterrupted => {
                f.write_str("interrupted again: in-flight requests abandoned")
            }
            AbortReason::Deadline => f.write_str("the run's deadline was reached"),
            AbortReason::RequestQuota { max } => {
                write!(f, "the run's request quota ({max} requests) is spent")
            }
            AbortReason::ResultsClosed => f.write_str("results could no longer be recorded"),
        }
    }
}

/// What a run did, beyond the per-job results.
#[derive(Debug, Clone, Default)]
pub struct DispatchReport {
    /// Why the run stopped before its stream ended, if it did.
    pub aborted: Option<AbortReason>,
    /// Requests sent (every attempt).
    pub requests: u64,
    /// Attempts that were retries of a passing problem.
    pub retries: u64,
    /// Answers that asked us to slow down (HTTP 429, or a `Retry-After`).
    pub throttled: u64,
    /// Attempts by how they were answered.
    pub responses: crate::ledger::Responses,
    /// Jobs pulled from the stream (each has produced one result).
    pub jobs: u64,
    pub elapsed: Duration,
    /// What `concurrency = "auto"` settled on (`None` for a static run).
    pub adaptive: Option<AdaptiveReport>,
}
