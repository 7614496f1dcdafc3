//! The Abitmedia adapter against its built-in mock (identity routes on the same root): every
//! operation accepted by the integer id, every class of answer classified.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use usersync::mock::{demo_credentials, MockOptions};
use usersync::provider::abitmedia::session::{auth_url, AbitmediaSession};
use usersync::provider::{Operation, Outcome};

use crate::support::providers::{
    assert_every_operation_accepted, assert_expired_token_is_renewed, assert_login_refused,
    assert_transient_classes, create, create_attempt, payload, rejects_field, user,
    wrong_credentials, Target,
};

fn options(id_in: &str) -> toml::Table {
    let mut options = toml::Table::new();
    options.insert("auth_url".into(), "/".into());
    options.insert("id_in".into(), id_in.into());
    options
}

async fn target(id_in: &str) -> Target {
    let t = Target::start(
        "abitmedia",
        MockOptions::default(),
        demo_credentials("abitmedia"),
        options(id_in),
    )
    .await;
    let url = auth_url(&t.ctx.base_url, &t.ctx.options).unwrap();
    let session = AbitmediaSession::new(url, &t.ctx.credentials)
        .unwrap()
        .with_refusal_grace(Duration::ZERO);
    t.with_session(Arc::new(session))
}

fn person(email: &str) -> serde_json::Value {
    json!({"language": "es", "firstName": "Ana", "lastName": "Ruiz", "email": email,
        "password": "Secreta-1!", "cellPhoneNumber": "+593984535283",
        "address": "Av. Amazonas 1", "birthday": "1990-05-15",
        "companies": [{"companyId": 1, "isAdmin": false, "roleId": 2}]})
}

async fn every_operation_is_accepted_with(id_in: &str) {
    let t = target(id_in).await;
    let mut full = person("ana@example.com");
    full["address"] = json!("Calle Nueva 2");
    let created = person("ana@example.com");
    let stored = assert_every_operation_accepted(&t, "ana@example.com", created, full).await;

    assert_eq!(stored.fields["status"], 0);
    assert_eq!(stored.fields["address"], "Calle Nueva 2");
    // The deactivation sends the record back whole (the page requires every field on update),
    // never the password.
    assert!(
        stored.last_fields.contains(&"status".to_string())
            && stored.last_fields.contains(&"companies".to_string())
            && !stored.last_fields.contains(&"password".to_string()),
        "{:?}",
        stored.last_fields
    );
    let expected_route = if id_in == "path" {
        "PUT /administration/v1/users/:id"
    } else {
        "PUT /administration/v1/users"
    };
    assert_eq!(t.mock.state.stats().by_route[expected_route], 3);
}

#[tokio::test]
async fn every_operation_is_accepted_with_the_id_in_the_query() {
    every_operation_is_accepted_with("query").await;
}

#[tokio::test]
async fn every_operation_is_accepted_with_the_id_in_the_path() {
    every_operation_is_accepted_with("path").await;
}

#[tokio::test]
async fn each_class_of_answer_is_classified() {
    let t = target("query").await;
    let id = create(&t, "ana@example.com", person("ana@example.com")).await;
    let ana = user("ana@example.com", Some(&id));

    // An update needs every required field but the password (never resent by a sync).
    let mut no_address = person("ana@example.com");
    no_address.as_object_mut().unwrap().remove("password");
    no_address.as_object_mut().unwrap().remove("address");
    let rejected = t.send(Operation::Update, &ana, &payload(no_address)).await;
    assert!(rejects_field(&rejected.outcome(), "address"));

    let taken = create_attempt(&t, "ana@example.com", person("ana@example.com")).await;
    assert!(
        matches!(taken, Outcome::Conflict { status: 422, .. }),
        "{taken:?}"
    );

    let bea = user("bea@example.com", None);
    let bea_body = payload(person("bea@example.com"));
    assert_transient_classes(&t, Operation::Create, &bea, &bea_body).await;

    // An expired token is a 401: an auth failure; the session renews it and goes on.
    let full = payload(person("ana@example.com"));
    assert_expired_token_is_renewed(&t, Operation::Update, &ana, &full, 401).await;

    let wrong = wrong_credentials("abitmedia", "password", "not-the-password");
    let url = auth_url(&t.ctx.base_url, &t.ctx.options).unwrap();
    let t = t.with_session(Arc::new(AbitmediaSession::new(url, &wrong).unwrap()));
    assert_login_refused(&t, Operation::Update, &ana, &full, "not-the-password").await;
}
