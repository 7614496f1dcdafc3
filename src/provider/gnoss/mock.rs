//! GNOSS routes in the built-in mock server: the `user/` routes of the GNOSS API, behind OAuth 1.0.
//!
//! The mock checks requests with its own code, apart from the adapter's, so that the two cannot
//! agree by construction: signatures with the RFC 5849 verifier in [`rfc5849`], bodies with
//! the rules of the `user/modify-user` page in [`body`].
//!
//! Every request must carry an OAuth 1.0 HMAC-SHA1 `Authorization` header signed with the
//! accepted consumer key/secret and token/secret, the way [`MockOptions::signing`] says (GNOSS's
//! own way by default: as `GET`, over the URL without its query); a timestamp more than 10
//! minutes away or a nonce seen in the last 10 minutes is refused. As GNOSS does, errors are
//! plain text: 401 for OAuth problems, 400 for invalid parameters (one `field: message` line
//! each).
//!
//! - `POST user/create-user`: name, last_name, email required; answers the new user's GUID
//!   (as a JSON string); a taken email is 400 "The email is already being used".
//! - `POST user/modify-user`: a partial update of the user named by `user_id` + `community_id`,
//!   both GUIDs (empty fields are skipped, unknown ones ignored).
//! - `POST user/block`, `POST user/unblock` `{user_id, community_id}`: deactivate, reactivate.
//!   Unblocking a user who is not blocked is 400 "The user is not blocked" (an assumption, the
//!   refusal docs/providers/gnoss.md expects when someone already unblocked a returning user).
//! - `GET user/get-by-id?user_id=`, `GET user/get-by-email?email=`: the user as a JSON object
//!   with its `user_id` and `blocked`, never its password. Assumed (no page documents them): an
//!   unknown user is 400 "The user does not exist", as on every route.
//! - `POST user/delete-user` `{user_id}` (or `?user_id=`): removes the user.
//!
//! [`MockOptions::signing`]: crate::mock::MockOptions::signing

#[path = "mock/body.rs"]
pub mod body;
#[path = "mock/rfc5849.rs"]
pub mod rfc5849;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;
use std::collections::HashMap;

use self::body::{CREATE_REQUIRED, MEMBER_REQUIRED};
use self::rfc5849::{BaseStringRule, RequestTarget, ServerKeys};
use crate::mock::auth::NonceProblem;
use crate::mock::request::{text, unix_now, BodyError, ErrorShape, Incoming, Refusal};
use crate::mock::store::{Change, IdKind, StoreError, StoredUser};
use crate::mock::{api_routes, MockState};
use crate::payload::Payload;
use crate::provider::gnoss::oauth::SigningStyle;
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

/// Gnoss's side of the built-in mock server.
pub struct Mock;

impl crate::mock::MockProvider for Mock {
    fn name(&self) -> &'static str {
        "gnoss"
    }

    fn router(&self, state: MockState) -> Router {
        router(state)
    }

    fn demo_credentials(&self) -> Credentials {
        demo_credentials()
    }
}

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
    let unauthorized =
        |message: &str| Refusal::from(text_response(StatusCode::UNAUTHORIZED, message));
    let header = match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => return Err(unauthorized(&rfc5849::Refused::Malformed.to_string())),
    };
    // The URL the client signed: the host it called and the path (and query) it asked for.
    let target = RequestTarget {
        method: method.as_str(),
        scheme: "http",
        host: headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost"),
        path: uri.path(),
        query: uri.query(),
    };
    let keys = ServerKeys {
        consumer_key: state.credential("consumer_key", DEMO_CONSUMER_KEY),
        consumer_secret: state.credential("consumer_secret", DEMO_CONSUMER_SECRET),
        token: state.credential("token", DEMO_TOKEN),
        token_secret: state.credential("token_secret", DEMO_TOKEN_SECRET),
    };
    let rule = match state.signing() {
        SigningStyle::Gnoss => BaseStringRule::Gnoss,
        SigningStyle::Rfc5849 => BaseStringRule::Rfc5849,
    };
    let signed = rfc5849::verify(rule, &target, header, &keys)
        .map_err(|refused| unauthorized(&refused.to_string()))?;
    let accepted = state
        .nonces()
        .accept(&signed.nonce, signed.timestamp, unix_now());
    match accepted {
        Ok(()) => Ok(()),
        Err(NonceProblem::Stale) => Err(unauthorized(
            "The OAuth timestamp is too old or in the future",
        )),
        Err(NonceProblem::Replayed) => Err(unauthorized("The OAuth nonce has already been used")),
    }
}

/// The body's fields as the page types them ([`body::check`]), or GNOSS's 400 listing the
/// fields in error.
fn checked(payload: &Payload, required: &[&str]) -> Result<Payload, Refusal> {
    body::check(payload, required).map_err(|errors| GnossErrors::invalid(&errors).into())
}

/// The user as the read routes show them: their fields, `user_id` and `blocked`, no password.
fn user_json(user: &StoredUser) -> Value {
    let mut fields = user.fields.clone();
    fields.remove("password");
    fields.insert("user_id", Value::String(user.id.clone()));
    fields.insert("blocked", Value::Bool(!user.active));
    Value::from(fields)
}

/// The id of the user a checked body names by `user_id`, who must belong to its
/// `community_id` when the user's community is known.
fn find_member(state: &MockState, fields: &Payload) -> Result<String, Refusal> {
    let user_id = text(fields, "user_id").unwrap_or_default();
    let store = state.store();
    let user = GnossErrors::found(store.get(&user_id))?;
    let community = text(fields, "community_id").map(|c| c.to_lowercase());
    let member_of = text(&user.fields, "community_id").map(|c| c.to_lowercase());
    if member_of.is_some() && community != member_of {
        return Err(Refusal::from(bad_request(NOT_IN_COMMUNITY)));
    }
    Ok(user_id)
}

/// A `user_id` given outside a checked body (a query, `delete-user`), as a stored id.
fn user_id_param(given: Option<String>) -> Result<String, Refusal> {
    let Some(given) = given.filter(|id| !id.trim().is_empty()) else {
        return Err(Refusal::from(bad_request("user_id: user_id is required")));
    };
    body::guid(&given)
        .ok_or_else(|| Refusal::from(bad_request("user_id: The value is not a valid GUID")))
}

async fn create_user(
    State(state): State<MockState>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_oauth(&state, &request.method, &request.uri, &request.headers)?;
    let payload = GnossErrors::body(&request.body)?;
    let record = request.record(Change::Create, &payload);
    let mut fields = checked(&payload, CREATE_REQUIRED)?;
    let mut store = state.store();
    let user_id = store.next_guid();
    // GNOSS hands out the id: one sent on create is not the user's.
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
    let payload = GnossErrors::body(&request.body)?;
    let record = request.record(Change::Patch, &payload);
    let mut changes = checked(&payload, MEMBER_REQUIRED)?;
    let user_id = find_member(&state, &changes)?;
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
    let user_id = find_member(&state, &checked(&payload, MEMBER_REQUIRED)?)?;
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
    let given = text(&payload, "user_id").or_else(|| query.get("user_id").cloned());
    let deleted = state.store().delete(&user_id_param(given)?);
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
    let user_id = user_id_param(query.get("user_id").cloned())?;
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
    let Some(email) = query.get("email").filter(|e| !e.trim().is_empty()) else {
        return Ok(bad_request("email: email is required"));
    };
    let user = GnossErrors::found(state.store().find_by("email", email).cloned())?;
    Ok(Json(user_json(&user)).into_response())
}
