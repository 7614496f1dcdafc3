//! SCIM 2.0: the Users routes, filters, PATCH and the discovery routes behind a bearer token,
//! driven as an identity platform's client would (RFC 7644).

use serde_json::{json, Value};
use usersync::mock::scim::DEMO_TOKEN;
use usersync::mock::{Change, MockHandle, MockOptions};
use usersync::provider::Credentials;

use super::{client, json, start};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

fn send(req: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    req.bearer_auth(DEMO_TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(body.to_string())
}

async fn post_user(mock: &MockHandle, body: Value) -> reqwest::Response {
    send(client().post(mock.join("Users")), &body)
        .send()
        .await
        .unwrap()
}

async fn get(mock: &MockHandle, path: &str) -> reqwest::Response {
    client()
        .get(mock.join(path))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .unwrap()
}

async fn patch(mock: &MockHandle, id: &str, operations: Value) -> reqwest::Response {
    let body = json!({"schemas": [PATCH_OP], "Operations": operations});
    send(client().patch(mock.join(&format!("Users/{id}"))), &body)
        .send()
        .await
        .unwrap()
}

/// Creates a user and gives its id.
async fn create(mock: &MockHandle, user_name: &str, external_id: &str, work_email: &str) -> String {
    let resp = post_user(
        mock,
        json!({"schemas": [CORE], "userName": user_name, "externalId": external_id,
            "active": true, "name": {"givenName": "Ana", "familyName": "Ruiz"},
            "emails": [{"type": "work", "value": work_email, "primary": true},
                       {"type": "home", "value": format!("home-{work_email}")}]}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    json(resp).await["id"].as_str().unwrap().to_string()
}

/// The `scimType` of an error answer, after checking its status and RFC 7644 §3.12 shape.
async fn scim_type(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(
        resp.headers()["content-type"],
        "application/scim+json",
        "errors are SCIM bodies"
    );
    let body = json(resp).await;
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], json!(status.to_string()), "{body}");
    body["scimType"].clone()
}

/// The `userName`s of a list answer, after checking its shape.
async fn listed(resp: reqwest::Response) -> (u64, Vec<String>) {
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    let names: Vec<String> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(body["itemsPerPage"], json!(names.len()));
    (body["totalResults"].as_u64().unwrap(), names)
}

#[tokio::test]
async fn create_answers_the_resource_and_refuses_a_taken_user_name() {
    let mock = start("scim", MockOptions::default()).await;
    let created = post_user(
        &mock,
        json!({"schemas": [CORE], "userName": "ana@example.com", "externalId": "E1",
            "id": "chosen-by-client", "meta": {"version": "W/\"99\""}}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let etag = created.headers()["etag"].to_str().unwrap().to_string();
    let body = json(created).await;
    let id = body["id"].as_str().unwrap();
    assert_ne!(id, "chosen-by-client", "id is readOnly: ignored on create");
    assert_eq!(location, mock.join(&format!("Users/{id}")).as_str());
    assert_eq!(body["meta"]["location"], json!(location));
    assert_eq!(body["meta"]["resourceType"], "User");
    assert_eq!(body["meta"]["version"], json!(etag));
    assert_eq!(etag, "W/\"1\"");
    assert!(body["meta"]["created"].is_string());
    assert_eq!(body["userName"], "ana@example.com");

    let fetched = get(&mock, &format!("Users/{id}")).await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(json(fetched).await["externalId"], "E1");

    let taken = post_user(
        &mock,
        json!({"schemas": [CORE], "userName": "ANA@Example.com"}),
    )
    .await;
    assert_eq!(scim_type(taken, 409).await, "uniqueness");
    let no_name = post_user(&mock, json!({"schemas": [CORE], "externalId": "E2"})).await;
    assert_eq!(scim_type(no_name, 400).await, "invalidValue");
    let no_schema = post_user(&mock, json!({"userName": "bea"})).await;
    assert_eq!(scim_type(no_schema, 400).await, "invalidSyntax");
    assert_eq!(mock.state.users().len(), 1);
    assert_eq!(mock.state.users()[0].count(Change::Create), 1);

    let unknown = get(&mock, "Users/no-such-id").await;
    assert_eq!(scim_type(unknown, 404).await, Value::Null);
}

#[tokio::test]
async fn filters_find_users_by_external_id_user_name_and_email() {
    let mock = start("scim", MockOptions::default()).await;
    create(&mock, "ana", "E1", "ana@example.com").await;
    create(&mock, "bea", "E2", "bea@example.com").await;
    create(&mock, "cris", "E3", "cris@example.com").await;
    let find = |filter: &str| {
        let url = format!("Users?filter={}", urlencode(filter));
        let mock = &mock;
        async move { listed(get(mock, &url).await).await }
    };

    assert_eq!(find(r#"externalId eq "E2""#).await, (1, vec!["bea".into()]));
    assert_eq!(
        find(r#"externalId eq "e2""#).await.0,
        0,
        "externalId is case-exact"
    );
    assert_eq!(
        find(r#"userName eq "CRIS""#).await,
        (1, vec!["cris".into()])
    );
    assert_eq!(
        find(r#"emails[type eq "work" and value eq "Ana@Example.com"]"#).await,
        (1, vec!["ana".into()])
    );
    assert_eq!(
        find(r#"emails[type eq "work" and value eq "home-ana@example.com"]"#)
            .await
            .0,
        0
    );
    assert_eq!(
        find(r#"externalId eq "E9" or userName eq "bea""#).await,
        (1, vec!["bea".into()])
    );

    let page = listed(get(&mock, "Users?startIndex=2&count=1").await).await;
    assert_eq!(page, (3, vec!["bea".into()]));
    let none = listed(get(&mock, "Users?count=0").await).await;
    assert_eq!(none, (3, vec![]));

    let bad = get(
        &mock,
        &format!("Users?filter={}", urlencode("userName co \"a\"")),
    )
    .await;
    assert_eq!(scim_type(bad, 400).await, "invalidFilter");
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn patch_replaces_and_removes_and_is_atomic() {
    let mock = start("scim", MockOptions::default()).await;
    let id = create(&mock, "ana", "E1", "ana@example.com").await;

    let replaced = patch(
        &mock,
        &id,
        json!([
            {"op": "replace", "path": "name.familyName", "value": "Ruiz Gil"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ana.ruiz@example.com"},
            {"op": "remove", "path": "emails[type eq \"home\"]"}
        ]),
    )
    .await;
    assert_eq!(replaced.status(), 200);
    let body = json(replaced).await;
    assert_eq!(body["name"]["familyName"], "Ruiz Gil");
    assert_eq!(
        body["name"]["givenName"], "Ana",
        "other sub-attributes are kept"
    );
    assert_eq!(
        body["emails"],
        json!([{"type": "work", "value": "ana.ruiz@example.com", "primary": true}])
    );
    assert_eq!(body["meta"]["version"], "W/\"2\"");

    // The first operation would deactivate; the second matches nothing: nothing changes.
    let no_target = patch(
        &mock,
        &id,
        json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@example.com"}
        ]),
    )
    .await;
    assert_eq!(scim_type(no_target, 400).await, "noTarget");
    let user = mock.state.user(&id).unwrap();
    assert!(user.active);
    assert_eq!(user.fields["emails"].as_array().unwrap().len(), 1);

    let read_only = patch(
        &mock,
        &id,
        json!([{"op": "replace", "path": "id", "value": "x"}]),
    )
    .await;
    assert_eq!(scim_type(read_only, 400).await, "mutability");
    let unknown = patch(
        &mock,
        "no-such-id",
        json!([{"op": "remove", "path": "title"}]),
    )
    .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_lenient_mock_adds_what_a_replace_filter_does_not_find() {
    let opts = MockOptions {
        scim_replace_adds: true,
        ..MockOptions::default()
    };
    let mock = start("scim", opts).await;
    let id = create(&mock, "ana", "E1", "ana@example.com").await;
    let added = patch(
        &mock,
        &id,
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+34 600 000 000"}]),
    )
    .await;
    assert_eq!(added.status(), 200);
    assert_eq!(
        json(added).await["phoneNumbers"],
        json!([{"type": "work", "value": "+34 600 000 000"}])
    );
}

#[tokio::test]
async fn patch_active_false_deactivates_and_delete_removes() {
    let mock = start("scim", MockOptions::default()).await;
    let id = create(&mock, "ana", "E1", "ana@example.com").await;
    let off = patch(
        &mock,
        &id,
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await;
    assert_eq!(off.status(), 200);
    assert_eq!(json(off).await["active"], false);
    let user = mock.state.user(&id).unwrap();
    assert!(!user.active);
    assert_eq!(user.count(Change::Deactivate), 1);
    assert_eq!(user.last_fields, vec!["active"]);

    let stale = client()
        .delete(mock.join(&format!("Users/{id}")))
        .bearer_auth(DEMO_TOKEN)
        .header("If-Match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(scim_type(stale, 412).await, Value::Null);
    let deleted = client()
        .delete(mock.join(&format!("Users/{id}")))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(get(&mock, &format!("Users/{id}")).await.status(), 404);
    assert!(mock.state.users().is_empty());
}

#[tokio::test]
async fn put_replaces_every_attribute_but_the_read_only_ones() {
    let mock = start("scim", MockOptions::default()).await;
    let id = create(&mock, "ana", "E1", "ana@example.com").await;
    let put = send(
        client().put(mock.join(&format!("Users/{id}"))),
        &json!({"schemas": [CORE], "id": "other", "userName": "ana", "active": false}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(put.status(), 200);
    let body = json(put).await;
    assert_eq!(body["id"], json!(id));
    assert!(body.get("emails").is_none() && body.get("externalId").is_none());
    assert_eq!(mock.state.user(&id).unwrap().count(Change::Deactivate), 1);
}

#[tokio::test]
async fn refused_tokens_and_media_types() {
    let mock = start("scim", MockOptions::default()).await;
    let none = client().get(mock.join("Users")).send().await.unwrap();
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_eq!(scim_type(none, 401).await, Value::Null);
    let wrong = client()
        .get(mock.join("ServiceProviderConfig"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let plain = client()
        .post(mock.join("Users"))
        .bearer_auth(DEMO_TOKEN)
        .header("Content-Type", "text/plain")
        .body(json!({"schemas": [CORE], "userName": "ana"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 415);
    let as_json = client()
        .post(mock.join("Users"))
        .bearer_auth(DEMO_TOKEN)
        .json(&json!({"schemas": [CORE], "userName": "ana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(as_json.status(), 201, "application/json is accepted too");

    let mut credentials = Credentials::new();
    credentials.insert("token", "given-token");
    let opts = MockOptions {
        credentials,
        ..MockOptions::default()
    };
    let given = start("scim", opts).await;
    let demo = get(&given, "Users").await;
    assert_eq!(demo.status(), 401, "a given token replaces the demo one");
    let ok = client()
        .get(given.join("Users"))
        .bearer_auth("given-token")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn discovery_says_what_the_mock_supports() {
    let mock = start("scim", MockOptions::default()).await;
    let spc = get(&mock, "ServiceProviderConfig").await;
    assert_eq!(spc.status(), 200);
    let spc = json(spc).await;
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], 1000);
    assert_eq!(spc["bulk"]["maxPayloadSize"], 1048576);
    assert_eq!(spc["filter"]["supported"], true);
    assert!(spc["filter"]["maxResults"].as_u64().unwrap() > 0);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["sort"]["supported"], false);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");

    let types = json(get(&mock, "ResourceTypes").await).await;
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types["Resources"][0]["schema"], CORE);
    let schemas = json(get(&mock, "Schemas").await).await;
    assert_eq!(schemas["totalResults"], 2);
    assert_eq!(schemas["Resources"][0]["id"], CORE);
}

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

async fn bulk(mock: &MockHandle, operations: Value) -> reqwest::Response {
    let body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
    send(client().post(mock.join("Bulk")), &body)
        .send()
        .await
        .unwrap()
}

/// RFC 7644 section 3.7: each operation runs as its own request would, and its result says
/// how it went; the request as a whole is refused only beyond the announced limits.
#[tokio::test]
async fn a_bulk_request_runs_each_operation_and_answers_each() {
    let mock = start("scim", MockOptions::default()).await;
    let id = create(&mock, "bea", "E2", "bea@example.com").await;
    let version = json(get(&mock, &format!("Users/{id}")).await).await["meta"]["version"].clone();
    let resp = bulk(
        &mock,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "qwerty",
             "data": {"schemas": [CORE], "userName": "Alice", "externalId": "E1"}},
            {"method": "PATCH", "path": format!("/Users/{id}"), "bulkId": "p1",
             "version": version,
             "data": {"schemas": [PATCH_OP],
                      "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]}},
            {"method": "PATCH", "path": format!("/Users/{id}"), "bulkId": "p2",
             "version": "W/\"stale\"",
             "data": {"schemas": [PATCH_OP],
                      "Operations": [{"op": "replace", "path": "title", "value": "Intern"}]}},
            {"method": "POST", "path": "/Users",
             "data": {"schemas": [CORE], "userName": "nobulkid"}},
            {"method": "POST", "path": "/Users", "bulkId": "dup",
             "data": {"schemas": [CORE], "userName": "ALICE"}},
            {"method": "DELETE", "path": "/Users/no-such-id", "bulkId": "d1"},
        ]),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    let results = body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "200", "412", "400", "409", "404"]);
    assert_eq!(results[0]["bulkId"], "qwerty");
    let location = results[0]["location"].as_str().unwrap();
    let created = location.rsplit('/').next().unwrap();
    let alice = json(get(&mock, &format!("Users/{created}")).await).await;
    assert_eq!(alice["userName"], "Alice");
    assert!(
        results[0].get("response").is_none(),
        "a success carries no response"
    );
    assert!(results[1]["version"].as_str().unwrap() != version.as_str().unwrap());
    assert_eq!(results[4]["response"]["scimType"], "uniqueness");
    let bea = json(get(&mock, &format!("Users/{id}")).await).await;
    assert_eq!(bea["title"], "Boss", "the stale PATCH changed nothing");
}

#[tokio::test]
async fn a_bulk_request_beyond_max_operations_is_refused_whole() {
    let opts = MockOptions {
        scim_bulk_max_operations: 2,
        ..MockOptions::default()
    };
    let mock = start("scim", opts).await;
    let post = |n: u32| {
        json!({"method": "POST", "path": "/Users", "bulkId": n.to_string(),
               "data": {"schemas": [CORE], "userName": format!("u{n}")}})
    };
    let resp = bulk(&mock, json!([post(1), post(2), post(3)])).await;
    assert_eq!(resp.status(), 413);
    let (total, _) = listed(get(&mock, "Users").await).await;
    assert_eq!(total, 0, "nothing of a refused bulk request runs");
    let off = start(
        "scim",
        MockOptions {
            scim_bulk_max_operations: 0,
            ..MockOptions::default()
        },
    )
    .await;
    let spc = json(get(&off, "ServiceProviderConfig").await).await;
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(bulk(&off, json!([post(1)])).await.status(), 501);
}
