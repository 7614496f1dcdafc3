//! Unit tests of the Abitmedia adapter: its requests and answers, and its token session
//! (login, refresh before expiry, renewal after a refusal) against a small HTTP server.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::Json;
use base64::Engine;
use serde_json::json;

use super::session::AbitmediaSession;
use super::*;
use crate::provider::bearer::testing::serve;
use crate::provider::response::testing::{response, with_retry_after};
use crate::provider::test_support::{
    assert_bearer, assert_concurrent_first_requests_get, assert_configured_token_sent_as_is,
    assert_debug_hides, assert_login_refused, context, payload, refusal,
};

/// Ana, with her Abitmedia id when known.
fn user(remote_id: Option<&str>) -> UserRef {
    crate::provider::test_support::user("ana@example.com", remote_id)
}

/// Abitmedia options from `text`.
fn options(text: &str) -> Options {
    crate::provider::test_support::options(&Abitmedia, text)
}

/// The options of a target that sets none.
fn no_options() -> Options {
    options("")
}

#[test]
fn create_posts_the_payload() {
    let p = payload(json!({"firstName": "Ana", "email": "ana@example.com"}));
    let req = Abitmedia
        .build_request(&no_options(), Operation::Create, &user(None), &p)
        .unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "administration/v1/users")
    );
    assert_eq!(Value::from(req.body.unwrap()), Value::from(p));
}

#[test]
fn update_puts_to_the_remote_id_in_the_query_or_the_path() {
    let p = payload(json!({"firstName": "Ana"}));
    for op in [Operation::Update, Operation::Patch] {
        let req = Abitmedia
            .build_request(&no_options(), op, &user(Some("17")), &p)
            .unwrap();
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("PUT", "administration/v1/users?id=17")
        );
        assert_eq!(Value::from(req.body.unwrap()), Value::from(p.clone()));
    }
    let req = Abitmedia
        .build_request(
            &options("id_in = \"path\""),
            Operation::Update,
            &user(Some("17")),
            &p,
        )
        .unwrap();
    assert_eq!(req.path, "administration/v1/users/17");
    assert_eq!(Abitmedia.update_operation(), Operation::Update);
}

#[test]
fn deactivate_puts_the_record_back_inactive_without_a_password() {
    assert!(Abitmedia.reads_first(&no_options(), Operation::Deactivate, &Payload::new()));
    // The record as `GET administration/v1/users?id=17` answered it.
    let record = payload(json!({
        "id": 17, "firstName": "Ana", "email": "ana@x.es", "status": 1,
        "companies": [{"companyId": 1, "isAdmin": false, "roleId": 2}],
        "createdAt": "2024-01-01 17:50:01", "updateAt": "2024-01-01 17:50:01"
    }));
    let req = Abitmedia
        .build_request(
            &no_options(),
            Operation::Deactivate,
            &user(Some("17")),
            &record,
        )
        .unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("PUT", "administration/v1/users?id=17")
    );
    assert_eq!(
        Value::from(req.body.unwrap()),
        json!({
            "firstName": "Ana", "email": "ana@x.es", "status": 0,
            "companies": [{"companyId": 1, "isAdmin": false, "roleId": 2}]
        })
    );
    let err = Abitmedia
        .build_request(
            &no_options(),
            Operation::Deactivate,
            &user(Some("17")),
            &Payload::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("whole record"), "{err}");
}

#[test]
fn a_status_only_deactivation_only_when_the_target_says_the_server_takes_it() {
    let options = options("status_only_deactivation = true");
    assert!(!Abitmedia.reads_first(&options, Operation::Deactivate, &Payload::new()));
    let req = Abitmedia
        .build_request(
            &options,
            Operation::Deactivate,
            &user(Some("17")),
            &Payload::new(),
        )
        .unwrap();
    assert_eq!(Value::from(req.body.unwrap()), json!({"status": 0}));
}

#[test]
fn a_lookup_reads_the_user_by_its_id() {
    let req = Abitmedia
        .build_request(
            &no_options(),
            Operation::Lookup,
            &user(Some("17")),
            &Payload::new(),
        )
        .unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str(), req.body.is_none()),
        ("GET", "administration/v1/users?id=17", true)
    );
    let found = json!({"success": true, "status": 200, "data": {"id": 17, "firstName": "Ana"}});
    assert_eq!(
        Abitmedia.classify(
            &no_options(),
            Operation::Lookup,
            &response(200, &found.to_string())
        ),
        Outcome::Found {
            remote_id: Some("17".into()),
            record: payload(json!({"id": 17, "firstName": "Ana"}))
        }
    );
    let missing = json!({"success": false, "status": 404, "message": "Recurso no encontrado"});
    assert_eq!(
        Abitmedia.classify(
            &no_options(),
            Operation::Lookup,
            &response(404, &missing.to_string())
        ),
        Outcome::Missing
    );
}

#[test]
fn updates_need_an_integer_remote_id() {
    let err = Abitmedia
        .build_request(
            &no_options(),
            Operation::Update,
            &user(None),
            &Payload::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("remote_id_column"), "{err}");
    let err = Abitmedia
        .build_request(
            &no_options(),
            Operation::Deactivate,
            &user(Some("17&status=2")),
            &Payload::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("integers"), "{err}");
}

#[test]
fn create_answers_the_new_id() {
    let body = json!({"success": true, "status": 200, "data": {"id": 1, "email": "a@b.es"}});
    assert_eq!(
        Abitmedia.classify(
            &no_options(),
            Operation::Create,
            &response(200, &body.to_string())
        ),
        Outcome::Synced {
            remote_id: Some("1".into())
        }
    );
    assert_eq!(
        Abitmedia.classify(
            &no_options(),
            Operation::Update,
            &response(200, &body.to_string())
        ),
        Outcome::Synced { remote_id: None }
    );
}

#[test]
fn validation_errors_are_field_rejections() {
    let body = json!({"success": false, "status": 422,
        "message": "Se encontró errores de validación en el recurso enviado",
        "data": [{"field": "cellPhoneNumber", "message": "Formato inválido"},
                 {"field": "password", "message": "Debe tener un símbolo"}]});
    let Outcome::Rejected {
        status,
        errors,
        detail,
    } = Abitmedia.classify(
        &no_options(),
        Operation::Create,
        &response(422, &body.to_string()),
    )
    else {
        panic!("not rejected");
    };
    assert_eq!(status, 422);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["cellPhoneNumber", "password"]);
    assert_eq!(errors[0].message, "Formato inválido");
    assert!(detail.contains("errores de validación"));
}

#[test]
fn an_email_already_used_is_a_conflict() {
    for message in ["El email ya existe", "The email has already been taken"] {
        let body = json!({"success": false, "status": 422,
            "data": [{"field": "email", "message": message}]});
        assert!(
            matches!(
                Abitmedia.classify(
                    &no_options(),
                    Operation::Create,
                    &response(422, &body.to_string())
                ),
                Outcome::Conflict { status: 422, .. }
            ),
            "{message}"
        );
    }
}

#[test]
fn throttle_server_errors_and_auth_failures() {
    let throttled = with_retry_after(response(429, ""), "2");
    assert!(matches!(
        Abitmedia.classify(&no_options(), Operation::Create, &throttled),
        Outcome::Retry { status: Some(429), after: Some(a), .. } if a == Duration::from_secs(2)
    ));
    assert!(matches!(
        Abitmedia.classify(&no_options(), Operation::Update, &response(502, "")),
        Outcome::Retry {
            status: Some(502),
            ..
        }
    ));
    assert!(matches!(
        Abitmedia.classify(&no_options(), Operation::Update, &response(401, "")),
        Outcome::AuthFailed { status: 401, .. }
    ));
    let failed = json!({"success": false, "message": "No se pudo"}).to_string();
    assert!(matches!(
        Abitmedia.classify(&no_options(), Operation::Update, &response(200, &failed)),
        Outcome::Rejected { status: 200, .. }
    ));
}

// --- the token session, against a test server ------------------------------------------------

#[derive(Default)]
struct Identity {
    logins: AtomicUsize,
    refreshes: AtomicUsize,
    refresh_bodies: Mutex<Vec<Value>>,
    refuse_refresh: AtomicBool,
}

const BASIC: &str = "admin@example.com:Pw-marker1!";

async fn auth(
    State(state): State<Arc<Identity>>,
    headers: http::HeaderMap,
) -> (http::StatusCode, Json<Value>) {
    let n = state.logins.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(BASIC)
    );
    if headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap())
        != Some(&expected)
    {
        let refused = json!({"success": false, "message": "Credenciales inválidas"});
        return (http::StatusCode::UNAUTHORIZED, Json(refused));
    }
    let ok = json!({"accessToken": format!("acc-{n}"), "refreshToken": format!("ref-{n}"), "expiresIn": 3600});
    (http::StatusCode::OK, Json(ok))
}

async fn refresh(
    State(state): State<Arc<Identity>>,
    Json(body): Json<Value>,
) -> (http::StatusCode, Json<Value>) {
    let n = state.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
    state.refresh_bodies.lock().unwrap().push(body);
    if state.refuse_refresh.load(Ordering::SeqCst) {
        return (
            http::StatusCode::UNAUTHORIZED,
            Json(json!({"message": "expired"})),
        );
    }
    let ok = json!({"accessToken": format!("racc-{n}"), "expiresIn": 3600});
    (http::StatusCode::OK, Json(ok))
}

/// An identity service under `/id/`; returns the API base URL and its counters.
async fn server() -> (String, Arc<Identity>) {
    let state = Arc::new(Identity::default());
    let app = axum::Router::new()
        .route("/id/v1/auth", get(auth))
        .route("/id/v1/refreshToken", post(refresh))
        .with_state(state.clone());
    let addr = serve(app).await;
    (format!("http://{addr}/api/"), state)
}

/// A target at `base` whose identity service is under `/id/`, logging in as the admin.
fn ctx(base: &str, password: &str) -> TargetContext {
    context(
        &Abitmedia,
        base,
        [("email", "admin@example.com"), ("password", password)],
        "auth_url = \"/id\"",
    )
}

fn login_session(c: &TargetContext) -> AbitmediaSession {
    let auth_url = session::auth_url(&c.base_url, &c.options).unwrap();
    AbitmediaSession::new(auth_url, &c.credentials)
        .unwrap()
        .with_refusal_grace(Duration::ZERO)
}

#[test]
fn auth_url_defaults_to_abitmedia_and_resolves_relative_values() {
    let base = url::Url::parse("http://127.0.0.1:8080/api/").unwrap();
    assert_eq!(
        session::auth_url(&base, &options("")).unwrap().as_str(),
        "https://id.abitmedia.app/"
    );
    assert_eq!(
        session::auth_url(&base, &options("auth_url = \"/\""))
            .unwrap()
            .as_str(),
        "http://127.0.0.1:8080/"
    );
    assert_eq!(
        session::auth_url(&base, &options("auth_url = \"https://id.example/x\""))
            .unwrap()
            .as_str(),
        "https://id.example/x/"
    );
}

#[tokio::test]
async fn concurrent_first_requests_share_one_login() {
    let (base, state) = server().await;
    let session = Abitmedia.session(&ctx(&base, "Pw-marker1!")).unwrap();
    assert_concurrent_first_requests_get(session.as_ref(), "acc-1").await;
    assert_eq!(state.logins.load(Ordering::SeqCst), 1);
    assert_eq!(state.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    let (base, state) = server().await;
    let session = login_session(&ctx(&base, "Pw-marker1!"));
    let client = reqwest::Client::new();
    assert_bearer(&session, &client, "acc-1").await;
    // 59 minutes and a bit later: inside the renewal margin, before the expiry.
    session
        .cache()
        .unwrap()
        .age_token(Duration::from_secs(3545));
    assert_bearer(&session, &client, "racc-1").await;
    assert_bearer(&session, &client, "racc-1").await;
    assert_eq!(state.logins.load(Ordering::SeqCst), 1);
    assert_eq!(state.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(
        state.refresh_bodies.lock().unwrap()[0],
        json!({"refreshToken": "ref-1"})
    );
}

#[tokio::test]
async fn a_refused_token_is_renewed_and_a_failed_refresh_falls_back_to_login() {
    let (base, state) = server().await;
    let session = login_session(&ctx(&base, "Pw-marker1!"));
    let client = reqwest::Client::new();
    assert_bearer(&session, &client, "acc-1").await;
    assert!(session.invalidate());
    assert_bearer(&session, &client, "racc-1").await;
    state.refuse_refresh.store(true, Ordering::SeqCst);
    assert!(session.invalidate());
    // The refresh answer kept the first refresh token, which the server now refuses.
    assert_bearer(&session, &client, "acc-2").await;
    assert_eq!(state.logins.load(Ordering::SeqCst), 2);
    assert_eq!(state.refreshes.load(Ordering::SeqCst), 2);
    assert_eq!(
        state.refresh_bodies.lock().unwrap()[1],
        json!({"refreshToken": "ref-1"})
    );
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error_without_secrets() {
    let (base, state) = server().await;
    let session = Abitmedia.session(&ctx(&base, "wrong-marker")).unwrap();
    assert_login_refused(session.as_ref(), 2, &["401", "Credenciales"], "marker").await;
    assert_eq!(state.logins.load(Ordering::SeqCst), 1);
    assert_debug_hides(
        &login_session(&ctx(&base, "wrong-marker")),
        &["marker", "admin@"],
    );
}

#[tokio::test]
async fn a_configured_token_is_sent_as_is() {
    let c = context(
        &Abitmedia,
        "http://127.0.0.1:9/",
        [("token", "static-marker")],
        "auth_url = \"/id\"",
    );
    let session = Abitmedia.session(&c).unwrap();
    assert_configured_token_sent_as_is(session.as_ref(), "static-marker").await;
}

#[test]
fn unknown_options_are_refused() {
    assert_eq!(
        refusal(&Abitmedia, "id_in = \"header\"").key,
        "options.id_in"
    );
    assert_eq!(refusal(&Abitmedia, "idin = \"path\"").key, "options.idin");
}
