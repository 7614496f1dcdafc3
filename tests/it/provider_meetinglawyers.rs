//! The MeetingLawyers adapter against its built-in mock: every operation accepted, every class
//! of answer classified.

use std::sync::Arc;

use serde_json::json;
use usersync::mock::{demo_credentials, Change, MockOptions};
use usersync::provider::meetinglawyers::session::HeaderSession;
use usersync::provider::{Operation, Outcome};

use crate::support::providers::{
    assert_synced, assert_transient_classes, payload, rejects_field, user, wrong_credentials,
    Target,
};

async fn target() -> Target {
    Target::start(
        "meetinglawyers",
        MockOptions::default(),
        demo_credentials("meetinglawyers"),
        toml::Table::new(),
    )
    .await
}

#[tokio::test]
async fn every_operation_is_accepted() {
    let t = target().await;
    let ana = user("u1", None);
    let created = payload(
        json!({"user_id": "u1", "status": 2, "email": "ana@example.com",
        "first_name": "Ana"}),
    );
    assert_synced(&t, Operation::Create, &ana, &created).await;
    let full = payload(
        json!({"status": 2, "email": "ana@example.com", "first_name": "Ana",
        "last_name": "Ruiz"}),
    );
    assert_synced(&t, Operation::Update, &ana, &full).await;
    // A patch carries `status` with the changed fields, as every sync's does (it is required).
    let changed = payload(json!({"coverage_name": "Gold", "status": 2}));
    assert_synced(&t, Operation::Patch, &ana, &changed).await;
    assert_synced(&t, Operation::Deactivate, &ana, &payload(json!({}))).await;

    let stored = t.mock.state.user("u1").unwrap();
    assert!(!stored.active);
    assert_eq!(stored.fields["last_name"], "Ruiz");
    assert_eq!(stored.fields["coverage_name"], "Gold");
    assert_eq!(stored.count(Change::Create), 1);
    assert_eq!(stored.count(Change::Update), 1);
    assert_eq!(stored.count(Change::Patch), 1);
    assert_eq!(stored.count(Change::Deactivate), 1);
    assert_eq!(stored.last_fields, vec!["status"]);
    // An update never sends user_id in its body (the update table has none).
    assert_eq!(
        stored.history[1].fields,
        vec!["email", "first_name", "last_name", "status"]
    );
}

#[tokio::test]
async fn each_class_of_answer_is_classified() {
    let t = target().await;
    let ana = user("u1", None);
    let created = payload(json!({"user_id": "u1", "status": 2}));

    let missing_status = payload(json!({"user_id": "u2"}));
    let rejected = t
        .send(Operation::Create, &user("u2", None), &missing_status)
        .await;
    assert!(rejects_field(&rejected.outcome(), "status"));

    let after_drop = assert_transient_classes(&t, Operation::Create, &ana, &created).await;
    assert!(
        matches!(after_drop, Outcome::Conflict { status: 409, .. }),
        "{after_drop:?}"
    );
    assert_eq!(t.mock.state.user("u1").unwrap().count(Change::Create), 1);

    let wrong = wrong_credentials("meetinglawyers", "secret_key", "not-the-secret");
    let t = t.with_session(Arc::new(HeaderSession::new(&wrong).unwrap()));
    let refused = t
        .send(Operation::Patch, &ana, &payload(json!({"status": 2})))
        .await;
    assert!(matches!(
        refused.outcome(),
        Outcome::AuthFailed { status: 401, .. }
    ));
}
