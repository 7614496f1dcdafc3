//! How long to wait before a retry: exponential backoff with full jitter, and `Retry-After`.
//!
//! Full jitter (a uniformly random wait up to an exponentially growing cap) spreads the retries of
//! many concurrent requests instead of sending them back in waves. When the provider says how long
//! to wait (`Retry-After`, read by [`crate::provider::response::retry_after`]), the retry never
//! comes earlier than that (within a sane cap).

use std::time::Duration;

use rand::Rng;

/// The random wait before retry number `retry` (0 for the first retry): uniform in
/// `[0, min(max, base * 2^retry)]`.
pub fn backoff_delay(base: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.min(31));
    let cap = base.saturating_mul(factor).min(max);
    let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    if cap_nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::thread_rng().gen_range(0..=cap_nanos))
}

/// The wait before a retry: the jittered backoff, or the provider's `Retry-After` (capped at
/// `after_max`) when that is longer.
pub(super) fn retry_delay(
    base: Duration,
    max: Duration,
    retry: u32,
    after: Option<Duration>,
    after_max: Duration,
) -> Duration {
    let jittered = backoff_delay(base, max, retry);
    match after {
        Some(after) => jittered.max(after.min(after_max)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_growing_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for retry in 0..40 {
            let cap = (base * 2u32.pow(retry.min(10))).min(max);
            for _ in 0..50 {
                assert!(backoff_delay(base, max, retry) <= cap, "retry {retry}");
            }
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let base = Duration::from_secs(1);
        let delays: std::collections::HashSet<_> =
            (0..20).map(|_| backoff_delay(base, base * 8, 3)).collect();
        assert!(delays.len() > 10, "full jitter spreads the waits");
    }

    #[test]
    fn zero_base_means_no_wait() {
        assert_eq!(
            backoff_delay(Duration::ZERO, Duration::ZERO, 5),
            Duration::ZERO
        );
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let ms = Duration::from_millis;
        let d = retry_delay(ms(10), ms(10), 0, Some(ms(2000)), ms(5000));
        assert_eq!(d, ms(2000));
        let d = retry_delay(ms(10), ms(10), 0, Some(ms(900_000)), ms(5000));
        assert_eq!(d, ms(5000));
        let d = retry_delay(ms(10), ms(10), 0, None, ms(5000));
        assert!(d <= ms(10));
    }
}
