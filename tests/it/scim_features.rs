//! The SCIM provider's answers to what a target says it supports, against scim2-server (which
//! nobody on this project wrote) announcing other `/ServiceProviderConfig`s, and against the
//! built-in mock where a server must misbehave on cue:
//! - bulk requests stay within the `maxOperations` the server announces (the server refuses a
//!   larger one with 413, which usersync would report as a warning and answer by sending each
//!   write alone), and every row gets its own outcome;
//! - a server without PATCH gets each changed user back whole by PUT, keeping what usersync
//!   does not map;
//! - a user changed at the target between usersync's read and its write (412 on `If-Match`)
//!   is read again and written without losing the other client's change.

use serde_json::{json, Value};
use usersync::ledger::OutcomeKind;
use usersync::mock::{self, MockOptions};
use usersync::provider::Credentials;

use crate::scim_server::{assert_exit, runtime, Server, Workspace, ANA, EVA, LUIS, TOKEN};
use crate::support::stderr;

/// scim2-server's own default configuration, with `changes` made to it.
fn config(changes: Value) -> Value {
    let mut config = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576},
        "filter": {"supported": true, "maxResults": 1000},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true}
    });
    for (key, value) in changes.as_object().unwrap() {
        config[key] = value.clone();
    }
    config
}

/// The operation counts of the bulk requests a `-vv` run logged.
fn bulk_sizes(output: &std::process::Output) -> Vec<usize> {
    stderr(output)
        .lines()
        .filter(|line| line.contains("bulk request"))
        .filter_map(|line| {
            let at = line.find(" operations=")? + " operations=".len();
            line[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn row(n: usize, department: &str) -> String {
    format!("E{n},Ana{n},Ruiz,ana{n}@example.com,,{department}")
}

#[test]
fn bulk_requests_stay_within_the_servers_max_operations() {
    let rt = runtime();
    let bulk = json!({"bulk": {"supported": true, "maxOperations": 5, "maxPayloadSize": 1048576}});
    let Some(server) = Server::start_with(&rt, Some(&config(bulk))) else {
        return;
    };
    let work = Workspace::new(&server);
    let rows: Vec<String> = (1..=12).map(|n| row(n, "Sales")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let first = work.sync(&rows, &["-vv"]);
    assert_exit(&first, 0);
    assert!(
        !stderr(&first).contains("refused a bulk request"),
        "{}",
        stderr(&first)
    );
    let sizes = bulk_sizes(&first);
    assert!(!sizes.is_empty(), "the creates went in bulk requests");
    assert!(sizes.iter().all(|&n| (1..=5).contains(&n)), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 12, "{sizes:?}");
    let users = server.users(&rt);
    assert_eq!(users.len(), 12, "each user created once");

    // Each row's outcome is its own: ids recorded, one refused row does not fail the others.
    let snapshot = work.ledger().snapshot("apps").unwrap();
    for user in &users {
        let key = user["externalId"].as_str().unwrap();
        assert_eq!(
            snapshot.get(key).unwrap().remote_id,
            user["id"].as_str(),
            "{key}"
        );
    }

    // The next night: 7 changed, 1 taken userName (refused alone), the rest unchanged.
    let mut next: Vec<String> = (1..=12)
        .map(|n| row(n, if n <= 7 { "Legal" } else { "Sales" }))
        .collect();
    next[11] = "E12,Ana12,Ruiz,ana1@example.com,,Sales".into();
    let next: Vec<&str> = next.iter().map(String::as_str).collect();
    let second = work.sync(&next, &["-vv"]);
    let sizes = bulk_sizes(&second);
    assert!(sizes.iter().all(|&n| n <= 5), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 8, "{sizes:?}");
    let ana1 = server.user(&rt, "E1");
    assert_eq!(
        ana1["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Legal"
    );
    let ledger = work.ledger();
    let run = ledger.last_run("apps").unwrap().unwrap();
    let outcomes = ledger.outcomes(run.id).unwrap();
    let refused: Vec<_> = outcomes
        .iter()
        .filter(|o| o.outcome != OutcomeKind::Synced && o.outcome != OutcomeKind::Unchanged)
        .collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert_eq!(refused[0].user_key.as_deref(), Some("E12"));
}

#[test]
fn a_server_without_patch_gets_users_back_whole_by_put() {
    let rt = runtime();
    let no_patch = json!({"patch": {"supported": false}});
    let Some(server) = Server::start_with(&rt, Some(&config(no_patch))) else {
        return;
    };
    let work = Workspace::new(&server);
    assert_exit(&work.sync(&[ANA, LUIS], &[]), 0);
    // Someone sets what usersync does not map.
    let id = server.user(&rt, "E1")["id"].as_str().unwrap().to_owned();
    let mut ana = server.user(&rt, "E1");
    ana["title"] = json!("Head of Sales");
    ana.as_object_mut().unwrap().remove("meta");
    assert_eq!(server.send(&rt, "PUT", &format!("Users/{id}"), ana), 200);

    let moved = ANA.replace("Sales", "Legal");
    let second = work.sync(&[&moved, LUIS], &[]);
    assert_exit(&second, 0);
    assert!(
        stderr(&second).contains("PUT"),
        "the run says how it sends updates"
    );
    let ana = server.user(&rt, "E1");
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_eq!(ana[enterprise]["department"], "Legal");
    assert_eq!(
        ana["title"], "Head of Sales",
        "what usersync does not map survives the PUT"
    );

    assert_exit(&work.sync(&[LUIS], &["--deactivate-missing", "--force"]), 0);
    let ana = server.user(&rt, "E1");
    assert_eq!(ana["active"], false);
    assert_eq!(ana["title"], "Head of Sales");
    assert_eq!(ana["name"]["givenName"], "Ana");
}

/// The built-in mock changes each user once just before usersync's conditional write.
#[test]
fn a_user_changed_meanwhile_is_read_again_and_the_other_change_kept() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut credentials = Credentials::new();
    credentials.insert("token", TOKEN);
    let scim = usersync::provider::by_name("scim").unwrap();
    let mock = runtime
        .block_on(mock::start(
            scim,
            MockOptions {
                credentials,
                scim_concurrent_edit: true,
                ..MockOptions::default()
            },
        ))
        .unwrap();
    let work = Workspace::at(mock.url.as_ref(), r#"{ update = "put" }"#);
    assert_exit(&work.sync(&[ANA, EVA], &[]), 0);
    let moved = ANA.replace("Sales", "Legal");
    let second = work.sync(&[&moved, EVA], &[]);
    assert_exit(&second, 0);
    let ana = mock
        .state
        .users()
        .into_iter()
        .find(|u| u.fields.get("externalId") == Some(&json!("E1")))
        .unwrap();
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_eq!(ana.fields[enterprise]["department"], "Legal");
    assert_eq!(
        ana.fields["nickName"],
        usersync::mock::scim::EDITED_ELSEWHERE,
        "the other client's change is kept"
    );
    drop(mock);
}
