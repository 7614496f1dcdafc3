//! The GNOSS adapter against its built-in mock: every operation accepted through OAuth 1.0
//! (GNOSS's signing and RFC 5849's), every class of answer classified.

use std::sync::Arc;

use serde_json::json;
use usersync::mock::{demo_credentials, Change, MockOptions};
use usersync::provider::gnoss::oauth::SigningStyle;
use usersync::provider::gnoss::session::OAuthSession;
use usersync::provider::{Operation, Outcome};

use crate::support::providers::{
    assert_synced, assert_transient_classes, create, create_attempt, payload, rejects_field, user,
    wrong_credentials, Target,
};

const COMMUNITY: &str = "1ede819e-9d0f-41e9-855b-bbebc7f08dd1";

fn options(signing: &str) -> toml::Table {
    let mut options = toml::Table::new();
    options.insert("community_id".into(), COMMUNITY.into());
    options.insert("signing".into(), signing.into());
    options
}

async fn target(mock_signing: SigningStyle, signing: &str) -> Target {
    Target::start(
        "gnoss",
        MockOptions {
            signing: mock_signing,
            ..MockOptions::default()
        },
        demo_credentials("gnoss"),
        options(signing),
    )
    .await
}

fn person(email: &str) -> serde_json::Value {
    json!({"name": "Ana", "last_name": "Ruiz", "email": email, "password": "secret1",
        "community_id": COMMUNITY})
}

async fn every_operation_is_accepted_with(mock_signing: SigningStyle, signing: &str) {
    let t = target(mock_signing, signing).await;
    let guid = create(&t, "ana@example.com", person("ana@example.com")).await;
    assert!(uuid::Uuid::parse_str(&guid).is_ok());
    let ana = user("ana@example.com", Some(&guid));

    let full = payload(person("ana@example.com"));
    assert_synced(&t, Operation::Update, &ana, &full).await;
    let changed = payload(json!({"city": "Madrid"}));
    assert_synced(&t, Operation::Patch, &ana, &changed).await;
    assert_synced(&t, Operation::Deactivate, &ana, &payload(json!({}))).await;
    assert!(!t.mock.state.user(&guid).unwrap().active);
    assert_synced(&t, Operation::Reactivate, &ana, &payload(json!({}))).await;
    assert!(t.mock.state.user(&guid).unwrap().active, "unblocked");
    assert_synced(&t, Operation::Deactivate, &ana, &payload(json!({}))).await;

    let stored = t.mock.state.user(&guid).unwrap();
    assert!(!stored.active);
    assert_eq!(stored.fields["city"], "Madrid");
    assert_eq!(stored.count(Change::Create), 1);
    assert_eq!(stored.count(Change::Patch), 2);
    assert_eq!(stored.count(Change::Deactivate), 2);
    assert_eq!(stored.count(Change::Reactivate), 1);
    assert_eq!(stored.last_fields, vec!["community_id", "user_id"]);
}

#[tokio::test]
async fn every_operation_is_accepted_signed_the_gnoss_way() {
    every_operation_is_accepted_with(SigningStyle::Gnoss, "gnoss").await;
}

#[tokio::test]
async fn every_operation_is_accepted_signed_the_rfc5849_way() {
    every_operation_is_accepted_with(SigningStyle::Rfc5849, "rfc5849").await;
}

#[tokio::test]
async fn each_class_of_answer_is_classified() {
    let t = target(SigningStyle::Gnoss, "gnoss").await;
    create(&t, "ana@example.com", person("ana@example.com")).await;

    let no_email = payload(json!({"name": "Sin", "last_name": "Correo"}));
    let rejected = t.send(Operation::Create, &user("x", None), &no_email).await;
    assert!(rejects_field(&rejected.outcome(), "email"));

    let taken = create_attempt(&t, "ana@example.com", person("ana@example.com")).await;
    assert!(
        matches!(taken, Outcome::Conflict { status: 400, .. }),
        "{taken:?}"
    );

    let bea = user("bea@example.com", None);
    let bea_body = payload(person("bea@example.com"));
    assert_transient_classes(&t, Operation::Create, &bea, &bea_body).await;
    assert_eq!(t.mock.state.users().len(), 2);

    let wrong = wrong_credentials("gnoss", "consumer_secret", "not-the-secret");
    let session = OAuthSession::new(&wrong, SigningStyle::Gnoss).unwrap();
    let t = t.with_session(Arc::new(session));
    let refused = create_attempt(&t, "cid@example.com", person("cid@example.com")).await;
    assert!(
        matches!(refused, Outcome::AuthFailed { status: 401, .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_signing_style_the_server_does_not_use_is_an_auth_failure() {
    let t = target(SigningStyle::Rfc5849, "gnoss").await;
    // The adapter signs its POST as a GET (GNOSS's way); a server checking RFC 5849 signs the
    // real method, so the signatures differ.
    let outcome = create_attempt(&t, "ana@example.com", person("ana@example.com")).await;
    assert!(
        matches!(outcome, Outcome::AuthFailed { status: 401, .. }),
        "{outcome:?}"
    );
    assert!(t.mock.state.users().is_empty());
}
