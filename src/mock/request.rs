//! Small pieces every provider's mock routes share: the parts of a request a route that
//! changes users reads ([`Incoming`]), reading a JSON object body, finding a bearer token, and
//! the clock. Each mock checks bodies by its own reading of its provider's pages (with
//! [`super::checks`]), never by usersync's rules.
//!
//! A route's steps are the same for every provider (check the credentials, read the body,
//! validate it, look the user up, change the store); only the shape of the errors differs. Each
//! provider's mock gives its shape as an [`ErrorShape`], whose provided methods are those steps:
//! a handler returns `Result<Response, Refusal>` and goes through them with `?`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, Uri};

use crate::mock::store::{Change, RequestRecord, StoreError};
use crate::payload::Payload;
use crate::validate::FieldError;

/// A response that ends a handler early: a refused credential, an unreadable body. Boxed,
/// because a response is large and travels in `Result`s.
#[derive(Debug)]
pub struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Self {
        Refusal(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// What a mock route that changes users reads of its request: the method and path (for the
/// user's history), the headers (for the credentials) and the body. Extracted last, after any
/// `Path` or `Query`; the body is read as axum's `Bytes` reads it, with the same limit and the
/// same refusals.
#[derive(Debug)]
pub struct Incoming {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    /// The record of this request for the user's history: it made `change`, sending the fields
    /// of `payload`.
    pub fn record(&self, change: Change, payload: &Payload) -> RequestRecord {
        RequestRecord::new(change, &self.method, &path_and_query(&self.uri), payload)
    }
}

#[axum::async_trait]
impl<S: Send + Sync> FromRequest<S> for Incoming {
    type Rejection = BytesRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let method = parts.method.clone();
        let uri = parts.uri.clone();
        let headers = parts.headers.clone();
        let body = Bytes::from_request(Request::from_parts(parts, body), state).await?;
        Ok(Incoming {
            method,
            uri,
            headers,
            body,
        })
    }
}

/// How one provider's mock answers the failures every route meets. Implemented by a unit type
/// in each `provider/<name>/mock.rs`.
pub trait ErrorShape {
    /// The answer to a body that is not a JSON object.
    fn bad_body(error: BodyError) -> Response;

    /// The answer to field errors (never called with none).
    fn invalid(errors: &[FieldError]) -> Response;

    /// The answer to a change the store refused: an unknown user, a taken unique value.
    fn store_error(error: StoreError) -> Response;

    /// The body as a JSON object, or this provider's answer to one that is not.
    fn body(body: &[u8]) -> Result<Payload, Refusal> {
        json_object(body).map_err(|e| Self::bad_body(e).into())
    }

    /// Passes when `errors` is empty; else this provider's answer to them.
    fn valid(errors: Vec<FieldError>) -> Result<(), Refusal> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self::invalid(&errors).into())
        }
    }

    /// What the store did, or this provider's answer to its refusal.
    fn stored<T>(result: Result<T, StoreError>) -> Result<T, Refusal> {
        result.map_err(|e| Self::store_error(e).into())
    }

    /// The user a lookup found, or this provider's answer to an unknown user (what
    /// [`ErrorShape::store_error`] answers to [`StoreError::NotFound`]).
    fn found<T>(user: Option<T>) -> Result<T, Refusal> {
        Self::stored(user.ok_or(StoreError::NotFound))
    }
}

/// Why a request body is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all (with the parser's message).
    NotJson(String),
    /// JSON, but not an object.
    NotObject,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::NotJson(message) => write!(f, "the body is not valid JSON: {message}"),
            BodyError::NotObject => f.write_str("the body must be a JSON object"),
        }
    }
}

/// The body as a JSON object (an empty body is an empty object).
pub fn json_object(body: &[u8]) -> Result<Payload, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Payload::new());
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map.into()),
        Ok(_) => Err(BodyError::NotObject),
        Err(e) => Err(BodyError::NotJson(e.to_string())),
    }
}

/// The fields a change sends as JSON `null`: the client asks to clear them. (Validation drops
/// null values, so a route takes these first.)
pub fn cleared_fields(payload: &Payload) -> Vec<String> {
    payload
        .iter()
        .filter(|(_, value)| value.is_null())
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// One `required` error for each of `fields` absent (or null, or blank) in `payload`.
pub fn require(payload: &Payload, fields: &[&str]) -> Vec<FieldError> {
    fields
        .iter()
        .filter(|name| match payload.get(name) {
            None | Some(serde_json::Value::Null) => true,
            Some(serde_json::Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        })
        .map(|name| FieldError::new(*name, "required", format!("{name} is required")))
        .collect()
}

/// `found`, with a `required` error for each of `fields` that [`require`] misses and that has
/// no error yet.
pub fn with_required(
    mut found: Vec<FieldError>,
    payload: &Payload,
    fields: &[&str],
) -> Vec<FieldError> {
    for missing in require(payload, fields) {
        if !found.iter().any(|e| e.field == missing.field) {
            found.push(missing);
        }
    }
    found
}

/// The bearer token of `Authorization: Bearer X`, if any.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The path and query of a request, without the leading slash.
pub fn path_and_query(uri: &http::Uri) -> String {
    uri.path_and_query()
        .map_or(uri.path(), |pq| pq.as_str())
        .trim_start_matches('/')
        .to_string()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The value of a string or number field, as text.
pub fn text(payload: &Payload, field: &str) -> Option<String> {
    match payload.get(field)? {
        serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_must_be_objects() {
        assert_eq!(json_object(b" ").unwrap().len(), 0);
        assert_eq!(json_object(b"[1]"), Err(BodyError::NotObject));
        assert!(matches!(json_object(b"{"), Err(BodyError::NotJson(_))));
        assert_eq!(json_object(br#"{"a":1}"#).unwrap()["a"], json!(1));
    }

    #[test]
    fn nulls_ask_for_a_clear() {
        let p: Payload = json!({"a": null, "b": "", "c": 1})
            .as_object()
            .unwrap()
            .clone()
            .into();
        assert_eq!(cleared_fields(&p), vec!["a"]);
    }

    #[test]
    fn require_names_missing_and_blank_fields() {
        let p: Payload = json!({"a": "", "b": null, "c": 0})
            .as_object()
            .unwrap()
            .clone()
            .into();
        let missing: Vec<_> = require(&p, &["a", "b", "c", "d"])
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(missing, vec!["a", "b", "d"]);
    }

    #[test]
    fn with_required_names_each_field_once() {
        let p: Payload = json!({"email": "nope"}).as_object().unwrap().clone().into();
        let found = vec![FieldError::new("email", "email", "not an e-mail address")];
        let all: Vec<_> = with_required(found, &p, &["email", "name"])
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            all,
            vec![
                ("email".to_string(), "email".to_string()),
                ("name".to_string(), "required".to_string())
            ]
        );
    }

    fn post(path: &str, body: impl Into<axum::body::Body>) -> Request {
        http::Request::post(path)
            .header(http::header::AUTHORIZATION, "Bearer t")
            .body(body.into())
            .unwrap()
    }

    #[tokio::test]
    async fn incoming_keeps_the_parts_and_records_the_path() {
        let incoming = Incoming::from_request(post("/users?id=3", r#"{"b":1,"a":2}"#), &())
            .await
            .unwrap();
        assert_eq!(bearer(&incoming.headers), Some("t"));
        let payload = json_object(&incoming.body).unwrap();
        let record = incoming.record(Change::Create, &payload);
        assert_eq!(record.change, Change::Create);
        assert_eq!(record.method, "POST");
        assert_eq!(record.path, "users?id=3");
        assert_eq!(record.fields, vec!["a", "b"]);
    }

    #[tokio::test]
    async fn incoming_refuses_a_body_as_bytes_does() {
        let too_big = || post("/users", vec![b' '; 2 * 1024 * 1024 + 1]);
        let ours = Incoming::from_request(too_big(), &()).await.unwrap_err();
        let axums = Bytes::from_request(too_big(), &()).await.unwrap_err();
        assert_eq!(ours.status(), axums.status());
        assert_eq!(ours.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn bearer_tokens_and_paths() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(http::header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
        let uri: http::Uri = "/a/b?id=3".parse().unwrap();
        assert_eq!(path_and_query(&uri), "a/b?id=3");
    }
}
