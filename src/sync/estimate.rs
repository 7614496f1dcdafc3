//! How long a run will take, before it starts: the requests the plan holds at the rate the
//! target is expected to take them. Printed by `plan` and by `sync -v`.
//!
//! The rate, in order: for `concurrency = "auto"`, the limit the last runs learned (under a
//! configured `rate_limit`, which stays a ceiling); otherwise the configured (or `--rate`) rate;
//! failing both, the pace of the target's last sync. No rate known, no estimate.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::preview::PlanCounts;
use crate::dispatch::DispatchSettings;
use crate::ledger::{Ledger, LedgerError, RunStatus};

/// A last run must have sent at least this many requests for its pace to predict anything.
const MIN_REQUESTS_FOR_PACE: u64 = 20;

/// Where an estimate's rate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateBasis {
    /// The target's `rate_limit`, or `--rate`.
    Configured,
    /// What adaptive concurrency learned on earlier runs.
    Learned,
    /// How fast the target's last sync went.
    LastRun,
}

impl fmt::Display for RateBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RateBasis::Configured => "configured",
            RateBasis::Learned => "learned",
            RateBasis::LastRun => "the last sync's pace",
        })
    }
}

/// A run's expected duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Requests the plan holds (creates, updates, deactivations; retries not counted).
    pub requests: u64,
    /// Requests per second.
    pub rate: f64,
    pub basis: RateBasis,
    pub seconds: f64,
}

impl Estimate {
    /// The estimate for `requests` at `rate`.
    pub fn new(requests: u64, rate: f64, basis: RateBasis) -> Estimate {
        let seconds = if rate > 0.0 {
            requests as f64 / rate
        } else {
            0.0
        };
        Estimate {
            requests,
            rate,
            basis,
            seconds,
        }
    }

    /// The expected duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds.clamp(0.0, 1e9))
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "about {} for {} requests at {:.0} requests/s ({})",
            human_duration(self.duration()),
            self.requests,
            self.rate,
            self.basis
        )
    }
}

/// The requests a plan holds.
pub fn planned_requests(counts: &PlanCounts) -> u64 {
    counts.create + counts.update + counts.deactivate
}

/// The rate a sync of target `target` sending with `settings` (the config's, with the command
/// line's `--rate` and `--concurrency`) is expected to go at.
pub fn expected_rate(
    target: &str,
    settings: &DispatchSettings,
    ledger: &Ledger,
) -> Result<Option<(f64, RateBasis)>, LedgerError> {
    let configured = settings.rate_limit;
    let learned = if settings.adaptive.is_some() {
        ledger.learned_limit(target)?.and_then(|l| l.rate)
    } else {
        None
    };
    let rate = match (configured, learned) {
        (Some(c), Some(l)) if l < c => Some((l, RateBasis::Learned)),
        (Some(c), _) => Some((c, RateBasis::Configured)),
        (None, Some(l)) => Some((l, RateBasis::Learned)),
        (None, None) => last_pace(ledger, target)?.map(|r| (r, RateBasis::LastRun)),
    };
    Ok(rate)
}

/// `sync -v`: once the pass over the export has counted its `requests`, before the first one
/// leaves, logs how long they should take at `rate` (from [`expected_rate`]), and warns when
/// that does not fit before `deadline`. Only informative.
pub fn log(requests: u64, rate: Option<(f64, RateBasis)>, deadline: Option<Instant>) {
    let Some((rate, basis)) = rate else {
        tracing::info!(
            requests,
            "estimated duration: unknown (no rate configured, learned or measured yet)"
        );
        return;
    };
    let estimate = Estimate::new(requests, rate, basis);
    tracing::info!(
        requests,
        rate = format_args!("{rate:.1}"),
        basis = %basis,
        seconds = format_args!("{:.0}", estimate.seconds),
        "estimated duration: {estimate}"
    );
    if let Some(deadline) = deadline {
        let window = deadline.saturating_duration_since(Instant::now());
        if estimate.duration() > window {
            tracing::warn!(
                "the run will probably not finish within its window ({}): the rows left are \
                 recorded not attempted for the next run",
                human_duration(window)
            );
        }
    }
}

/// Requests per second of the target's last finished sync, if it sent enough to tell.
fn last_pace(ledger: &Ledger, target: &str) -> Result<Option<f64>, LedgerError> {
    let runs = ledger.list_runs(Some(target))?;
    let pace = runs
        .iter()
        .rev()
        .filter(|r| r.command == "sync" && r.status != RunStatus::Running)
        .filter(|r| r.counts.requests >= MIN_REQUESTS_FOR_PACE)
        .find_map(|r| {
            let secs = (r.finished_at? - r.started_at).num_milliseconds() as f64 / 1000.0;
            (secs > 0.0).then(|| r.counts.requests as f64 / secs)
        });
    Ok(pace)
}

/// `2h 05m`, `4m 10s`, `12s`, `0.4s`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else if secs >= 10 {
        format!("{secs}s")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(7500)), "2h 05m");
        assert_eq!(human_duration(Duration::from_secs(250)), "4m 10s");
        assert_eq!(human_duration(Duration::from_secs(12)), "12s");
        assert_eq!(human_duration(Duration::from_millis(400)), "0.4s");
    }

    #[test]
    fn an_estimate_is_requests_over_rate() {
        let e = Estimate::new(50_000, 200.0, RateBasis::Learned);
        assert_eq!(e.duration(), Duration::from_secs(250));
        assert_eq!(
            e.to_string(),
            "about 4m 10s for 50000 requests at 200 requests/s (learned)"
        );
    }
}
