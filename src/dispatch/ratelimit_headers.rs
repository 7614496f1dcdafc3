//! Reads the rate-limit headers a provider may send with its answers, so that the dispatcher can
//! slow down before it is throttled instead of after.
//!
//! Understood forms (names are case-insensitive):
//! - the IETF drafts: `RateLimit-Limit: 100` (optionally followed by policies, `100, 100;w=60`),
//!   `RateLimit-Remaining: 42`, `RateLimit-Reset: 30` (seconds), `RateLimit-Policy: 100;w=60`,
//!   and the later structured form `RateLimit-Policy: "default";q=100;w=60` with
//!   `RateLimit: "default";r=42;t=30`;
//! - the common vendor forms `X-RateLimit-Limit` / `-Remaining` / `-Reset` (and `X-Rate-Limit-*`),
//!   whose reset may be seconds from now or a Unix time (seconds or milliseconds).
//!
//! Nothing here decides anything: [`RateLimitInfo`] only says what the provider announced.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// What a provider's rate-limit headers announced on one answer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateLimitInfo {
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Time until the window resets (or the quota is whole again).
    pub reset: Option<Duration>,
    /// The window's length, when a policy states it (`w=`).
    pub window: Option<Duration>,
}

impl RateLimitInfo {
    /// The sustained rate a stated policy allows, in requests per second (`limit / window`).
    pub fn policy_rate(&self) -> Option<f64> {
        let limit = self.limit?;
        let window = self.window?.as_secs_f64();
        (limit > 0 && window > 0.0).then(|| limit as f64 / window)
    }
}

/// The limit, remaining and reset headers of each naming, most standard first. Spelled out
/// whole, so reading an answer builds no name (every answer is read).
const NAMES: [[&str; 3]; 3] = [
    ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ],
    [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ],
];

/// Reads the rate-limit headers of an answer; `None` when it has none. `now` turns a reset given
/// as a Unix time into a duration.
pub fn parse_rate_limit(headers: &HeaderMap, now: SystemTime) -> Option<RateLimitInfo> {
    let mut info = RateLimitInfo::default();
    for [limit, remaining, reset] in NAMES {
        let get = |name: &str| header_text(headers, name);
        if info.limit.is_none() {
            if let Some(text) = get(limit) {
                let mut items = text.split(',');
                info.limit = items.next().and_then(leading_number).map(|n| n as u64);
                // Draft-00 style: `RateLimit-Limit: 100, 100;w=60`.
                for item in items {
                    if let Some(policy) = parse_policy(item) {
                        info.window.get_or_insert(policy.1);
                    }
                }
            }
        }
        if info.remaining.is_none() {
            info.remaining = get(remaining)
                .as_deref()
                .and_then(leading_number)
                .map(|n| n as u64);
        }
        if info.reset.is_none() {
            info.reset = get(reset).and_then(|t| reset_duration(&t, now));
        }
    }
    if let Some(text) = header_text(headers, "ratelimit-policy") {
        if let Some((quota, window)) = most_restrictive(&text) {
            info.limit.get_or_insert(quota);
            // The policy's window goes with the policy's quota.
            if info.limit == Some(quota) || info.window.is_none() {
                info.window = Some(window);
            }
        }
    }
    if let Some(text) = header_text(headers, "ratelimit") {
        // Structured form: `"default";r=42;t=30`, or draft-03 `limit=100, remaining=42, reset=30`.
        for (key, value) in params(&text) {
            match key {
                "r" | "remaining" => info.remaining = info.remaining.or(Some(value as u64)),
                "t" | "reset" => {
                    info.reset = info.reset.or(Some(Duration::from_secs_f64(value.max(0.0))))
                }
                "limit" => info.limit = info.limit.or(Some(value as u64)),
                _ => {}
            }
        }
    }
    let found = info.limit.is_some() || info.remaining.is_some() || info.reset.is_some();
    found.then_some(info)
}

/// The header's values as one text, joined by commas as a list header's repeats are; borrowed
/// when it came once (the usual case: nothing is copied).
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<Cow<'h, str>> {
    let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let first = values.next()?;
    match values.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = format!("{first},{second}");
            for value in values {
                joined.push(',');
                joined.push_str(value);
            }
            Some(Cow::Owned(joined))
        }
    }
}

/// The number a value starts with (`42`, `42.5`, `42;w=1`).
fn leading_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text[..end].parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `key=value` numeric parameters of a header, whatever separates them (`;` or `,`).
fn params(text: &str) -> impl Iterator<Item = (&str, f64)> {
    text.split([';', ','])
        .filter_map(|part| part.split_once('='))
        .filter_map(|(k, v)| Some((k.trim(), leading_number(v.trim_matches('"'))?)))
}

/// One policy item: `100;w=60` or `"name";q=100;w=60`, as (quota, window).
fn parse_policy(item: &str) -> Option<(u64, Duration)> {
    let mut quota = leading_number(item);
    let mut window = None;
    for (key, value) in params(item) {
        match key {
            "q" => quota = Some(value),
            "w" => window = Some(value),
            _ => {}
        }
    }
    let (quota, window) = (quota?, window?);
    (quota >= 1.0 && window > 0.0).then(|| (quota as u64, Duration::from_secs_f64(window)))
}

/// The policy allowing the lowest sustained rate among those listed.
fn most_restrictive(text: &str) -> Option<(u64, Duration)> {
    text.split(',').filter_map(parse_policy).min_by(|a, b| {
        let rate = |(q, w): &(u64, Duration)| *q as f64 / w.as_secs_f64();
        rate(a).total_cmp(&rate(b))
    })
}

/// A reset value: seconds from now, or a Unix time in seconds or milliseconds.
fn reset_duration(text: &str, now: SystemTime) -> Option<Duration> {
    let value = leading_number(text)?;
    let now_secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    let secs = if value > 1e12 {
        value / 1000.0 - now_secs
    } else if value > 1e9 {
        value - now_secs
    } else {
        value
    };
    Some(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn parse(pairs: &[(&'static str, &str)]) -> Option<RateLimitInfo> {
        parse_rate_limit(
            &headers(pairs),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
    }

    #[test]
    fn no_headers_no_info() {
        assert_eq!(parse(&[("content-type", "application/json")]), None);
    }

    #[test]
    fn ietf_draft_headers_with_a_policy() {
        let info = parse(&[
            ("ratelimit-limit", "200"),
            ("ratelimit-remaining", "17"),
            ("ratelimit-reset", "1"),
            ("ratelimit-policy", "200;w=1"),
        ])
        .unwrap();
        assert_eq!(info.limit, Some(200));
        assert_eq!(info.remaining, Some(17));
        assert_eq!(info.reset, Some(Duration::from_secs(1)));
        assert_eq!(info.window, Some(Duration::from_secs(1)));
        assert_eq!(info.policy_rate(), Some(200.0));
    }

    #[test]
    fn policy_inside_the_limit_header() {
        let info = parse(&[("ratelimit-limit", "100, 100;w=60, 1000;w=3600")]).unwrap();
        assert_eq!(info.limit, Some(100));
        assert_eq!(info.window, Some(Duration::from_secs(60)));
    }

    #[test]
    fn a_list_header_sent_as_several_lines_is_read_as_one_list() {
        let info = parse(&[
            ("ratelimit-limit", "100"),
            ("ratelimit-limit", "100;w=60"),
            ("ratelimit-limit", "1000;w=3600"),
        ])
        .unwrap();
        assert_eq!(info.limit, Some(100));
        assert_eq!(info.window, Some(Duration::from_secs(60)));
    }

    #[test]
    fn structured_policy_and_ratelimit_fields() {
        let info = parse(&[
            (
                "ratelimit-policy",
                "\"burst\";q=100;w=1, \"day\";q=1000;w=86400",
            ),
            ("ratelimit", "\"day\";r=50;t=30"),
        ])
        .unwrap();
        // The daily policy is the tighter one: 1000 a day.
        assert_eq!(info.limit, Some(1000));
        assert_eq!(info.window, Some(Duration::from_secs(86_400)));
        assert_eq!(info.remaining, Some(50));
        assert_eq!(info.reset, Some(Duration::from_secs(30)));
    }

    #[test]
    fn vendor_headers_with_a_unix_reset() {
        let info = parse(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000090"),
        ])
        .unwrap();
        assert_eq!(info.limit, Some(5000));
        assert_eq!(info.remaining, Some(0));
        assert_eq!(info.reset, Some(Duration::from_secs(90)));
        assert_eq!(info.policy_rate(), None, "no window was stated");
        let millis = parse(&[("x-rate-limit-reset", "1700000002500")]).unwrap();
        assert_eq!(millis.reset, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn garbage_is_ignored() {
        assert_eq!(parse(&[("ratelimit-limit", "lots")]), None);
        let info = parse(&[("ratelimit-remaining", "3"), ("ratelimit-reset", "soon")]).unwrap();
        assert_eq!(info.remaining, Some(3));
        assert_eq!(info.reset, None);
    }
}
