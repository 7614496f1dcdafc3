//! Unit tests of the MeetingLawyers adapter: every request it builds, every class of answer,
//! and its header session.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::provider::response::testing::{response, with_retry_after};
use crate::provider::test_support::{assert_debug_hides, context, payload, refusal};
use crate::provider::Credentials;

/// MeetingLawyers options from `text`.
fn options(text: &str) -> Options {
    crate::provider::test_support::options(&MeetingLawyers, text)
}

/// The options of a target that sets none.
fn no_options() -> Options {
    options("")
}

/// The user `key` (MeetingLawyers keeps no id of its own).
fn user(key: &str) -> UserRef {
    crate::provider::test_support::user(key, None)
}

/// A target with `options` and both keys, `ak-marker` and `sk-marker`.
fn ctx(options: &str) -> TargetContext {
    context(
        &MeetingLawyers,
        "http://127.0.0.1/",
        [("api_key", "ak-marker"), ("secret_key", "sk-marker")],
        options,
    )
}

#[test]
fn create_posts_the_payload_with_user_id() {
    let p = payload(json!({"status": 2, "email": "a@b.es"}));
    let req = MeetingLawyers
        .build_request(&no_options(), Operation::Create, &user("05415506H"), &p)
        .unwrap();
    assert_eq!(req.method, http::Method::POST);
    assert_eq!(req.path, "s2s/v1/users");
    assert_eq!(
        Value::from(req.body.unwrap()),
        json!({"status": 2, "email": "a@b.es", "user_id": "05415506H"})
    );
}

#[test]
fn update_puts_without_user_id_in_the_body() {
    let p = payload(json!({"user_id": "u 1/x", "status": 2, "first_name": "Ana"}));
    let req = MeetingLawyers
        .build_request(&no_options(), Operation::Update, &user("ignored"), &p)
        .unwrap();
    assert_eq!(req.method, http::Method::PUT);
    assert_eq!(req.path, "s2s/v1/users/u%201%2Fx");
    assert_eq!(
        Value::from(req.body.unwrap()),
        json!({"status": 2, "first_name": "Ana"})
    );
}

#[test]
fn patch_sends_only_the_changed_fields_to_the_key() {
    let p = payload(json!({"first_name": "Ana"}));
    let req = MeetingLawyers
        .build_request(&no_options(), Operation::Patch, &user("42"), &p)
        .unwrap();
    assert_eq!(req.method, http::Method::PATCH);
    assert_eq!(req.path, "s2s/v1/users/42");
    assert_eq!(Value::from(req.body.unwrap()), json!({"first_name": "Ana"}));
    assert_eq!(MeetingLawyers.update_operation(), Operation::Patch);
}

#[test]
fn deactivate_patches_status_zero() {
    let req = MeetingLawyers
        .build_request(
            &no_options(),
            Operation::Deactivate,
            &user("42"),
            &Payload::new(),
        )
        .unwrap();
    assert_eq!(req.method, http::Method::PATCH);
    assert_eq!(req.path, "s2s/v1/users/42");
    assert_eq!(Value::from(req.body.unwrap()), json!({"status": 0}));
}

#[test]
fn success_has_no_remote_id() {
    assert_eq!(
        MeetingLawyers.classify(&no_options(), Operation::Create, &response(201, "{}")),
        Outcome::Synced { remote_id: None }
    );
}

#[test]
fn create_answered_409_or_422_means_the_user_exists() {
    for status in [409, 422] {
        assert!(matches!(
            MeetingLawyers.classify(&no_options(), Operation::Create, &response(status, "exists")),
            Outcome::Conflict { status: s, ref detail } if s == status && detail == "exists"
        ));
    }
    // A 422 on an update is a rejection, with the provider's field errors.
    let body = json!({"errors": {"email": ["The email must be a valid email address."]}});
    let Outcome::Rejected { status, errors, .. } = MeetingLawyers.classify(
        &no_options(),
        Operation::Patch,
        &response(422, &body.to_string()),
    ) else {
        panic!("not rejected");
    };
    assert_eq!(status, 422);
    assert_eq!(errors[0].field, "email");
}

#[test]
fn conflict_statuses_come_from_the_target_options() {
    let options = options("conflict_statuses = [409, 400]");
    let bad_request = response(400, "user_id already registered");
    assert!(matches!(
        MeetingLawyers.classify(&options, Operation::Create, &bad_request),
        Outcome::Conflict { status: 400, .. }
    ));
    assert!(matches!(
        MeetingLawyers.classify(&options, Operation::Create, &response(422, "")),
        Outcome::Rejected { status: 422, .. }
    ));
    assert!(matches!(
        MeetingLawyers.classify(&no_options(), Operation::Create, &bad_request),
        Outcome::Rejected { status: 400, .. }
    ));
}

#[test]
fn bad_conflict_statuses_are_refused_when_the_options_are_parsed() {
    let err = refusal(&MeetingLawyers, "conflict_statuses = [200]");
    assert_eq!(err.key, "options.conflict_statuses");
    let err = refusal(&MeetingLawyers, "retries = 3");
    assert_eq!(err.key, "options.retries");
}

#[test]
fn throttle_server_errors_and_auth_failures() {
    let throttled = with_retry_after(response(429, ""), "12");
    assert!(matches!(
        MeetingLawyers.classify(&no_options(), Operation::Create, &throttled),
        Outcome::Retry { status: Some(429), after: Some(a), .. } if a == Duration::from_secs(12)
    ));
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(90));
    let unavailable = with_retry_after(response(503, "maintenance"), &date);
    let Outcome::Retry {
        after: Some(after),
        reason,
        ..
    } = MeetingLawyers.classify(&no_options(), Operation::Update, &unavailable)
    else {
        panic!("not retried");
    };
    assert!(after > Duration::from_secs(85) && after <= Duration::from_secs(90));
    assert!(reason.contains("maintenance"));
    assert!(matches!(
        MeetingLawyers.classify(&no_options(), Operation::Patch, &response(500, "")),
        Outcome::Retry {
            status: Some(500),
            after: None,
            ..
        }
    ));
    assert!(matches!(
        MeetingLawyers.classify(
            &no_options(),
            Operation::Patch,
            &response(401, "Invalid Api-Key")
        ),
        Outcome::AuthFailed { status: 401, .. }
    ));
}

#[tokio::test]
async fn session_headers_are_sensitive_and_debug_hides_them() {
    let session = MeetingLawyers.session(&ctx("")).unwrap();
    let url = url::Url::parse("http://127.0.0.1/s2s/v1/users").unwrap();
    let mut req = reqwest::Request::new(http::Method::POST, url);
    session
        .authorize(&reqwest::Client::new(), &mut req)
        .await
        .unwrap();
    let headers = req.headers();
    assert_eq!(headers["api-key"], "ak-marker");
    assert_eq!(headers["secret-key"], "sk-marker");
    assert!(headers["api-key"].is_sensitive());
    assert!(headers["secret-key"].is_sensitive());
    assert_eq!(headers["accept"], "application/json");
    assert_debug_hides(headers, &["marker"]);
    assert!(!session.invalidate());
    let direct = session::HeaderSession::new(&ctx("").credentials).unwrap();
    assert_debug_hides(&direct, &["marker"]);
}

#[test]
fn missing_credentials_are_named() {
    let mut c = ctx("");
    c.credentials = Credentials::new();
    let err = MeetingLawyers.session(&c).err().unwrap();
    assert_eq!(err.key, "credentials");
    assert!(err.message.contains("api_key + secret_key"));
}
