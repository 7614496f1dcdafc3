//! The nightly window: `--deadline HH:MM` (local time, next occurrence) and `--max-duration 4h`
//! turned into the instant a sync stops taking new rows.
//!
//! When time is up the dispatcher takes no new jobs, lets the requests in flight finish, and the
//! rows not sent are recorded `not_attempted`; the run is `interrupted` and exits 4. The next run
//! sends them, since the snapshot never saw them succeed.

use std::time::{Duration, Instant};

use chrono::{DateTime, Days, Local, LocalResult, NaiveTime, TimeZone};

/// Parses `HH:MM` (24-hour clock), as `--deadline` takes it.
pub fn parse_clock(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| format!("invalid time {text:?}: expected HH:MM, e.g. 05:30"))
}

/// Parses a duration such as `4h`, `90m`, `1h30m`, `2h 15m`, `45s` or `1d`, as `--max-duration`
/// takes it (`humantime`'s units). A bare number is minutes.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}: expected e.g. 4h, 90m, 1h30m or 45s");
    let text = text.trim();
    if let Ok(minutes) = text.parse::<u64>() {
        return Ok(Duration::from_secs(minutes.saturating_mul(60)));
    }
    match humantime::parse_duration(text) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(invalid()),
    }
}

/// The next time the local clock shows `time`: today if still ahead of `now`, else tomorrow.
/// A time skipped by a daylight-saving change falls an hour later.
pub fn next_occurrence(time: NaiveTime, now: DateTime<Local>) -> DateTime<Local> {
    let today = now.date_naive();
    for day in [today, today + Days::new(1), today + Days::new(2)] {
        let mut naive = day.and_time(time);
        let local = match Local.from_local_datetime(&naive) {
            LocalResult::Single(t) => Some(t),
            LocalResult::Ambiguous(first, _) => Some(first),
            LocalResult::None => {
                naive += chrono::Duration::hours(1);
                Local.from_local_datetime(&naive).earliest()
            }
        };
        if let Some(at) = local.filter(|at| *at > now) {
            return at;
        }
    }
    now + chrono::Duration::days(1)
}

/// When a run that starts now must stop taking rows: the earlier of the deadline and the end
/// of the maximum duration; `None` when neither is set.
pub fn stop_at(deadline: Option<NaiveTime>, max_duration: Option<Duration>) -> Option<Instant> {
    let now = Instant::now();
    let by_clock = deadline.map(|time| {
        let local_now = Local::now();
        let wait = (next_occurrence(time, local_now) - local_now)
            .to_std()
            .unwrap_or(Duration::ZERO);
        now + wait
    });
    let by_duration = max_duration.map(|d| now + d);
    match (by_clock, by_duration) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn durations() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("4h"), Ok(14_400));
        assert_eq!(secs("90m"), Ok(5_400));
        assert_eq!(secs("1h30m"), Ok(5_400));
        assert_eq!(secs("2h 15m"), Ok(8_100));
        assert_eq!(secs("45s"), Ok(45));
        assert_eq!(secs("1d"), Ok(86_400));
        assert_eq!(secs("30"), Ok(1_800));
        for bad in ["", "h", "4x", "1h30", "-5m", "0s", "four hours"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn clock_times() {
        assert_eq!(
            parse_clock("05:30"),
            Ok(NaiveTime::from_hms_opt(5, 30, 0).unwrap())
        );
        assert!(parse_clock("25:00").is_err());
        assert!(parse_clock("5h").is_err());
    }

    #[test]
    fn the_next_occurrence_is_today_or_tomorrow() {
        let now = Local::now();
        let in_a_minute = (now + chrono::Duration::minutes(1)).time();
        let at = next_occurrence(in_a_minute.with_nanosecond(0).unwrap(), now);
        assert!(at > now && at - now <= chrono::Duration::minutes(1) + chrono::Duration::hours(1));
        let a_minute_ago = (now - chrono::Duration::minutes(1)).time();
        let at = next_occurrence(a_minute_ago, now);
        let wait = at - now;
        assert!(
            wait > chrono::Duration::hours(22) && wait < chrono::Duration::hours(26),
            "{wait}"
        );
    }

    #[test]
    fn the_earlier_limit_wins() {
        let soon = stop_at(None, Some(Duration::from_secs(60))).unwrap();
        let later = stop_at(None, Some(Duration::from_secs(3600))).unwrap();
        assert!(soon < later);
        assert_eq!(stop_at(None, None), None);
        let both = stop_at(
            Some((Local::now() - chrono::Duration::minutes(5)).time()),
            Some(Duration::from_secs(60)),
        )
        .unwrap();
        assert!(both <= Instant::now() + Duration::from_secs(60));
    }
}
