//! Abitmedia: Basic login and refresh on the mock's root, bearer tokens, 422 envelopes.

use serde_json::{json, Value};
use usersync::mock::abitmedia::{DEMO_EMAIL, DEMO_PASSWORD};
use usersync::mock::{Change, MockHandle, MockOptions};

use super::{client, json, start};

fn person(email: &str) -> Value {
    json!({"language": "es", "firstName": "Ana", "lastName": "Ruiz", "email": email,
        "password": "Secreta-1!", "cellPhoneNumber": "+593984535283",
        "address": "Av. Amazonas 1", "birthday": "1990-05-15",
        "companies": [{"companyId": 1, "isAdmin": false, "roleId": 2}]})
}

/// Logs in with the demo credentials: (access token, refresh token).
async fn tokens(mock: &MockHandle) -> (String, String) {
    let resp = client()
        .get(mock.join("v1/auth"))
        .basic_auth(DEMO_EMAIL, Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["expiresIn"], 3600);
    (
        body["accessToken"].as_str().unwrap().to_string(),
        body["refreshToken"].as_str().unwrap().to_string(),
    )
}

async fn send(req: reqwest::RequestBuilder, token: &str, body: Value) -> (u16, Value) {
    let resp = req.bearer_auth(token).json(&body).send().await.unwrap();
    (resp.status().as_u16(), json(resp).await)
}

#[tokio::test]
async fn create_update_by_query_and_path_and_deactivate() {
    let mock = start("abitmedia", MockOptions::default()).await;
    let (token, _) = tokens(&mock).await;
    let http = client();
    let users = mock.join("administration/v1/users");

    let (status, body) = send(http.post(users.clone()), &token, person("ana@example.com")).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["id"], 1);
    assert_eq!(body["data"]["status"], 1, "status defaults to 1");
    assert!(body["data"].get("password").is_none());

    let (status, body) = send(http.post(users.clone()), &token, person("ANA@example.com")).await;
    assert_eq!(status, 422);
    assert_eq!(body["data"][0]["field"], "email");
    assert!(body["data"][0]["message"]
        .as_str()
        .unwrap()
        .contains("ya existe"));

    let mut weak = person("eva@example.com");
    weak["password"] = json!("weak");
    let (status, body) = send(http.post(users.clone()), &token, weak).await;
    assert_eq!(status, 422);
    assert_eq!(body["data"][0]["field"], "password");

    let mut changed = person("ana@example.com");
    changed["address"] = json!("Calle Nueva 2");
    let by_query = http.put(mock.join("administration/v1/users?id=1"));
    let (status, body) = send(by_query, &token, changed.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["address"], "Calle Nueva 2");

    // A sync never resends a password: an update without one is accepted (by the path here),
    // and the stored password stays.
    let mut partial = changed.clone();
    partial.as_object_mut().unwrap().remove("password");
    partial["address"] = json!("Calle Nueva 3");
    let by_path = http.put(mock.join("administration/v1/users/1"));
    let (status, body) = send(by_path, &token, partial.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["address"], "Calle Nueva 3");
    assert!(body["data"].get("password").is_none());

    // Every other required field must still be sent: status alone is refused, by name.
    let status_only = http.put(mock.join("administration/v1/users/1"));
    let (status, body) = send(status_only, &token, json!({"status": 0})).await;
    assert_eq!(status, 422);
    assert_eq!(body["success"], false);
    let mut missing: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    missing.sort_unstable();
    assert_eq!(
        missing,
        [
            "address",
            "birthday",
            "cellPhoneNumber",
            "companies",
            "email",
            "firstName",
            "language",
            "lastName"
        ]
    );
    assert!(mock.state.user("1").unwrap().active);

    let mut leaving = partial.clone();
    leaving["status"] = json!(0);
    let deactivate = http.put(mock.join("administration/v1/users/1"));
    let (status, _) = send(deactivate, &token, leaving.clone()).await;
    assert_eq!(status, 200);
    let user = mock.state.user("1").unwrap();
    assert!(!user.active);
    assert_eq!(user.fields["address"], "Calle Nueva 3");
    assert_eq!(user.fields["password"], "Secreta-1!");
    assert_eq!(user.count(Change::Create), 1);
    assert_eq!(user.count(Change::Update), 2);
    assert_eq!(user.count(Change::Deactivate), 1);

    let ghost = http.put(mock.join("administration/v1/users?id=42"));
    assert_eq!(send(ghost, &token, leaving).await.0, 404);
}

#[tokio::test]
async fn tokens_expire_refresh_and_bad_logins_are_refused() {
    let mock = start("abitmedia", MockOptions::default()).await;
    let http = client();
    let bad = http
        .get(mock.join("v1/auth"))
        .basic_auth(DEMO_EMAIL, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let anonymous = http.get(mock.join("v1/auth")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let (token, refresh) = tokens(&mock).await;
    let users = mock.join("administration/v1/users");
    let (status, body) = send(http.post(users.clone()), "not-a-token", person("a@x.ec")).await;
    assert_eq!((status, body["success"].clone()), (401, json!(false)));

    let expire = http.post(mock.join("__mock/expire-tokens")).send().await;
    assert_eq!(expire.unwrap().status(), 204);
    let (status, body) = send(http.post(users.clone()), &token, person("a@x.ec")).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Token expirado");

    let renewed = http
        .post(mock.join("v1/refreshToken"))
        .json(&json!({ "refreshToken": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
    let fresh = json(renewed).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        send(http.post(users), &fresh, person("a@x.ec")).await.0,
        200
    );

    let reused = http
        .post(mock.join("v1/refreshToken"))
        .json(&json!({ "refreshToken": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), 401, "a refresh token works once");
}

#[tokio::test]
async fn reads_by_id_answer_the_user_without_its_password() {
    let mock = start("abitmedia", MockOptions::default()).await;
    let (token, _) = tokens(&mock).await;
    let http = client();
    let (status, created) = send(
        http.post(mock.join("administration/v1/users")),
        &token,
        person("ana@example.com"),
    )
    .await;
    assert_eq!(status, 200);
    for path in ["administration/v1/users?id=1", "administration/v1/users/1"] {
        let resp = http
            .get(mock.join(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let body = json(resp).await;
        assert_eq!(body["success"], true);
        assert_eq!(body["status"], 200);
        assert_eq!(body["data"], created["data"], "{path}");
        assert_eq!(body["data"]["email"], "ana@example.com");
        assert!(body["data"].get("password").is_none(), "{path}");
    }
    for ghost in ["administration/v1/users?id=7", "administration/v1/users/7"] {
        let resp = http
            .get(mock.join(ghost))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{ghost}");
        let body = json(resp).await;
        assert_eq!(
            (body["success"].clone(), body["status"].clone()),
            (json!(false), json!(404))
        );
    }
    let anonymous = http
        .get(mock.join("administration/v1/users/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn the_history_shows_which_requests_carried_a_password() {
    let mock = start(
        "abitmedia",
        MockOptions {
            abitmedia_status_only_update: true,
            ..MockOptions::default()
        },
    )
    .await;
    let (token, _) = tokens(&mock).await;
    let http = client();
    let users = mock.join("administration/v1/users");
    assert_eq!(
        send(http.post(users), &token, person("ana@example.com"))
            .await
            .0,
        200
    );
    let mut update = person("ana@example.com");
    update.as_object_mut().unwrap().remove("password");
    let put = |body| {
        send(
            http.put(mock.join("administration/v1/users/1")),
            &token,
            body,
        )
    };
    assert_eq!(put(update).await.0, 200);
    // Accepted only because the option asks for it: the status changes, nothing else.
    let (status, body) = put(json!({"status": 0})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["firstName"], "Ana");
    assert_eq!(body["data"]["status"], 0);
    assert_eq!(put(json!({"status": 5})).await.0, 422);

    let listed = json(http.get(mock.join("__mock/users")).send().await.unwrap()).await;
    let history = listed[0]["history"].as_array().unwrap();
    let carried: Vec<(String, bool)> = history
        .iter()
        .map(|r| {
            let fields = r["fields"].as_array().unwrap();
            (
                r["change"].as_str().unwrap().to_string(),
                fields.contains(&json!("password")),
            )
        })
        .collect();
    assert_eq!(
        carried,
        [
            ("create".to_string(), true),
            ("update".to_string(), false),
            ("deactivate".to_string(), false)
        ]
    );
    assert_eq!(listed[0]["active"], false);
}
