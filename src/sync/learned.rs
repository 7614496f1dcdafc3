//! The limits `concurrency = "auto"` learned about a target, kept in the ledger between runs:
//! read before a run to start from them, written after it, so the second night does not
//! rediscover what the first one found.

use crate::dispatch::{AdaptiveSettings, DispatchReport, DispatchSettings};
use crate::ledger::{LearnedLimit, Ledger, LedgerError};

/// A run that met no limit must have sent this many requests for its concurrency to be worth
/// keeping (a handful of requests never grows the concurrency).
const MIN_REQUESTS_TO_LEARN: u64 = 200;

/// Starts an adaptive run from what earlier runs of `target` learned. Returns what was learned,
/// if anything; a static run is left alone.
pub fn start_from_learned(
    ledger: &Ledger,
    target: &str,
    settings: &mut DispatchSettings,
) -> Result<Option<LearnedLimit>, LedgerError> {
    let Some(adaptive) = settings.adaptive.as_mut() else {
        return Ok(None);
    };
    let learned = ledger.learned_limit(target)?;
    if let Some(learned) = &learned {
        *adaptive = AdaptiveSettings {
            initial_concurrency: learned
                .concurrency
                .map_or(adaptive.initial_concurrency, |c| c as usize)
                .clamp(1, settings.concurrency.max(1)),
            initial_rate: learned.rate.filter(|r| r.is_finite() && *r > 0.0),
        };
        tracing::info!(
            target,
            concurrency = adaptive.initial_concurrency,
            rate = adaptive.initial_rate.map(|r| format!("{r:.1}")),
            learned_at = %learned.updated_at,
            "starting from the limits learned by earlier runs"
        );
    }
    Ok(learned)
}

/// Stores what an adaptive run settled on, when it tells something (a rate limit met or
/// announced, or enough requests). Returns whether it was stored.
pub fn remember(
    ledger: &Ledger,
    target: &str,
    report: &DispatchReport,
) -> Result<bool, LedgerError> {
    let Some(adaptive) = &report.adaptive else {
        return Ok(false);
    };
    let telling = adaptive.rate.is_some()
        || adaptive.rate_cuts > 0
        || report.requests >= MIN_REQUESTS_TO_LEARN;
    if !telling || report.requests == 0 {
        return Ok(false);
    }
    let concurrency = u32::try_from(adaptive.concurrency).unwrap_or(u32::MAX);
    ledger.store_learned_limit(target, adaptive.rate, Some(concurrency))?;
    tracing::info!(
        target,
        concurrency = adaptive.concurrency,
        peak_concurrency = adaptive.peak_concurrency,
        rate = adaptive.rate.map(|r| format!("{r:.1}")),
        announced = adaptive.announced,
        "adaptive concurrency settled; the next run starts there"
    );
    Ok(true)
}
