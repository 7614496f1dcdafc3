//! Abitmedia routes in the built-in mock server: its identity service and administration API,
//! both on the mock's root (so `auth_url` and `base_url` can be the same mock URL). Bodies are
//! checked by the mock's own reading of the user update page (`page` = abitmedia-update.txt)
//! and the providers' README, never by usersync's schema. Where the page is ambiguous the
//! strict reading is the default and a [`MockOptions`] field lets the lenient one through.
//!
//! - `GET v1/auth` with HTTP Basic `email:password` answers `{accessToken, refreshToken,
//!   expiresIn}` (the token lives `token_ttl`); `POST v1/refreshToken {refreshToken}` renews it
//!   (a refresh token works once). Wrong credentials: 401 (README).
//! - The API routes need `Authorization: Bearer {accessToken}` (page:10); a missing, unknown or
//!   expired token is 401 `{"success":false,"status":401,"message":..}`.
//! - `POST administration/v1/users` creates (README; page:205-207 lists POST): every field the
//!   page marks "Si" is required, the password included; `status` defaults to 1 (page:30).
//!   `data.id` is the new integer id.
//! - `PUT administration/v1/users?id=N` or `/users/N` updates (page:4, 12-15: `id` an integer):
//!   every "Si" field but the password is required (a sync never resends a password), so a body
//!   of `status` alone is refused, naming the missing fields; [`MockOptions::
//!   abitmedia_status_only_update`] accepts it (it changes the status only). The fields sent
//!   replace the stored ones; the stored password and status stay unless sent.
//! - `GET administration/v1/users?id=N` or `/users/N` (page:205-207 lists GET) answers 200 in
//!   the envelope of the response example (page:156-184), `data` the user without its password.
//! - Fields (page:19-30): `language` es | en (page:20); `firstName`, `lastName`, `address`
//!   non-empty strings (page:21-22, 26); `email` a valid email, unique (page:23); `password` at
//!   least 8 characters with a symbol, a digit and an upper-case letter (page:24);
//!   `cellPhoneNumber` `+`, the country code and the number, digits only (page:25); `birthday`
//!   a real date `YYYY-MM-DD` (page:27, as the example writes it, page:171); `isAbitmedia` a
//!   boolean (page:28); `companies` a non-empty array of objects (page:29), each
//!   `{companyId: integer, roleId: integer, isAdmin: boolean}` (types from page:173-179);
//!   `status` 0 inactive, 1 active, 2 deleted (page:30). The response's own attributes `id`,
//!   `createdAt`, `updateAt` (page:164, 181-182) are ignored in a body; any other field is
//!   refused.
//! - `null`: the page shows none, so a null field is refused; [`MockOptions::null_clears`]
//!   takes it as "clear" on `isAbitmedia`, the one optional field without a default.
//! - Errors are 422 `{"success":false,"status":422,"message":..,"data":[{"field","message"}]}`
//!   (page:188-201), a taken email included; an unknown id is 404 in the same envelope
//!   (assumed).
//! - Each user's history in `/__mock/users` lists the fields of every request, so whether a
//!   request carried a `password` shows there.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::mock::request::{bearer, json_object, text, BodyError, ErrorShape, Incoming, Refusal};
use crate::mock::store::{Change, IdKind, StoreError, StoredUser};
use crate::mock::{api_routes, auth_routes, MockState};
use crate::provider::Credentials;
use crate::validate::FieldError;

#[path = "mock/body.rs"]
mod body;
use body::{check_body, storable, Route};

/// The demo login `email` the mock accepts when none is given.
pub const DEMO_EMAIL: &str = "demo@abitmedia.example";
/// The demo `password`.
pub const DEMO_PASSWORD: &str = "demo-password";

/// The demo credentials, by their names in a target's `credentials` table.
pub fn demo_credentials() -> Credentials {
    let mut c = Credentials::new();
    c.insert("email", DEMO_EMAIL);
    c.insert("password", DEMO_PASSWORD);
    c
}

const UNIQUE: &[&str] = &["email"];
const VALIDATION_FAILED: &str = "Se encontró errores de validación en el recurso enviado";

/// Abitmedia's side of the built-in mock server.
pub struct Mock;

impl crate::mock::MockProvider for Mock {
    fn name(&self) -> &'static str {
        "abitmedia"
    }

    fn router(&self, state: MockState) -> Router {
        router(state)
    }

    fn demo_credentials(&self) -> Credentials {
        demo_credentials()
    }

    /// The mock serves Abitmedia's login routes on its own root.
    fn target_options(&self, options: &mut toml::Table) {
        if !options.contains_key("auth_url") {
            options.insert("auth_url".into(), toml::Value::String("/".into()));
        }
    }
}

/// The mock's router for Abitmedia.
pub fn router(state: MockState) -> Router {
    state.store().set_unique_fields(UNIQUE);
    let api = Router::new()
        .route(
            "/administration/v1/users",
            post(create).put(update_by_query).get(fetch_by_query),
        )
        .route(
            "/administration/v1/users/:id",
            put(update_by_path).get(fetch_by_path),
        );
    let auth = Router::new()
        .route("/v1/auth", get(authenticate))
        .route("/v1/refreshToken", post(refresh));
    api_routes(api, &state)
        .merge(auth_routes(auth, &state))
        .with_state(state)
}

fn envelope(status: StatusCode, message: &str, data: Value) -> Response {
    (
        status,
        Json(json!({
            "success": status.is_success(),
            "status": status.as_u16(),
            "message": message,
            "data": data,
        })),
    )
        .into_response()
}

fn unauthorized(message: &str) -> Response {
    envelope(StatusCode::UNAUTHORIZED, message, Value::Null)
}

/// Abitmedia's errors, in its envelope: 422 with `data: [{field, message}]` for invalid fields,
/// a taken email and a body that is not a JSON object; 404 for an unknown id (assumed).
struct AbitmediaErrors;

impl ErrorShape for AbitmediaErrors {
    fn bad_body(e: BodyError) -> Response {
        Self::invalid(&[FieldError::new("body", "invalid_json", e.to_string())])
    }

    fn invalid(errors: &[FieldError]) -> Response {
        let data: Vec<Value> = errors
            .iter()
            .map(|e| json!({"field": e.field, "message": e.message}))
            .collect();
        envelope(
            StatusCode::UNPROCESSABLE_ENTITY,
            VALIDATION_FAILED,
            Value::Array(data),
        )
    }

    fn store_error(e: StoreError) -> Response {
        match e {
            StoreError::NotFound => {
                envelope(StatusCode::NOT_FOUND, "Recurso no encontrado", Value::Null)
            }
            StoreError::Conflict { field } => {
                let message = format!("El {field} ya existe");
                Self::invalid(&[FieldError::new(field, "taken", message)])
            }
        }
    }
}

fn tokens_json(issued: crate::mock::auth::IssuedTokens) -> Response {
    Json(json!({
        "accessToken": issued.access,
        "refreshToken": issued.refresh,
        "expiresIn": issued.expires_in.as_secs(),
    }))
    .into_response()
}

async fn authenticate(State(state): State<MockState>, headers: HeaderMap) -> Response {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| BASE64.decode(encoded.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some((email, password)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
        return unauthorized("Credenciales no enviadas");
    };
    if email != state.credential("email", DEMO_EMAIL)
        || password != state.credential("password", DEMO_PASSWORD)
    {
        return unauthorized("Credenciales incorrectas");
    }
    let issued = state.tokens().issue(state.token_ttl());
    tokens_json(issued)
}

async fn refresh(State(state): State<MockState>, body: Bytes) -> Response {
    let payload = json_object(&body).unwrap_or_default();
    let Some(refresh_token) = text(&payload, "refreshToken") else {
        return unauthorized("refreshToken inválido");
    };
    let issued = state.tokens().refresh(&refresh_token, state.token_ttl());
    match issued {
        Some(issued) => tokens_json(issued),
        None => unauthorized("refreshToken inválido"),
    }
}

fn check_token(state: &MockState, headers: &HeaderMap) -> Result<(), Refusal> {
    use crate::mock::auth::TokenProblem;
    match state.tokens().check(bearer(headers)) {
        Ok(()) => Ok(()),
        Err(TokenProblem::Expired) => Err(unauthorized("Token expirado").into()),
        Err(_) => Err(unauthorized("No autorizado").into()),
    }
}

/// The user as Abitmedia answers it: its fields, its integer id, never its password.
fn user_json(user: &StoredUser) -> Value {
    let mut data = user.fields.clone();
    data.remove("password");
    data.insert("id", json!(user.id.parse::<u64>().unwrap_or(0)));
    Value::from(data)
}

/// The integer resource id of a path or query (page:15), or the 422 naming it.
fn resource_id(id: &str) -> Result<String, Refusal> {
    match id.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n.to_string()),
        _ => Err(AbitmediaErrors::invalid(&[FieldError::new(
            "id",
            "required",
            "id es requerido y debe ser un entero",
        )])
        .into()),
    }
}

async fn create(State(state): State<MockState>, request: Incoming) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let body = AbitmediaErrors::body(&request.body)?;
    AbitmediaErrors::valid(check_body(Route::Create, &body, state.options()))?;
    let record = request.record(Change::Create, &body);
    let mut fields = storable(&body);
    if !fields.contains_key("status") {
        fields.insert("status", json!(1));
    }
    let active = fields.get("status").and_then(Value::as_i64) == Some(1);
    let created = state
        .store()
        .create(IdKind::Integer, fields, active, record);
    let user = AbitmediaErrors::stored(created)?;
    Ok(envelope(
        StatusCode::OK,
        "Recurso creado exitosamente",
        user_json(&user),
    ))
}

async fn fetch_by_query(
    state: State<MockState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let id = query.get("id").cloned().unwrap_or_default();
    fetch(state, &id, &headers)
}

async fn fetch_by_path(
    state: State<MockState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    fetch(state, &id, &headers)
}

/// `GET administration/v1/users` of the user `id`, from the query or the path.
fn fetch(
    State(state): State<MockState>,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, Refusal> {
    check_token(&state, headers)?;
    let id = resource_id(id)?;
    let user = AbitmediaErrors::found(state.user(&id))?;
    Ok(envelope(
        StatusCode::OK,
        "Recurso obtenido exitosamente",
        user_json(&user),
    ))
}

async fn update_by_query(
    state: State<MockState>,
    Query(query): Query<HashMap<String, String>>,
    request: Incoming,
) -> Result<Response, Refusal> {
    let id = query.get("id").cloned().unwrap_or_default();
    update(state, id, request).await
}

async fn update_by_path(
    state: State<MockState>,
    Path(id): Path<String>,
    request: Incoming,
) -> Result<Response, Refusal> {
    update(state, id, request).await
}

/// `PUT administration/v1/users` of the user `id`, from the query or the path.
async fn update(
    State(state): State<MockState>,
    id: String,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let body = AbitmediaErrors::body(&request.body)?;
    let id = resource_id(&id)?;
    AbitmediaErrors::valid(check_body(Route::Update, &body, state.options()))?;
    let mut store = state.store();
    let current = AbitmediaErrors::found(store.get(&id))?;
    // A full update replaces every field but the password and the status, kept unless sent;
    // a status-only one (when accepted) changes the status alone.
    let status_only = body.len() == 1 && body.contains_key("status");
    let mut next = current.fields.clone();
    if !status_only {
        next.retain(|name, _| name == "password" || name == "status");
    }
    next.extend(storable(&body));
    let active = next.get("status").and_then(Value::as_i64) == Some(1);
    let change = Change::by_access(current.active, active, Change::Update);
    let record = request.record(change, &body);
    let updated = store.update(&id, record, |user| {
        user.fields = next;
        user.active = active;
    });
    drop(store);
    let user = AbitmediaErrors::stored(updated)?;
    Ok(envelope(
        StatusCode::OK,
        "Recurso actualizado exitosamente",
        user_json(&user),
    ))
}
