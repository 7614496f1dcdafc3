//! Turning a provider's HTTP answer into one [`Outcome`]: the classification all adapters share.
//!
//! [`classify`] is the HTTP-status reading every API mostly follows (2xx synced, 429/408/5xx
//! retry, 401/403 auth failure, 409 conflict, 400/412/422 rejected). Each adapter calls it and
//! overrides only what its API does differently (Faveo's `success: false` with 200, GNOSS's
//! plain-text errors, ...). The helpers below read what those overrides need from a body: the
//! provider's own text for reports ([`detail`]), field errors in the common JSON shapes
//! ([`field_errors`]), ids ([`id_at`]) and `Retry-After` ([`retry_after`]).

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde_json::Value;

use crate::provider::{Outcome, RawResponse};
use crate::validate::FieldError;

/// The most provider text kept in an outcome's `detail` (bytes, cut at a character boundary).
pub const MAX_DETAIL_BYTES: usize = 1024;

/// The `code` of a [`FieldError`] that the provider (not usersync's validation) reported.
pub const PROVIDER_CODE: &str = "provider_rejected";

/// How long the provider asks us to wait from `now`, from a `Retry-After` header in seconds
/// (`120`, or `1.5` from a lenient server) or as an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`;
/// a date in the past means no wait). Adapters and the dispatcher both read it here.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The default outcome of a response, by its status code alone (plus field errors from a JSON
/// body where the status says the data was refused).
pub fn classify(response: &RawResponse) -> Outcome {
    let status = response.status;
    match status {
        200..=299 => Outcome::Synced { remote_id: None },
        408 | 429 => retry(response),
        501 => Outcome::Rejected {
            status,
            errors: Vec::new(),
            detail: describe(response),
        },
        500..=599 => retry(response),
        401 | 403 => Outcome::AuthFailed {
            status,
            detail: describe(response),
        },
        409 => Outcome::Conflict {
            status,
            detail: describe(response),
        },
        _ => rejected(response),
    }
}

/// A `Retry` outcome for `response`, honouring its `Retry-After` header.
pub fn retry(response: &RawResponse) -> Outcome {
    let status = response.status;
    let label = match status {
        429 => "throttled",
        408 => "request timeout",
        _ => "server error",
    };
    let text = detail(&response.body);
    let reason = if text.is_empty() {
        format!("{label} (HTTP {status})")
    } else {
        format!("{label} (HTTP {status}): {text}")
    };
    Outcome::Retry {
        status: Some(status),
        after: retry_after(&response.headers, SystemTime::now()),
        reason,
    }
}

/// The outcome of a 2xx answer that is not the success the provider documents (an HTML page
/// from a wrong `base_url` or a proxy, an empty body, text, JSON of another shape, a create's
/// answer without the new user's id): a failure, retried like a 5xx, so that the row never
/// counts as synced on an answer nobody can vouch for. `expected` says what was wanted. The
/// reason describes what came back without repeating it: a page's title, a JSON answer's keys,
/// never values that could be a user's data.
pub fn unexpected(response: &RawResponse, expected: &str) -> Outcome {
    Outcome::Retry {
        status: Some(response.status),
        after: None,
        reason: format!(
            "not the documented success ({expected}): {}",
            what_came_back(&response.body)
        ),
    }
}

/// What a body is, in a few words: `an empty body`, `an HTML page ("Login")`, `JSON with keys
/// data, ok`, `12 bytes of text`.
pub fn what_came_back(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".into();
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return match value {
            Value::Object(map) if map.is_empty() => "an empty JSON object".into(),
            Value::Object(map) => {
                let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
                truncate(&format!("JSON with keys {}", keys.join(", ")), 200)
            }
            Value::Array(_) => "a JSON array".into(),
            Value::String(_) => "a JSON string".into(),
            Value::Null => "JSON null".into(),
            Value::Bool(_) | Value::Number(_) => "a bare JSON value".into(),
        };
    }
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") || lower.contains("<body")
    {
        let title = lower
            .find("<title>")
            .and_then(|start| {
                let rest = &text[start + 7..];
                rest.find('<').map(|end| rest[..end].trim().to_string())
            })
            .filter(|t| !t.is_empty());
        return match title {
            Some(title) => format!("an HTML page ({:?})", truncate(&title, 60)),
            None => "an HTML page".into(),
        };
    }
    format!("{} bytes of text that is not JSON", text.len())
}

/// The body as a JSON object, when it is one.
pub fn json_object(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match json(body)? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A `Rejected` outcome for `response`, with the field errors its JSON body holds, if any.
pub fn rejected(response: &RawResponse) -> Outcome {
    let errors = json(&response.body)
        .map(|body| field_errors(&body))
        .unwrap_or_default();
    Outcome::Rejected {
        status: response.status,
        errors,
        detail: describe(response),
    }
}

/// The provider's text for a report: the body (see [`detail`]), or the status line when the
/// body is empty.
pub fn describe(response: &RawResponse) -> String {
    let text = detail(&response.body);
    if text.is_empty() {
        status_line(response.status)
    } else {
        text
    }
}

/// `HTTP 404 Not Found`.
pub fn status_line(status: u16) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("HTTP {status} {reason}").trim_end().to_string()
}

/// A body as text for a report: lossy UTF-8, trimmed, at most [`MAX_DETAIL_BYTES`] (a cut body
/// ends with `…`).
pub fn detail(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    truncate(text.trim(), MAX_DETAIL_BYTES)
}

/// `text` cut to at most `max` bytes at a character boundary, `…` marking a cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The body parsed as JSON, if it is JSON.
pub fn json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

/// Field errors from the usual shapes of a JSON error body, the first that holds any:
/// `errors`, `message`, `data` or `error` as `{field: "msg" | ["msg", ..]}` or as
/// `[{"field": .., "message": ..}]` (also `name`/`property`/`param` and `msg`/`error`).
pub fn field_errors(body: &Value) -> Vec<FieldError> {
    ["errors", "message", "data", "error"]
        .iter()
        .filter_map(|key| body.get(key))
        .map(errors_in)
        .find(|errors| !errors.is_empty())
        .unwrap_or_default()
}

fn errors_in(value: &Value) -> Vec<FieldError> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter_map(|(field, message)| {
                let message = message_text(message)?;
                Some(FieldError::new(field.as_str(), PROVIDER_CODE, message))
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| {
                let field = ["field", "name", "property", "param"]
                    .iter()
                    .find_map(|k| item.get(k).and_then(Value::as_str))?;
                let message = ["message", "msg", "error"]
                    .iter()
                    .find_map(|k| item.get(k).and_then(message_text))
                    .unwrap_or_default();
                Some(FieldError::new(field, PROVIDER_CODE, message))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A message as text: a string, or strings in an array joined with `; `.
fn message_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(truncate(s, MAX_DETAIL_BYTES)),
        Value::Array(items) => {
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            (!parts.is_empty()).then(|| truncate(&parts.join("; "), MAX_DETAIL_BYTES))
        }
        _ => None,
    }
}

/// The first id found at one of `paths` (each a list of object keys), as text: a non-empty
/// string or a number. `id_at(v, &[&["data", "id"], &["id"]])`.
pub fn id_at(body: &Value, paths: &[&[&str]]) -> Option<String> {
    paths.iter().find_map(|path| {
        let value = path.iter().try_fold(body, |v, key| v.get(key))?;
        match value {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    })
}

/// Whether `text` contains any of `needles`, ignoring case.
pub fn mentions(text: &str, needles: &[&str]) -> bool {
    let text = text.to_lowercase();
    needles.iter().any(|n| text.contains(n))
}

/// Responses for the adapters' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use http::{HeaderMap, HeaderValue};

    use crate::provider::RawResponse;

    /// A response with `status` and `body`.
    pub fn response(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            headers: HeaderMap::new(),
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    /// `r` with a `Retry-After: value` header.
    pub fn with_retry_after(mut r: RawResponse, value: &str) -> RawResponse {
        r.headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_str(value).unwrap(),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{response, with_retry_after};
    use super::*;
    use serde_json::json;

    /// A fixed moment, so that dates in `Retry-After` give exact waits.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn retry_after_in_seconds() {
        let r = with_retry_after(response(429, ""), "7");
        assert_eq!(retry_after(&r.headers, now()), Some(Duration::from_secs(7)));
        let r = with_retry_after(response(429, ""), " 7 ");
        assert_eq!(retry_after(&r.headers, now()), Some(Duration::from_secs(7)));
        let r = with_retry_after(response(429, ""), "1.5");
        assert_eq!(
            retry_after(&r.headers, now()),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn retry_after_as_http_date() {
        let when = now() + Duration::from_secs(30);
        let r = with_retry_after(response(503, ""), &httpdate::fmt_http_date(when));
        assert_eq!(
            retry_after(&r.headers, now()),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn retry_after_in_the_past_or_garbage() {
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(60));
        let r = with_retry_after(response(429, ""), &past);
        assert_eq!(retry_after(&r.headers, now()), Some(Duration::ZERO));
        let r = with_retry_after(response(429, ""), "soon");
        assert_eq!(retry_after(&r.headers, now()), None);
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn default_classification_by_status() {
        assert_eq!(
            classify(&response(201, "{}")),
            Outcome::Synced { remote_id: None }
        );
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(&response(status, "")), Outcome::Retry { status: Some(s), .. } if s == status),
                "{status}"
            );
        }
        assert!(matches!(
            classify(&response(501, "")),
            Outcome::Rejected { status: 501, .. }
        ));
        assert!(matches!(
            classify(&response(401, "bad key")),
            Outcome::AuthFailed { status: 401, ref detail } if detail == "bad key"
        ));
        assert!(matches!(
            classify(&response(403, "")),
            Outcome::AuthFailed { status: 403, .. }
        ));
        assert!(matches!(
            classify(&response(409, "")),
            Outcome::Conflict { status: 409, ref detail } if detail == "HTTP 409 Conflict"
        ));
        assert!(matches!(
            classify(&response(404, "")),
            Outcome::Rejected { status: 404, .. }
        ));
    }

    #[test]
    fn throttle_keeps_retry_after_and_text() {
        let r = with_retry_after(response(429, "slow down"), "3");
        assert_eq!(
            classify(&r),
            Outcome::Retry {
                status: Some(429),
                after: Some(Duration::from_secs(3)),
                reason: "throttled (HTTP 429): slow down".into()
            }
        );
    }

    #[test]
    fn rejection_carries_field_errors_in_common_shapes() {
        let shapes = [
            json!({"errors": {"email": ["is invalid", "is too long"]}}),
            json!({"success": false, "message": {"email": "is invalid"}}),
            json!({"data": [{"field": "email", "message": "is invalid"}]}),
            json!({"errors": [{"name": "email", "msg": "is invalid"}]}),
        ];
        for body in shapes {
            let r = response(422, &body.to_string());
            let Outcome::Rejected { errors, detail, .. } = classify(&r) else {
                panic!("not rejected: {body}");
            };
            assert_eq!(errors.len(), 1, "{body}");
            assert_eq!(errors[0].field, "email");
            assert_eq!(errors[0].code, PROVIDER_CODE);
            assert!(errors[0].message.starts_with("is invalid"));
            assert_eq!(detail, body.to_string());
        }
    }

    #[test]
    fn detail_is_truncated_at_a_character_boundary() {
        let long = "é".repeat(2000);
        let d = detail(long.as_bytes());
        assert!(d.len() <= MAX_DETAIL_BYTES + '…'.len_utf8());
        assert!(d.ends_with('…'));
        assert_eq!(detail(b"  short \n"), "short");
    }

    #[test]
    fn ids_are_found_as_strings_or_numbers() {
        let body = json!({"data": {"id": 42}, "id": "x"});
        assert_eq!(id_at(&body, &[&["data", "id"], &["id"]]), Some("42".into()));
        assert_eq!(id_at(&body, &[&["user", "id"], &["id"]]), Some("x".into()));
        assert_eq!(id_at(&body, &[&["nope"]]), None);
    }
}
