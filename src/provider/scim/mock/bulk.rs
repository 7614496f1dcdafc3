//! `POST Bulk` (RFC 7644 §3.7) in the SCIM mock: each operation is run as the request it
//! stands for, through the same handlers, and answered in the BulkResponse (§3.7.3).
//!
//! - The request must be a BulkRequest (`schemas` naming its URN) with an `Operations` list,
//!   else 400 `invalidSyntax`. More operations than `maxOperations`, or a body larger than
//!   `maxPayloadSize`, is 413 with a detail naming the limit (§3.7.4).
//! - Each operation needs a `method` (POST, PUT, PATCH, DELETE) and a `path`; a POST needs a
//!   `bulkId` (§3.7: "REQUIRED when method is POST"), else 400 `invalidValue` for it alone.
//!   `version`, where given, is the operation's `If-Match` (§3.7).
//! - Operations run in the order given; the server goes on after a failed one unless
//!   `failOnErrors` errors were met (§3.7.3), after which the rest are left out.
//! - Each result has `method`, `bulkId` when given, `status` as a string, `location` (but
//!   for a failed POST) and `version` where the resource has one, and `response` only for a
//!   failure (§3.7.3's example). `bulkId:` references between operations are not resolved:
//!   the mock takes them as plain text.

use axum::body::{to_bytes, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, Method, StatusCode, Uri};
use serde_json::{json, Map, Value};

use super::{bad_request, check_token, error, read_body, scim_json};
use crate::mock::request::{Incoming, Refusal};
use crate::mock::MockState;

/// The `schemas` of a bulk request and of its answer (§3.7).
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// The largest bulk body taken (`maxPayloadSize`), as scim2-server's default.
pub const MAX_PAYLOAD: usize = 1 << 20;

pub async fn bulk(State(state): State<MockState>, request: Incoming) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let max_operations = state.options().scim_bulk_max_operations;
    if max_operations == 0 {
        return Err(error(StatusCode::NOT_IMPLEMENTED, None, "bulk is not supported").into());
    }
    if request.body.len() > MAX_PAYLOAD {
        return Err(too_large(&format!(
            "the request is larger than maxPayloadSize ({MAX_PAYLOAD} bytes)"
        )));
    }
    let body = read_body(&request)?;
    let is_bulk = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s == BULK_REQUEST));
    let operations = match body.get("Operations") {
        Some(Value::Array(operations)) if is_bulk => operations,
        _ => {
            return Err(bad_request(
                "invalidSyntax",
                "a BulkRequest needs its schemas and an Operations list",
            ))
        }
    };
    if operations.len() > max_operations {
        return Err(too_large(&format!(
            "{} operations is more than maxOperations ({max_operations})",
            operations.len()
        )));
    }
    let fail_on = body
        .get("failOnErrors")
        .and_then(Value::as_u64)
        .filter(|&n| n > 0);
    let mut results = Vec::with_capacity(operations.len());
    let mut errors = 0u64;
    for operation in operations {
        if fail_on.is_some_and(|n| errors >= n) {
            break;
        }
        let result = run(&state, &request, operation).await;
        let failed = result
            .get("status")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u16>().ok())
            .is_none_or(|s| s >= 400);
        errors += u64::from(failed);
        results.push(result);
    }
    Ok(scim_json(
        StatusCode::OK,
        &json!({"schemas": [BULK_RESPONSE], "Operations": results}),
    ))
}

fn too_large(detail: &str) -> Refusal {
    error(StatusCode::PAYLOAD_TOO_LARGE, None, detail).into()
}

/// Runs one operation; its result.
async fn run(state: &MockState, bulk: &Incoming, operation: &Value) -> Value {
    let text = |key: &str| operation.get(key).and_then(Value::as_str);
    let mut result = Map::new();
    if let Some(method) = text("method") {
        result.insert("method".into(), json!(method));
    }
    if let Some(id) = text("bulkId") {
        result.insert("bulkId".into(), json!(id));
    }
    let method = text("method").and_then(|m| Method::from_bytes(m.as_bytes()).ok());
    let path = text("path").map(|p| p.trim_start_matches('/').to_owned());
    let response = match (&method, &path) {
        (Some(method), Some(path)) => run_as_request(state, bulk, operation, method, path)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        _ => bad_request("invalidValue", "an operation needs a method and a path").into_response(),
    };
    let status = response.status();
    if let Some(location) = response.headers().get(header::LOCATION) {
        result.insert(
            "location".into(),
            json!(location.to_str().unwrap_or_default()),
        );
    } else if let (Some(path), false) = (&path, method == Some(Method::POST)) {
        result.insert(
            "location".into(),
            json!(format!("{}{path}", super::base(&bulk.headers))),
        );
    }
    if let Some(etag) = response.headers().get(header::ETAG) {
        result.insert("version".into(), json!(etag.to_str().unwrap_or_default()));
    }
    result.insert("status".into(), json!(status.as_str()));
    if status.is_client_error() || status.is_server_error() {
        let body = to_bytes(response.into_body(), MAX_PAYLOAD)
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        result.insert("response".into(), body);
    }
    Value::Object(result)
}

/// Runs an operation as the request it stands for, through that request's handler.
async fn run_as_request(
    state: &MockState,
    bulk: &Incoming,
    operation: &Value,
    method: &Method,
    path: &str,
) -> Result<Response, Refusal> {
    if *method == Method::POST && operation.get("bulkId").and_then(Value::as_str).is_none() {
        return Err(bad_request(
            "invalidValue",
            "a POST operation needs a bulkId",
        ));
    }
    let mut headers = bulk.headers.clone();
    headers.remove(header::IF_MATCH);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(super::MEDIA_TYPE),
    );
    let version = operation.get("version").and_then(Value::as_str);
    if let Some(version) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_MATCH, version);
    }
    let body = operation
        .get("data")
        .map(|data| Bytes::from(data.to_string()))
        .unwrap_or_default();
    let uri = format!("/{path}")
        .parse::<Uri>()
        .map_err(|_| bad_request("invalidPath", "the operation's path is not a path"))?;
    let incoming = Incoming {
        method: method.clone(),
        uri,
        headers,
        body,
    };
    let state = State(state.clone());
    let segments: Vec<&str> = path.split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["Users"]) => super::create(state, incoming).await,
        (&Method::PUT, ["Users", id]) => super::replace(state, Path(decode(id)), incoming).await,
        (&Method::PATCH, ["Users", id]) => super::change(state, Path(decode(id)), incoming).await,
        (&Method::DELETE, ["Users", id]) => super::delete(state, Path(decode(id)), incoming).await,
        _ => Err(error(
            StatusCode::NOT_FOUND,
            None,
            "a bulk operation must be a POST to Users or a PUT, PATCH or DELETE of Users/{id}",
        )
        .into()),
    }
}

/// A path segment, percent-decoded.
fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}
