//! The request examples of the providers' own pages (/work/shared/providers/*.txt), sent as
//! written to the mocks: a mock that refused one would be stricter than the page it is read
//! from. Each body is the page's, copied literally; where the page's example is itself wrong
//! (MeetingLawyers' DNI) or mangled (Abitmedia's e-mail), a comment says what is replaced.

use serde_json::{json, Value};
use usersync::mock::abitmedia::{DEMO_EMAIL, DEMO_PASSWORD};
use usersync::mock::faveo;
use usersync::mock::meetinglawyers::{DEMO_API_KEY, DEMO_SECRET_KEY};
use usersync::mock::{MockHandle, MockOptions};

use super::{client, json, start};
use crate::support::page_examples::{
    meetinglawyers_create_example, meetinglawyers_full_update_example,
    meetinglawyers_partial_update_example, with_valid_dni,
};

async fn meetinglawyers(
    mock: &MockHandle,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let resp = client()
        .request(method, mock.join(path))
        .header("Api-Key", DEMO_API_KEY)
        .header("Secret-Key", DEMO_SECRET_KEY)
        .header("Accept", "application/json")
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), json(resp).await)
}

#[tokio::test]
async fn meetinglawyers_accepts_its_pages_examples() {
    use reqwest::Method;
    let mock = start("meetinglawyers", MockOptions::default()).await;
    let created = with_valid_dni(meetinglawyers_create_example());
    let (status, _) = meetinglawyers(&mock, Method::POST, "s2s/v1/users", &created).await;
    assert_eq!(status, 201);

    let user = "s2s/v1/users/05415506H";
    let full = with_valid_dni(meetinglawyers_full_update_example());
    let (status, body) = meetinglawyers(&mock, Method::PUT, user, &full).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["country_code"], "es");
    let partial = meetinglawyers_partial_update_example();
    let (status, body) = meetinglawyers(&mock, Method::PATCH, user, &partial).await;
    assert_eq!(status, 200, "{body}");

    let read = client()
        .get(mock.join(user))
        .header("Api-Key", DEMO_API_KEY)
        .header("Secret-Key", DEMO_SECRET_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let read = json(read).await;
    assert_eq!(read["user_id"], "05415506H");
    assert_eq!(read["nid_number"], "12345678Z");
    assert_eq!(read["has_video_call_1to1"], 1);
    assert!(read.get("description").is_none(), "description was null");
}

#[tokio::test]
async fn meetinglawyers_refuses_the_examples_wrong_dni() {
    use reqwest::Method;
    let mock = start("meetinglawyers", MockOptions::default()).await;
    let as_written = meetinglawyers_create_example();
    let (status, body) = meetinglawyers(&mock, Method::POST, "s2s/v1/users", &as_written).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["field"], "nid_number");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expected Z"),
        "{body}"
    );
    assert!(mock.state.users().is_empty());

    let created = with_valid_dni(meetinglawyers_create_example());
    meetinglawyers(&mock, Method::POST, "s2s/v1/users", &created).await;
    let user = "s2s/v1/users/05415506H";
    let full = meetinglawyers_full_update_example();
    let (status, body) = meetinglawyers(&mock, Method::PUT, user, &full).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["field"], "nid_number");
}

/// faveo-edit-user.txt gives a parameter table, no body: this is one built from it, with the
/// configurable fields the mock requires by default and one organisation link.
fn faveo_edit_user_example() -> Value {
    json!({
        "first_name": "John",
        "last_name": "Doe",
        "user_name": "john.doe",
        "email": "john.doe@example.com",
        "mobile": "600000000",
        "organization": [1],
        "organisation_department": [2],
        "related": [{"org_id": 1, "org_dept": 2}]
    })
}

#[tokio::test]
async fn faveo_accepts_an_edit_user_body_built_from_its_table() {
    let mock = start("faveo", MockOptions::default()).await;
    let http = client();
    let login = http
        .post(mock.join("v3/api/login"))
        .json(&json!({"email": faveo::DEMO_EMAIL, "password": faveo::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    let token = json(login).await["data"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let example = faveo_edit_user_example();
    let created = http
        .post(mock.join("v3/user/create/api"))
        .bearer_auth(&token)
        .json(&example)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let id = json(created).await["data"]["id"].as_u64().unwrap();

    let updated = http
        .post(mock.join(&format!("v3/user/update/api/{id}")))
        .bearer_auth(&token)
        .json(&example)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    // The page's "Sample JSON Success Response", exactly.
    assert_eq!(
        json(updated).await,
        json!({ "success": true, "message": "Updated Successfully" })
    );
    let user = mock.state.user(&id.to_string()).unwrap();
    assert_eq!(
        user.fields["related"],
        json!([{"org_id": 1, "org_dept": 2}])
    );
}

/// abitmedia-update.txt gives no request body but a response `data`: its fields, as written,
/// plus a password that follows the page's rule. Its e-mail reads "[email protected]", an
/// address hidden by the page's web host; a valid one stands in for it.
fn abitmedia_update_example() -> Value {
    let mut data = json!({
    "id": 1,
    "language": "es",
    "firstName": "John",
    "lastName": "Doe",
    "email": "[email protected]",
    "cellPhoneNumber": "+593984640145",
    "address": "123 Main Street, Apt 4B, New York, NY, 10001",
    "birthday": "1990-05-15",
    "isAbitmedia": false,
    "companies":[
      {
        "companyId": 1,
        "isAdmin": true,
        "roleId": 1
      }
    ],
    "status": 1,
    "createdAt": "2024-01-01 17:50:01",
    "updateAt": "2024-01-01 17:50:01"
    });
    data["email"] = json!("john.doe@example.com");
    data["password"] = json!("Secreta-1!");
    data
}

#[tokio::test]
async fn abitmedia_accepts_its_response_data_as_an_update() {
    let mock = start("abitmedia", MockOptions::default()).await;
    let http = client();
    let auth = http
        .get(mock.join("v1/auth"))
        .basic_auth(DEMO_EMAIL, Some(DEMO_PASSWORD))
        .send()
        .await
        .unwrap();
    let token = json(auth).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let example = abitmedia_update_example();
    let send = |req: reqwest::RequestBuilder| req.bearer_auth(&token).json(&example).send();
    let created = send(http.post(mock.join("administration/v1/users")))
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    assert_eq!(json(created).await["data"]["id"], 1);

    let updated = send(http.put(mock.join("administration/v1/users?id=1")))
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated = json(updated).await;
    assert_eq!(updated["success"], true);
    assert_eq!(updated["status"], 200);
    let mut expected = example.clone();
    for not_echoed in ["password", "createdAt", "updateAt"] {
        expected.as_object_mut().unwrap().remove(not_echoed);
    }
    assert_eq!(updated["data"], expected);
}
