//! What usersync sends each provider, through the binary, against mocks that check requests with
//! their own reading of the providers' pages (`provider/<name>/mock.rs`), on the sample export
//! and config: nothing usersync does may quietly harm a user at a provider.
//!
//! - Abitmedia: no update carries the password (the create does); a leaver is deactivated with
//!   the whole record read back, and a returning one is active again;
//! - Faveo: a mapping without the organisation fields is refused before anything is sent; with
//!   them, every update carries all three;
//! - GNOSS: rows without a `community_id` take the target's option; users that already exist by
//!   e-mail are adopted (their GUID recorded, no duplicate, the next change sent to them);
//! - a field emptied in the export is left at the provider unless its config says `clear`;
//! - a `base_url` that answers 200 with an HTML page leaves every row failed, nothing synced.

use crate::support::reliability::nights::{Nights, LEAVER};
use crate::support::{demo_env, usersync};
use usersync::ledger::Ledger;
use usersync::mock::{Change, StoredUser};

/// Marc Torres, the sample's first row (E00001).
const EMAIL: &str = "marc.torres@empresa.example.com";

/// `nights`' config with `from` replaced by `to` (which must be there).
fn edit_config(nights: &Nights, from: &str, to: &str) {
    let path = nights.path("usersync.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    assert!(config.contains(from), "the sample config has {from:?}");
    std::fs::write(&path, config.replacen(from, to, 1)).unwrap();
}

/// Writes `name`: the sample export with, in the row of `key`, each `(column, value)` of
/// `changes`.
fn export_with(nights: &Nights, name: &str, key: &str, changes: &[(&str, &str)]) {
    let all = std::fs::read_to_string(nights.path("all.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(all.as_bytes());
    let header = rdr.headers().unwrap().clone();
    let at: Vec<(usize, &str)> = changes
        .iter()
        .map(|(column, value)| {
            let i = header.iter().position(|h| h == *column).expect("a column");
            (i, *value)
        })
        .collect();
    let mut out = csv::Writer::from_path(nights.path(name)).unwrap();
    out.write_record(&header).unwrap();
    for record in rdr.records() {
        let record = record.unwrap();
        let mine = record.get(0) == Some(key);
        let fields: Vec<&str> = record
            .iter()
            .enumerate()
            .map(|(i, f)| match at.iter().find(|(c, _)| *c == i) {
                Some((_, value)) if mine => value,
                _ => f,
            })
            .collect();
        out.write_record(&fields).unwrap();
    }
    out.flush().unwrap();
}

/// The requests in `user`'s history that made `change`.
fn requests(user: &StoredUser, change: Change) -> Vec<&usersync::mock::store::RequestRecord> {
    user.history.iter().filter(|r| r.change == change).collect()
}

/// Nights of the sample's Abitmedia target, whose login the mock serves on its own root.
fn abitmedia_nights() -> Nights {
    let nights = Nights::new("abitmedia", "portal");
    edit_config(
        &nights,
        "max_requests = 10000",
        "options = { auth_url = \"/\" }\nmax_requests = 10000",
    );
    nights
}

#[test]
fn abitmedia_updates_never_carry_the_password_and_creates_do() {
    let nights = abitmedia_nights();
    nights.sync("all.csv", &[]);
    export_with(
        &nights,
        "moved.csv",
        LEAVER,
        &[("address", "Calle Mayor, 1")],
    );
    let out = nights.sync("moved.csv", &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("updated 1"));

    let users = nights.mock.users();
    assert!(users.len() > 250, "the sample's users were created");
    for user in &users {
        let create = requests(user, Change::Create);
        assert_eq!(create.len(), 1);
        assert!(
            create[0].fields.iter().any(|f| f == "password"),
            "a create sends the initial password"
        );
        for record in &user.history[1..] {
            assert!(
                !record.fields.iter().any(|f| f == "password"),
                "{} {} sent a password",
                record.method,
                record.path
            );
        }
    }
    let moved = nights.leaver("email", EMAIL);
    assert_eq!(requests(&moved, Change::Update).len(), 1);
    assert_eq!(moved.fields["address"], "Calle Mayor, 1");
}

#[test]
fn abitmedia_leavers_are_deactivated_whole_and_come_back_active() {
    let nights = abitmedia_nights();
    // Without a status in the mapping, only usersync can make a returning user active again.
    edit_config(&nights, "status = { value = 1 }\n", "");
    // `leave` checks the leaver is inactive at the mock, which refuses a status-only update.
    nights.leave("email", EMAIL);
    let gone = nights.leaver("email", EMAIL);
    assert_eq!(gone.fields["status"], 0);
    let deactivation = requests(&gone, Change::Deactivate)[0];
    assert!(
        deactivation.fields.len() > 5 && !deactivation.fields.iter().any(|f| f == "password"),
        "the whole record, without a password: {:?}",
        deactivation.fields
    );

    let out = nights.sync("all.csv", &[]);
    let back = nights.leaver("email", EMAIL);
    assert!(back.active, "the returning user is active again");
    assert_eq!(back.fields["status"], 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("updated 1"));
}

#[test]
fn a_faveo_mapping_without_organisation_fields_is_refused_before_anything_is_sent() {
    let nights = Nights::new("faveo", "helpdesk");
    edit_config(&nights, "organisation_department = { value = [] }\n", "");
    let url = nights.mock.url();
    for command in ["sync", "plan", "validate"] {
        let out = usersync(nights.dir.path())
            .args([command, "all.csv", "-c", "usersync.toml", "-t", "helpdesk"])
            .args(if command == "sync" {
                vec!["--base-url", url.as_str()]
            } else {
                vec![]
            })
            .envs(demo_env("faveo"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("organisation_department")
                && stderr.contains("removes every organisation link")
                && stderr.contains("updates_remove_organisation_links"),
            "{command}: {stderr}"
        );
    }
    assert_eq!(nights.mock.stats().requests, 0, "nothing was sent");
    assert!(!nights.path("usersync.db").exists(), "no ledger was made");

    // Accepting the loss lets it through, and every sync says so.
    edit_config(
        &nights,
        "required = [",
        "options = { updates_remove_organisation_links = true }\nrequired = [",
    );
    let out = nights.sync("all.csv", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("removes the user's organisation links")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn every_faveo_update_carries_the_organisation_fields() {
    let nights = Nights::new("faveo", "helpdesk");
    nights.sync("all.csv", &[]);
    export_with(
        &nights,
        "renamed.csv",
        LEAVER,
        &[("last_name", "Torres Gil")],
    );
    nights.sync("renamed.csv", &[]);
    let user = nights.leaver("user_name", &LEAVER.to_lowercase());
    let updates = requests(&user, Change::Update);
    assert_eq!(updates.len(), 1);
    for field in ["organization", "organisation_department", "related"] {
        assert!(
            updates[0].fields.iter().any(|f| f == field),
            "{field} missing from {:?}",
            updates[0].fields
        );
    }
    assert_eq!(user.fields["last_name"], "Torres Gil");
}

#[test]
fn gnoss_rows_without_a_community_take_the_options() {
    let nights = Nights::new("gnoss", "community");
    edit_config(
        &nights,
        "community_id = { value = \"1ede819e-9d0f-41e9-855b-bbebc7f08dd1\" }\n",
        "",
    );
    let out = nights.sync("all.csv", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("created 292"), "{stdout}");
    let user = nights.leaver("email", EMAIL);
    assert_eq!(
        user.fields["community_id"],
        "1ede819e-9d0f-41e9-855b-bbebc7f08dd1"
    );
}

#[test]
fn gnoss_users_that_exist_by_email_are_adopted_not_duplicated() {
    let nights = Nights::new("gnoss", "community");
    // Someone created Marc at GNOSS before usersync ever ran: GNOSS gave him its own GUID.
    let existing = {
        let mut store = nights.mock.state().store();
        let guid = store.next_guid();
        let fields = serde_json::json!({
            "user_id": guid, "email": EMAIL, "name": "Marc", "last_name": "Torres",
            "community_id": "1ede819e-9d0f-41e9-855b-bbebc7f08dd1"
        });
        let record = usersync::mock::store::RequestRecord::new(
            Change::Create,
            &http::Method::POST,
            "user/create-user",
            &Default::default(),
        );
        store
            .create(
                usersync::mock::store::IdKind::Given(guid.clone()),
                fields.as_object().unwrap().clone().into(),
                true,
                record,
            )
            .unwrap();
        guid
    };
    let out = nights.sync("all.csv", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("updated 1"), "adopted: {stdout}");
    let marcs: Vec<StoredUser> = nights
        .mock
        .users()
        .into_iter()
        .filter(|u| u.fields.get("email").and_then(|e| e.as_str()) == Some(EMAIL))
        .collect();
    assert_eq!(marcs.len(), 1, "no duplicate");
    assert_eq!(marcs[0].id, existing);
    assert_eq!(
        marcs[0].fields["id_card"], "07702456D",
        "updated to the export's values"
    );
    let ledger = Ledger::open(nights.path("usersync.db")).unwrap();
    assert_eq!(
        remote_id(&ledger, "community", LEAVER_GNOSS_KEY).as_deref(),
        Some(existing.as_str()),
        "GNOSS's GUID is recorded"
    );

    // The next night's change goes to that GUID.
    export_with(&nights, "moved.csv", LEAVER, &[("city", "Teruel")]);
    nights.sync("moved.csv", &[]);
    let marc = nights.mock.state().user(&existing).unwrap();
    assert_eq!(marc.fields["city"], "Teruel");
    assert_eq!(nights.mock.users().len(), 292, "one user per valid row");
}

/// The sample's key for Marc at the GNOSS target: his `gnoss_user_id`.
const LEAVER_GNOSS_KEY: &str = "6a423cf9-d330-4549-8d14-cf1a4cc34636";

/// The remote id the ledger holds for `key` at `target`.
fn remote_id(ledger: &Ledger, target: &str, key: &str) -> Option<String> {
    let snapshot = ledger.snapshot(target).unwrap();
    let user = snapshot.get(key).expect("the user is in the snapshot");
    user.remote_id.map(str::to_owned)
}

#[test]
fn an_emptied_field_is_left_at_the_provider_unless_its_config_says_clear() {
    let nights = Nights::new("meetinglawyers", "lawyers");
    nights.sync("all.csv", &[]);
    export_with(&nights, "no-mobile.csv", LEAVER, &[("mobile", "")]);
    let out = nights.sync("no-mobile.csv", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("not cleared at meetinglawyers") && stdout.contains(LEAVER),
        "{stdout}"
    );
    let user = nights.mock.state().user(LEAVER).unwrap();
    assert_eq!(user.fields["mobile_phone"], "+34 610 186 127", "kept");
    assert_eq!(
        user.history.len(),
        1,
        "nothing else changed: no request at all"
    );

    // `clear = "empty"` on a field: the next emptied value is sent, as "".
    let nights = Nights::new("meetinglawyers", "lawyers");
    edit_config(
        &nights,
        "ml_group_name = { column = \"department\",",
        "ml_group_name = { clear = \"empty\", column = \"department\",",
    );
    nights.sync("all.csv", &[]);
    export_with(&nights, "no-group.csv", LEAVER, &[("department", "")]);
    let out = nights.sync("no-group.csv", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("updated 1"), "{stdout}");
    let user = nights.mock.state().user(LEAVER).unwrap();
    let patch = requests(&user, Change::Patch);
    assert_eq!(patch.len(), 1);
    assert_eq!(patch[0].fields, ["ml_group_name", "status"]);
    assert_eq!(user.fields["ml_group_name"], "");
}

#[test]
fn a_base_url_answering_200_with_a_page_leaves_every_row_failed_and_nothing_synced() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
        [targets.t]
        provider = "meetinglawyers"
        base_url = "mock"
        credentials = { api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }
        key = "user_id"
        max_retries = 1
        fields = { user_id = "id", status = { value = 2 }, email = "email" }
    "#;
    std::fs::write(dir.path().join("usersync.toml"), config).unwrap();
    std::fs::write(
        dir.path().join("export.csv"),
        "id,email\nE1,a@x.es\nE2,b@x.es\nE3,c@x.es\n",
    )
    .unwrap();
    let portal = html_server();
    let out = usersync(dir.path())
        .args([
            "sync",
            "export.csv",
            "-c",
            "usersync.toml",
            "--base-url",
            &portal.url,
        ])
        .envs(demo_env("meetinglawyers"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("created 0") && stdout.contains("failed 3"),
        "{stdout}"
    );
    let report = usersync(dir.path())
        .args(["report", "last", "-c", "usersync.toml", "--format", "json"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.contains("unexpected_answer") && report.contains("an HTML page"),
        "{report}"
    );
    let ledger = Ledger::open(dir.path().join("usersync.db")).unwrap();
    assert!(
        ledger.snapshot("t").unwrap().is_empty(),
        "nothing entered the snapshot"
    );
}

/// A server on 127.0.0.1 that answers every request 200 with a sign-in page, as a proxy or a
/// wrong `base_url` does.
struct HtmlServer {
    url: String,
    _runtime: tokio::runtime::Runtime,
}

fn html_server() -> HtmlServer {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let page = || async {
        (
            [(http::header::CONTENT_TYPE, "text/html")],
            "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Welcome</body></html>",
        )
    };
    let app = axum::Router::new().fallback(page);
    runtime.spawn(async move { axum::serve(listener, app).await });
    HtmlServer {
        url,
        _runtime: runtime,
    }
}
