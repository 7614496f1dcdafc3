//! The nightly shortcut, through the real binary: a row whose mapped cells are,
//! byte for byte, those a user was last synced from is recognised by its fingerprint and
//! skipped without being mapped or validated. These tests check that the shortcut never hides a change: a new
//! mapping over the same export is sent, a duplicate of a known row is still rejected, a
//! deactivated user who comes back with the same row is reactivated, and a row that only
//! moved columns or gained spaces stays unchanged (and is recognised the night after, whatever
//! the columns the mapping does not read hold).

use crate::support::nightly::{assert_exit, first_night, quiet_mock as mock, Night, CONFIG};
use crate::support::stdout;

/// Every user's remembered row fingerprint, by key.
fn fingerprints(night: &Night) -> Vec<(String, Option<Vec<u8>>)> {
    let db = rusqlite::Connection::open(night.path("usersync.db")).expect("open the ledger");
    let mut stmt = db
        .prepare("SELECT user_key, source_hash FROM synced_users ORDER BY user_key")
        .expect("query");
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query");
    rows.map(|r| r.expect("a row")).collect()
}

#[test]
fn a_new_mapping_over_the_same_export_is_sent() {
    let night = Night::new();
    let mock = mock();
    first_night(&night, &mock);
    let before = mock.requests();

    // Same file, but first names are now sent in capitals.
    let config = CONFIG.replace(
        "first_name = \"first_name\"",
        "first_name = { column = \"first_name\", transform = \"uppercase\" }",
    );
    std::fs::write(night.path("usersync.toml"), config).unwrap();
    let out = night.sync(&mock, &night.path("hr.csv"), &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("updated 20"), "{}", stdout(&out));
    assert_eq!(mock.requests() - before, 20);
    let ana = mock.user("E00004");
    assert_eq!(ana.fields["first_name"], "ANA");
}

#[test]
fn a_duplicate_of_a_known_row_is_still_rejected() {
    let night = Night::new();
    let mock = mock();
    let mut everyone = first_night(&night, &mock);
    let before = mock.requests();

    everyone.push(everyone[2].clone());
    let export = night.export("hr.csv", &everyone);
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 3);
    let text = stdout(&out);
    assert!(text.contains("unchanged 20"), "{text}");
    assert!(text.contains("rejected 1"), "{text}");
    assert_eq!(mock.requests(), before);
    let ledger = night.ledger();
    let run = night.last_run();
    let rejected: Vec<_> = ledger
        .outcomes(run.id)
        .expect("read the ledger")
        .into_iter()
        .filter(|o| o.outcome == usersync::ledger::OutcomeKind::Rejected)
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].line, 22);
    assert_eq!(rejected[0].error_code.as_deref(), Some("duplicate_key"));
}

#[test]
fn a_returning_user_with_the_same_row_is_reactivated() {
    let night = Night::new();
    let mock = mock();
    let mut everyone = first_night(&night, &mock);

    let leaver = everyone.remove(4);
    let export = night.export("hr.csv", &everyone);
    let out = night.sync(&mock, &export, &["--deactivate-missing"]);
    assert_exit(&out, 0);
    assert!(!mock.user(&leaver.id).active);

    // The same person, the same row, back in the export.
    everyone.insert(4, leaver.clone());
    let export = night.export("hr.csv", &everyone);
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("unchanged 19"), "{}", stdout(&out));
    assert!(mock.user(&leaver.id).active, "{}", stdout(&out));
}

#[test]
fn rows_that_only_moved_or_gained_spaces_stay_unchanged_and_are_known_the_next_night() {
    let night = Night::new();
    let mock = mock();
    let everyone = first_night(&night, &mock);
    let first = fingerprints(&night);
    assert_eq!(first.len(), 20);
    assert!(
        first
            .iter()
            .all(|(_, h)| h.as_ref().is_some_and(|h| h.len() == 16)),
        "every synced row's fingerprint is remembered"
    );
    let before = mock.requests();

    // The columns in another order, and the e-mails padded with spaces (trimmed by the mapping).
    let mut text = String::from("mobile,plan,first_name,email,id\n");
    for p in &everyone {
        text.push_str(&format!(
            "{},{},{}, {} ,{}\n",
            p.mobile, p.plan, p.first_name, p.email, p.id
        ));
    }
    std::fs::write(night.path("moved.csv"), text).unwrap();
    for round in 0..2 {
        let out = night.sync(&mock, &night.path("moved.csv"), &[]);
        assert_exit(&out, 0);
        assert!(stdout(&out).contains("unchanged 20"), "{}", stdout(&out));
        assert_eq!(mock.requests(), before, "round {round}: no request");
    }
    let moved = fingerprints(&night);
    for ((key, old), (_, new)) in first.iter().zip(&moved) {
        assert_ne!(
            old, new,
            "{key}: the new row's fingerprint replaces the old one"
        );
    }

    // A column the mapping does not read, different on every row, and the columns moved again:
    // the rows are still the ones last synced.
    let mut text = String::from("id,notes,email,first_name,plan,mobile\n");
    for (i, p) in everyone.iter().enumerate() {
        text.push_str(&format!(
            "{},last login {i}, {} ,{},{},{}\n",
            p.id, p.email, p.first_name, p.plan, p.mobile
        ));
    }
    std::fs::write(night.path("notes.csv"), text).unwrap();
    let out = night.sync(&mock, &night.path("notes.csv"), &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("unchanged 20"), "{}", stdout(&out));
    assert_eq!(mock.requests(), before);
    assert_eq!(
        fingerprints(&night),
        moved,
        "an unmapped column does not count"
    );
}
