//! The Faveo adapter against its built-in mock: login tokens, every operation accepted, every
//! class of answer classified (its 422 "Please login again" as an auth failure).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use usersync::mock::{demo_credentials, MockOptions};
use usersync::provider::faveo::session::FaveoSession;
use usersync::provider::{Operation, Outcome};

use crate::support::providers::{
    assert_every_operation_accepted, assert_expired_token_is_renewed, assert_login_refused,
    assert_transient_classes, create, create_attempt, payload, rejects_field, user,
    wrong_credentials, Target,
};

async fn target() -> Target {
    let t = Target::start(
        "faveo",
        MockOptions::default(),
        demo_credentials("faveo"),
        toml::Table::new(),
    )
    .await;
    let session = FaveoSession::new(&t.ctx.base_url, &t.ctx.credentials)
        .unwrap()
        .with_refusal_grace(Duration::ZERO);
    t.with_session(Arc::new(session))
}

/// A user as the sample helpdesk sends them: its required `email` and `user_name` (the mock's
/// default "configurable" fields) and the organisation fields every update must carry.
fn person(email: &str) -> serde_json::Value {
    let user_name = email.split('@').next().unwrap_or(email);
    json!({"first_name": "Ana", "last_name": "Ruiz", "email": email, "user_name": user_name,
        "organization": [3], "organisation_department": [7],
        "related": [{"org_id": 3, "org_dept": 7}]})
}

#[tokio::test]
async fn every_operation_is_accepted() {
    let t = target().await;
    let mut full = person("ana@example.com");
    full["last_name"] = json!("Ruiz Gil");
    let created = person("ana@example.com");
    let stored = assert_every_operation_accepted(&t, "ana@example.com", created, full).await;

    assert_eq!(stored.fields["last_name"], "Ruiz Gil");
    assert_eq!(
        stored.fields["organization"],
        json!([3]),
        "organisations kept"
    );
    assert_eq!(
        stored.last_fields,
        vec!["action_on_assigned_tickets", "action_on_owned_tickets"]
    );
    assert_eq!(
        t.mock.state.stats().by_route["POST /v3/api/login"],
        1,
        "one login"
    );
}

#[tokio::test]
async fn each_class_of_answer_is_classified() {
    let t = target().await;
    let id = create(&t, "ana@example.com", person("ana@example.com")).await;

    let nameless = payload(json!({"email": "x@example.com"}));
    let rejected = t.send(Operation::Create, &user("x", None), &nameless).await;
    assert!(rejects_field(&rejected.outcome(), "first_name"));

    let taken = create_attempt(&t, "ana@example.com", person("ana@example.com")).await;
    assert!(matches!(taken, Outcome::Conflict { .. }), "{taken:?}");

    let bea = user("bea@example.com", None);
    let bea_body = payload(person("bea@example.com"));
    assert_transient_classes(&t, Operation::Create, &bea, &bea_body).await;

    // An expired token: Faveo's 422 "Please login again" is an auth failure; the session logs
    // in again and the next attempt goes through.
    let ana = user("ana@example.com", Some(&id));
    let full = payload(person("ana@example.com"));
    assert_expired_token_is_renewed(&t, Operation::Update, &ana, &full, 422).await;

    let wrong = wrong_credentials("faveo", "password", "not-the-password");
    let session = FaveoSession::new(&t.ctx.base_url, &wrong).unwrap();
    let t = t.with_session(Arc::new(session));
    assert_login_refused(&t, Operation::Update, &ana, &full, "not-the-password").await;
}
