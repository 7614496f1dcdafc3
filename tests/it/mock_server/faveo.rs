//! Faveo: login tokens with a lifetime, `success:false` error shapes, the organisation trap.

use std::time::Duration;

use serde_json::{json, Value};
use usersync::mock::faveo::{DEMO_EMAIL, DEMO_PASSWORD, DEMO_USER_NAME};
use usersync::mock::{Change, MockHandle, MockOptions};

use super::{client, json, start};

async fn login(mock: &MockHandle, body: Value) -> reqwest::Response {
    client()
        .post(mock.join("v3/api/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn token(mock: &MockHandle) -> String {
    let resp = login(
        mock,
        json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["success"], true);
    body["data"]["token"].as_str().unwrap().to_string()
}

async fn post(mock: &MockHandle, path: &str, token: &str, body: Value) -> reqwest::Response {
    client()
        .post(mock.join(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn create_update_and_deactivate_with_a_login_token() {
    let mock = start("faveo", MockOptions::default()).await;
    let token = token(&mock).await;
    let person = json!({"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.com",
        "user_name": "ana", "organization": [3], "organisation_department": [7],
        "related": [{"org_id": 3, "org_dept": 7}]});

    let created = post(&mock, "v3/user/create/api", &token, person.clone()).await;
    assert_eq!(created.status(), 200);
    let created = json(created).await;
    assert_eq!(created["success"], true);
    let id = created["data"]["id"].as_u64().unwrap();
    assert_eq!(id, 1);

    let taken = post(&mock, "v3/user/create/api", &token, person).await;
    assert_eq!(taken.status(), 412);
    let taken = json(taken).await;
    assert_eq!(taken["success"], false);
    assert_eq!(
        taken["message"]["email"],
        "This email/username has already been taken"
    );

    // With the organisation fields, they are kept.
    let update = json!({"first_name": "Ana", "last_name": "Ruiz Gil", "user_name": "ana",
        "email": "ana@example.com", "organization": [3],
        "organisation_department": [7], "related": [{"org_id": 3, "org_dept": 7}]});
    let updated = post(&mock, &format!("v3/user/update/api/{id}"), &token, update).await;
    assert_eq!(json(updated).await["message"], "Updated Successfully");
    assert_eq!(
        mock.state.user("1").unwrap().fields["organization"],
        json!([3])
    );

    // Faveo's trap: without them, every organisation link goes.
    let bare = json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
        "email": "ana@example.com"});
    let updated = post(&mock, &format!("v3/user/update/api/{id}"), &token, bare).await;
    assert_eq!(updated.status(), 200);
    let user = mock.state.user("1").unwrap();
    assert!(user.fields.get("organization").is_none());
    assert!(user.fields.get("related").is_none());
    assert_eq!(user.fields["email"], "ana@example.com");

    let actions = json!({"action_on_owned_tickets": "close",
        "action_on_assigned_tickets": "surrender"});
    let gone = post(
        &mock,
        &format!("v3/api/account/deactivate/{id}"),
        &token,
        actions,
    )
    .await;
    assert_eq!(gone.status(), 200);
    let user = mock.state.user("1").unwrap();
    assert!(!user.active);
    assert_eq!(user.count(Change::Create), 1);
    assert_eq!(user.count(Change::Update), 2);
    assert_eq!(user.count(Change::Deactivate), 1);
}

#[tokio::test]
async fn refuses_missing_and_expired_tokens_and_bad_logins() {
    let mock = start(
        "faveo",
        MockOptions {
            token_ttl: Duration::ZERO,
            ..MockOptions::default()
        },
    )
    .await;
    let please_login = json!({"result": {"fails": "Unauthorized! Please login again"}});
    let person = json!({"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.com"});

    let anonymous = client()
        .post(mock.join("v3/user/create/api"))
        .json(&person)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 422);
    assert_eq!(json(anonymous).await, please_login);

    // A token living zero seconds is expired on arrival.
    let expired = token(&mock).await;
    let resp = post(&mock, "v3/user/create/api", &expired, person).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(json(resp).await, please_login);

    let wrong = login(&mock, json!({"email": DEMO_EMAIL, "password": "nope"})).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(json(wrong).await["success"], false);
    let by_name = login(
        &mock,
        json!({"user_name": DEMO_USER_NAME, "password": DEMO_PASSWORD}),
    )
    .await;
    assert_eq!(by_name.status(), 200);
    assert!(mock.state.users().is_empty());
}

#[tokio::test]
async fn field_errors_and_unknown_users_answer_success_false() {
    let mock = start("faveo", MockOptions::default()).await;
    let token = token(&mock).await;
    let resp = post(
        &mock,
        "v3/user/create/api",
        &token,
        json!({"email": "a@b.es"}),
    )
    .await;
    assert_eq!(resp.status(), 412);
    let body = json(resp).await;
    assert_eq!(body["success"], false);
    assert!(body["message"]["first_name"].is_string());
    assert!(body["message"]["last_name"].is_string());

    let bad = json!({"first_name": "A", "last_name": "B", "email": "not-an-email"});
    let resp = post(&mock, "v3/user/create/api", &token, bad).await;
    assert_eq!(resp.status(), 412);
    assert!(json(resp).await["message"]["email"].is_string());

    let ghost = post(
        &mock,
        "v3/user/update/api/99",
        &token,
        json!({"first_name": "A", "last_name": "B", "user_name": "ab", "email": "ab@example.com"}),
    )
    .await;
    assert_eq!(ghost.status(), 404);
    assert_eq!(json(ghost).await["success"], false);

    // The token is also accepted as a query parameter, as Faveo's v3 clients send it.
    let by_query = client()
        .post(mock.join(&format!("v3/user/create/api?token={token}")))
        .json(
            &json!({"first_name": "A", "last_name": "B", "user_name": "ab",
            "email": "ab@example.com"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
}

/// The organisation links of the user `id`, as `/__mock/users` shows them.
async fn links(mock: &MockHandle, id: u64) -> Value {
    let users = client()
        .get(mock.join("__mock/users"))
        .send()
        .await
        .unwrap();
    let users = json(users).await;
    let user = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"].as_str() == Some(id.to_string().as_str()))
        .expect("the user is listed")
        .clone();
    json!({
        "organization": user["fields"]["organization"],
        "organisation_department": user["fields"]["organisation_department"],
        "related": user["fields"]["related"],
    })
}

#[tokio::test]
async fn an_update_without_organisation_fields_removes_every_link() {
    let mock = start("faveo", MockOptions::default()).await;
    let token = token(&mock).await;
    let linked = json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
        "email": "ana@example.com", "organization": [3, 4], "organisation_department": [7, 8],
        "related": [{"org_id": 3, "org_dept": 7}, {"org_id": 4, "org_dept": 8}]});
    let created = post(&mock, "v3/user/create/api", &token, linked).await;
    let id = json(created).await["data"]["id"].as_u64().unwrap();
    assert_eq!(links(&mock, id).await["organization"], json!([3, 4]));

    // Only the organisation: the departments and their pairs go.
    let one = json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
        "email": "ana@example.com", "organization": [3]});
    let resp = post(&mock, &format!("v3/user/update/api/{id}"), &token, one).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        links(&mock, id).await,
        json!({"organization": [3], "organisation_department": null, "related": null})
    );

    let renamed = json!({"first_name": "Ana María", "last_name": "Ruiz", "user_name": "ana",
        "email": "ana@example.com"});
    let resp = post(&mock, &format!("v3/user/update/api/{id}"), &token, renamed).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        links(&mock, id).await,
        json!({"organization": null, "organisation_department": null, "related": null})
    );
    assert_eq!(
        mock.state.user(&id.to_string()).unwrap().fields["first_name"],
        "Ana María"
    );
}

#[tokio::test]
async fn departments_need_their_related_pairs() {
    let mock = start("faveo", MockOptions::default()).await;
    let token = token(&mock).await;
    let with = |extra: Value| {
        let mut body = json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
            "email": "ana@example.com", "organization": [3]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for extra in [
        json!({"organisation_department": [7]}),
        json!({"organisation_department": [7], "related": []}),
        json!({"organisation_department": [7], "related": [{"org_id": 9, "org_dept": 7}]}),
        json!({"organisation_department": [7], "related": [{"org_id": 3}]}),
    ] {
        let resp = post(&mock, "v3/user/create/api", &token, with(extra.clone())).await;
        assert_eq!(resp.status(), 412, "{extra}");
        let body = json(resp).await;
        assert_eq!(body["success"], false);
        assert!(body["message"]["related"].is_string(), "{extra}: {body}");
    }
    assert!(mock.state.users().is_empty());
    let good = with(json!({"organisation_department": ["7"],
        "related": [{"org_id": "3", "org_dept": "7"}]}));
    assert_eq!(
        post(&mock, "v3/user/create/api", &token, good)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn required_fields_are_configurable_and_taken_ones_are_named() {
    let mock = start("faveo", MockOptions::default()).await;
    let token = token(&mock).await;
    let names = json!({"first_name": "Ana", "last_name": "Ruiz"});
    let resp = post(&mock, "v3/user/create/api", &token, names.clone()).await;
    assert_eq!(resp.status(), 412);
    let body = json(resp).await;
    let mut missing: Vec<&String> = body["message"].as_object().unwrap().keys().collect();
    missing.sort();
    assert_eq!(missing, ["email", "user_name"]);

    let ana = json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
        "email": "ana@example.com", "mobile": "600000000"});
    assert_eq!(
        post(&mock, "v3/user/create/api", &token, ana)
            .await
            .status(),
        200
    );
    let copy = json!({"first_name": "Eva", "last_name": "Gil", "user_name": "ANA",
        "email": "eva@example.com", "mobile": "600000000"});
    let resp = post(&mock, "v3/user/create/api", &token, copy).await;
    assert_eq!(resp.status(), 412);
    assert_eq!(
        json(resp).await["message"],
        json!({"user_name": "This email/username has already been taken",
            "mobile_phone": "The mobile phone has already been taken."})
    );

    let only_mobile = start(
        "faveo",
        MockOptions {
            faveo_required: vec!["mobile".into()],
            ..MockOptions::default()
        },
    )
    .await;
    let mobile_token = self::token(&only_mobile).await;
    let resp = post(
        &only_mobile,
        "v3/user/create/api",
        &mobile_token,
        names.clone(),
    )
    .await;
    assert_eq!(resp.status(), 412);
    let body = json(resp).await;
    assert_eq!(body["message"].as_object().unwrap().len(), 1);
    assert!(body["message"]["mobile"].is_string());
    let mut with_mobile = names;
    with_mobile["mobile"] = json!("600000000");
    let resp = post(
        &only_mobile,
        "v3/user/create/api",
        &mobile_token,
        with_mobile,
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_null_is_refused_unless_clears_are_allowed() {
    for null_clears in [false, true] {
        let mock = start(
            "faveo",
            MockOptions {
                null_clears,
                ..MockOptions::default()
            },
        )
        .await;
        let token = token(&mock).await;
        let ana = json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
            "email": "ana@example.com", "mobile": "600000000"});
        assert_eq!(
            post(&mock, "v3/user/create/api", &token, ana)
                .await
                .status(),
            200
        );
        let clear = json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
            "email": "ana@example.com", "mobile": null});
        let resp = post(&mock, "v3/user/update/api/1", &token, clear).await;
        let stored = mock.state.user("1").unwrap();
        if null_clears {
            assert_eq!(resp.status(), 200);
            assert!(stored.fields.get("mobile").is_none());
        } else {
            assert_eq!(resp.status(), 412);
            assert!(json(resp).await["message"]["mobile"].is_string());
            assert_eq!(stored.fields["mobile"], "600000000");
        }
    }
}
