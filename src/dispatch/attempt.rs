//! One HTTP attempt: the adapter's request made concrete, authorized, sent, and classified.
//!
//! A job's request is built once per operation ([`Prepared`]: URL resolved, body serialised);
//! each attempt only copies it into a fresh `reqwest::Request` (cheap: the body is shared
//! `Bytes`), so the session can add fresh authentication (a new OAuth nonce) every time.

use std::error::Error as _;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE, IF_MATCH};

use super::control::Destination;
use super::ratelimit_headers::{parse_rate_limit, RateLimitInfo};
use super::FailureCode;
use crate::payload::Payload;
use crate::provider::{AuthError, BuildError, Operation, Outcome, RawResponse, UserRef};

/// A job's request for one operation, ready to send any number of times.
#[derive(Clone)]
pub(super) struct Prepared {
    pub method: http::Method,
    /// Relative to the base URL, as the adapter built it (a bulk operation's `path`).
    pub path: String,
    url: url::Url,
    pub body: Option<Bytes>,
    /// `If-Match`: the version of the user read just before.
    pub if_match: Option<HeaderValue>,
}

impl Prepared {
    /// Asks the adapter for the request of `op` on `user` with `payload`. A field the target
    /// sends only on create never leaves in any other request. The error says why the provider
    /// cannot do it (unsupported operation, missing remote id, bad path).
    pub(super) fn build(
        target: &Destination,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<Prepared, BuildError> {
        Prepared::build_with(target, op, user, payload, None)
    }

    /// [`Prepared::build`] once the user's `record` was read ([`Provider::reads_first`]): the
    /// adapter builds it from both (`Provider::build_from_record`).
    ///
    /// [`Provider::reads_first`]: crate::provider::Provider::reads_first
    pub(super) fn build_with(
        target: &Destination,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
        record: Option<&Payload>,
    ) -> Result<Prepared, BuildError> {
        let payload = without_create_only(target, op, payload);
        let record = record.map(|r| without_create_only(target, op, r));
        let (payload, record) = (payload.as_ref(), record.as_ref().map(AsRef::as_ref));
        let request = match record {
            None => target
                .provider
                .build_request(&target.options, op, user, payload)?,
            Some(record) => {
                target
                    .provider
                    .build_from_record(&target.options, op, user, payload, record)?
            }
        };
        let url = target
            .base_url
            .join(request.path.trim_start_matches('/'))
            .map_err(|e| {
                BuildError::Incomplete(format!("the {op} request has an invalid path: {e}"))
            })?;
        let body = match &request.body {
            Some(payload) => Some(Bytes::from(serde_json::to_vec(payload).map_err(|e| {
                BuildError::Incomplete(format!("the {op} request body cannot be serialised: {e}"))
            })?)),
            None => None,
        };
        let if_match = match request.if_match.as_deref().map(HeaderValue::from_str) {
            None => None,
            Some(Ok(version)) => Some(version),
            Some(Err(_)) => {
                return Err(BuildError::Incomplete(format!(
                    "the user's version at the provider cannot be sent in If-Match: {:?}",
                    request.if_match.unwrap_or_default()
                )))
            }
        };
        Ok(Prepared {
            method: request.method,
            path: request.path,
            url,
            body,
            if_match,
        })
    }
}

/// `payload` without the fields the target sends only on create, unless `op` is a create.
fn without_create_only<'p>(
    target: &Destination,
    op: Operation,
    payload: &'p Payload,
) -> std::borrow::Cow<'p, Payload> {
    if op != Operation::Create && target.create_only.iter().any(|f| payload.contains_key(f)) {
        let mut without = payload.clone();
        without.retain(|name, _| !target.create_only.iter().any(|f| f == name));
        std::borrow::Cow::Owned(without)
    } else {
        std::borrow::Cow::Borrowed(payload)
    }
}

/// What came back from one attempt.
#[derive(Clone)]
pub(super) struct Answer {
    pub kind: AnswerKind,
    /// The HTTP status, when an answer arrived.
    pub status: Option<u16>,
    /// Round trip: from sending to the end of the answer's body (authorization excluded).
    pub latency: Duration,
    /// When the request left (after authorization).
    pub sent_at: Instant,
    /// What the answer's rate-limit headers announced, if it had any.
    pub rate_limit: Option<RateLimitInfo>,
}

#[derive(Clone)]
pub(super) enum AnswerKind {
    /// The provider answered and the adapter classified the answer.
    Classified(Outcome),
    /// No usable answer: `code` is `Timeout`, `Connect` or `Connection`. Worth retrying.
    Transport { code: FailureCode, reason: String },
    /// The session could not authenticate the request.
    Login(AuthError),
}

impl Answer {
    /// A short word for logs.
    pub(super) fn label(&self) -> &'static str {
        match &self.kind {
            AnswerKind::Classified(Outcome::Synced { .. }) => "synced",
            AnswerKind::Classified(Outcome::Rejected { .. }) => "rejected",
            AnswerKind::Classified(Outcome::Conflict { .. }) => "conflict",
            AnswerKind::Classified(Outcome::Retry { .. }) => "retry",
            AnswerKind::Classified(Outcome::AuthFailed { .. }) => "auth_failed",
            AnswerKind::Classified(Outcome::Found { .. }) => "found",
            AnswerKind::Classified(Outcome::Missing) => "missing",
            AnswerKind::Classified(Outcome::Stale { .. }) => "stale",
            AnswerKind::Transport { code, .. } => code.as_str(),
            AnswerKind::Login(AuthError::Refused(_)) => "login_refused",
            AnswerKind::Login(AuthError::Transient(_)) => "login",
        }
    }
}

/// Sends `prepared` once (for operation `op`) and classifies the answer.
pub(super) async fn send(target: &Destination, op: Operation, prepared: &Prepared) -> Answer {
    let mut request = reqwest::Request::new(prepared.method.clone(), prepared.url.clone());
    if let Some(version) = &prepared.if_match {
        request.headers_mut().insert(IF_MATCH, version.clone());
    }
    match exchange(target, request, prepared.body.clone()).await {
        Ok(exchanged) => classify(
            target,
            op,
            &exchanged.raw,
            exchanged.started,
            exchanged.latency,
        ),
        Err(failed) => failed,
    }
}

/// An answer that arrived, and when.
pub(super) struct Exchanged {
    pub raw: RawResponse,
    pub started: Instant,
    pub latency: Duration,
}

/// Authorizes and sends `request` with the JSON `body`, and reads the whole answer; `Err` is
/// the attempt's answer when none arrived (login failure, transport failure).
pub(super) async fn exchange(
    target: &Destination,
    mut request: reqwest::Request,
    body: Option<Bytes>,
) -> Result<Exchanged, Answer> {
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(body) = body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        *request.body_mut() = Some(body.into());
    }
    *request.timeout_mut() = Some(target.settings.timeout);

    if let Err(error) = target.session.authorize(&target.client, &mut request).await {
        return Err(Answer {
            kind: AnswerKind::Login(error),
            status: None,
            latency: Duration::ZERO,
            sent_at: Instant::now(),
            rate_limit: None,
        });
    }

    let started = Instant::now();
    let timeout = target.settings.timeout;
    let mut response = match target.client.execute(request).await {
        Ok(response) => response,
        Err(error) => return Err(transport_failure(error, started, timeout)),
    };
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return Err(transport_failure(error, started, timeout)),
    };
    Ok(Exchanged {
        raw: RawResponse {
            status,
            headers,
            body,
        },
        started,
        latency: started.elapsed(),
    })
}

/// The adapter's reading of `raw`, the answer to a request of `op`, with a `Retry-After` it
/// carries and the rate-limit headers it announces.
pub(super) fn classify(
    target: &Destination,
    op: Operation,
    raw: &RawResponse,
    started: Instant,
    latency: Duration,
) -> Answer {
    let mut outcome = target.provider.classify(&target.options, op, raw);
    let now = SystemTime::now();
    if let Outcome::Retry { after, .. } = &mut outcome {
        if after.is_none() {
            *after = crate::provider::response::retry_after(&raw.headers, now);
        }
    }
    Answer {
        kind: AnswerKind::Classified(outcome),
        status: Some(raw.status),
        latency,
        sent_at: started,
        rate_limit: parse_rate_limit(&raw.headers, now),
    }
}

fn transport_failure(error: reqwest::Error, started: Instant, timeout: Duration) -> Answer {
    let (code, reason) = if error.is_timeout() {
        (
            FailureCode::Timeout,
            format!("no answer within {}s", timeout.as_secs_f64()),
        )
    } else if error.is_connect() {
        (
            FailureCode::Connect,
            format!("could not connect: {}", describe(error)),
        )
    } else {
        (
            FailureCode::Connection,
            format!("connection lost: {}", describe(error)),
        )
    };
    Answer {
        kind: AnswerKind::Transport { code, reason },
        status: None,
        latency: started.elapsed(),
        sent_at: started,
        rate_limit: None,
    }
}

/// The error and its causes on one line, without the URL (it can hold a user's key).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
