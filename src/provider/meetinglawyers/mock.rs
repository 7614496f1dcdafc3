//! MeetingLawyers routes in the built-in mock server, checked by the mock's own reading of the
//! provider's pages (`create` = meetinglawyers-create.txt, `update` = meetinglawyers-update.txt,
//! `README` = the providers' README), never by usersync's schema. Where a page is ambiguous the
//! strict reading is the default and a [`MockOptions`] field lets the lenient one through.
//!
//! - Routes: `POST s2s/v1/users` creates (create:4); `PUT s2s/v1/users/{user_id}` replaces every
//!   field (update:4), `PATCH` changes the fields sent (update:7); `GET` answers 200 with the
//!   user's fields and `user_id`, 404 for an unknown user (README: "A GET ... retrieves a user").
//! - `Api-Key` and `Secret-Key` on every request, else 401 (create:9-10). A body must be sent as
//!   `Content-Type: application/json` (create:11), else 400; an `Accept` that rules JSON out
//!   (create:12) is 406.
//! - Fields: a create takes the create table's (create:17-34); an update the update table's
//!   (update:20-35) plus `has_video_call_1to1`, which the full-update example sends (update:51).
//!   Any other field, `user_id` in an update included, is 400.
//! - Required: `user_id` and `status` on create (create:17-18); `status` on PUT and on PATCH too:
//!   the update table marks it required (update:20) and the partial example sends it
//!   (update:56-58). Lenient: [`MockOptions::meetinglawyers_patch_without_status`].
//! - Types (create:15): String is a JSON string; Numeric a JSON integer; Date a string
//!   `YYYY-MM-DD` naming a real day (create:24). `status` is 0, 2 or 4 (create:18; 0 is "Free
//!   (no access)": the user is inactive), `gender` 0 or 1 (create:23), `has_video_call` and
//!   `has_video_call_1to1` 0 or 1 (create:30-31).
//! - `email` a valid email (create:19); `nid_number` a DNI or NIE with its right check letter
//!   (create:20); `mobile_phone` a phone number (create:25): digits, spaces or hyphens after an
//!   optional `+`, 6 to 15 digits; `service_language_code` (create:28) and `country_code`
//!   (create:32) two letters in either case (the full-update example sends "es", update:52).
//! - `null`: the pages show it only for `description` (create:49, update:49); on any other field
//!   it is 400 naming the field. Lenient: [`MockOptions::null_clears`] takes it as "clear"
//!   (never for `user_id` or `status`). On a PATCH a cleared field is removed; on a PUT or a
//!   create a null field is simply not stored.
//! - Errors: the pages document only statuses (README: 400, 401, 403, 404, 405, 406 for invalid
//!   JSON); the body here is the mock's own `{"errors":[{"field","code","message"}]}`. A create
//!   of a taken `user_id`, or of an email another user has (an assumption), is 409 (README:
//!   "treat a 409/422 on create as exists").

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::mock::request::{BodyError, ErrorShape, Incoming, Refusal};
use crate::mock::store::{Change, IdKind, StoreError, StoredUser};
use crate::mock::{api_routes, MockState};
use crate::payload::Payload;
use crate::provider::Credentials;
use crate::validate::FieldError;

#[path = "mock/body.rs"]
mod body;
use body::{check_body, Route};

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

/// MeetingLawyers's side of the built-in mock server.
pub struct Mock;

impl crate::mock::MockProvider for Mock {
    fn name(&self) -> &'static str {
        "meetinglawyers"
    }

    fn router(&self, state: MockState) -> Router {
        router(state)
    }

    fn demo_credentials(&self) -> Credentials {
        demo_credentials()
    }
}

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

/// The JSON headers of the pages (create:11-12): a body declared as JSON, an answer JSON may be.
fn check_json_headers(headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let has_body = !body.iter().all(u8::is_ascii_whitespace);
    let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
    if has_body && content_type.split(';').next().map(str::trim) != Some("application/json") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "content_type",
            "the body must be sent as Content-Type: application/json",
        )
        .into());
    }
    if let Some(accept) = header(header::ACCEPT) {
        let json_ok = accept.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or_default().trim();
            matches!(media, "application/json" | "application/*" | "*/*")
        });
        if !json_ok {
            return Err(error(
                StatusCode::NOT_ACCEPTABLE,
                "not_acceptable",
                "this API answers application/json only",
            )
            .into());
        }
    }
    Ok(())
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

/// MeetingLawyers' documented statuses with the mock's error body: 406 for invalid JSON, 400
/// for a body that is not an object and for invalid fields, 404 for an unknown user, 409 for a
/// taken `user_id` or email.
struct MeetingLawyersErrors;

impl ErrorShape for MeetingLawyersErrors {
    fn bad_body(e: BodyError) -> Response {
        match e {
            BodyError::NotJson(_) => {
                error(StatusCode::NOT_ACCEPTABLE, "invalid_json", &e.to_string())
            }
            BodyError::NotObject => error(StatusCode::BAD_REQUEST, "malformed", &e.to_string()),
        }
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

/// `body` without its null fields.
fn without_nulls(body: &Payload) -> Payload {
    body.iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect()
}

async fn create(State(state): State<MockState>, request: Incoming) -> Result<Response, Refusal> {
    check_keys(&state, &request.headers)?;
    check_json_headers(&request.headers, &request.body)?;
    let body = MeetingLawyersErrors::body(&request.body)?;
    MeetingLawyersErrors::valid(check_body(Route::Create, &body, state.options()))?;
    let user_id = body
        .get("user_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let record = request.record(Change::Create, &body);
    let fields = without_nulls(&body);
    let active = is_active(&fields);
    let created = state
        .store()
        .create(IdKind::Given(user_id), fields, active, record);
    let user = MeetingLawyersErrors::stored(created)?;
    Ok((StatusCode::CREATED, Json(user_json(&user))).into_response())
}

async fn fetch(
    State(state): State<MockState>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    check_keys(&state, &headers)?;
    check_json_headers(&headers, &[])?;
    let user = MeetingLawyersErrors::found(state.user(&user_id))?;
    Ok(Json(user_json(&user)).into_response())
}

/// `PUT s2s/v1/users/{user_id}` when `FULL` (every field replaced), `PATCH` when not (the fields
/// sent changed, those sent as `null` cleared).
async fn change<const FULL: bool>(
    State(state): State<MockState>,
    Path(user_id): Path<String>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_keys(&state, &request.headers)?;
    check_json_headers(&request.headers, &request.body)?;
    let body = MeetingLawyersErrors::body(&request.body)?;
    let route = if FULL { Route::Put } else { Route::Patch };
    MeetingLawyersErrors::valid(check_body(route, &body, state.options()))?;
    let mut store = state.store();
    let current = MeetingLawyersErrors::found(store.get(&user_id))?;
    let was_active = current.active;
    let mut next = if FULL {
        Payload::new()
    } else {
        current.fields.clone()
    };
    for (name, value) in body.iter() {
        if value.is_null() {
            next.remove(name);
        } else {
            next.insert(name.to_owned(), value.clone());
        }
    }
    next.insert("user_id", Value::String(user_id.clone()));
    let now_active = is_active(&next);
    let kind = Change::by_access(
        was_active,
        now_active,
        if FULL { Change::Update } else { Change::Patch },
    );
    let record = request.record(kind, &body);
    let updated = store.update(&user_id, record, |user| {
        user.fields = next;
        user.active = now_active;
    });
    drop(store);
    let user = MeetingLawyersErrors::stored(updated)?;
    Ok(Json(user_json(&user)).into_response())
}
