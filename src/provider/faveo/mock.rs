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

use crate::mock::checks::{self, kind_of};
use crate::mock::request::{bearer, json_object, BodyError, ErrorShape, Incoming, Refusal};
use crate::mock::store::{Change, IdKind, Store, StoreError};
use crate::mock::{api_routes, auth_routes, MockOptions, MockState};
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
/// The fields every create and update must carry (page:7-8).
const ALWAYS_REQUIRED: &[&str] = &["first_name", "last_name"];
/// The String fields of the table (page:7-12).
const TEXT_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "user_name",
    "phone_number",
    "email",
    "mobile",
];

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

/// An organisation or department id: a positive integer, or its digits as a string.
fn id_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().filter(|n| *n > 0),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok().filter(|n| *n > 0)
        }
        _ => None,
    }
}

/// The ids of an array field, or why it is not an array of ids.
fn ids(name: &str, value: &Value) -> Result<Vec<u64>, String> {
    let Some(items) = value.as_array() else {
        return Err(format!(
            "{name} must be an array of ids, not {}",
            kind_of(value)
        ));
    };
    items
        .iter()
        .map(|item| id_of(item).ok_or_else(|| format!("{name} holds {item}, which is not an id")))
        .collect()
}

/// The `(org_id, org_dept)` pairs of `related`, or why it is not an array of them.
fn related_pairs(value: &Value) -> Result<Vec<(u64, u64)>, String> {
    let shape = "related must be an array of {org_id, org_dept} objects";
    let items = value.as_array().ok_or_else(|| shape.to_string())?;
    items
        .iter()
        .map(|item| {
            let object = item.as_object().filter(|o| o.len() == 2);
            let id = |key| object.and_then(|o| o.get(key)).and_then(id_of);
            match (id("org_id"), id("org_dept")) {
                (Some(org), Some(dept)) => Ok((org, dept)),
                _ => Err(format!("{shape}, with an id in each; {item} is not one")),
            }
        })
        .collect()
}

/// The note of page:17 on the organisation fields sent in `body` (each already an array).
fn check_organisations(body: &Payload, errors: &mut Vec<FieldError>) {
    let array = |name| body.get(name).filter(|v| !v.is_null());
    let organisations = array("organization").map(|v| ids("organization", v));
    let departments = array("organisation_department").map(|v| ids("organisation_department", v));
    let related = array("related").map(related_pairs);
    let mut fail = |field: &str, message: String| {
        errors.push(FieldError::new(field, "invalid_organisation", message));
    };
    for (name, checked) in [
        ("organization", &organisations),
        ("organisation_department", &departments),
    ] {
        if let Some(Err(message)) = checked {
            fail(name, message.clone());
        }
    }
    let related = match related {
        Some(Err(message)) => return fail("related", message),
        Some(Ok(pairs)) => Some(pairs),
        None => None,
    };
    let departments = match departments {
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => return,
        None => None,
    };
    let organisations = match organisations {
        Some(Ok(o)) => o,
        Some(Err(_)) => return,
        None => Vec::new(),
    };
    match (&departments, &related) {
        (Some(d), None) => {
            return fail(
                "related",
                format!(
                    "organisation_department is passed ({} element(s)), so related is mandatory",
                    d.len()
                ),
            )
        }
        (Some(d), Some(r)) if d.len() != r.len() => {
            return fail(
                "related",
                format!(
                    "related has {} element(s) and organisation_department {}: they must be equal",
                    r.len(),
                    d.len()
                ),
            )
        }
        _ => {}
    }
    let departments = departments.unwrap_or_default();
    for (org, dept) in related.unwrap_or_default() {
        if !organisations.contains(&org) || !departments.contains(&dept) {
            fail(
                "related",
                format!(
                    "related pairs organisation {org} with department {dept}: both must be \
                     passed in organization and organisation_department"
                ),
            );
        }
    }
}

/// Every problem of a create or update `body`, by the rules above.
fn check_body(body: &Payload, opts: &MockOptions) -> Vec<FieldError> {
    let required: Vec<&str> = ALWAYS_REQUIRED
        .iter()
        .copied()
        .chain(opts.faveo_required.iter().map(String::as_str))
        .collect();
    let mut errors = Vec::new();
    for (name, value) in body.iter() {
        let custom = name
            .strip_prefix("custom_")
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        let known = custom || TEXT_FIELDS.contains(&name) || ORGANISATION_FIELDS.contains(&name);
        if !known {
            let message = format!("{name} is not a field of this request");
            errors.push(FieldError::new(name, "unknown_field", message));
            continue;
        }
        if value.is_null() {
            if !opts.null_clears || required.contains(&name) {
                let message = format!("{name} cannot be null");
                errors.push(FieldError::new(name, "null", message));
            }
            continue;
        }
        let problem = if custom {
            let strings = value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string));
            (!value.is_string() && !strings)
                .then(|| format!("{name} must be a string or an array of strings"))
        } else if TEXT_FIELDS.contains(&name) {
            match value.as_str() {
                None => Some(format!("{name} must be a string, not {}", kind_of(value))),
                Some(text) if name == "email" => checks::email(text).err(),
                Some(_) => None,
            }
        } else {
            None // the organisation fields: below, together
        };
        if let Some(message) = problem {
            errors.push(FieldError::new(name, "invalid", message));
        }
    }
    check_organisations(body, &mut errors);
    for name in required {
        let blank = match body.get(name) {
            None => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if blank && !errors.iter().any(|e| e.field == name) {
            errors.push(FieldError::new(name, "required", "this field is required"));
        }
    }
    errors
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

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(value: Value, opts: &MockOptions) -> Vec<(String, String)> {
        let body: Payload = value.as_object().unwrap().clone().into();
        check_body(&body, opts)
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_string(), code.to_string())
    }

    fn person() -> Value {
        json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
            "email": "ana@example.com"})
    }

    #[test]
    fn the_configured_fields_are_required_with_the_names() {
        let strict = MockOptions::default();
        assert!(problems(person(), &strict).is_empty());
        assert_eq!(
            problems(json!({"first_name": "Ana", "last_name": " "}), &strict),
            [
                pair("last_name", "required"),
                pair("email", "required"),
                pair("user_name", "required")
            ]
        );
        let mobile_only = MockOptions {
            faveo_required: vec!["mobile".into()],
            ..MockOptions::default()
        };
        let named = json!({"first_name": "Ana", "last_name": "Ruiz"});
        assert_eq!(problems(named, &mobile_only), [pair("mobile", "required")]);
    }

    #[test]
    fn types_unknown_fields_and_nulls_are_refused() {
        let mut sent = person();
        sent["mobile"] = json!(600000000);
        sent["custom_3"] = json!(["a", "b"]);
        sent["custom_x"] = json!("a");
        sent["phone_number"] = Value::Null;
        let strict = MockOptions::default();
        assert_eq!(
            problems(sent.clone(), &strict),
            [
                pair("custom_x", "unknown_field"),
                pair("mobile", "invalid"),
                pair("phone_number", "null")
            ]
        );
        let clears = MockOptions {
            null_clears: true,
            ..MockOptions::default()
        };
        sent["email"] = Value::Null;
        assert_eq!(
            problems(sent, &clears),
            [
                pair("custom_x", "unknown_field"),
                pair("email", "null"),
                pair("mobile", "invalid")
            ]
        );
    }

    #[test]
    fn departments_need_as_many_related_pairs_of_passed_ids() {
        let strict = MockOptions::default();
        let with = |org: Value, dept: Value, related: Value| {
            let mut sent = person();
            sent["organization"] = org;
            sent["organisation_department"] = dept;
            if !related.is_null() {
                sent["related"] = related;
            }
            problems(sent, &strict)
        };
        let good = json!([{"org_id": 3, "org_dept": "7"}]);
        assert!(with(json!([3]), json!(["7"]), good.clone()).is_empty());
        let related = pair("related", "invalid_organisation");
        assert_eq!(with(json!([3]), json!([7]), Value::Null), [related.clone()]);
        assert_eq!(with(json!([3]), json!([7, 8]), good), [related.clone()]);
        let elsewhere = json!([{"org_id": 4, "org_dept": 7}]);
        assert_eq!(with(json!([3]), json!([7]), elsewhere), [related.clone()]);
        let not_ids = json!([{"org_id": 0, "org_dept": 7}]);
        assert_eq!(with(json!([3]), json!([7]), not_ids), [related]);
        assert_eq!(
            with(
                json!([-3]),
                json!([7]),
                json!([{"org_id": 3, "org_dept": 7}])
            ),
            [pair("organization", "invalid_organisation")]
        );
    }
}
