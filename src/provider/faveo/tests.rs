//! Unit tests of the Faveo adapter: its requests, its tricky answers, and its login session
//! against a small HTTP server started in the test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use serde_json::json;

use super::session::FaveoSession;
use super::*;
use crate::provider::bearer::testing::serve;
use crate::provider::response::testing::{response, with_retry_after};
use crate::provider::test_support::{
    assert_bearer, assert_concurrent_first_requests_get, assert_configured_token_sent_as_is,
    assert_debug_hides, assert_login_refused, context, payload, refusal,
};

/// Faveo options from `text`.
fn options(text: &str) -> Options {
    crate::provider::test_support::options(&Faveo, text)
}

/// The options of a target that sets none.
fn no_options() -> Options {
    options("")
}

/// The user `e1`, with its Faveo id when known.
fn user(remote_id: Option<&str>) -> UserRef {
    crate::provider::test_support::user("e1", remote_id)
}

#[test]
fn create_update_and_patch_requests() {
    let p = payload(json!({"first_name": "Ana", "email": "a@b.es", "organization": [3]}));
    let req = Faveo
        .build_request(&no_options(), Operation::Create, &user(None), &p)
        .unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "v3/user/create/api")
    );
    assert_eq!(Value::from(req.body.unwrap()), Value::from(p.clone()));
    for op in [Operation::Update, Operation::Patch] {
        let req = Faveo
            .build_request(&no_options(), op, &user(Some("17")), &p)
            .unwrap();
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "v3/user/update/api/17")
        );
        assert_eq!(Value::from(req.body.unwrap()), Value::from(p.clone()));
    }
    assert_eq!(Faveo.update_operation(), Operation::Update);
    assert_eq!(
        Faveo.always_send(),
        ["organization", "organisation_department", "related"]
    );
}

#[test]
fn updates_without_a_remote_id_explain_the_fix() {
    let err = Faveo
        .build_request(
            &no_options(),
            Operation::Update,
            &user(None),
            &Payload::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("remote_id_column"), "{err}");
}

#[test]
fn deactivate_sends_the_ticket_actions() {
    let req = Faveo
        .build_request(
            &no_options(),
            Operation::Deactivate,
            &user(Some("17")),
            &Payload::new(),
        )
        .unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "v3/api/account/deactivate/17")
    );
    assert_eq!(
        Value::from(req.body.unwrap()),
        json!({"action_on_owned_tickets": "close", "action_on_assigned_tickets": "surrender"})
    );
    let options = options("action_on_owned_tickets = \"change_owner\"\nset_owner_to = 5");
    let req = Faveo
        .build_request(
            &options,
            Operation::Deactivate,
            &user(Some("17")),
            &Payload::new(),
        )
        .unwrap();
    assert_eq!(
        Value::from(req.body.unwrap()),
        json!({"action_on_owned_tickets": "change_owner", "set_owner_to": 5,
               "action_on_assigned_tickets": "surrender"})
    );
}

#[test]
fn bad_deactivate_options_are_refused_when_the_options_are_parsed() {
    for (options, key) in [
        (
            "action_on_owned_tickets = \"change_owner\"",
            "options.set_owner_to",
        ),
        (
            "action_on_assigned_tickets = \"delete\"",
            "options.action_on_assigned_tickets",
        ),
        ("set_assignee_to = 3", "options.set_assignee_to"),
    ] {
        let err = refusal(&Faveo, options);
        assert_eq!(err.key, key, "{options}");
    }
}

#[test]
fn create_returns_the_new_id_in_any_usual_place() {
    for body in [
        json!({"success": true, "data": {"id": 21}}),
        json!({"success": true, "data": {"user": {"id": 21}}}),
        json!({"success": true, "id": 21}),
        json!({"success": true, "user": {"id": "21"}}),
    ] {
        assert_eq!(
            Faveo.classify(
                &no_options(),
                Operation::Create,
                &response(200, &body.to_string())
            ),
            Outcome::Synced {
                remote_id: Some("21".into())
            },
            "{body}"
        );
    }
    let updated = json!({"success": true, "message": "Updated Successfully"}).to_string();
    assert_eq!(
        Faveo.classify(&no_options(), Operation::Update, &response(200, &updated)),
        Outcome::Synced { remote_id: None }
    );
}

#[test]
fn a_2xx_that_is_not_the_documented_success_is_not_synced() {
    for (op, body) in [
        (Operation::Create, json!({"id": 21}).to_string()),
        (Operation::Create, json!({"success": true}).to_string()),
        (
            Operation::Update,
            "<html><title>Sign in</title></html>".to_string(),
        ),
        (Operation::Update, String::new()),
        (Operation::Deactivate, "OK".to_string()),
    ] {
        let outcome = Faveo.classify(&no_options(), op, &response(200, &body));
        assert!(
            matches!(&outcome, Outcome::Retry { status: Some(200), reason, .. } if reason.contains("not the documented success")),
            "{op} {body:?}: {outcome:?}"
        );
    }
}

#[test]
fn success_false_is_a_failure_even_with_200() {
    let body = json!({"success": false, "message": {"first_name": "this field is required"}});
    let Outcome::Rejected {
        status,
        errors,
        detail,
    } = Faveo.classify(
        &no_options(),
        Operation::Update,
        &response(200, &body.to_string()),
    )
    else {
        panic!("not rejected");
    };
    assert_eq!(status, 200);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "first_name");
    assert_eq!(errors[0].message, "this field is required");
    assert!(detail.contains("this field is required"));
}

#[test]
fn already_taken_is_a_conflict() {
    let body = json!({"success": false, "message": {
        "email": "This email/username has already been taken",
        "user_name": "This email/username has already been taken"}});
    assert!(matches!(
        Faveo.classify(
            &no_options(),
            Operation::Create,
            &response(412, &body.to_string())
        ),
        Outcome::Conflict { status: 412, .. }
    ));
    let other = json!({"success": false, "message": {"first_name": "has already been taken"}});
    assert!(matches!(
        Faveo.classify(
            &no_options(),
            Operation::Create,
            &response(412, &other.to_string())
        ),
        Outcome::Rejected { status: 412, .. }
    ));
}

#[test]
fn login_again_is_an_auth_failure_not_a_rejection() {
    let body = json!({"result": {"fails": "Unauthorized! Please login again"}});
    assert!(matches!(
        Faveo.classify(&no_options(), Operation::Update, &response(422, &body.to_string())),
        Outcome::AuthFailed { status: 422, ref detail } if detail.contains("Please login again")
    ));
}

#[test]
fn throttle_and_server_errors_are_retried() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(20));
    let throttled = with_retry_after(response(429, ""), &date);
    assert!(matches!(
        Faveo.classify(&no_options(), Operation::Create, &throttled),
        Outcome::Retry { status: Some(429), after: Some(a), .. } if a > Duration::from_secs(15)
    ));
    let failed = json!({"success": false, "message": "Server error"}).to_string();
    assert!(matches!(
        Faveo.classify(&no_options(), Operation::Create, &response(500, &failed)),
        Outcome::Retry {
            status: Some(500),
            ..
        }
    ));
}

// --- the login session, against a test server -------------------------------------------------

#[derive(Default)]
struct Login {
    calls: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
}

async fn login(
    State(state): State<Arc<Login>>,
    Json(body): Json<Value>,
) -> (http::StatusCode, Json<Value>) {
    let n = state.calls.fetch_add(1, Ordering::SeqCst) + 1;
    state.bodies.lock().unwrap().push(body.clone());
    // Let concurrent callers pile up behind the first login.
    tokio::time::sleep(Duration::from_millis(50)).await;
    if body["password"] != "pw-marker" {
        let refused = json!({"success": false, "message": "Invalid credentials"});
        return (http::StatusCode::UNAUTHORIZED, Json(refused));
    }
    let ok = json!({"success": true, "data": {"user": {"id": 1}, "token": format!("tok-{n}")}});
    (http::StatusCode::OK, Json(ok))
}

/// A server answering `POST /v3/api/login`; returns its base URL and its counters.
async fn server() -> (String, Arc<Login>) {
    let state = Arc::new(Login::default());
    let app = axum::Router::new()
        .route("/v3/api/login", post(login))
        .with_state(state.clone());
    let addr = serve(app).await;
    (format!("http://{addr}/"), state)
}

/// A target at `base` with `options`, logging in as the admin with the right password.
fn ctx(options: &str, base: &str) -> TargetContext {
    context(
        &Faveo,
        base,
        [("email", "admin@example.com"), ("password", "pw-marker")],
        options,
    )
}

#[tokio::test]
async fn concurrent_first_requests_share_one_login() {
    let (base, state) = server().await;
    let session = Faveo.session(&ctx("", &base)).unwrap();
    assert_concurrent_first_requests_get(session.as_ref(), "tok-1").await;
    assert_eq!(state.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        state.bodies.lock().unwrap()[0],
        json!({"email": "admin@example.com", "password": "pw-marker"})
    );
}

#[tokio::test]
async fn a_refused_token_leads_to_a_new_login() {
    let (base, state) = server().await;
    let c = ctx("", &base);
    let session = FaveoSession::new(&c.base_url, &c.credentials)
        .unwrap()
        .with_refusal_grace(Duration::ZERO);
    let client = reqwest::Client::new();
    assert_bearer(&session, &client, "tok-1").await;
    assert_bearer(&session, &client, "tok-1").await;
    assert!(session.invalidate());
    assert_bearer(&session, &client, "tok-2").await;
    assert_eq!(state.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refused_credentials_stop_without_showing_the_password() {
    let (base, state) = server().await;
    let c = context(
        &Faveo,
        &base,
        [("user_name", "admin"), ("password", "wrong-marker")],
        "",
    );
    let session = Faveo.session(&c).unwrap();
    assert_login_refused(session.as_ref(), 3, &["Invalid credentials"], "marker").await;
    assert_eq!(state.calls.load(Ordering::SeqCst), 1);
    assert_eq!(state.bodies.lock().unwrap()[0]["user_name"], "admin");
    assert_debug_hides(
        &FaveoSession::new(&c.base_url, &c.credentials).unwrap(),
        &["marker", "admin\""],
    );
}

#[tokio::test]
async fn a_configured_token_is_sent_as_is_and_never_renewed() {
    let c = context(
        &Faveo,
        "http://127.0.0.1:9/",
        [("token", "static-marker")],
        "",
    );
    let session = Faveo.session(&c).unwrap();
    assert_configured_token_sent_as_is(session.as_ref(), "static-marker").await;
    assert_debug_hides(
        &FaveoSession::new(&c.base_url, &c.credentials).unwrap(),
        &["marker"],
    );
}

#[test]
fn faveo_cannot_look_a_user_up_and_says_so() {
    assert!(!Faveo.supports(Operation::Lookup));
    assert!(Faveo.supports(Operation::Update));
    assert!(matches!(
        Faveo.build_request(
            &no_options(),
            Operation::Lookup,
            &user(Some("7")),
            &Payload::new()
        ),
        Err(BuildError::Unsupported { .. })
    ));
}
