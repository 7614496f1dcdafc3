//! Abitmedia routes in the built-in mock server: its identity service and administration API,
//! both on the mock's root (so `auth_url` and `base_url` can be the same mock URL).
//!
//! - `GET v1/auth` with HTTP Basic `email:password` answers `{accessToken, refreshToken,
//!   expiresIn}` (the token lives `token_ttl`); `POST v1/refreshToken {refreshToken}` renews it
//!   (a refresh token works once). Wrong credentials: 401.
//! - The API routes need `Authorization: Bearer {accessToken}`; a missing, unknown or expired
//!   token is 401 `{"success":false,"status":401,"message":..}`.
//! - `POST administration/v1/users` creates (`status` defaults to 1; `data.id` is the new
//!   integer id). `PUT administration/v1/users?id=N` (or `/users/N`) is a full update: every
//!   documented required field must be sent; a body of `status` alone is accepted, to
//!   deactivate (0), reactivate (1) or delete (2) a user.
//! - Field errors, a taken email included, are 422 `{"success":false,"status":422,"message":..,
//!   "data":[{"field","message"}]}`; an unknown id is 404 in the same envelope (assumed).

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

use crate::mock::request::{
    bearer, json_object, text, validate_change, validate_create, with_required, BodyError,
    ErrorShape, Incoming, Refusal,
};
use crate::mock::store::{Change, IdKind, StoreError, StoredUser};
use crate::mock::{api_routes, auth_routes, MockState};
use crate::payload::Payload;
use crate::provider::Credentials;
use crate::validate::FieldError;

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
/// The fields the update page marks required ("Si").
pub const REQUIRED_ON_UPDATE: &[&str] = &[
    "language",
    "firstName",
    "lastName",
    "email",
    "password",
    "cellPhoneNumber",
    "address",
    "birthday",
    "companies",
];
const VALIDATION_FAILED: &str = "Se encontró errores de validación en el recurso enviado";

/// The mock's router for Abitmedia.
pub fn router(state: MockState) -> Router {
    state.store().set_unique_fields(UNIQUE);
    let api = Router::new()
        .route(
            "/administration/v1/users",
            post(create).put(update_by_query),
        )
        .route("/administration/v1/users/:id", put(update_by_path));
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

async fn create(State(state): State<MockState>, request: Incoming) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let mut payload = AbitmediaErrors::body(&request.body)?;
    let record = request.record(Change::Create, &payload);
    AbitmediaErrors::valid(validate_create(&super::schema::SCHEMA, &mut payload))?;
    if !payload.contains_key("status") {
        payload.insert("status", json!(1));
    }
    let active = payload.get("status").and_then(Value::as_i64) == Some(1);
    let created = state
        .store()
        .create(IdKind::Integer, payload.clone(), active, record);
    let user = AbitmediaErrors::stored(created)?;
    Ok(envelope(
        StatusCode::OK,
        "Recurso creado exitosamente",
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
    let mut payload = AbitmediaErrors::body(&request.body)?;
    if id.trim().parse::<u64>().is_err() {
        return Err(AbitmediaErrors::invalid(&[FieldError::new(
            "id",
            "required",
            "id es requerido y debe ser un entero",
        )])
        .into());
    }
    let status_only = payload.len() == 1 && payload.contains_key("status");
    let mut errors = validate_change(&super::schema::SCHEMA, &mut payload);
    if !status_only {
        errors = with_required(errors, &payload, REQUIRED_ON_UPDATE);
    }
    AbitmediaErrors::valid(errors)?;
    let id = id.trim().to_string();
    let mut store = state.store();
    let current = AbitmediaErrors::found(store.get(&id).cloned())?;
    let mut next = if status_only {
        current.fields.clone()
    } else {
        Payload::new()
    };
    next.extend(payload.clone());
    if !next.contains_key("status") {
        next.insert(
            "status",
            current.fields.get("status").cloned().unwrap_or(json!(1)),
        );
    }
    let active = next.get("status").and_then(Value::as_i64) == Some(1);
    let change = Change::by_access(current.active, active, Change::Update);
    let record = request.record(change, &payload);
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
