//! GNOSS: `user/` routes behind OAuth 1.0, plain-text errors, nonce and timestamp checks.

use crate::support::page_examples::GNOSS_MODIFY_USER;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use usersync::mock::gnoss::{
    DEMO_CONSUMER_KEY, DEMO_CONSUMER_SECRET, DEMO_TOKEN, DEMO_TOKEN_SECRET,
};
use usersync::mock::{Change, MockHandle, MockOptions};
use usersync::provider::gnoss::oauth::{self, OAuthKeys, SigningStyle};

use super::{client, json, start};

const COMMUNITY: &str = "1ede819e-9d0f-41e9-855b-bbebc7f08dd1";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `Authorization` header for `method url`, signed with the demo keys but `consumer_secret`.
fn signed(
    style: SigningStyle,
    method: &str,
    url: &url::Url,
    consumer_secret: &str,
    timestamp: u64,
    nonce: &str,
) -> String {
    let keys = OAuthKeys {
        consumer_key: DEMO_CONSUMER_KEY,
        consumer_secret,
        token: DEMO_TOKEN,
        token_secret: DEMO_TOKEN_SECRET,
    };
    oauth::authorization_header(style, method, url, &keys, timestamp, nonce)
}

/// POSTs `body` to `path`, signed GNOSS's way with the demo keys and a fresh nonce.
async fn post(mock: &MockHandle, path: &str, body: serde_json::Value) -> reqwest::Response {
    post_raw(mock, path, &body.to_string()).await
}

async fn text(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, resp.text().await.unwrap())
}

#[tokio::test]
async fn create_modify_block_unblock_read_and_delete() {
    let mock = start("gnoss", MockOptions::default()).await;
    let person = json!({"name": "Ana", "last_name": "Ruiz", "email": "ana@example.com",
        "password": "secret1", "community_id": COMMUNITY});

    let created = post(&mock, "user/create-user", person.clone()).await;
    assert_eq!(created.status(), 200);
    let guid = json(created).await.as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&guid).is_ok());

    let (status, content_type, message) =
        text(post(&mock, "user/create-user", person.clone()).await).await;
    assert_eq!(status, 400);
    assert!(content_type.starts_with("text/plain"));
    assert_eq!(message, "The email is already being used");

    let missing = post(&mock, "user/create-user", json!({"name": "Sin"})).await;
    let (status, _, message) = text(missing).await;
    assert_eq!(status, 400);
    assert!(message.contains("email") && message.contains("last_name"));

    let mut odd = person.clone();
    odd["email"] = json!("eva@example.com");
    odd["sex"] = json!("X");
    let (status, _, message) = text(post(&mock, "user/create-user", odd).await).await;
    assert_eq!(status, 400);
    assert!(message.starts_with("sex: "), "{message}");

    let modify = json!({"user_id": guid, "community_id": COMMUNITY, "city": "Madrid", "name": ""});
    assert_eq!(post(&mock, "user/modify-user", modify).await.status(), 200);
    let user = mock.state.user(&guid).unwrap();
    assert_eq!(user.fields["city"], "Madrid");
    assert_eq!(user.fields["name"], "Ana", "empty fields are skipped");
    assert_eq!(user.count(Change::Patch), 1);

    let elsewhere =
        json!({"user_id": guid, "community_id": uuid::Uuid::nil().to_string(), "city": "Bilbao"});
    let (status, _, message) = text(post(&mock, "user/modify-user", elsewhere).await).await;
    assert_eq!(status, 400);
    assert_eq!(message, "The user does not participate in the community");

    let member = json!({"user_id": guid, "community_id": COMMUNITY});
    assert_eq!(
        post(&mock, "user/block", member.clone()).await.status(),
        200
    );
    assert!(!mock.state.user(&guid).unwrap().active);

    let url = mock.join(&format!("user/get-by-id?user_id={guid}"));
    let auth = signed(
        SigningStyle::Gnoss,
        "GET",
        &url,
        DEMO_CONSUMER_SECRET,
        now(),
        &oauth::new_nonce(),
    );
    let read = client()
        .get(url)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    let read = json(read).await;
    assert_eq!(read["blocked"], true);
    assert_eq!(read["user_id"], guid.as_str());
    assert!(read.get("password").is_none());

    assert_eq!(post(&mock, "user/unblock", member).await.status(), 200);
    let user = mock.state.user(&guid).unwrap();
    assert!(user.active);
    assert_eq!(user.count(Change::Deactivate), 1);
    assert_eq!(user.count(Change::Reactivate), 1);

    let delete = post(&mock, "user/delete-user", json!({"user_id": guid})).await;
    assert_eq!(delete.status(), 200);
    assert!(mock.state.users().is_empty());
    let (status, _, message) = text(
        post(
            &mock,
            "user/block",
            json!({"user_id": guid,
        "community_id": COMMUNITY}),
        )
        .await,
    )
    .await;
    assert_eq!((status, message.as_str()), (400, "The user does not exist"));
}

#[tokio::test]
async fn refuses_a_wrong_secret_a_replayed_nonce_and_a_stale_timestamp() {
    let mock = start("gnoss", MockOptions::default()).await;
    let url = mock.join("user/create-user");
    let body = json!({"name": "Ana", "last_name": "Ruiz", "email": "ana@example.com",
        "community_id": COMMUNITY});
    let send = |auth: String| {
        client()
            .post(url.clone())
            .header("Authorization", auth)
            .json(&body)
            .send()
    };

    let wrong = signed(SigningStyle::Gnoss, "POST", &url, "wrong", now(), "n-1");
    let (status, content_type, message) = text(send(wrong).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(content_type.starts_with("text/plain"));
    assert!(message.contains("signature"), "{message}");
    assert!(!message.contains(DEMO_CONSUMER_SECRET));

    let stale = signed(
        SigningStyle::Gnoss,
        "POST",
        &url,
        DEMO_CONSUMER_SECRET,
        now() - 11 * 60,
        "n-2",
    );
    let (status, _, message) = text(send(stale).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(message.contains("timestamp"), "{message}");

    let good = signed(
        SigningStyle::Gnoss,
        "POST",
        &url,
        DEMO_CONSUMER_SECRET,
        now(),
        "n-3",
    );
    assert_eq!(send(good.clone()).await.unwrap().status(), 200);
    let (status, _, message) = text(send(good).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(message.contains("nonce"), "{message}");

    let unsigned = client().post(url.clone()).json(&body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_eq!(mock.state.users().len(), 1);
}

#[tokio::test]
async fn rfc5849_signing_is_checked_when_asked_for() {
    let mock = start(
        "gnoss",
        MockOptions {
            signing: SigningStyle::Rfc5849,
            ..MockOptions::default()
        },
    )
    .await;
    let url = mock.join("user/get-by-email?email=nobody%40example.com");
    let get = |style: SigningStyle, nonce: &str| {
        let auth = signed(style, "GET", &url, DEMO_CONSUMER_SECRET, now(), nonce);
        client()
            .get(url.clone())
            .header("Authorization", auth)
            .send()
    };
    // GNOSS's way leaves the query out of the signature: a strict server refuses it.
    assert_eq!(get(SigningStyle::Gnoss, "g").await.unwrap().status(), 401);
    let (status, _, message) = text(get(SigningStyle::Rfc5849, "r").await.unwrap()).await;
    assert_eq!((status, message.as_str()), (400, "The user does not exist"));
}

/// The user the page's sample names.
const PAGE_USER: &str = "50b7615f-e32d-469d-ad93-d5829ab983ef";

/// POSTs the raw JSON `body` to `path`, signed GNOSS's way with the demo keys.
async fn post_raw(mock: &MockHandle, path: &str, body: &str) -> reqwest::Response {
    let url = mock.join(path);
    let auth = signed(
        SigningStyle::Gnoss,
        "POST",
        &url,
        DEMO_CONSUMER_SECRET,
        now(),
        &oauth::new_nonce(),
    );
    client()
        .post(url)
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// GETs `path_and_query`, signed GNOSS's way (as a GET over the URL without its query).
async fn get(mock: &MockHandle, path_and_query: &str) -> reqwest::Response {
    let url = mock.join(path_and_query);
    let mut unsigned_url = url.clone();
    unsigned_url.set_query(None);
    let auth = signed(
        SigningStyle::Gnoss,
        "GET",
        &unsigned_url,
        DEMO_CONSUMER_SECRET,
        now(),
        &oauth::new_nonce(),
    );
    client()
        .get(url)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap()
}

/// A mock holding one user with the GUID `id`, in `COMMUNITY`, with `fields` (seeded through
/// the store's import, since the mock hands out its own GUIDs on create).
async fn mock_with_user(id: &str, fields: serde_json::Value) -> MockHandle {
    let mock = start("gnoss", MockOptions::default()).await;
    let seeded = json!([{"id": id, "active": true, "fields": fields, "counts": {},
        "last_fields": [], "history": []}]);
    mock.state
        .import_users(serde_json::from_value(seeded).unwrap());
    mock
}

#[tokio::test]
async fn accepts_the_pages_modify_user_sample_as_written() {
    let mock = mock_with_user(
        PAGE_USER,
        json!({"user_id": PAGE_USER, "community_id": COMMUNITY, "name": "Johnny",
            "email": "john@old.example.com", "password": "secret1"}),
    )
    .await;
    let (status, _, message) =
        text(post_raw(&mock, "user/modify-user", GNOSS_MODIFY_USER).await).await;
    assert_eq!((status, message.as_str()), (200, ""));
    let user = mock.state.user(PAGE_USER).unwrap();
    assert_eq!(user.count(Change::Patch), 1);
    let sample: serde_json::Value = serde_json::from_str(GNOSS_MODIFY_USER).unwrap();
    for (field, value) in sample.as_object().unwrap() {
        assert_eq!(&user.fields[field.as_str()], value, "{field}");
    }

    // And the user can be found by the new email, with their GUID and without the password.
    let found = get(
        &mock,
        "user/get-by-email?email=johnvandervar%40organization.com",
    )
    .await;
    assert_eq!(found.status(), 200);
    let found = json(found).await;
    assert_eq!(found["user_id"], PAGE_USER);
    assert_eq!(found["name"], "John");
    assert_eq!(found["city"], "Madrid");
    assert_eq!(found["blocked"], false);
    assert!(found.get("password").is_none(), "{found}");
}

#[tokio::test]
async fn refuses_a_modify_user_whose_user_id_is_not_a_guid() {
    let mock = mock_with_user(
        PAGE_USER,
        json!({"user_id": PAGE_USER, "community_id": COMMUNITY, "name": "Johnny"}),
    )
    .await;
    let sample = GNOSS_MODIFY_USER.replace(PAGE_USER, "E00001");
    let (status, content_type, message) =
        text(post_raw(&mock, "user/modify-user", &sample).await).await;
    assert_eq!(status, 400);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(message.starts_with("user_id: "), "{message}");
    let user = mock.state.user(PAGE_USER).unwrap();
    assert_eq!(user.fields["name"], "Johnny", "nothing changed");
    assert_eq!(user.count(Change::Patch), 0);

    let bad_community =
        json!({"user_id": PAGE_USER, "community_id": "developers", "city": "Bilbao"});
    let (status, _, message) = text(post(&mock, "user/modify-user", bad_community).await).await;
    assert_eq!(status, 400);
    assert!(message.starts_with("community_id: "), "{message}");
}

#[tokio::test]
async fn refuses_values_of_the_wrong_type_and_ignores_unknown_fields() {
    let mock = mock_with_user(
        PAGE_USER,
        json!({"user_id": PAGE_USER, "community_id": COMMUNITY, "name": "John"}),
    )
    .await;
    let wrong = json!({"user_id": PAGE_USER, "community_id": COMMUNITY,
        "born_date": "01/02/1985", "receive_newsletter": "no", "num_access": "many"});
    let (status, _, message) = text(post(&mock, "user/modify-user", wrong).await).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = message
        .lines()
        .map(|line| line.split(':').next().unwrap())
        .collect();
    assert_eq!(fields, ["born_date", "receive_newsletter", "num_access"]);

    let extra = json!({"user_id": PAGE_USER, "community_id": COMMUNITY, "city": "Bilbao",
        "favourite_colour": "blue"});
    assert_eq!(post(&mock, "user/modify-user", extra).await.status(), 200);
    let user = mock.state.user(PAGE_USER).unwrap();
    assert_eq!(user.fields["city"], "Bilbao");
    assert!(user.fields.get("favourite_colour").is_none());
}

#[tokio::test]
async fn get_by_email_answers_the_user_or_the_user_does_not_exist() {
    let mock = start("gnoss", MockOptions::default()).await;
    let person = json!({"name": "Ana", "last_name": "Ruiz", "email": "ana@example.com",
        "password": "secret1", "community_id": COMMUNITY});
    let guid = json(post(&mock, "user/create-user", person).await).await;

    let found = get(&mock, "user/get-by-email?email=ANA%40example.com").await;
    assert_eq!(found.status(), 200);
    let found = json(found).await;
    assert!(found.is_object());
    assert_eq!(found["user_id"], guid);
    assert_eq!(found["email"], "ana@example.com");
    assert_eq!(found["last_name"], "Ruiz");
    assert!(found.get("password").is_none(), "{found}");

    let (status, content_type, message) =
        text(get(&mock, "user/get-by-email?email=nobody%40example.com").await).await;
    assert_eq!(status, 400);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(message, "The user does not exist");

    let url = mock.join("user/get-by-email?email=ana%40example.com");
    let unsigned = client().get(url).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
}
