//! Nightly diffs through the real binary, against a MeetingLawyers mock living in the
//! test process: the same export twice sends nothing; an edited export sends exactly the
//! changed fields of exactly the changed people and deactivates the leavers first; the guards
//! refuse a truncated export and a mass deactivation before any request, and `--force` passes
//! them; `plan --json` names fields, never values; `sync --dry-run` sends and records nothing;
//! `sync --full` sends everyone whole; the in-process mock (`base_url = "mock"`) keeps its users
//! between runs; a ledger whose field hashes are in the older hex JSON form still tells exactly
//! what changed.

use crate::support::nightly::{
    assert_exit, employees, first_night, history, quiet_mock as mock, Employee, Night,
};
use crate::support::{stderr, stdout};
use usersync::ledger::RunStatus;

#[test]
fn the_same_export_again_sends_nothing() {
    let night = Night::new();
    let mock = mock();
    first_night(&night, &mock);
    let before = mock.requests();

    let out = night.sync(&mock, &night.path("hr.csv"), &[]);
    assert_exit(&out, 0);
    assert_eq!(
        mock.requests(),
        before,
        "an unchanged export costs no request"
    );
    assert!(stdout(&out).contains("unchanged 20"), "{}", stdout(&out));
    let run = night.last_run();
    assert_eq!((run.counts.rows, run.counts.unchanged), (20, 20));
}

#[test]
fn an_edited_export_sends_exactly_the_changes_and_deactivates_the_leavers() {
    let night = Night::new();
    let mock = mock();
    let mut everyone = first_night(&night, &mock);

    // The next night: two new e-mails, a mobile number removed, a plan changed, two leavers.
    everyone[1].email = "Nueva.Direccion@Empresa.example.com".into();
    everyone[4].email = "otra@empresa.example.com".into();
    everyone[6].mobile = String::new();
    everyone[9].plan = "trial";
    everyone[9].first_name = "Lucía María".into();
    let leavers: Vec<Employee> = vec![everyone.remove(15), everyone.remove(11)];
    let export = night.export("hr.csv", &everyone);

    let out = night.sync(&mock, &export, &["--deactivate-missing"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("updated 4"), "{text}");
    assert!(text.contains("deactivated 2"), "{text}");
    assert!(text.contains("unchanged 14"), "{text}");

    let last = |id: &str| history(&mock.user(id)).last().cloned().unwrap();
    let patch = |fields: &[&str]| {
        (
            "patch".to_string(),
            fields.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        )
    };
    // Every update carries `status`, which the update table marks required.
    assert_eq!(last("E00002"), patch(&["email", "status"]));
    assert_eq!(
        mock.user("E00002").fields["email"],
        "nueva.direccion@empresa.example.com"
    );
    assert_eq!(last("E00005"), patch(&["email", "status"]));
    assert_eq!(
        last("E00007"),
        patch(&["mobile_phone", "status"]),
        "a cleared field is sent (as null, as its config says)"
    );
    assert!(
        !mock.user("E00007").fields.contains_key("mobile_phone"),
        "and cleared at the provider"
    );
    assert_eq!(last("E00010"), patch(&["first_name", "status"]));

    for leaver in &leavers {
        let user = mock.user(&leaver.id);
        assert!(!user.active, "{} left and lost access", leaver.id);
        assert_eq!(
            history(&user).last().unwrap(),
            &("deactivate".to_string(), vec!["status".to_string()])
        );
        assert_eq!(user.fields["status"], 0);
    }
    let changed = ["E00002", "E00005", "E00007", "E00010", "E00012", "E00016"];
    for user in mock.users() {
        if !changed.contains(&user.id.as_str()) {
            assert_eq!(
                history(&user).len(),
                1,
                "{} was not touched after its create",
                user.id
            );
        }
    }

    // Leavers went first, and left the active snapshot.
    let ledger = night.ledger();
    let run = night.last_run();
    let outcomes = ledger.outcomes(run.id).unwrap();
    let leaver_lines: Vec<i64> = outcomes
        .iter()
        .filter(|o| o.operation == Some(usersync::provider::Operation::Deactivate))
        .map(|o| o.line)
        .collect();
    assert_eq!(leaver_lines, [-2, -1], "leavers have no input line");
    let snapshot = ledger.snapshot("lawyers").unwrap();
    assert_eq!(snapshot.active_len(), 18);
    assert!(!snapshot.get("E00012").unwrap().active);

    // The night after: nothing changed, nobody left again.
    let before = mock.requests();
    let out = night.sync(&mock, &export, &["--deactivate-missing"]);
    assert_exit(&out, 0);
    assert_eq!(mock.requests(), before);
}

#[test]
fn a_truncated_export_is_refused_before_any_request_unless_forced() {
    let night = Night::new();
    let mock = mock();
    let everyone = first_night(&night, &mock);
    let before = mock.requests();
    let truncated = night.export("truncated.csv", &everyone[..9]);

    let out = night.sync(&mock, &truncated, &[]);
    assert_exit(&out, 5);
    let message = stderr(&out);
    assert!(
        message.contains("holds 9 users") && message.contains("knew 20"),
        "the refusal names the numbers: {message}"
    );
    assert!(message.contains("--force"), "{message}");
    assert_eq!(mock.requests(), before, "refused before the first request");
    let refused = night.last_run();
    assert_eq!(
        (refused.status, refused.exit_code, refused.counts.requests),
        (RunStatus::Aborted, Some(5), 0),
        "the refused run is recorded (held), and sent nothing"
    );

    let out = night.sync(&mock, &truncated, &["--force"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("unchanged 9"), "{}", stdout(&out));
    assert!(
        mock.users().iter().all(|u| u.active),
        "without --deactivate-missing nobody is deactivated"
    );
}

#[test]
fn a_mass_deactivation_is_refused_before_any_request_unless_forced() {
    let night = Night::new();
    let mock = mock();
    let everyone = first_night(&night, &mock);
    let before = mock.requests();
    let fewer = night.export("fewer.csv", &everyone[..15]);

    let out = night.sync(&mock, &fewer, &["--deactivate-missing"]);
    assert_exit(&out, 5);
    let message = stderr(&out);
    assert!(
        message.contains("5 of the 20") && message.contains("max_deactivate = 10%"),
        "the refusal names the numbers: {message}"
    );
    assert_eq!(mock.requests(), before, "refused before the first request");

    // `plan` refuses the same way.
    let fewer_path = fewer.to_str().unwrap();
    let plan = night
        .usersync(&["plan", fewer_path, "-t", "lawyers", "--deactivate-missing"])
        .output()
        .unwrap();
    assert_exit(&plan, 1);

    let out = night.sync(&mock, &fewer, &["--deactivate-missing", "--force"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("deactivated 5"), "{}", stdout(&out));
    assert_eq!(mock.users().iter().filter(|u| !u.active).count(), 5);
    assert_eq!(mock.requests(), before + 5);
}

#[test]
fn plan_json_names_fields_never_values() {
    let night = Night::new();
    let mock = mock();
    let mut everyone = first_night(&night, &mock);
    everyone[2].email = "Secreto.Nuevo@Empresa.example.com".into();
    everyone[3].mobile = String::new();
    everyone.push(Employee {
        id: "E00099".into(),
        email: "Recien.Llegada@Empresa.example.com".into(),
        first_name: "Nerea".into(),
        plan: "trial",
        mobile: "+34 699 111 222".into(),
    });
    let gone = everyone.remove(0);
    let export = night.export("hr.csv", &everyone);
    let before = mock.requests();

    let out = night
        .usersync(&[
            "plan",
            export.to_str().unwrap(),
            "-t",
            "lawyers",
            "--deactivate-missing",
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(mock.requests(), before, "a plan sends nothing");
    let text = stdout(&out);
    for value in [
        "secreto", "Secreto", "Recien", "Nerea", "699", "111 222", "+34",
    ] {
        assert!(
            !text.contains(value),
            "a value leaked into the plan: {value}\n{text}"
        );
    }
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let op = |key: &str| {
        lines
            .iter()
            .find(|l| l["key"] == key)
            .unwrap_or_else(|| panic!("no plan line for {key}: {text}"))
            .clone()
    };
    assert_eq!(op(&gone.id)["op"], "deactivate");
    assert_eq!(op("E00003")["op"], "update");
    assert_eq!(op("E00003")["fields"], serde_json::json!(["email"]));
    assert_eq!(op("E00004")["fields"], serde_json::json!(["mobile_phone"]));
    assert_eq!(op("E00099")["op"], "create");
    assert_eq!(lines[0]["op"], "deactivate", "leavers come first");
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(
        summary,
        &serde_json::json!({"create": 1, "update": 2, "unchanged": 17, "deactivate": 1, "rejected": 0})
    );
}

#[test]
fn the_built_in_mock_keeps_its_users_between_runs() {
    let night = Night::new();
    let mut everyone = employees(12);
    let export = night.export("hr.csv", &everyone);
    let sync = |extra: &[&str]| {
        let mut args = vec!["sync", "hr.csv", "-t", "lawyers"];
        args.extend_from_slice(extra);
        night.usersync(&args).output().unwrap()
    };
    assert_exit(&sync(&[]), 0);
    let kept = night.path("usersync.db.mock-lawyers.json");
    assert!(
        kept.exists(),
        "the mock's users are saved beside the ledger"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "they are personal data");
    }

    everyone[0].email = "cambiada@empresa.example.com".into();
    everyone.pop();
    night.export("hr.csv", &everyone);
    let out = sync(&["--deactivate-missing"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("updated 1") && text.contains("deactivated 1"),
        "the second run updates the users the first one created: {text}"
    );
    let saved: Vec<usersync::mock::StoredUser> =
        serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    assert_eq!(saved.len(), 12);
    let first = saved.iter().find(|u| u.id == "E00001").unwrap();
    assert_eq!(first.fields["email"], "cambiada@empresa.example.com");
    drop(export);
}

#[test]
fn sync_dry_run_plans_without_sending_or_recording() {
    let night = Night::new();
    let mock = mock();
    let mut everyone = first_night(&night, &mock);
    let runs_before = night.ledger().list_runs(None).expect("list runs").len();
    let before = mock.requests();
    everyone[2].email = "otra.direccion@empresa.example.com".into();
    let export = night.export("hr.csv", &everyone);

    let out = night.sync(&mock, &export, &["--dry-run"]);
    assert_exit(&out, 0);
    assert_eq!(mock.requests(), before, "a dry run sends nothing");
    let text = stdout(&out);
    for count in [
        "create 0",
        "update 1",
        "unchanged 19",
        "deactivate 0",
        "rejected 0",
    ] {
        assert!(text.contains(&format!("  {count}\n")), "{count}:\n{text}");
    }
    assert_eq!(
        night.ledger().list_runs(None).expect("list runs").len(),
        runs_before,
        "a dry run records no run"
    );
    // The real sync afterwards still sends the change.
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("updated 1"), "{}", stdout(&out));
}

#[test]
fn sync_full_resends_everyone_whole_even_rows_known_by_their_fingerprint() {
    let night = Night::new();
    let mock = mock();
    first_night(&night, &mock);
    let before = mock.requests();

    let out = night.sync(&mock, &night.path("hr.csv"), &["--full"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("updated 20"), "{}", stdout(&out));
    assert_eq!(mock.requests() - before, 20);
    for user in mock.users() {
        let (op, fields) = history(&user).last().cloned().unwrap();
        assert_eq!(op, "update", "{}: a full update", user.id);
        assert_eq!(
            fields,
            ["email", "first_name", "mobile_phone", "status"],
            "{}: the whole payload",
            user.id
        );
    }
    // The snapshot is unchanged by it: the next night sends nothing.
    let out = night.sync(&mock, &night.path("hr.csv"), &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("unchanged 20"), "{}", stdout(&out));
}

/// A ledger from before the field hashes were stored as BLOBs holds them as hex JSON. Upgrading
/// must not make anyone look changed: the next night sends exactly the edited person's changed
/// field, and only that person's row is rewritten in the new form.
#[test]
fn a_ledger_with_the_older_hex_field_hashes_sends_exactly_the_changes() {
    let night = Night::new();
    let mock = mock();
    let mut everyone = first_night(&night, &mock);

    // Rewrite the ledger as the previous version wrote it: schema 8, `field_hashes` a JSON
    // object of hex hashes. The BLOB is decoded by its documented layout (a format byte, a
    // count, then each name's length, the name and 16 bytes), every count and length < 128.
    let db = rusqlite::Connection::open(night.path("usersync.db")).unwrap();
    let rows: Vec<(String, Vec<u8>)> = by_user(&db, "field_hashes");
    assert_eq!(rows.len(), 20);
    for (key, blob) in &rows {
        assert_eq!(blob[0], 1, "format byte of {key}");
        let mut json = serde_json::Map::new();
        let mut at = 2;
        for _ in 0..blob[1] {
            let len = usize::from(blob[at]);
            let name = String::from_utf8(blob[at + 1..at + 1 + len].to_vec()).unwrap();
            at += 1 + len;
            json.insert(name, hex::encode(&blob[at..at + 16]).into());
            at += 16;
        }
        assert_eq!(at, blob.len());
        db.execute(
            "UPDATE synced_users SET field_hashes = ?1 WHERE user_key = ?2",
            [serde_json::Value::Object(json).to_string(), key.clone()],
        )
        .unwrap();
    }
    db.pragma_update(None, "user_version", 8).unwrap();
    drop(db);

    everyone[1].email = "Nueva.Direccion@Empresa.example.com".into();
    let export = night.export("hr.csv", &everyone);
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("updated 1"), "{text}");
    assert!(text.contains("unchanged 19"), "{text}");
    assert_eq!(
        history(&mock.user("E00002")).last().cloned().unwrap(),
        (
            "patch".to_string(),
            vec!["email".to_string(), "status".to_string()]
        ),
        "the older hashes told exactly which field changed"
    );

    let db = rusqlite::Connection::open(night.path("usersync.db")).unwrap();
    let kinds: Vec<(String, String)> = by_user(&db, "typeof(field_hashes)");
    for (key, kind) in kinds {
        let expected = if key == "E00002" { "blob" } else { "text" };
        assert_eq!(kind, expected, "{key}");
    }
    let version: usize = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, usersync::ledger::schema_version());
}

/// `what` (a column or an expression of `synced_users`) for every user, by user key.
fn by_user<T: rusqlite::types::FromSql>(db: &rusqlite::Connection, what: &str) -> Vec<(String, T)> {
    db.prepare(&format!(
        "SELECT user_key, {what} FROM synced_users ORDER BY user_key"
    ))
    .unwrap()
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
    .unwrap()
    .map(Result::unwrap)
    .collect()
}
