//! MeetingLawyers: `s2s/v1/users` routes behind `Api-Key` / `Secret-Key`.

use serde_json::json;
use usersync::mock::meetinglawyers::{DEMO_API_KEY, DEMO_SECRET_KEY};
use usersync::mock::{Change, MockOptions};
use usersync::provider::Credentials;

use super::{client, json, start};

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

/// Sends `body` with the demo keys: (status, JSON body).
async fn send(
    mock: &usersync::mock::MockHandle,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = keys(
        client().request(method, mock.join(path)),
        DEMO_API_KEY,
        DEMO_SECRET_KEY,
    )
    .json(&body)
    .send()
    .await
    .unwrap();
    (resp.status().as_u16(), json(resp).await)
}

fn error_fields(body: &serde_json::Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_patch_without_status_and_nulls_are_refused_by_default() {
    use reqwest::Method;
    let mock = start("meetinglawyers", MockOptions::default()).await;
    let ana = json!({"user_id": "u1", "status": 2, "email": "ana@example.com",
        "mobile_phone": "600000000", "description": null});
    assert_eq!(send(&mock, Method::POST, "s2s/v1/users", ana).await.0, 201);

    let (status, body) = send(
        &mock,
        Method::PATCH,
        "s2s/v1/users/u1",
        json!({"last_name": "Ruiz"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error_fields(&body), ["status"]);

    let clear = json!({"status": 2, "mobile_phone": null});
    let (status, body) = send(&mock, Method::PATCH, "s2s/v1/users/u1", clear).await;
    assert_eq!(status, 400);
    assert_eq!(error_fields(&body), ["mobile_phone"]);

    let (status, body) = send(
        &mock,
        Method::PATCH,
        "s2s/v1/users/u1",
        json!({"status": 2, "nickname": "a"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    let (status, body) = send(
        &mock,
        Method::PUT,
        "s2s/v1/users/u1",
        json!({"status": 2, "user_id": "u1"}),
    )
    .await;
    assert_eq!(status, 400, "the update table has no user_id");
    assert_eq!(error_fields(&body), ["user_id"]);
    let (status, body) = send(
        &mock,
        Method::PATCH,
        "s2s/v1/users/u1",
        json!({"status": "2"}),
    )
    .await;
    assert_eq!(status, 400, "status is Numeric");
    assert_eq!(body["errors"][0]["code"], "invalid_type");

    let user = mock.state.user("u1").unwrap();
    assert_eq!(user.count(usersync::mock::Change::Create), 1);
    assert_eq!(user.history.len(), 1, "no refused request changed the user");
    assert_eq!(user.fields["mobile_phone"], "600000000");

    // description is the one field the pages show as null: accepted, and cleared.
    let (status, body) = send(
        &mock,
        Method::PATCH,
        "s2s/v1/users/u1",
        json!({"status": 2, "description": "vip"}),
    )
    .await;
    assert_eq!((status, &body["description"]), (200, &json!("vip")));
    let (status, body) = send(
        &mock,
        Method::PATCH,
        "s2s/v1/users/u1",
        json!({"status": 2, "description": null}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.get("description").is_none());
}

#[tokio::test]
async fn lenient_options_let_a_bare_patch_and_null_clears_through() {
    use reqwest::Method;
    let mock = start(
        "meetinglawyers",
        MockOptions {
            meetinglawyers_patch_without_status: true,
            null_clears: true,
            ..MockOptions::default()
        },
    )
    .await;
    let ana = json!({"user_id": "u1", "status": 0, "email": "ana@example.com", "gender": 1});
    assert_eq!(send(&mock, Method::POST, "s2s/v1/users", ana).await.0, 201);
    let (status, body) = send(
        &mock,
        Method::PATCH,
        "s2s/v1/users/u1",
        json!({"email": null, "last_name": "Ruiz"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("email").is_none());
    assert_eq!(body["last_name"], "Ruiz");
    assert_eq!(body["status"], 0, "the status stays as it was");
    assert!(!mock.state.user("u1").unwrap().active);

    // Neither option lets a PUT go without status, nor status be cleared.
    let (status, body) = send(&mock, Method::PUT, "s2s/v1/users/u1", json!({"gender": 0})).await;
    assert_eq!(
        (status, error_fields(&body)),
        (400, vec!["status".to_string()])
    );
    let (status, body) = send(
        &mock,
        Method::PATCH,
        "s2s/v1/users/u1",
        json!({"status": null}),
    )
    .await;
    assert_eq!(
        (status, error_fields(&body)),
        (400, vec!["status".to_string()])
    );
}

#[tokio::test]
async fn reads_answer_the_user_and_headers_must_allow_json() {
    use reqwest::Method;
    let mock = start("meetinglawyers", MockOptions::default()).await;
    let ana = json!({"user_id": "u 1", "status": 4, "country_code": "es",
        "service_language_code": "EN", "birthdate": "2000-02-29"});
    assert_eq!(send(&mock, Method::POST, "s2s/v1/users", ana).await.0, 201);
    let read = keys(
        client().get(mock.join("s2s/v1/users/u%201")),
        DEMO_API_KEY,
        DEMO_SECRET_KEY,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        json(read).await,
        json!({"user_id": "u 1", "status": 4, "country_code": "es",
            "service_language_code": "EN", "birthdate": "2000-02-29"})
    );
    let ghost = keys(
        client().get(mock.join("s2s/v1/users/ghost")),
        DEMO_API_KEY,
        DEMO_SECRET_KEY,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ghost.status(), 404);

    let as_text = keys(
        client().patch(mock.join("s2s/v1/users/u%201")),
        DEMO_API_KEY,
        DEMO_SECRET_KEY,
    )
    .header("content-type", "text/plain")
    .body(r#"{"status": 0}"#)
    .send()
    .await
    .unwrap();
    assert_eq!(as_text.status(), 400);
    let wants_html = keys(
        client().get(mock.join("s2s/v1/users/u%201")),
        DEMO_API_KEY,
        DEMO_SECRET_KEY,
    )
    .header("accept", "text/html")
    .send()
    .await
    .unwrap();
    assert_eq!(wants_html.status(), 406);
    assert!(mock.state.user("u 1").unwrap().active);

    let bad_date = json!({"user_id": "u2", "status": 2, "birthdate": "2001-02-29"});
    let (status, body) = send(&mock, Method::POST, "s2s/v1/users", bad_date).await;
    assert_eq!(
        (status, error_fields(&body)),
        (400, vec!["birthdate".to_string()])
    );
}
