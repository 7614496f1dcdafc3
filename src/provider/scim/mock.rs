//! SCIM 2.0 routes in the built-in mock server: a service provider of Users written from RFC 7644
//! (protocol) and RFC 7643 (schema), never from the adapter, so that a test can show the adapter
//! misreading the RFCs. The mock's root is the SCIM root (a target's `base_url`). Sections are
//! RFC 7644's unless marked RFC 7643; each submodule's opening lists its own rules.
//!
//! - Every route needs `Authorization: Bearer <token>` (§2; the `token` credential, demo
//!   [`DEMO_TOKEN`]), else 401 with an error body and `WWW-Authenticate: Bearer` (RFC 6750 §3).
//! - `POST Users` (§3.3): a User (`resource.rs`); `id`, `meta` and `groups` sent are ignored
//!   (§3.3: readOnly attributes "SHALL be ignored"); a `userName` another user has, compared
//!   case-insensitively (RFC 7643 §4.1.1, caseExact false) and trimmed, is 409 `uniqueness`
//!   (§3.3). 201 with the resource, `Location` and `ETag` (§3.3, §3.14).
//! - `GET Users/{id}` (§3.4.1): 200 or 404. `GET Users` (§3.4.2): a ListResponse of the users
//!   matching `filter` (`filter.rs`; a filter it cannot read is 400 `invalidFilter`, §3.4.2.2),
//!   from `startIndex` (1-based, below 1 read as 1) at most `count` (negative read as 0), never
//!   more than [`discovery::MAX_RESULTS`] (§3.4.2.4); a non-integer is 400 `invalidValue`.
//! - `PATCH Users/{id}` (§3.5.2, `patch.rs`): atomic; the result must still be a valid User.
//!   A `replace` whose valuePath matches nothing is 400 `noTarget` (§3.5.2.3); lenient:
//!   [`MockOptions::scim_replace_adds`] adds the value instead. Answered 200 with the resource
//!   (§3.5.2 allows 204; 200 shows what was stored). An unchanged resource keeps its version
//!   (§3.5.2.1: no change SHALL NOT change the modify timestamp).
//! - `PUT Users/{id}` (§3.5.1) replaces every attribute but the readOnly ones; 200.
//!   `DELETE Users/{id}` (§3.6): 204, then 404.
//! - `If-Match` on PUT, PATCH and DELETE: another version is 412 (§3.14). With
//!   [`MockOptions::scim_concurrent_edit`], another client changes the user (`nickName`)
//!   just before the first conditional write to each user, which is then 412.
//! - `POST Bulk` (§3.7; `bulk.rs`): each operation run as its own request would be, within
//!   `maxOperations` ([`MockOptions::scim_bulk_max_operations`]; 0: not supported, 501).
//! - `GET ServiceProviderConfig`, `ResourceTypes`, `Schemas` (§4; `discovery.rs`).
//! - Errors (§3.12): `{"schemas":[Error URN],"status":"400","scimType":..,"detail":..}` as
//!   `application/scim+json`, like every answer (§8.1). A body must be sent as
//!   `application/scim+json` or `application/json` (§3.1 and §8.1 name both), else 415 (no
//!   scimType fits); a body that is not a JSON object is 400 `invalidSyntax`.
//! - Stored through the shared store: a user's fields are the resource (`id` and `meta`
//!   included); a change of `active` counts as a deactivation or reactivation.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use crate::mock::request::{BodyError, ErrorShape, Incoming, Refusal};
use crate::mock::store::{Change, IdKind, Store, StoreError, StoredUser};
use crate::mock::{api_routes, MockState};
use crate::payload::Payload;
use crate::provider::Credentials;
use crate::validate::FieldError;

#[path = "mock/bulk.rs"]
pub mod bulk;
#[path = "mock/discovery.rs"]
pub mod discovery;
#[path = "mock/filter.rs"]
pub mod filter;
#[path = "mock/patch.rs"]
pub mod patch;
#[path = "mock/resource.rs"]
pub mod resource;

/// The demo bearer token the mock accepts when no `token` is given.
pub const DEMO_TOKEN: &str = "demo-scim-token";

/// The `schemas` of an error answer (§3.12).
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The media type of SCIM bodies (§8.1).
pub const MEDIA_TYPE: &str = "application/scim+json";

/// `userName` is unique across users (RFC 7643 §4.1.1, uniqueness "server").
const UNIQUE: &[&str] = &["userName"];

/// Searched by value at every lookup of a client that correlates, not unique (RFC 7643 §3.1):
/// indexed so a search does not read every user.
const INDEXED: &[&str] = &["externalId"];

/// The demo credentials, by their names in a target's `credentials` table.
pub fn demo_credentials() -> Credentials {
    let mut c = Credentials::new();
    c.insert("token", DEMO_TOKEN);
    c
}

/// The SCIM side of the built-in mock server.
pub struct Mock;

impl crate::mock::MockProvider for Mock {
    fn name(&self) -> &'static str {
        "scim"
    }

    fn router(&self, state: MockState) -> Router {
        router(state)
    }

    fn demo_credentials(&self) -> Credentials {
        demo_credentials()
    }
}

/// The mock's router for SCIM.
pub fn router(state: MockState) -> Router {
    state.store().set_unique_fields(UNIQUE);
    state.store().set_indexed_fields(INDEXED);
    let api = Router::new()
        .route("/Users", get(list).post(create))
        .route(
            "/Users/:id",
            get(fetch).put(replace).patch(change).delete(delete),
        )
        .route("/Bulk", axum::routing::post(bulk::bulk))
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/Schemas", get(schemas));
    api_routes(api, &state).with_state(state)
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// An error answer (§3.12).
fn error(status: StatusCode, scim_type: Option<&str>, detail: &str) -> Response {
    let mut body = json!({"schemas": [ERROR], "status": status.as_str(), "detail": detail});
    if let Some(scim_type) = scim_type {
        body["scimType"] = json!(scim_type);
    }
    scim_json(status, &body)
}

fn bad_request(scim_type: &str, detail: &str) -> Refusal {
    error(StatusCode::BAD_REQUEST, Some(scim_type), detail).into()
}

/// SCIM's error shape for the failures every mock route meets.
struct ScimErrors;

impl ErrorShape for ScimErrors {
    fn bad_body(e: BodyError) -> Response {
        error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            &e.to_string(),
        )
    }

    fn invalid(errors: &[FieldError]) -> Response {
        let detail: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        error(
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
            &detail.join("; "),
        )
    }

    fn store_error(e: StoreError) -> Response {
        match e {
            StoreError::NotFound => error(StatusCode::NOT_FOUND, None, "no User has this id"),
            StoreError::Conflict { field } => error(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                &format!("another User has this {field}"),
            ),
        }
    }
}

fn check_token(state: &MockState, headers: &HeaderMap) -> Result<(), Refusal> {
    let expected = state.credential("token", DEMO_TOKEN);
    if crate::mock::request::bearer(headers) == Some(expected) {
        return Ok(());
    }
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        None,
        "a valid Authorization: Bearer token is required",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Err(response.into())
}

/// The body as a JSON object, sent with a SCIM or JSON media type.
fn read_body(request: &Incoming) -> Result<Map<String, Value>, Refusal> {
    let media = request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !matches!(media.as_deref(), Some(MEDIA_TYPE | "application/json")) {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "send the body as application/scim+json or application/json",
        )
        .into());
    }
    Ok(ScimErrors::body(&request.body)?.into_object())
}

/// The SCIM root as the client reached it (for `meta.location` and `Location`).
fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/")
}

/// The resource answer: `body` with its `ETag`.
fn resource_answer(status: StatusCode, user: &StoredUser, headers: &HeaderMap) -> Response {
    let body = resource::render(user, &base(headers));
    let mut response = scim_json(status, &body);
    let etag = resource::version(&user.fields.clone().into_object());
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Passes unless `If-Match` names other versions than the user's (§3.14).
fn check_if_match(headers: &HeaderMap, user: &StoredUser) -> Result<(), Refusal> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let version = user
        .fields
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if wanted.trim() == "*" || wanted.split(',').any(|tag| tag.trim() == version) {
        Ok(())
    } else {
        Err(error(
            StatusCode::PRECONDITION_FAILED,
            None,
            &format!("the User's version is {version}"),
        )
        .into())
    }
}

/// What another client writes into `nickName` under [`MockOptions::scim_concurrent_edit`].
///
/// [`MockOptions::scim_concurrent_edit`]: crate::mock::MockOptions::scim_concurrent_edit
pub const EDITED_ELSEWHERE: &str = "edited elsewhere";

/// With `scim_concurrent_edit`: someone else changes the user just before a write conditional
/// on the version it read (`If-Match`), once per user, so the write is answered 412 (§3.14).
fn edited_meanwhile(
    state: &MockState,
    store: &mut crate::mock::store::Store,
    id: &str,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let conditional = headers.contains_key(header::IF_MATCH);
    let Some(user) = store.get(id) else {
        return Ok(());
    };
    let edited = user.fields.get("nickName").and_then(Value::as_str) == Some(EDITED_ELSEWHERE);
    if !state.options().scim_concurrent_edit || !conditional || edited {
        return Ok(());
    }
    let edit = Payload::from_iter([("nickName", Value::from(EDITED_ELSEWHERE))]);
    let record = crate::mock::store::RequestRecord::new(
        Change::Patch,
        &http::Method::PATCH,
        "(another client)",
        &edit,
    );
    let updated = store.update(id, record, |user| {
        let mut fields = user.fields.clone().into_object();
        let meta = resource::touched_meta(fields.get("meta"), &resource::now());
        fields.insert("nickName".into(), Value::from(EDITED_ELSEWHERE));
        fields.insert("meta".into(), meta);
        user.fields = fields.into();
    });
    ScimErrors::stored(updated)?;
    Err(error(
        StatusCode::PRECONDITION_FAILED,
        None,
        "the User was changed by another client",
    )
    .into())
}

fn valid(resource: &Map<String, Value>) -> Result<(), Refusal> {
    resource::check(resource).map_err(|(scim_type, detail)| bad_request(scim_type, &detail))
}

async fn create(State(state): State<MockState>, request: Incoming) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let mut body = read_body(&request)?;
    let record = request.record(Change::Create, &Payload::from(body.clone()));
    resource::strip_read_only(&mut body);
    valid(&body)?;
    let active = resource::is_active(&body);
    let mut store = state.store();
    let id = store.next_guid();
    body.insert("id".into(), Value::String(id.clone()));
    body.insert("meta".into(), resource::new_meta(&resource::now()));
    let created = store.create(IdKind::Given(id), body.into(), active, record);
    drop(store);
    let user = ScimErrors::stored(created)?;
    let mut response = resource_answer(StatusCode::CREATED, &user, &request.headers);
    let location = format!("{}Users/{}", base(&request.headers), user.id);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn fetch(
    State(state): State<MockState>,
    Path(id): Path<String>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let user = ScimErrors::found(state.user(&id))?;
    Ok(resource_answer(StatusCode::OK, &user, &request.headers))
}

/// A query parameter's integer value (`None` when absent).
fn integer(query: &[(String, String)], name: &str) -> Result<Option<i64>, Refusal> {
    match query.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)) {
        None => Ok(None),
        Some((_, value)) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| bad_request("invalidValue", &format!("{name} must be an integer"))),
    }
}

async fn list(State(state): State<MockState>, request: Incoming) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let query: Vec<(String, String)> = request
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let filter = match query.iter().find(|(k, _)| k.eq_ignore_ascii_case("filter")) {
        None => None,
        Some((_, text)) => Some(
            filter::parse_filter(text).map_err(|detail| bad_request("invalidFilter", &detail))?,
        ),
    };
    let start = integer(&query, "startIndex")?.unwrap_or(1).max(1) as usize;
    let count = integer(&query, "count")?
        .map_or(discovery::MAX_RESULTS, |n| n.max(0) as usize)
        .min(discovery::MAX_RESULTS);
    let base = base(&request.headers);
    let store = state.store();
    let mut total = 0;
    let mut page = Vec::new();
    let users: Box<dyn Iterator<Item = &StoredUser>> =
        match filter.as_ref().and_then(|f| candidates(&store, f)) {
            Some(found) => Box::new(found.into_iter()),
            None => Box::new(store.iter()),
        };
    for user in users {
        if filter.as_ref().is_some_and(|f| !f.matches(&user.fields)) {
            continue;
        }
        total += 1;
        if total >= start && page.len() < count {
            page.push(resource::render(user, &base));
        }
    }
    drop(store);
    let body = json!({
        "schemas": [discovery::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": page.len(),
        "Resources": page,
    });
    Ok(scim_json(StatusCode::OK, &body))
}

/// The users a filter can match, found by the index when it only compares indexed attributes
/// (`userName`, `externalId`) for equality, joined by `or` (or `and`, where one side suffices):
/// a superset, which the filter itself then reads. `None`: every user must be read.
fn candidates<'s>(store: &'s Store, filter: &filter::Filter) -> Option<Vec<&'s StoredUser>> {
    use filter::Filter;
    match filter {
        Filter::Eq(path, Value::String(value)) if path.schema.is_none() && path.sub.is_none() => {
            let field = INDEXED
                .iter()
                .chain(UNIQUE)
                .find(|f| f.eq_ignore_ascii_case(&path.name))?;
            store.candidates(field, value)
        }
        Filter::Or(a, b) => {
            let mut found = candidates(store, a)?;
            for user in candidates(store, b)? {
                if !found.iter().any(|u| u.id == user.id) {
                    found.push(user);
                }
            }
            Some(found)
        }
        Filter::And(a, b) => candidates(store, a).or_else(|| candidates(store, b)),
        _ => None,
    }
}

/// `PUT Users/{id}`: every attribute replaced, readOnly ones kept.
async fn replace(
    State(state): State<MockState>,
    Path(id): Path<String>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let mut body = read_body(&request)?;
    let sent = Payload::from(body.clone());
    resource::strip_read_only(&mut body);
    valid(&body)?;
    let mut store = state.store();
    edited_meanwhile(&state, &mut store, &id, &request.headers)?;
    let current = ScimErrors::found(store.get(&id))?.clone();
    check_if_match(&request.headers, &current)?;
    let now_active = resource::is_active(&body);
    body.insert("id".into(), Value::String(id.clone()));
    let meta = resource::touched_meta(current.fields.get("meta"), &resource::now());
    body.insert("meta".into(), meta);
    let kind = Change::by_access(current.active, now_active, Change::Update);
    let updated = store.update(&id, request.record(kind, &sent), |user| {
        user.fields = body.into();
        user.active = now_active;
    });
    drop(store);
    let user = ScimErrors::stored(updated)?;
    Ok(resource_answer(StatusCode::OK, &user, &request.headers))
}

/// The attribute paths a PATCH names, for the user's history.
fn patched_paths(operations: &[patch::Operation]) -> Payload {
    let mut paths = Payload::new();
    for operation in operations {
        match (&operation.path, &operation.value) {
            (Some(path), _) => {
                paths.insert(path.clone(), Value::Null);
            }
            (None, Some(Value::Object(values))) => {
                for key in values.keys() {
                    paths.insert(key.clone(), Value::Null);
                }
            }
            _ => {}
        }
    }
    paths
}

/// `PATCH Users/{id}`.
async fn change(
    State(state): State<MockState>,
    Path(id): Path<String>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let body = read_body(&request)?;
    let operations = patch::read_request(&body).map_err(|e| bad_request(e.scim_type, &e.detail))?;
    let mut store = state.store();
    edited_meanwhile(&state, &mut store, &id, &request.headers)?;
    let current = ScimErrors::found(store.get(&id))?.clone();
    check_if_match(&request.headers, &current)?;
    let before = current.fields.clone().into_object();
    let mut next = before.clone();
    patch::apply(&mut next, &operations, state.options().scim_replace_adds)
        .map_err(|e| bad_request(e.scim_type, &e.detail))?;
    resource::tidy_schemas(&mut next);
    valid(&next)?;
    if next != before {
        let meta = resource::touched_meta(before.get("meta"), &resource::now());
        next.insert("meta".into(), meta);
    }
    let now_active = resource::is_active(&next);
    let kind = Change::by_access(current.active, now_active, Change::Patch);
    let record = request.record(kind, &patched_paths(&operations));
    let updated = store.update(&id, record, |user| {
        user.fields = next.into();
        user.active = now_active;
    });
    drop(store);
    let user = ScimErrors::stored(updated)?;
    Ok(resource_answer(StatusCode::OK, &user, &request.headers))
}

async fn delete(
    State(state): State<MockState>,
    Path(id): Path<String>,
    request: Incoming,
) -> Result<Response, Refusal> {
    check_token(&state, &request.headers)?;
    let mut store = state.store();
    edited_meanwhile(&state, &mut store, &id, &request.headers)?;
    let current = ScimErrors::found(store.get(&id))?.clone();
    check_if_match(&request.headers, &current)?;
    ScimErrors::stored(store.delete(&id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn service_provider_config(
    State(state): State<MockState>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    check_token(&state, &headers)?;
    let body = discovery::service_provider_config(
        &base(&headers),
        state.options().scim_bulk_max_operations,
    );
    Ok(scim_json(StatusCode::OK, &body))
}

async fn resource_types(
    State(state): State<MockState>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    check_token(&state, &headers)?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::resource_types(&base(&headers)),
    ))
}

async fn schemas(State(state): State<MockState>, headers: HeaderMap) -> Result<Response, Refusal> {
    check_token(&state, &headers)?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::schemas(&base(&headers)),
    ))
}
