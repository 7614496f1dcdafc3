//! A run that breaks inside fails closed, through the binary: the export's reader thread is made
//! to panic on one line (`USERSYNC_TEST_PANIC_AT_LINE`, read by test builds only), and the sync
//! must neither take the rows it never read for leavers nor send anything after the breakage; it
//! exits 1, records the run `aborted`, and leaves no row of it without an outcome. `plan` prints
//! no plan. The next sync without the fault does what is needed.

use std::path::Path;
use std::process::Output;

use crate::support::nightly::{assert_exit, employees, quiet_mock as mock, Employee, Mock, Night};
use crate::support::{stderr, stdout};
use serde_json::Value;
use usersync::ledger::{OutcomeKind, RunStatus, StoredOutcome};
use usersync::provider::Operation;

/// People in the export of a nightly test: the reader hands rows over 256 at a time, so a panic
/// on the last line loses the 24 rows after the first batch. As leavers they would be 8.6 % of
/// the users, under `max_deactivate` (10 %) and far from the truncation guard (50 %): exactly the
/// users a run reading the panic as the end of the file would deactivate.
const NIGHTLY: usize = 280;

/// What the sync says when the reader thread dies on `line`.
fn reader_panicked(line: u64) -> String {
    format!(
        "error: the export reader thread panicked: injected by USERSYNC_TEST_PANIC_AT_LINE on \
         line {line}"
    )
}

/// `usersync ARGS -t lawyers`, the row on input line `line` panicking.
fn panicking(night: &Night, args: &[&str], line: u64) -> Output {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-t", "lawyers"]);
    night
        .usersync(&all)
        .env("USERSYNC_TEST_PANIC_AT_LINE", line.to_string())
        .output()
        .expect("run usersync")
}

/// `sync FILE --base-url MOCK EXTRA..`, the row on input line `line` panicking.
fn sync_panicking(night: &Night, mock: &Mock, file: &Path, extra: &[&str], line: u64) -> Output {
    let url = mock.url();
    let mut args = vec!["sync", file.to_str().unwrap(), "--base-url", url.as_str()];
    args.extend_from_slice(extra);
    panicking(night, &args, line)
}

/// The newest run as `usersync runs --json` prints it.
fn newest_run(night: &Night) -> Value {
    let out = night
        .usersync(&["runs", "--json", "-t", "lawyers"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let first = stdout(&out).lines().next().map(str::to_owned);
    serde_json::from_str(&first.expect("a run")).unwrap()
}

/// Asserts the newest run was recorded aborted with exit 1, its stored counts the sums of its
/// rows, and returns its rows, after checking that each has its final outcome and that every
/// one not sent says the run failed internally.
fn aborted_run(night: &Night) -> Vec<StoredOutcome> {
    let listed = newest_run(night);
    assert_eq!(listed["status"], "aborted", "{listed}");
    assert_eq!(listed["exit_code"], 1, "{listed}");
    let run = night.last_run();
    assert_eq!(run.status, RunStatus::Aborted);
    let outcomes = night.ledger().outcomes(run.id).unwrap();
    for o in &outcomes {
        assert_ne!(
            o.outcome,
            OutcomeKind::InFlight,
            "a row without an outcome: {o:?}"
        );
        if o.outcome == OutcomeKind::NotAttempted {
            let detail = o.error_detail.as_deref().unwrap_or_default();
            assert!(detail.contains("failed internally"), "{o:?}");
        }
    }
    assert_eq!(run.counts.rows, outcomes.len() as u64);
    outcomes
}

/// The first night: `everyone` created, exit 0.
fn first_night(night: &Night, mock: &Mock, everyone: &[Employee]) {
    let export = night.export("hr.csv", everyone);
    assert_exit(&night.sync(mock, &export, &[]), 0);
    assert_eq!(mock.users().len(), everyone.len());
}

#[test]
fn a_reader_panic_late_in_a_nightly_sync_deactivates_nobody_and_sends_nothing() {
    let night = Night::new();
    let mock = mock();
    let mut everyone = employees(NIGHTLY);
    first_night(&night, &mock, &everyone);
    // The next night one e-mail changed (line 11): a request the pass holds back.
    everyone[9].email = "nueva@empresa.example.com".into();
    let export = night.export("hr.csv", &everyone);
    let before = mock.requests();

    // The last line of 281: past 90 % of the file.
    let out = sync_panicking(&night, &mock, &export, &["--deactivate-missing"], 281);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(&reader_panicked(281)),
        "{}",
        stderr(&out)
    );
    assert_eq!(mock.requests(), before, "a held-back run sends nothing");
    assert!(mock.users().iter().all(|u| u.active), "nobody deactivated");

    let outcomes = aborted_run(&night);
    assert!(
        outcomes.len() < NIGHTLY,
        "the rows after the panic were never read"
    );
    assert!(outcomes
        .iter()
        .all(|o| o.operation != Some(Operation::Deactivate)));
    let changed = outcomes
        .iter()
        .find(|o| o.user_key.as_deref() == Some("E00010"))
        .expect("the changed row was read before the panic");
    assert_eq!(changed.outcome, OutcomeKind::NotAttempted);

    // Without the fault, the next night sends the change, and only it.
    let out = night.sync(&mock, &export, &["--deactivate-missing"]);
    assert_exit(&out, 0);
    assert_eq!(mock.requests(), before + 1);
    assert_eq!(
        mock.user("E00010").fields["email"],
        "nueva@empresa.example.com"
    );
    assert!(mock.users().iter().all(|u| u.active));
    assert_eq!(newest_run(&night)["status"], "completed");
}

#[test]
fn a_reader_panic_during_a_first_sync_sends_no_row_after_it() {
    let night = Night::new();
    let mock = mock();
    let everyone = employees(600);
    let export = night.export("hr.csv", &everyone);

    // Line 500 is E00499's: the rows from it on are never sent.
    let out = sync_panicking(&night, &mock, &export, &[], 500);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(&reader_panicked(500)),
        "{}",
        stderr(&out)
    );
    let number = |id: &str| id[1..].parse::<usize>().unwrap();
    let sent = mock.users();
    assert!(
        sent.iter().all(|u| number(&u.id) < 499),
        "a row after the panic was sent"
    );

    let outcomes = aborted_run(&night);
    assert!(
        outcomes.iter().all(|o| o.line < 500),
        "no row after the panic"
    );
    let synced = outcomes
        .iter()
        .filter(|o| o.outcome == OutcomeKind::Synced)
        .count();
    assert_eq!(
        synced,
        sent.len(),
        "what the mock holds is what is recorded synced"
    );
    assert_eq!(mock.requests(), sent.len() as u64);

    // The next sync creates the rest, nobody twice.
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    assert_eq!(mock.users().len(), everyone.len());
    assert!(mock.users().iter().all(|u| u.history.len() == 1));
}

#[test]
fn a_plan_whose_reader_panics_prints_no_plan() {
    let night = Night::new();
    let mock = mock();
    first_night(&night, &mock, &employees(NIGHTLY));
    let export = night.path("hr.csv");
    let export = export.to_str().unwrap();
    let url = mock.url();

    for args in [
        vec!["plan", export, "--deactivate-missing"],
        vec!["plan", export, "--deactivate-missing", "--json"],
        vec![
            "sync",
            export,
            "--deactivate-missing",
            "--dry-run",
            "--base-url",
            &url,
        ],
    ] {
        let out = panicking(&night, &args, 281);
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains(&reader_panicked(281)),
            "{}",
            stderr(&out)
        );
        let printed = stdout(&out);
        assert!(!printed.contains("plan for"), "{args:?}: {printed}");
        assert!(!printed.contains("summary"), "{args:?}: {printed}");
        assert!(!printed.contains("deactivate"), "{args:?}: {printed}");
    }
    assert_eq!(night.last_run().command, "sync", "a plan records no run");
}
