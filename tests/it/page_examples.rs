//! The providers' own request examples as tests of what usersync sends: given an export row
//! holding an example's values, `usersync sync` (the binary) sends a body equal to the example,
//! but for what it is told not to send. The bodies are caught by a recording server that
//! answers each provider's documented success and checks nothing, so the comparison is with
//! the page alone. (That each mock accepts the same examples: `mock_server::page_examples`.)
//!
//! The examples, copied from `shared/providers/`:
//! - MeetingLawyers create, full update and partial update (`meetinglawyers-*.txt`). The
//!   examples' DNI `12345678A` has a wrong check letter, which usersync rejects: the rows carry
//!   `12345678Z`. `country_code` is compared without case (the create example writes `ES`, the
//!   update example `es`; usersync sends ISO 3166's upper case).
//! - GNOSS modify-user (`gnoss-modify-user.txt`).
//! - Faveo edit user (`faveo-edit-user.txt`): the page gives a parameter table, not a body; the
//!   body is built from the table.
//! - Abitmedia update (`abitmedia-update.txt`): the page shows no request body; the user of its
//!   answer is the example, less what a `PUT` does not take (`id`, timestamps) and the password,
//!   which usersync sends on create only.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::support::page_examples::{
    meetinglawyers_create_example, meetinglawyers_full_update_example,
    meetinglawyers_partial_update_example, with_valid_dni, GNOSS_MODIFY_USER,
};
use crate::support::{demo_env, usersync};

/// One request the recorder received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    body: Value,
}

/// A server on 127.0.0.1 that records every request and answers with `answer(method, path)`.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    _runtime: tokio::runtime::Runtime,
}

type Answer = fn(&str, &str) -> (u16, String);

impl Recorder {
    fn start(answer: Answer) -> Recorder {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let log = log.clone();
            async move {
                let method = request.method().to_string();
                let path = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default();
                let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap_or_default();
                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                log.lock().unwrap().push(Recorded {
                    method: method.clone(),
                    path: path.clone(),
                    body,
                });
                let (status, text) = answer(&method, &path);
                (
                    http::StatusCode::from_u16(status).unwrap(),
                    [(http::header::CONTENT_TYPE, "application/json")],
                    text,
                )
            }
        });
        runtime.spawn(async move { axum::serve(listener, app).await });
        Recorder {
            url,
            seen,
            _runtime: runtime,
        }
    }

    /// The requests so far whose path starts with `prefix` (after the leading slash).
    fn to(&self, prefix: &str) -> Vec<Recorded> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.trim_start_matches('/').starts_with(prefix))
            .cloned()
            .collect()
    }
}

/// A directory with `config` and a JSONL export per night.
struct Setup {
    dir: tempfile::TempDir,
    provider: &'static str,
}

impl Setup {
    fn new(provider: &'static str, config: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("usersync.toml"), config).unwrap();
        Setup { dir, provider }
    }

    /// Syncs `rows` (one JSON object each) to `recorder`; the run must go through.
    fn sync(&self, recorder: &Recorder, rows: &[Value], extra: &[&str]) {
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(self.dir.path().join("export.jsonl"), text).unwrap();
        let out = usersync(self.dir.path())
            .args(["sync", "export.jsonl", "-c", "usersync.toml", "-t", "t"])
            .args(["--base-url", &recorder.url])
            .args(extra)
            .envs(demo_env(self.provider))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Creates the user of `row` at a recorder answering `answer`, then syncs them again with
/// `--full`, for a target `t` of `provider` whose `[targets.t]` lines are `target` and whose
/// fields map each of `row`'s keys from the export's key of the same name.
fn created_then_full(
    provider: &'static str,
    target: &str,
    row: &Value,
    answer: Answer,
) -> Recorder {
    let fields: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let config = format!(
        "[targets.t]\nprovider = \"{provider}\"\nbase_url = \"mock\"\n{target}\n\
         [targets.t.fields]\n{}",
        one_to_one(&fields)
    );
    let recorder = Recorder::start(answer);
    let setup = Setup::new(provider, &config);
    setup.sync(&recorder, std::slice::from_ref(row), &[]);
    setup.sync(&recorder, std::slice::from_ref(row), &["--full"]);
    recorder
}

/// `[targets.t.fields]` mapping each of `fields` from the export's key of the same name.
fn one_to_one(fields: &[&str]) -> String {
    fields.iter().map(|f| format!("{f} = \"{f}\"\n")).collect()
}

/// `a` and `b` as objects, `country_code` lower-cased in both.
fn without_country_case(mut a: Value, mut b: Value) -> (Value, Value) {
    for v in [&mut a, &mut b] {
        if let Some(code) = v.get("country_code").and_then(Value::as_str) {
            let lower = code.to_lowercase();
            v["country_code"] = json!(lower);
        }
    }
    (a, b)
}

const ML_FIELDS: &[&str] = &[
    "user_id",
    "status",
    "email",
    "nid_number",
    "first_name",
    "last_name",
    "gender",
    "birthdate",
    "mobile_phone",
    "coverage_name",
    "contract_number",
    "service_language_code",
    "description",
    "has_video_call",
    "has_video_call_1to1",
    "country_code",
    "ml_group_name",
    "md_group_name",
];

fn ml_setup() -> Setup {
    let config = format!(
        "[targets.t]\nprovider = \"meetinglawyers\"\nbase_url = \"mock\"\n\
         credentials = {{ api_key = \"ML_API_KEY\", secret_key = \"ML_SECRET_KEY\" }}\n\
         key = \"user_id\"\n[targets.t.fields]\n{}",
        one_to_one(ML_FIELDS)
    );
    Setup::new("meetinglawyers", &config)
}

fn ml_answer(method: &str, _path: &str) -> (u16, String) {
    let status = if method == "POST" { 201 } else { 200 };
    (status, json!({"user_id": "05415506H"}).to_string())
}

/// `meetinglawyers-create.txt`'s example, with a valid DNI.
fn ml_create_example() -> Value {
    with_valid_dni(meetinglawyers_create_example())
}

#[test]
fn meetinglawyers_create_sends_the_page_example() {
    let recorder = Recorder::start(ml_answer);
    let setup = ml_setup();
    setup.sync(&recorder, &[ml_create_example()], &[]);
    let sent = recorder.to("s2s/v1/users");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/s2s/v1/users")
    );
    // A `null` in an export means "not given": a create leaves `description` out.
    let mut expected = ml_create_example();
    expected.as_object_mut().unwrap().remove("description");
    assert_eq!(sent[0].body, expected);
}

#[test]
fn meetinglawyers_full_and_partial_updates_send_the_page_examples() {
    let full = with_valid_dni(meetinglawyers_full_update_example());
    let recorder = Recorder::start(ml_answer);
    let setup = ml_setup();
    // Night 1: the user exists with a description, which the example then clears.
    let mut first = ml_create_example();
    first["description"] = json!("VIP");
    setup.sync(&recorder, &[first], &[]);
    let mut row = full.clone();
    row["user_id"] = json!("05415506H");
    setup.sync(&recorder, std::slice::from_ref(&row), &["--full"]);
    let put = recorder.to("s2s/v1/users/05415506H");
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].method, "PUT");
    let (got, want) = without_country_case(put[0].body.clone(), full);
    assert_eq!(got, want);

    // `{"status": 2}`: the partial update example, for a user whose plan alone changed.
    let mut free = row.clone();
    free["status"] = json!(0);
    setup.sync(&recorder, &[free], &["--full"]);
    setup.sync(&recorder, &[row], &[]);
    let patches: Vec<Recorded> = recorder
        .to("s2s/v1/users/05415506H")
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].body, meetinglawyers_partial_update_example());
}

/// `gnoss-modify-user.txt`'s sample.
fn gnoss_example() -> Value {
    serde_json::from_str(GNOSS_MODIFY_USER).unwrap()
}

#[test]
fn gnoss_modify_user_sends_the_page_example() {
    fn answer(_method: &str, path: &str) -> (u16, String) {
        if path.contains("create-user") {
            (
                200,
                json!("50b7615f-e32d-469d-ad93-d5829ab983ef").to_string(),
            )
        } else {
            (200, String::new())
        }
    }
    let example = gnoss_example();
    let recorder = created_then_full(
        "gnoss",
        "credentials = { consumer_key = \"GNOSS_CONSUMER_KEY\", consumer_secret = \
         \"GNOSS_CONSUMER_SECRET\", token = \"GNOSS_TOKEN\", token_secret = \"GNOSS_TOKEN_SECRET\" }\n\
         key = \"email\"",
        &example,
        answer,
    );
    let modify = recorder.to("user/modify-user");
    assert_eq!(modify.len(), 1);
    assert_eq!(modify[0].method, "POST");
    assert_eq!(modify[0].body, example);
}

#[test]
fn faveo_edit_user_sends_the_page_parameters() {
    fn answer(_method: &str, path: &str) -> (u16, String) {
        let body = if path.contains("login") {
            json!({"success": true, "data": {"token": "t"}})
        } else if path.contains("create") {
            json!({"success": true, "message": "Created", "data": {"id": 7}})
        } else {
            json!({ "success": true, "message": "Updated Successfully" })
        };
        (200, body.to_string())
    }
    // `faveo-edit-user.txt`'s parameters, one value each.
    let example = json!({
        "first_name": "John",
        "last_name": "Doe",
        "user_name": "jdoe",
        "phone_number": "+34910000000",
        "email": "john.doe@example.com",
        "mobile": "+34600000000",
        "organization": [3],
        "organisation_department": [12],
        "related": [{"org_id": 3, "org_dept": 12}]
    });
    let recorder = created_then_full(
        "faveo",
        "credentials = { email = \"FAVEO_EMAIL\", password = \"FAVEO_PASSWORD\" }\n\
         key = \"user_name\"",
        &example,
        answer,
    );
    let update = recorder.to("v3/user/update/api/7");
    assert_eq!(update.len(), 1);
    assert_eq!(update[0].method, "POST");
    assert_eq!(update[0].body, example);
}

#[test]
fn abitmedia_update_sends_the_page_user_without_its_password() {
    fn answer(method: &str, path: &str) -> (u16, String) {
        if path.contains("v1/auth") {
            let tokens = json!({"accessToken": "a", "refreshToken": "r", "expiresIn": 3600});
            return (200, tokens.to_string());
        }
        let message = if method == "POST" {
            "Recurso creado exitosamente"
        } else {
            "Recurso actualizado exitosamente"
        };
        let body = json!({"success": true, "status": 200, "message": message, "data": {"id": 1}});
        (200, body.to_string())
    }
    // The user of `abitmedia-update.txt`'s 200 answer, less `id`, `createdAt` and `updateAt`
    // (its e-mail is hidden on the page by its web host: a real one stands in).
    let example = json!({
        "language": "es",
        "firstName": "John",
        "lastName": "Doe",
        "email": "john.doe@example.com",
        "cellPhoneNumber": "+593984640145",
        "address": "123 Main Street, Apt 4B, New York, NY, 10001",
        "birthday": "1990-05-15",
        "isAbitmedia": false,
        "companies": [{"companyId": 1, "isAdmin": true, "roleId": 1}],
        "status": 1
    });
    let mut row = example.clone();
    row["password"] = json!("Secreto#2024");
    let recorder = created_then_full(
        "abitmedia",
        "credentials = { email = \"ABITMEDIA_EMAIL\", password = \"ABITMEDIA_PASSWORD\" }\n\
         options = { auth_url = \"/\" }\nkey = \"email\"",
        &row,
        answer,
    );
    let users = recorder.to("administration/v1/users");
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].method, "POST");
    assert_eq!(
        users[0].body["password"], "Secreto#2024",
        "the create sends it"
    );
    assert_eq!(
        (users[1].method.as_str(), users[1].path.as_str()),
        ("PUT", "/administration/v1/users?id=1")
    );
    assert_eq!(users[1].body, example);
}
