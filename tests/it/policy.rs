//! What a run may do to a target's users: protected users (`protect`) are never touched, and a
//! target's `mode` allows only its operations; what is left undone is said, never skipped
//! silently, in the summary, the ledger and `plan`.

use crate::support::nightly::{assert_exit, employees, first_night, history, quiet_mock, Night};
use crate::support::stdout;
use usersync::ledger::{NoteCode, OutcomeKind};

/// A night whose config says `settings` on the target.
fn night_with(settings: &str) -> Night {
    let night = Night::new();
    set(&night, settings);
    night
}

/// Adds `settings` to the target of `night`'s config (from the next run on).
fn set(night: &Night, settings: &str) {
    let config = std::fs::read_to_string(night.path("usersync.toml")).unwrap();
    let config = config.replacen(
        "[targets.lawyers]\n",
        &format!("[targets.lawyers]\n{settings}\n"),
        1,
    );
    std::fs::write(night.path("usersync.toml"), config).unwrap();
}

/// The notes of the last run's rows, by user key.
fn notes(night: &Night) -> Vec<(String, NoteCode)> {
    let run = night.last_run();
    let mut notes = Vec::new();
    for o in night.ledger().outcomes(run.id).unwrap() {
        assert!(o.notes.is_empty() || o.outcome == OutcomeKind::Unchanged);
        for n in o.notes {
            notes.push((o.user_key.clone().unwrap(), n.code));
        }
    }
    notes.sort();
    notes
}

#[test]
fn protected_users_are_untouched_by_a_mirror_night_that_drops_them() {
    // Synced before the target protected anyone.
    let night = Night::new();
    let mock = quiet_mock();
    let everyone = first_night(&night, &mock);
    set(&night, "mode = \"mirror\"\nprotect = [\"E0000[12]\"]");
    let config = std::fs::read_to_string(night.path("usersync.toml")).unwrap();
    let config = config.replace("max_deactivate = 0.10", "max_deactivate = 0.5");
    std::fs::write(night.path("usersync.toml"), config).unwrap();
    // E00001 and E00002 (protected) and E00003 leave; E00004 changes.
    let mut people: Vec<_> = everyone[3..].to_vec();
    people[0].first_name = "Changed".into();
    let export = night.export("hr2.csv", &people);
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    let said = stdout(&out);
    assert!(said.contains("deactivated 1 "), "{said}");
    assert!(said.contains("updated 1 "), "{said}");
    assert!(said.contains("protected, left alone: 2"), "{said}");
    for protected in ["E00001", "E00002"] {
        assert_eq!(
            history(&mock.user(protected)).len(),
            1,
            "only created: {protected}"
        );
    }
    assert_eq!(
        history(&mock.user("E00003")).last().unwrap().0,
        "deactivate"
    );
    assert_eq!(
        notes(&night),
        [
            ("E00001".to_string(), NoteCode::Protected),
            ("E00002".to_string(), NoteCode::Protected)
        ]
    );
}

#[test]
fn a_protected_row_is_neither_created_nor_updated() {
    let night = night_with("protect = [\"E00004\", \"E0002[12]\"]");
    let mock = quiet_mock();
    let people = employees(22);
    let export = night.export("hr.csv", &people);
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("created 19"), "{}", stdout(&out));
    assert_eq!(mock.users().len(), 19);
    let plan = night
        .usersync(&["plan", export.to_str().unwrap(), "-t", "lawyers", "--json"])
        .output()
        .unwrap();
    let said = stdout(&plan);
    assert!(
        said.contains(r#""op":"left_alone""#) && said.contains(r#""notes":["protected"]"#),
        "{said}"
    );
}

#[test]
fn each_mode_sends_only_its_operations() {
    // update_only: the change goes out, the new row does not, nobody is deactivated.
    let night = Night::new();
    let mock = quiet_mock();
    first_night(&night, &mock);
    set(&night, "mode = \"update_only\"");
    let mut people = employees(21);
    people[0].first_name = "Changed".into();
    let export = night.export("hr2.csv", &people);
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("created 0 · updated 1"),
        "{}",
        stdout(&out)
    );
    assert_eq!(notes(&night), [("E00021".to_string(), NoteCode::NotInMode)]);
    let refused = night
        .usersync(&[
            "sync",
            export.to_str().unwrap(),
            "-t",
            "lawyers",
            "--deactivate-missing",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));

    // create_only: the new row goes out, the change does not.
    let night = Night::new();
    let mock = quiet_mock();
    first_night(&night, &mock);
    set(&night, "mode = \"create_only\"");
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("created 1 · updated 0"),
        "{}",
        stdout(&out)
    );
    assert_eq!(notes(&night), [("E00001".to_string(), NoteCode::NotInMode)]);

    // upsert (the default): both, and nobody deactivated without --deactivate-missing.
    let night = Night::new();
    let mock = quiet_mock();
    first_night(&night, &mock);
    let out = night.sync(&mock, &night.export("hr3.csv", &people[..20]), &[]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("updated 1 · deactivated 0"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_mode_and_deactivate_missing_that_disagree_are_a_config_error() {
    let night = night_with("mode = \"upsert\"\ndeactivate_missing = true");
    let out = night
        .usersync(&[
            "validate",
            night.export("hr.csv", &employees(1)).to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("deactivate_missing"), "{said}");
    let night = night_with("mode = \"sometimes\"");
    let out = night
        .usersync(&[
            "validate",
            night.export("hr.csv", &employees(1)).to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected one of \"mirror\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
