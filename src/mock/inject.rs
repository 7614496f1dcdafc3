//! The middleware that puts the fault engine's decisions into effect on every provider route:
//! it counts the request, answers 429 past the rate limit, waits its turn (capacity) and its
//! latency, then fails, throttles, hangs, or runs the handler (and drops the connection after
//! it when told to). Which faults happen is decided in [`super::faults`]; a request about one
//! of the `fail_users` always fails, and one about the `reject_users` is always refused as
//! invalid (its body is read to find out).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

use super::faults::{Decision, Fault, RateHeaders};
use super::server::DropConnection;
use super::stats::Ending;
use super::MockState;

/// Counts a request as in flight until it is answered or abandoned (a dropped or hung request
/// ends when its connection goes away).
struct InFlight(MockState);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.stats_ref().leave();
    }
}

fn too_many(retry_after_secs: u64) -> Response {
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    resp
}

fn add_rate_headers(resp: &mut Response, h: RateHeaders) {
    let headers = resp.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(h.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(h.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(h.reset));
    let (quota, window) = h.policy;
    if let Ok(policy) = HeaderValue::from_str(&format!("{quota};w={window}")) {
        headers.insert("ratelimit-policy", policy);
    }
}

/// The middleware on every provider API route: counts, then injects the configured faults.
pub async fn inject(State(state): State<MockState>, request: Request, next: Next) -> Response {
    run(state, request, next, false).await
}

/// The middleware on login and token routes: counts, and injects faults only with
/// `include_auth`.
pub async fn inject_auth(State(state): State<MockState>, request: Request, next: Next) -> Response {
    run(state, request, next, true).await
}

async fn run(state: MockState, request: Request, next: Next, auth_route: bool) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let stats = state.stats_ref();
    let second = stats.begin(&method, &route);
    let _in_flight = InFlight(state.clone());
    let decision = state.decide_faults(auth_route);

    if let Some(wait) = decision.rate_limited {
        stats.fault("rate_limit");
        let mut resp = too_many(wait.as_secs_f64().ceil().max(1.0) as u64);
        if let Some(h) = decision.rate_headers {
            add_rate_headers(&mut resp, h);
        }
        stats.end(second, Ending::Answered(429));
        return resp;
    }
    let _permit = match &decision.capacity {
        Some(semaphore) => semaphore.clone().acquire_owned().await.ok(),
        None => None,
    };
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let request = if decision.fail_users.is_empty() && decision.reject_users.is_empty() {
        request
    } else {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_INSPECTED_BODY).await else {
            stats.end(second, Ending::Answered(413));
            return (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large").into_response();
        };
        if about_any(&parts.uri, &bytes, &decision.fail_users) {
            stats.fault("fail_user");
            stats.end(second, Ending::Answered(503));
            return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
        }
        if about_any(&parts.uri, &bytes, &decision.reject_users) {
            stats.fault("reject_user");
            stats.end(second, Ending::Answered(400));
            let body = serde_json::json!({
                "message": "The given data was invalid.",
                "errors": { "email": ["rejected by the mock (--reject-user)"] },
            });
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        Request::from_parts(parts, axum::body::Body::from(bytes))
    };
    let mut resp = match decision.fault {
        Some(Fault::Hang) => {
            stats.fault("hang");
            stats.end(second, Ending::Hung);
            tracing::debug!(route = %route, "mock: hanging a request");
            return std::future::pending::<Response>().await;
        }
        Some(Fault::Fail(code)) => {
            stats.fault(&format!("fail_{code}"));
            if code == 503 {
                (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
            }
        }
        Some(Fault::Throttle) => {
            stats.fault("throttle");
            too_many(decision.retry_after_secs)
        }
        Some(Fault::Drop) => {
            let mut resp = next.run(request).await;
            stats.fault("drop");
            stats.end(second, Ending::Dropped);
            tracing::debug!(route = %route, "mock: dropping the connection after the change");
            resp.extensions_mut().insert(DropConnection);
            return resp;
        }
        None => next.run(request).await,
    };
    if let Some(h) = decision.rate_headers {
        add_rate_headers(&mut resp, h);
    }
    let status = resp.status().as_u16();
    stats.end(second, Ending::Answered(status));
    tracing::debug!(method = %method, route = %route, status, "mock: answered");
    resp
}

/// The largest body read to find which user a request is about.
const MAX_INSPECTED_BODY: usize = 16 << 20;

/// Whether the request names one of `users`: a path segment, a query value, or a top-level
/// string (or number) of its JSON object body.
fn about_any(uri: &http::Uri, body: &[u8], users: &[String]) -> bool {
    let named = |text: &str| users.iter().any(|u| u == text);
    let decoded = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    if uri
        .path()
        .split('/')
        .any(|segment| named(&decoded(segment)))
    {
        return true;
    }
    let in_query = uri
        .query()
        .is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(_, value)| named(&value)));
    if in_query {
        return true;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(fields)) => fields.values().any(|value| match value {
            serde_json::Value::String(s) => named(s),
            serde_json::Value::Number(n) => named(&n.to_string()),
            _ => false,
        }),
        _ => false,
    }
}

impl MockState {
    fn decide_faults(&self, auth_route: bool) -> Decision {
        self.faults_engine().decide(auth_route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_about_the_users_its_path_query_or_body_names() {
        let users = vec!["E00007".to_string(), "ana@x.es".to_string()];
        let uri = |u: &str| u.parse::<http::Uri>().unwrap();
        assert!(about_any(&uri("/s2s/v1/users/E00007"), b"", &users));
        assert!(about_any(&uri("/users?email=ana%40x.es"), b"", &users));
        assert!(about_any(
            &uri("/s2s/v1/users"),
            br#"{"user_id":"E00007","status":2}"#,
            &users
        ));
        assert!(!about_any(
            &uri("/s2s/v1/users/E00008"),
            br#"{"user_id":"E00008","note":["E00007"]}"#,
            &users
        ));
    }
}
