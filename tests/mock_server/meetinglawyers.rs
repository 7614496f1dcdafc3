//! MeetingLawyers: `s2s/v1/users` routes behind `Api-Key` / `Secret-Key`.

use serde_json::json;
use usersync::mock::{Change, MockOptions};
use usersync::provider::meetinglawyers::mock::{DEMO_API_KEY, DEMO_SECRET_KEY};
use usersync::provider::Credentials;

use crate::{client, json, start};

fn keys(req: reqwest::RequestBuilder, api: &str, secret: &str) -> reqwest::RequestBuilder {
    req.header("Api-Key", api).header("Secret-Key", secret)
}

#[tokio::test]
async fn create_read_update_patch_and_deactivate() {
    let mock = start("meetinglawyers", MockOptions::default()).await;
    let http = client();
    let demo = |req| keys(req, DEMO_API_KEY, DEMO_SECRET_KEY);

    let created = demo(http.post(mock.join("s2s/v1/users")))
        .json(&json!({"user_id": "u1", "status": 2, "email": "ana@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(json(created).await["user_id"], "u1");

    let again = demo(http.post(mock.join("s2s/v1/users")))
        .json(&json!({"user_id": "u1", "status": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(json(again).await["errors"][0]["field"], "user_id");

    let taken_email = demo(http.post(mock.join("s2s/v1/users")))
        .json(&json!({"user_id": "u2", "status": 2, "email": "ANA@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken_email.status(), 409);

    let put = demo(http.put(mock.join("s2s/v1/users/u1")))
        .json(&json!({"status": 4, "first_name": "Ana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let body = json(put).await;
    assert_eq!(body["first_name"], "Ana");
    assert!(body.get("email").is_none(), "a PUT replaces every field");

    let patch = demo(http.patch(mock.join("s2s/v1/users/u1")))
        .json(&json!({"last_name": "Ruiz", "status": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);

    let deactivate = demo(http.patch(mock.join("s2s/v1/users/u1")))
        .json(&json!({"status": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(deactivate.status(), 200);

    let read = demo(http.get(mock.join("s2s/v1/users/u1")))
        .send()
        .await
        .unwrap();
    let read = json(read).await;
    assert_eq!(read["status"], 0);
    assert_eq!(read["first_name"], "Ana");
    assert_eq!(read["last_name"], "Ruiz");

    let user = mock.state.user("u1").unwrap();
    assert!(!user.active);
    assert_eq!(user.count(Change::Create), 1);
    assert_eq!(user.count(Change::Update), 1);
    assert_eq!(user.count(Change::Patch), 1);
    assert_eq!(user.count(Change::Deactivate), 1);
    assert_eq!(user.last_fields, vec!["status"]);
    assert_eq!(mock.state.users().len(), 1);
}

#[tokio::test]
async fn refuses_bad_keys_bad_json_missing_fields_and_unknown_users() {
    let mock = start("meetinglawyers", MockOptions::default()).await;
    let http = client();

    let wrong = keys(http.post(mock.join("s2s/v1/users")), DEMO_API_KEY, "nope")
        .json(&json!({"user_id": "u1", "status": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let none = http.get(mock.join("s2s/v1/users/u1")).send().await.unwrap();
    assert_eq!(none.status(), 401);

    let demo = |req| keys(req, DEMO_API_KEY, DEMO_SECRET_KEY);
    let bad_json = demo(http.post(mock.join("s2s/v1/users")))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 406);

    let missing = demo(http.post(mock.join("s2s/v1/users")))
        .json(&json!({"email": "a@b.es"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let errors = json(missing).await;
    let fields: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"user_id") && fields.contains(&"status"));

    let bad_email = demo(http.post(mock.join("s2s/v1/users")))
        .json(&json!({"user_id": "u9", "status": 2, "email": "not-an-email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_email.status(), 400);
    assert_eq!(json(bad_email).await["errors"][0]["field"], "email");

    let put_without_status = demo(http.put(mock.join("s2s/v1/users/u1")))
        .json(&json!({"first_name": "Ana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put_without_status.status(), 400);

    let unknown = demo(http.patch(mock.join("s2s/v1/users/ghost")))
        .json(&json!({"status": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let wrong_method = demo(http.delete(mock.join("s2s/v1/users/u1")))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert!(mock.state.users().is_empty());
}

#[tokio::test]
async fn given_credentials_replace_the_demo_ones() {
    let mut credentials = Credentials::new();
    credentials.insert("api_key", "key-1");
    credentials.insert("secret_key", "secret-1");
    let mock = start(
        "meetinglawyers",
        MockOptions {
            credentials,
            ..MockOptions::default()
        },
    )
    .await;
    let http = client();
    let send = |api: &str, secret: &str| {
        keys(http.post(mock.join("s2s/v1/users")), api, secret)
            .json(&json!({"user_id": format!("{api}-{secret}"), "status": 2}))
            .send()
    };
    assert_eq!(
        send(DEMO_API_KEY, DEMO_SECRET_KEY).await.unwrap().status(),
        401
    );
    assert_eq!(send("key-1", "secret-1").await.unwrap().status(), 201);
}
