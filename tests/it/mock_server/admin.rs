//! `/__mock/users`, `/__mock/stats`, unknown routes and stopping the server.

use serde_json::json;
use usersync::mock::meetinglawyers::{DEMO_API_KEY, DEMO_SECRET_KEY};
use usersync::mock::MockOptions;

use super::{client, json, start};

#[tokio::test]
async fn users_and_stats_show_what_the_mock_was_asked() {
    let mock = start("meetinglawyers", MockOptions::default()).await;
    let http = client();
    let send = |req: reqwest::RequestBuilder, body: serde_json::Value| {
        req.header("Api-Key", DEMO_API_KEY)
            .header("Secret-Key", DEMO_SECRET_KEY)
            .json(&body)
            .send()
    };
    let created = send(
        http.post(mock.join("s2s/v1/users")),
        json!({"user_id": "u1", "status": 2, "email": "a@b.es"}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let patched = send(
        http.patch(mock.join("s2s/v1/users/u1")),
        json!({"coverage_name": "Gold", "status": 2}),
    )
    .await
    .unwrap();
    assert_eq!(patched.status(), 200);
    let refused = http.get(mock.join("s2s/v1/users/u1")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let unknown = http.get(mock.join("nowhere")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    let users = json(http.get(mock.join("__mock/users")).send().await.unwrap()).await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    let user = &users[0];
    assert_eq!(user["id"], "u1");
    assert_eq!(user["active"], true);
    assert_eq!(user["fields"]["coverage_name"], "Gold");
    assert_eq!(user["counts"], json!({"create": 1, "patch": 1}));
    assert_eq!(user["last_fields"], json!(["coverage_name", "status"]));
    assert_eq!(user["history"][0]["method"], "POST");
    assert_eq!(user["history"][0]["path"], "s2s/v1/users");
    assert_eq!(
        user["history"][0]["fields"],
        json!(["email", "status", "user_id"])
    );
    assert_eq!(user["history"][1]["change"], "patch");

    let stats = json(http.get(mock.join("__mock/stats")).send().await.unwrap()).await;
    assert_eq!(stats["requests"], 4, "admin routes are not counted");
    assert_eq!(stats["by_method"]["POST"], 1);
    assert_eq!(stats["by_method"]["GET"], 2);
    assert_eq!(stats["by_route"]["POST /s2s/v1/users"], 1);
    assert_eq!(stats["by_route"]["PATCH /s2s/v1/users/:user_id"], 1);
    assert_eq!(stats["by_route"]["GET unmatched"], 1);
    assert_eq!(stats["by_status"]["201"], 1);
    assert_eq!(stats["by_status"]["401"], 1);
    assert_eq!(stats["by_status"]["404"], 1);
    assert_eq!(stats["by_outcome"]["success"], 2);
    assert_eq!(stats["in_flight"], 0);
    let per_second: u64 = stats["per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(per_second, 4);
}

#[tokio::test]
async fn a_stopped_server_refuses_connections() {
    let mock = start("gnoss", MockOptions::default()).await;
    let url = mock.join("__mock/stats");
    assert_eq!(
        client().get(url.clone()).send().await.unwrap().status(),
        200
    );
    assert!(mock.url.as_str().ends_with('/'));
    mock.stop().await;
    assert!(client().get(url).send().await.is_err());
}
