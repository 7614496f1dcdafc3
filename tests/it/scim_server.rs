//! The SCIM provider against a SCIM server nobody on this project wrote: `scim2-server` from
//! PyPI, which serves SCIM 2.0 from memory for the tests of SCIM clients. `.ci/run` installs it
//! into `target/ci-venv`; `USERSYNC_SCIM2_SERVER` names another executable, and
//! `USERSYNC_SKIP_SCIM_SERVER=1` skips these tests. Each test starts its own server on a free
//! port, waits until it answers, and reads the users back from it directly.
//!
//! What is checked at the server: the whole lifecycle (created, one attribute changed by PATCH
//! with the others intact, a typed entry the user lacked added, deactivated, given access
//! back), users the server had before adopted instead of duplicated, an ambiguous match
//! rejected naming both ids, and a user someone else created left alone by a
//! `--deactivate-missing` night.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{stderr, stdout, tempdir, usersync};
use usersync::ledger::{Ledger, OutcomeKind};

pub(crate) const TOKEN: &str = "scim-test-token-5d1c";

/// A running scim2-server, killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// The `/ServiceProviderConfig` it announces, while it runs.
    _config: Option<tempfile::NamedTempFile>,
    port: u16,
    http: reqwest::Client,
}

/// The scim2-server executable, or `None` when the tests are to be skipped.
fn executable() -> Option<PathBuf> {
    if std::env::var_os("USERSYNC_SKIP_SCIM_SERVER").is_some_and(|v| v == "1") {
        return None;
    }
    if let Some(path) = std::env::var_os("USERSYNC_SCIM2_SERVER") {
        return Some(PathBuf::from(path));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin/scim2-server");
    if venv.exists() {
        return Some(venv);
    }
    panic!(
        "scim2-server is not installed: run .ci/run (which installs it into target/ci-venv), \
         or `python3 -m venv target/ci-venv && target/ci-venv/bin/pip install scim2-server`, \
         or set USERSYNC_SCIM2_SERVER, or USERSYNC_SKIP_SCIM_SERVER=1 to skip"
    )
}

impl Server {
    /// Starts a server, or `None` when skipped. Waits until it answers.
    pub(crate) fn start(rt: &tokio::runtime::Runtime) -> Option<Server> {
        Server::start_with(rt, None)
    }

    /// Starts a server announcing `config` as its `/ServiceProviderConfig` (its default: every
    /// feature, bulk within 1,000 operations), or `None` when skipped.
    pub(crate) fn start_with(
        rt: &tokio::runtime::Runtime,
        config: Option<&Value>,
    ) -> Option<Server> {
        let exe = executable()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config_file = config.map(|config| {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), config.to_string()).unwrap();
            file
        });
        let mut command = Command::new(&exe);
        if let Some(file) = &config_file {
            command.arg("--service-provider-config").arg(file.path());
        }
        let child = command
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", TOKEN])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let server = Server {
            child,
            port,
            http: reqwest::Client::new(),
            _config: config_file,
        };
        let started = Instant::now();
        loop {
            let ready = rt.block_on(async {
                server
                    .http
                    .get(server.url("ServiceProviderConfig"))
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            });
            if ready {
                return Some(server);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "scim2-server did not answer within a minute"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Sends `method` `path` (with `body`) straight to the server: its status, and its answer
    /// as JSON (`null` when there is none).
    pub(crate) fn request(
        &self,
        rt: &tokio::runtime::Runtime,
        method: ::reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        rt.block_on(async {
            let mut request = self.http.request(method, self.url(path)).bearer_auth(TOKEN);
            if let Some(body) = body {
                request = request
                    .header("Content-Type", "application/scim+json")
                    .body(body.to_string());
            }
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            let bytes = answer.bytes().await.unwrap();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }

    /// `POST /Users` of `user` straight to the server; its id.
    pub(crate) fn create(&self, rt: &tokio::runtime::Runtime, user: Value) -> String {
        let (_, answer) = self.request(rt, ::reqwest::Method::POST, "Users", Some(user));
        answer["id"].as_str().expect("the new user's id").to_owned()
    }

    /// Every user the server holds.
    pub(crate) fn users(&self, rt: &tokio::runtime::Runtime) -> Vec<Value> {
        let (_, list) = self.request(rt, ::reqwest::Method::GET, "Users?count=1000", None);
        list["Resources"].as_array().cloned().unwrap_or_default()
    }

    /// Sends `method` `path` with `body` straight to the server; the status.
    pub(crate) fn send(
        &self,
        rt: &tokio::runtime::Runtime,
        method: &str,
        path: &str,
        body: Value,
    ) -> u16 {
        let method = ::reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.request(rt, method, path, Some(body)).0
    }

    /// The user whose `externalId` (or, without one, `userName`) is `key`.
    pub(crate) fn user(&self, rt: &tokio::runtime::Runtime, key: &str) -> Value {
        let found: Vec<Value> = self
            .users(rt)
            .into_iter()
            .filter(|u| u["externalId"] == key || u["userName"] == key)
            .collect();
        assert_eq!(found.len(), 1, "users for {key}: {found:?}");
        found.into_iter().next().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SCIM target on the server, its export, and syncs of it.
pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
}

const HEADER: &str = "employee_id,first_name,last_name,work_email,mobile,department";

impl Workspace {
    pub(crate) fn new(server: &Server) -> Workspace {
        Workspace::at(&server.url(""), "{}")
    }

    /// A target at the SCIM root `url`, with the target's `options` (an inline TOML table).
    pub(crate) fn at(url: &str, options: &str) -> Workspace {
        let dir = tempdir();
        let config = format!(
            r#"
ledger = "usersync.db"

[targets.apps]
provider = "scim"
base_url = "{url}"
credentials = {{ token = "APPS_SCIM_TOKEN" }}
key = "externalId"
options = {options}

[targets.apps.fields]
externalId = "employee_id"
userName = {{ column = "work_email", transform = "lowercase" }}
"name.givenName" = "first_name"
"name.familyName" = "last_name"
'emails[type eq "work"].value' = {{ column = "work_email", transform = "lowercase" }}
'phoneNumbers[type eq "mobile"].value' = "mobile"
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" = "department"
"#,
        );
        std::fs::write(dir.path().join("usersync.toml"), config).unwrap();
        Workspace { dir }
    }

    /// Syncs `rows` (lines after the header) with `flags`.
    pub(crate) fn sync(&self, rows: &[&str], flags: &[&str]) -> Output {
        let export = format!("{HEADER}\n{}\n", rows.join("\n"));
        std::fs::write(self.dir.path().join("export.csv"), export).unwrap();
        usersync(self.dir.path())
            .args(["sync", "export.csv", "-t", "apps"])
            .args(flags)
            .env("APPS_SCIM_TOKEN", TOKEN)
            .output()
            .unwrap()
    }

    pub(crate) fn ledger(&self) -> Ledger {
        Ledger::open(self.dir.path().join("usersync.db")).unwrap()
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}{}",
        stdout(output),
        stderr(output)
    );
}

pub(crate) const ANA: &str = "E1,Ana,García,ana.garcia@example.com,+34 600 000 001,Sales";
pub(crate) const LUIS: &str = "E2,Luis,Pérez,luis.perez@example.com,,Support";
pub(crate) const EVA: &str = "E3,Eva,Ruiz,eva.ruiz@example.com,+34 600 000 003,Sales";

#[test]
fn a_user_lives_created_changed_deactivated_and_back_at_a_real_scim_server() {
    let rt = runtime();
    let Some(server) = Server::start(&rt) else {
        return;
    };
    let work = Workspace::new(&server);

    assert_exit(&work.sync(&[ANA, LUIS, EVA], &[]), 0);
    let ana = server.user(&rt, "E1");
    assert_eq!(ana["userName"], "ana.garcia@example.com");
    assert_eq!(
        ana["name"],
        json!({"givenName": "Ana", "familyName": "García"})
    );
    assert_eq!(ana["emails"][0]["value"], "ana.garcia@example.com");
    assert_eq!(
        ana["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales"
    );
    assert!(server.user(&rt, "E2").get("phoneNumbers").is_none());
    // The ledger links each user to the id the server gave it.
    let snapshot = work.ledger().snapshot("apps").unwrap();
    assert_eq!(
        snapshot.get("E1").unwrap().remote_id,
        ana["id"].as_str(),
        "the server's id is the remote id"
    );

    // Ana's family name changes; Luis gets a mobile (an entry he lacked).
    let ana_married = "E1,Ana,García-Soto,ana.garcia@example.com,+34 600 000 001,Sales";
    let luis_mobile = "E2,Luis,Pérez,luis.perez@example.com,+34 600 000 002,Support";
    let out = work.sync(&[ana_married, luis_mobile, EVA], &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("updated 2"), "{}", stdout(&out));
    let ana = server.user(&rt, "E1");
    assert_eq!(ana["name"]["familyName"], "García-Soto");
    assert_eq!(ana["name"]["givenName"], "Ana", "untouched");
    assert_eq!(
        ana["phoneNumbers"][0]["value"], "+34 600 000 001",
        "untouched"
    );
    assert_eq!(
        server.user(&rt, "E2")["phoneNumbers"],
        json!([{"type": "mobile", "value": "+34 600 000 002"}])
    );

    // Eva leaves, then comes back.
    let out = work.sync(
        &[ana_married, luis_mobile],
        &["--deactivate-missing", "--force"],
    );
    assert_exit(&out, 0);
    assert_eq!(server.user(&rt, "E3")["active"], false);
    assert_eq!(server.users(&rt).len(), 3, "deactivated, not deleted");
    assert_exit(&work.sync(&[ana_married, luis_mobile, EVA], &[]), 0);
    assert_eq!(server.user(&rt, "E3")["active"], true);
}

#[test]
fn users_the_server_had_are_adopted_and_an_ambiguous_match_is_rejected() {
    let rt = runtime();
    let Some(server) = Server::start(&rt) else {
        return;
    };
    // Ana is there already, by her userName (no externalId: someone created her by hand).
    let ana_id = server.create(
        &rt,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ana.garcia@example.com",
            "name": {"givenName": "Ana"}
        }),
    );
    // Luis is there twice: once by his externalId, once by his userName.
    let luis_by_key = server.create(
        &rt,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "lperez@old.example.com",
            "externalId": "E2"
        }),
    );
    let luis_by_name = server.create(
        &rt,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "luis.perez@example.com"
        }),
    );
    let work = Workspace::new(&server);
    let out = work.sync(&[ANA, LUIS], &[]);
    assert_exit(&out, 3);

    let users = server.users(&rt);
    assert_eq!(users.len(), 3, "no user was created: {users:?}");
    let ana = server.user(&rt, "E1");
    assert_eq!(
        ana["id"],
        ana_id.as_str(),
        "the user the server had was updated"
    );
    assert_eq!(ana["name"]["familyName"], "García");
    assert_eq!(
        work.ledger()
            .snapshot("apps")
            .unwrap()
            .get("E1")
            .unwrap()
            .remote_id,
        Some(ana_id.as_str())
    );

    let ledger = work.ledger();
    let run = ledger.last_run("apps").unwrap().unwrap();
    let luis = ledger
        .outcomes(run.id)
        .unwrap()
        .into_iter()
        .find(|o| o.user_key.as_deref() == Some("E2"))
        .unwrap();
    assert_eq!(luis.outcome, OutcomeKind::Rejected);
    assert_eq!(luis.errors[0].code, "ambiguous_match");
    for id in [&luis_by_key, &luis_by_name] {
        assert!(
            luis.errors[0].message.contains(id.as_str()),
            "{:?}",
            luis.errors
        );
    }
}

#[test]
fn a_user_someone_else_created_survives_a_deactivate_missing_night() {
    let rt = runtime();
    let Some(server) = Server::start(&rt) else {
        return;
    };
    let stranger = server.create(
        &rt,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "contractor@example.com",
            "active": true
        }),
    );
    let work = Workspace::new(&server);
    assert_exit(&work.sync(&[ANA, LUIS, EVA], &[]), 0);
    let out = work.sync(&[ANA, LUIS], &["--deactivate-missing", "--force"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("deactivated 1"), "{}", stdout(&out));
    let contractor = server.user(&rt, "contractor@example.com");
    assert_eq!(contractor["id"], stranger.as_str());
    assert_eq!(contractor["active"], true, "never touched");
}

impl Workspace {
    /// `usersync reconcile` of the export last synced, with `flags`.
    fn reconcile(&self, flags: &[&str]) -> Output {
        usersync(self.dir.path())
            .args(["reconcile", "export.csv", "-t", "apps", "--json"])
            .args(flags)
            .env("APPS_SCIM_TOKEN", TOKEN)
            .output()
            .unwrap()
    }
}

#[test]
fn reconcile_finds_what_changed_at_the_server_and_the_next_sync_mends_it() {
    let rt = runtime();
    let Some(server) = Server::start(&rt) else {
        return;
    };
    let work = Workspace::new(&server);
    assert_exit(&work.sync(&[ANA, LUIS, EVA], &[]), 0);
    let ana = server.user(&rt, "E1");
    let eva = server.user(&rt, "E3");
    // At the server, behind usersync's back: Ana's family name edited, Eva deleted, Marta (in
    // the export, never synced) and a contractor created.
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.familyName", "value": "Edited"}]
    });
    let ana_id = ana["id"].as_str().unwrap();
    assert_eq!(
        server.send(&rt, "PATCH", &format!("Users/{ana_id}"), patch),
        204
    );
    let eva_id = eva["id"].as_str().unwrap();
    assert_eq!(
        server.send(&rt, "DELETE", &format!("Users/{eva_id}"), json!({})),
        204
    );
    let marta_id = server.create(
        &rt,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "marta.gil@example.com"
        }),
    );
    let contractor_id = server.create(
        &rt,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "contractor@example.com"
        }),
    );
    const MARTA: &str = "E4,Marta,Gil,marta.gil@example.com,,Legal";
    std::fs::write(
        work.dir.path().join("export.csv"),
        format!("{HEADER}\n{ANA}\n{LUIS}\n{EVA}\n{MARTA}\n"),
    )
    .unwrap();

    let out = work.reconcile(&[]);
    assert_exit(&out, 3);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let findings = &lines[..lines.len() - 1];
    assert!(
        findings.contains(&json!({
            "kind": "drift", "key": "E1", "remote_id": ana_id, "fields": ["name.familyName"]
        })),
        "{findings:?}"
    );
    assert!(findings.contains(&json!({"kind": "missing", "key": "E3", "remote_id": eva_id})));
    assert!(findings.contains(&json!({
        "kind": "unlinked", "key": "E4", "remote_id": marta_id, "adopted": false
    })));
    assert!(findings.contains(&json!({"kind": "unowned", "remote_id": contractor_id})));
    assert_eq!(findings.len(), 4, "{findings:?}");
    assert_eq!(lines.last().unwrap()["summary"]["at_target"], 4);
    // Nothing changed at the server.
    assert_eq!(server.user(&rt, "E1")["name"]["familyName"], "Edited");
    assert_eq!(server.users(&rt).len(), 4);

    assert_exit(&work.reconcile(&["--adopt"]), 3);
    let out = work.sync(&[ANA, LUIS, EVA, MARTA], &[]);
    assert_exit(&out, 0);
    // Ana's edit undone, Eva created again, Marta updated rather than created twice, the
    // contractor left alone.
    assert_eq!(server.user(&rt, "E1")["name"]["familyName"], "García");
    assert_eq!(server.user(&rt, "E3")["userName"], "eva.ruiz@example.com");
    let marta = server.user(&rt, "E4");
    assert_eq!(marta["id"], marta_id.as_str());
    assert_eq!(marta["name"]["familyName"], "Gil");
    assert_eq!(server.users(&rt).len(), 5);
    // And a reconcile now finds only the contractor.
    let out = work.reconcile(&[]);
    let last = stdout(&out).lines().last().unwrap().to_owned();
    let summary: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(
        (
            &summary["summary"]["drift"],
            &summary["summary"]["missing"],
            &summary["summary"]["unlinked"],
            &summary["summary"]["unowned"]
        ),
        (&json!(0), &json!(0), &json!(0), &json!(1)),
        "{}",
        stdout(&out)
    );
}
