//! Faveo Helpdesk routes in the built-in mock server (API v3), checked by the mock's own
//! reading of the "Edit User" page (`page` = faveo-edit-user.txt) and the providers' README,
//! never by usersync's schema. Where the page is ambiguous the strict reading is the default
//! and a [`MockOptions`] field lets the lenient one through.
//!
//! - `POST v3/api/login` `{email | user_name, password}` (JSON or form) issues a bearer token
//!   living `token_ttl`: `{"success":true,"data":{"token":..}}` (README); wrong credentials are
//!   401 `{"success":false,"message":..}` (assumed: the answer is not documented).
//! - Every other route takes the token as `Authorization: Bearer` or `?token=`; without a valid
//!   one it answers 422 `{"result":{"fails":"Unauthorized! Please login again"}}` (README). A
//!   `token` credential, when given, is accepted as a token that never expires.
//! - `POST v3/user/create/api` creates (`data.id` is the new integer id; README: create takes
//!   the same fields); `POST v3/user/update/api/{id}` updates (page:1-3): the fields sent
//!   replace the stored ones, the others stay; `POST v3/api/account/deactivate/{id}` deactivates
//!   (README; applied at once here, Faveo queues it).
//! - Fields: those of the table (page:6-16), custom fields as `custom_<id>` (page:13); any other
//!   field is refused.
//! - Required: `first_name` and `last_name` (page:7-8), non-empty. Of the fields "configurable
//!   from backend form settings", `user_name`, `phone_number`, email, `mobile` (page:9-12),
//!   [`MockOptions::faveo_required`] names those required (default `email` and `user_name`).
//! - Types: the String fields are JSON strings (page:7-12), `email` a valid email (page:11);
//!   `custom_<id>` a string or an array of strings (page:13); `organization` and
//!   `organisation_department` arrays of ids (page:14-15), `related` an array of `{org_id,
//!   org_dept}` objects (page:16). An id is a positive integer, or its digits as a string (the
//!   page writes the fields as form fields, `organization[0]`, whose values travel as text).
//! - Organisations (page:17): given `organisation_department`, `related` is mandatory, with as
//!   many elements; each `related` element combines an organisation of `organization` with a
//!   department of `organisation_department`.
//! - The trap (README): an update replaces the user's organisation links with those it carries,
//!   so an update without the organisation fields removes all of them. The links are the user's
//!   stored `organization`, `organisation_department` and `related` fields (in `/__mock/users`).
//! - `null`: the page shows none, so a null field is refused; [`MockOptions::null_clears`]
//!   takes it as "clear" on a field that is not required.
//! - Answers: an update is `{"success":true,"message":"Updated Successfully"}` (page:22);
//!   failures are 412 `{"success":false,"message":{field: error}}` (page:24; README: seen with
//!   412), a taken email or user_name "This email/username has already been taken", a taken
//!   mobile "The mobile phone has already been taken." under `mobile_phone`, as the page
//!   writes it (page:25).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::mock::request::{bearer, json_object, BodyError, ErrorShape, Incoming, Refusal};
use crate::mock::store::{Change, IdKind, Store, StoreError};
use crate::mock::{api_routes, auth_routes, MockState};
use crate::payload::Payload;
use crate::provider::Credentials;
use crate::validate::FieldError;

#[path = "mock/body.rs"]
mod body;
use body::check_body;

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

/// Faveo's side of the built-in mock server.
pub struct Mock;

impl crate::mock::MockProvider for Mock {
    fn name(&self) -> &'static str {
        "faveo"
    }

    fn router(&self, state: MockState) -> Router {
        router(state)
    }

    fn demo_credentials(&self) -> Credentials {
        demo_credentials()
    }
}

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

/// The page's answer to taken unique values (page:25), one entry per field.
fn taken(fields: &[&str]) -> Response {
    let mut message = serde_json::Map::new();
    for field in fields {
        if *field == "mobile" {
            message.insert(
                "mobile_phone".into(),
                json!("The mobile phone has already been taken."),
            );
        } else {
            message.insert(
                field.to_string(),
                json!("This email/username has already been taken"),
            );
        }
    }
    failure(StatusCode::PRECONDITION_FAILED, Value::Object(message))
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
            StoreError::Conflict { field } => {
                let field = UNIQUE.iter().find(|f| **f == field).copied();
                taken(&[field.unwrap_or("email")])
            }
        }
    }
}

/// The unique fields of `fields` whose value another user than `own` has.
fn taken_fields(store: &Store, fields: &Payload, own: Option<&str>) -> Vec<&'static str> {
    UNIQUE
        .iter()
        .filter(|field| {
            fields
                .get(field)
                .and_then(Value::as_str)
                .and_then(|value| store.find_by(field, value))
                .is_some_and(|holder| Some(holder.id.as_str()) != own)
        })
        .copied()
        .collect()
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
    let body = FaveoErrors::body(&request.body)?;
    FaveoErrors::valid(check_body(&body, state.options()))?;
    let record = request.record(Change::Create, &body);
    let fields: Payload = body
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect();
    let mut store = state.store();
    let taken_now = taken_fields(&store, &fields, None);
    if !taken_now.is_empty() {
        return Ok(taken(&taken_now));
    }
    let created = store.create(IdKind::Integer, fields, true, record);
    drop(store);
    let user = FaveoErrors::stored(created)?;
    let mut data = user.fields;
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
    let body = FaveoErrors::body(&request.body)?;
    FaveoErrors::valid(check_body(&body, state.options()))?;
    let record = request.record(Change::Update, &body);
    let mut store = state.store();
    let current = FaveoErrors::found(store.get(&id))?;
    let mut next = current.fields.clone();
    // The trap: the organisation links become those the update carries, none when it carries
    // no organisation field.
    for field in ORGANISATION_FIELDS {
        next.remove(field);
    }
    for (name, value) in body.iter() {
        if value.is_null() {
            next.remove(name);
        } else {
            next.insert(name.to_owned(), value.clone());
        }
    }
    let taken_now = taken_fields(&store, &next, Some(&id));
    if !taken_now.is_empty() {
        return Ok(taken(&taken_now));
    }
    let updated = store.update(&id, record, |user| user.fields = next);
    drop(store);
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
