//! Faveo Helpdesk routes in the built-in mock server (API v3), traps included.
//!
//! - `POST v3/api/login` `{email | user_name, password}` (JSON or form) issues a bearer token
//!   living `token_ttl`: `{"success":true,"data":{"token":..}}`; wrong credentials are 401
//!   `{"success":false,"message":..}` (assumed: the answer is not documented).
//! - Every other route takes the token as `Authorization: Bearer` or `?token=`; without a valid
//!   one it answers 422 `{"result":{"fails":"Unauthorized! Please login again"}}`, as Faveo does.
//!   A `token` credential, when given, is accepted as a token that never expires.
//! - `POST v3/user/create/api` creates (`data.id` is the new integer id); `POST
//!   v3/user/update/api/{id}` updates (`first_name`, `last_name` required; the fields sent are
//!   merged, a field sent as `null` is cleared), and, like Faveo,
//!   removes all of the user's organisation links when the update carries no organisation
//!   field; `POST v3/api/account/deactivate/{id}` deactivates (applied at once here; Faveo
//!   queues it).
//! - Field errors are 412 `{"success":false,"message":{field: error}}`; a taken email, user_name
//!   or mobile is "... has already been taken" in that shape.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::mock::request::{
    bearer, cleared_fields, json_object, validate_change, validate_create, with_required,
    BodyError, ErrorShape, Incoming, Refusal,
};
use crate::mock::store::{Change, IdKind, StoreError};
use crate::mock::{api_routes, auth_routes, MockState};
use crate::payload::Payload;
use crate::provider::Credentials;
use crate::validate::FieldError;

/// The demo login `email` the mock accepts when none is given.
pub const DEMO_EMAIL: &str = "admin@example.com";
/// The demo login `user_name`.
pub const DEMO_USER_NAME: &str = "admin";
/// The demo `password`.
pub const DEMO_PASSWORD: &str = "demo-password";

/// The demo credentials, by their names in a target's `credentials` table.
pub fn demo_credentials() -> Credentials {
    let mut c = Credentials::new();
    c.insert("email", DEMO_EMAIL);
    c.insert("password", DEMO_PASSWORD);
    c
}

const UNIQUE: &[&str] = &["email", "user_name", "mobile"];
/// The fields that carry a user's organisation links.
pub const ORGANISATION_FIELDS: &[&str] = &["organization", "organisation_department", "related"];
const PLEASE_LOGIN: &str = "Unauthorized! Please login again";
/// The fields a create and an update must carry.
const REQUIRED: &[&str] = &["first_name", "last_name"];

/// The mock's router for Faveo.
pub fn router(state: MockState) -> Router {
    state.store().set_unique_fields(UNIQUE);
    let api = Router::new()
        .route("/v3/user/create/api", post(create))
        .route("/v3/user/update/api/:id", post(update))
        .route("/v3/api/account/deactivate/:id", post(deactivate));
    let login = Router::new().route("/v3/api/login", post(login));
    api_routes(api, &state)
        .merge(auth_routes(login, &state))
        .with_state(state)
}

fn failure(status: StatusCode, message: Value) -> Response {
    (status, Json(json!({"success": false, "message": message}))).into_response()
}

fn taken(field: &str) -> Response {
    let message = if field == "mobile" {
        "The mobile phone has already been taken."
    } else {
        "This email/username has already been taken"
    };
    failure(StatusCode::PRECONDITION_FAILED, json!({ field: message }))
}

/// Faveo's errors: 412 `{"success":false,"message":{field: error}}` for fields, 400 for a body
/// that is not a JSON object, 404 for an unknown user.
struct FaveoErrors;

impl ErrorShape for FaveoErrors {
    fn bad_body(e: BodyError) -> Response {
        failure(StatusCode::BAD_REQUEST, json!(e.to_string()))
    }

    fn invalid(errors: &[FieldError]) -> Response {
        let mut by_field = serde_json::Map::new();
        for e in errors {
            let text = match by_field.get(&e.field).and_then(Value::as_str) {
                Some(earlier) => format!("{earlier} {}", e.message),
                None => e.message.clone(),
            };
            by_field.insert(e.field.clone(), Value::String(text));
        }
        failure(StatusCode::PRECONDITION_FAILED, Value::Object(by_field))
    }

    fn store_error(e: StoreError) -> Response {
        match e {
            StoreError::NotFound => failure(StatusCode::NOT_FOUND, json!("User not found")),
            StoreError::Conflict { field } => taken(&field),
        }
    }
}

/// The login body: JSON, or a form as Faveo's web clients send it.
fn login_fields(headers: &HeaderMap, body: &[u8]) -> Payload {
    let is_form = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    } else {
        json_object(body).unwrap_or_default()
    }
}

async fn login(State(state): State<MockState>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = login_fields(&headers, &body);
    let given = |name: &str| fields.get(name).and_then(Value::as_str);
    let email_ok = given("email") == Some(state.credential("email", DEMO_EMAIL));
    let user_ok = given("user_name") == Some(state.credential("user_name", DEMO_USER_NAME));
    let password_ok = given("password") == Some(state.credential("password", DEMO_PASSWORD));
    if !(password_ok && (email_ok || user_ok)) {
        return failure(StatusCode::UNAUTHORIZED, json!("Invalid credentials"));
    }
    let issued = state.tokens().issue(state.token_ttl());
    Json(json!({
        "success": true,
        "message": "Login successful",
        "data": { "token": issued.access, "expires_in": issued.expires_in.as_secs() },
    }))
    .into_response()
}

/// Faveo's answer to a request without a valid token.
fn please_login() -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"result": {"fails": PLEASE_LOGIN}})),
    )
        .into_response()
}

fn check_token(
    state: &MockState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(), Refusal> {
    let token = bearer(headers).or_else(|| query.get("token").map(String::as_str));
    if state.has_credential("token") && token == Some(state.credential("token", "")) {
        return Ok(());
    }
    state
        .tokens()
        .check(token)
        .map_err(|_| please_login().into())
}

async fn create(
    State(state): State<MockState>,
    Query(query): Query<HashMap<String, String>>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_token(&state, &request.headers, &query)?;
    let mut payload = FaveoErrors::body(&request.body)?;
    let record = request.record(Change::Create, &payload);
    let errors = validate_create(&super::schema::SCHEMA, &mut payload);
    FaveoErrors::valid(with_required(errors, &payload, REQUIRED))?;
    let created = state.store().create(IdKind::Integer, payload, true, record);
    let user = FaveoErrors::stored(created)?;
    let mut data = user.fields;
    data.remove("password");
    data.insert("id", json!(user.id.parse::<u64>().unwrap_or(0)));
    Ok(Json(json!({
        "success": true,
        "message": "User created successfully",
        "data": data,
    }))
    .into_response())
}

async fn update(
    State(state): State<MockState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_token(&state, &request.headers, &query)?;
    let mut payload = FaveoErrors::body(&request.body)?;
    let record = request.record(Change::Update, &payload);
    // Validation drops nulls: a field sent as null is one the client clears.
    let cleared = cleared_fields(&payload);
    let keeps_organisations = ORGANISATION_FIELDS.iter().any(|f| payload.contains_key(f));
    let errors = validate_change(&super::schema::SCHEMA, &mut payload);
    FaveoErrors::valid(with_required(errors, &payload, REQUIRED))?;
    let updated = state.store().update(&id, record, |user| {
        if !keeps_organisations {
            // Faveo's trap: an update without organisation fields unlinks every organisation.
            for field in ORGANISATION_FIELDS {
                user.fields.remove(field);
            }
        }
        user.fields.extend(payload);
        for name in &cleared {
            user.fields.remove(name);
        }
    });
    FaveoErrors::stored(updated)?;
    Ok(Json(json!({"success": true, "message": "Updated Successfully"})).into_response())
}

async fn deactivate(
    State(state): State<MockState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_token(&state, &request.headers, &query)?;
    let payload = FaveoErrors::body(&request.body)?;
    let record = request.record(Change::Deactivate, &payload);
    // The ticket actions only show in the user's request history.
    let updated = state
        .store()
        .update(&id, record, |user| user.active = false);
    FaveoErrors::stored(updated)?;
    Ok(Json(json!({
        "success": true,
        "message": "Account deactivation is in progress",
    }))
    .into_response())
}
