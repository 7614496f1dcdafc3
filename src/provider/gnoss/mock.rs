//! GNOSS routes in the built-in mock server: the `user/` routes of the GNOSS API, behind OAuth 1.0.
//!
//! Every request must carry an OAuth 1.0 HMAC-SHA1 `Authorization` header signed with the
//! accepted consumer key/secret and token/secret, the way [`MockOptions::signing`] says (GNOSS's
//! own way by default); a stale timestamp or a nonce seen in the last 10 minutes is refused. As
//! GNOSS does, errors are plain text: 401 for OAuth problems, 400 for invalid parameters.
//!
//! - `POST user/create-user`: name, last_name, email required; answers the new user's GUID
//!   (as a JSON string); a taken email is 400 "The email is already being used".
//! - `POST user/modify-user`: a partial update of the user named by `user_id` + `community_id`
//!   (empty fields are skipped).
//! - `POST user/block`, `POST user/unblock` `{user_id, community_id}`: deactivate, reactivate.
//!   Unblocking a user who is not blocked is 400 "The user is not blocked" (an assumption, the
//!   refusal usersync's README expects when someone already unblocked a returning user).
//! - `GET user/get-by-id?user_id=`, `GET user/get-by-email?email=`: the user as JSON.
//! - `POST user/delete-user` `{user_id}` (or `?user_id=`): removes the user.
//!
//! [`MockOptions::signing`]: crate::mock::MockOptions::signing

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;
use std::collections::HashMap;

use super::oauth::{self, OAuthKeys};
use crate::mock::auth::NonceProblem;
use crate::mock::request::{
    path_and_query, require, text, unix_now, validate_change, validate_create, with_required,
    BodyError, ErrorShape, Incoming, Refusal,
};
use crate::mock::store::{Change, IdKind, StoreError, StoredUser};
use crate::mock::{api_routes, MockState};
use crate::payload::Payload;
use crate::provider::Credentials;
use crate::validate::FieldError;

/// The demo `consumer_key` the mock accepts when none is given.
pub const DEMO_CONSUMER_KEY: &str = "demo-consumer-key";
/// The demo `consumer_secret`.
pub const DEMO_CONSUMER_SECRET: &str = "demo-consumer-secret";
/// The demo access `token`.
pub const DEMO_TOKEN: &str = "demo-token";
/// The demo access `token_secret`.
pub const DEMO_TOKEN_SECRET: &str = "demo-token-secret";

/// The demo credentials, by their names in a target's `credentials` table.
pub fn demo_credentials() -> Credentials {
    let mut c = Credentials::new();
    c.insert("consumer_key", DEMO_CONSUMER_KEY);
    c.insert("consumer_secret", DEMO_CONSUMER_SECRET);
    c.insert("token", DEMO_TOKEN);
    c.insert("token_secret", DEMO_TOKEN_SECRET);
    c
}

const UNIQUE: &[&str] = &["email"];
const EMAIL_TAKEN: &str = "The email is already being used";
const NO_SUCH_USER: &str = "The user does not exist";
const NOT_IN_COMMUNITY: &str = "The user does not participate in the community";
const NOT_BLOCKED: &str = "The user is not blocked";

/// The mock's router for GNOSS.
pub fn router(state: MockState) -> Router {
    state.store().set_unique_fields(UNIQUE);
    let api = Router::new()
        .route("/user/create-user", post(create_user))
        .route("/user/modify-user", post(modify_user))
        .route("/user/block", post(set_blocked::<true>))
        .route("/user/unblock", post(set_blocked::<false>))
        .route("/user/delete-user", post(delete_user))
        .route("/user/get-by-id", get(get_by_id))
        .route("/user/get-by-email", get(get_by_email));
    api_routes(api, &state).with_state(state)
}

fn text_response(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    text_response(StatusCode::BAD_REQUEST, message)
}

/// GNOSS's errors: plain text, 400 for a body that is not a JSON object, for invalid fields
/// (one `field: message` line each) and for an unknown user or a taken email.
struct GnossErrors;

impl ErrorShape for GnossErrors {
    fn bad_body(e: BodyError) -> Response {
        bad_request(&format!("The request is invalid: {e}"))
    }

    fn invalid(errors: &[FieldError]) -> Response {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        bad_request(&lines.join("\n"))
    }

    fn store_error(e: StoreError) -> Response {
        match e {
            StoreError::NotFound => bad_request(NO_SUCH_USER),
            StoreError::Conflict { .. } => bad_request(EMAIL_TAKEN),
        }
    }
}

/// Checks the OAuth header as GNOSS does: signature, then timestamp age and nonce reuse.
fn check_oauth(
    state: &MockState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let unauthorized = |message: &str| text_response(StatusCode::UNAUTHORIZED, message);
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Refusal::from(unauthorized(
            "Missing OAuth Authorization header",
        )));
    };
    // The URL the client signed: the host it called and the path (and query) it asked for.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let url = url::Url::parse(&format!("http://{host}/{}", path_and_query(uri)))
        .map_err(|_| Refusal::from(unauthorized("invalid OAuth signature")))?;
    let keys = OAuthKeys {
        consumer_key: state.credential("consumer_key", DEMO_CONSUMER_KEY),
        consumer_secret: state.credential("consumer_secret", DEMO_CONSUMER_SECRET),
        token: state.credential("token", DEMO_TOKEN),
        token_secret: state.credential("token_secret", DEMO_TOKEN_SECRET),
    };
    let verified = oauth::verify(state.signing(), method.as_str(), &url, value, &keys)
        .map_err(|e| Refusal::from(unauthorized(&e.to_string())))?;
    let accepted = state
        .nonces()
        .accept(&verified.nonce, verified.timestamp, unix_now());
    match accepted {
        Ok(()) => Ok(()),
        Err(NonceProblem::Stale) => Err(Refusal::from(unauthorized(
            "The OAuth timestamp is too old or in the future",
        ))),
        Err(NonceProblem::Replayed) => Err(Refusal::from(unauthorized(
            "The OAuth nonce has already been used",
        ))),
    }
}

/// Drops the fields GNOSS skips: null, empty strings, empty lists.
fn without_empty(payload: &Payload) -> Payload {
    let mut kept = payload.clone();
    kept.retain(|_, value| match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    });
    kept
}

fn user_json(user: &StoredUser) -> Value {
    let mut fields = user.fields.clone();
    fields.remove("password");
    fields.insert("blocked", Value::Bool(!user.active));
    Value::from(fields)
}

/// The user named by `user_id`, checked to belong to `community_id` when both are known.
fn find_member(state: &MockState, payload: &Payload) -> Result<String, Refusal> {
    GnossErrors::valid(require(payload, &["user_id", "community_id"]))?;
    let user_id = text(payload, "user_id").unwrap_or_default().to_lowercase();
    let store = state.store();
    let user = GnossErrors::found(store.get(&user_id))?;
    let community = text(payload, "community_id").map(|c| c.to_lowercase());
    let member_of = text(&user.fields, "community_id").map(|c| c.to_lowercase());
    if member_of.is_some() && community != member_of {
        return Err(Refusal::from(bad_request(NOT_IN_COMMUNITY)));
    }
    Ok(user_id)
}

async fn create_user(
    State(state): State<MockState>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_oauth(&state, &request.method, &request.uri, &request.headers)?;
    let mut payload = GnossErrors::body(&request.body)?;
    let record = request.record(Change::Create, &payload);
    let errors = validate_create(&super::schema::SCHEMA, &mut payload);
    GnossErrors::valid(with_required(
        errors,
        &payload,
        &["name", "last_name", "email"],
    ))?;
    let mut fields = without_empty(&payload);
    let mut store = state.store();
    let user_id = store.next_guid();
    fields.insert("user_id", Value::String(user_id.clone()));
    let created = store.create(IdKind::Given(user_id), fields, true, record);
    drop(store);
    let user = GnossErrors::stored(created)?;
    // .NET Web API serialises the returned Guid as a JSON string.
    Ok(Json(Value::String(user.id)).into_response())
}

async fn modify_user(
    State(state): State<MockState>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_oauth(&state, &request.method, &request.uri, &request.headers)?;
    let mut payload = GnossErrors::body(&request.body)?;
    let record = request.record(Change::Patch, &payload);
    GnossErrors::valid(validate_change(&super::schema::SCHEMA, &mut payload))?;
    let user_id = find_member(&state, &payload)?;
    let mut changes = without_empty(&payload);
    changes.remove("user_id");
    let updated = state.store().update(&user_id, record, |user| {
        user.fields.extend(changes);
    });
    GnossErrors::stored(updated)?;
    Ok(StatusCode::OK.into_response())
}

/// `POST user/block` when `BLOCKED`, `POST user/unblock` when not.
async fn set_blocked<const BLOCKED: bool>(
    State(state): State<MockState>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_oauth(&state, &request.method, &request.uri, &request.headers)?;
    let payload = GnossErrors::body(&request.body)?;
    let user_id = find_member(&state, &payload)?;
    if !BLOCKED && state.store().get(&user_id).is_some_and(|u| u.active) {
        return Ok(bad_request(NOT_BLOCKED));
    }
    let change = if BLOCKED {
        Change::Deactivate
    } else {
        Change::Reactivate
    };
    let record = request.record(change, &payload);
    let updated = state.store().update(&user_id, record, |user| {
        user.active = !BLOCKED;
    });
    GnossErrors::stored(updated)?;
    Ok(StatusCode::OK.into_response())
}

async fn delete_user(
    State(state): State<MockState>,
    Query(query): Query<HashMap<String, String>>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_oauth(&state, &request.method, &request.uri, &request.headers)?;
    let payload = GnossErrors::body(&request.body)?;
    let user_id = text(&payload, "user_id")
        .or_else(|| query.get("user_id").cloned())
        .map(|id| id.to_lowercase());
    let Some(user_id) = user_id else {
        return Ok(bad_request("user_id: user_id is required"));
    };
    let deleted = state.store().delete(&user_id);
    GnossErrors::stored(deleted)?;
    Ok(StatusCode::OK.into_response())
}

async fn get_by_id(
    State(state): State<MockState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    check_oauth(&state, &method, &uri, &headers)?;
    let Some(user_id) = query.get("user_id").map(|id| id.to_lowercase()) else {
        return Ok(bad_request("user_id: user_id is required"));
    };
    let user = GnossErrors::found(state.user(&user_id))?;
    Ok(Json(user_json(&user)).into_response())
}

async fn get_by_email(
    State(state): State<MockState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    check_oauth(&state, &method, &uri, &headers)?;
    let Some(email) = query.get("email") else {
        return Ok(bad_request("email: email is required"));
    };
    let user = GnossErrors::found(state.store().find_by("email", email).cloned())?;
    Ok(Json(user_json(&user)).into_response())
}
