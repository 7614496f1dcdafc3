//! MeetingLawyers routes in the built-in mock server, as its server-to-server API documents them.
//!
//! - `POST s2s/v1/users` creates (the integrator's `user_id` names the user; a taken `user_id`
//!   or email is 409, an assumption: the page is silent);
//! - `PUT s2s/v1/users/{user_id}` replaces every field (`status` required), `PATCH` changes the
//!   fields sent (a field sent as `null` is cleared), `GET` reads; a user is deactivated with
//!   `status: 0` ("Free (no access)");
//! - every request needs the `Api-Key` and `Secret-Key` headers (401 otherwise);
//! - invalid JSON is 406, field errors 400 `{"errors":[{"field","code","message"}]}` (the error
//!   body is not documented; this shape is assumed), an unknown user 404.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::mock::request::{
    cleared_fields, text, validate_change, validate_create, with_required, BodyError, ErrorShape,
    Incoming, Refusal,
};
use crate::mock::store::{Change, IdKind, StoreError, StoredUser};
use crate::mock::{api_routes, MockState};
use crate::payload::Payload;
use crate::provider::Credentials;
use crate::validate::FieldError;

/// The demo `api_key` the mock accepts when none is given.
pub const DEMO_API_KEY: &str = "demo-api-key";
/// The demo `secret_key` the mock accepts when none is given.
pub const DEMO_SECRET_KEY: &str = "demo-secret-key";

/// The demo credentials, by their names in a target's `credentials` table.
pub fn demo_credentials() -> Credentials {
    let mut c = Credentials::new();
    c.insert("api_key", DEMO_API_KEY);
    c.insert("secret_key", DEMO_SECRET_KEY);
    c
}

/// Email addresses are unique across users (an assumption; `user_id` always is).
const UNIQUE: &[&str] = &["email"];

/// The mock's router for MeetingLawyers.
pub fn router(state: MockState) -> Router {
    state.store().set_unique_fields(UNIQUE);
    let api = Router::new().route("/s2s/v1/users", post(create)).route(
        "/s2s/v1/users/:user_id",
        get(fetch).put(change::<true>).patch(change::<false>),
    );
    api_routes(api, &state).with_state(state)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [{ "code": code, "message": message }] })),
    )
        .into_response()
}

fn check_keys(state: &MockState, headers: &HeaderMap) -> Result<(), Refusal> {
    let given = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let api_key = state.credential("api_key", DEMO_API_KEY);
    let secret_key = state.credential("secret_key", DEMO_SECRET_KEY);
    if given("api-key") == Some(api_key) && given("secret-key") == Some(secret_key) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Invalid Api-Key or Secret-Key",
        )
        .into())
    }
}

fn user_json(user: &StoredUser) -> Value {
    Value::from(user.fields.clone())
}

fn conflict(field: &str) -> Response {
    let field = if field == "id" { "user_id" } else { field };
    (
        StatusCode::CONFLICT,
        Json(json!({ "errors": [{
            "field": field,
            "code": "already_exists",
            "message": format!("A user with this {field} already exists"),
        }] })),
    )
        .into_response()
}

/// MeetingLawyers' errors (assumed): `{"errors":[{"field","code","message"}]}`, 406 for a body
/// that is not a JSON object, 400 for invalid fields, 404 for an unknown user, 409 for a taken
/// `user_id` or email.
struct MeetingLawyersErrors;

impl ErrorShape for MeetingLawyersErrors {
    fn bad_body(e: BodyError) -> Response {
        error(StatusCode::NOT_ACCEPTABLE, "invalid_json", &e.to_string())
    }

    fn invalid(errors: &[FieldError]) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({ "errors": errors }))).into_response()
    }

    fn store_error(e: StoreError) -> Response {
        match e {
            StoreError::NotFound => error(StatusCode::NOT_FOUND, "not_found", "User not found"),
            StoreError::Conflict { field } => conflict(&field),
        }
    }
}

/// Active unless `status` is 0 ("Free (no access)").
fn is_active(fields: &Payload) -> bool {
    fields.get("status").and_then(Value::as_i64) != Some(0)
}

async fn create(State(state): State<MockState>, request: Incoming) -> Result<Response, Refusal> {
    check_keys(&state, &request.headers)?;
    let mut payload = MeetingLawyersErrors::body(&request.body)?;
    let record = request.record(Change::Create, &payload);
    let found = validate_create(&super::schema::SCHEMA, &mut payload);
    MeetingLawyersErrors::valid(with_required(found, &payload, &["user_id", "status"]))?;
    let Some(user_id) = text(&payload, "user_id") else {
        return Ok(error(
            StatusCode::BAD_REQUEST,
            "required",
            "user_id is required",
        ));
    };
    let active = is_active(&payload);
    let created = state
        .store()
        .create(IdKind::Given(user_id), payload, active, record);
    let user = MeetingLawyersErrors::stored(created)?;
    Ok((StatusCode::CREATED, Json(user_json(&user))).into_response())
}

async fn fetch(
    State(state): State<MockState>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    check_keys(&state, &headers)?;
    let user = MeetingLawyersErrors::found(state.user(&user_id))?;
    Ok(Json(user_json(&user)).into_response())
}

/// `PUT s2s/v1/users/{user_id}` when `FULL` (every field replaced, `status` required), `PATCH`
/// when not (the fields sent changed, those sent as `null` cleared).
async fn change<const FULL: bool>(
    State(state): State<MockState>,
    Path(user_id): Path<String>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_keys(&state, &request.headers)?;
    let mut payload = MeetingLawyersErrors::body(&request.body)?;
    // What arrived, before validation drops the nulls: the fields sent, and those to clear.
    let sent = payload.clone();
    let cleared = cleared_fields(&payload);
    let mut found = validate_change(&super::schema::SCHEMA, &mut payload);
    if FULL {
        found = with_required(found, &payload, &["status"]);
    }
    if let Some(other) = payload.get("user_id").and_then(Value::as_str) {
        if other != user_id {
            found.push(FieldError::new(
                "user_id",
                "immutable",
                "user_id cannot be changed",
            ));
        }
    }
    MeetingLawyersErrors::valid(found)?;
    let mut store = state.store();
    let was_active = MeetingLawyersErrors::found(store.get(&user_id).map(|u| u.active))?;
    let mut next = if FULL {
        Payload::new()
    } else {
        store
            .get(&user_id)
            .map(|u| u.fields.clone())
            .unwrap_or_default()
    };
    next.extend(payload.clone());
    for name in &cleared {
        next.remove(name);
    }
    next.insert("user_id", Value::String(user_id.clone()));
    let now_active = is_active(&next);
    let kind = Change::by_access(
        was_active,
        now_active,
        if FULL { Change::Update } else { Change::Patch },
    );
    let record = request.record(kind, &sent);
    let updated = store.update(&user_id, record, |user| {
        user.fields = next;
        user.active = now_active;
    });
    drop(store);
    let user = MeetingLawyersErrors::stored(updated)?;
    Ok(Json(user_json(&user)).into_response())
}
