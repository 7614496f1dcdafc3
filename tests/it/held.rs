//! Held runs: a run whose broken-export guards trip sends nothing and is held (exit 5) with what
//! it would have sent; `approve` sends exactly that, `reject` closes it, and an approval is
//! refused when the ledger changed since or the run is too old.

use crate::support::nightly::{first_night, quiet_mock, Night};
use crate::support::{stderr, stdout};

/// The `runs --json` line of run `id`.
fn run_line(night: &Night, id: i64) -> serde_json::Value {
    let out = night.usersync(&["runs", "--json"]).output().unwrap();
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["id"] == id)
        .unwrap()
}

#[test]
fn a_held_run_is_approved_exactly_or_rejected() {
    let night = Night::new();
    let mock = quiet_mock();
    let everyone = first_night(&night, &mock);
    let before = mock.requests();
    // Five of twenty leave: more than max_deactivate (10%) allows.
    let fewer = night.export("fewer.csv", &everyone[..15]);
    let out = night.sync(&mock, &fewer, &["--deactivate-missing"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("usersync approve 2"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mock.requests(), before, "a held run sends nothing");
    assert_eq!(run_line(&night, 2)["held"]["state"], "waiting");

    let url = mock.url();
    let approve = |run: &str, extra: &[&str]| {
        let mut args = vec!["approve", run, "--base-url", url.as_str()];
        args.extend_from_slice(extra);
        night.usersync(&args).output().unwrap()
    };
    // Too old for a --max-age of nothing.
    let refused = approve("2", &["--max-age", "0s"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--max-age"),
        "{}",
        stderr(&refused)
    );

    let out = approve("2", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("deactivated 5"), "{}", stdout(&out));
    assert_eq!(
        mock.requests(),
        before + 5,
        "exactly the held deactivations"
    );
    assert_eq!(mock.users().iter().filter(|u| !u.active).count(), 5);
    let line = run_line(&night, 2);
    assert_eq!(line["held"]["state"], "approved");
    assert_eq!(line["held"]["approved_run_id"], 3);
    let again = approve("2", &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("was approved by"),
        "{}",
        stderr(&again)
    );

    // Held again (seven of the fifteen left: a truncated export), then the ledger changes: the
    // approval is refused.
    let half = night.export("half.csv", &everyone[..7]);
    let out = night.sync(&mock, &half, &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let mut changed = everyone[..15].to_vec();
    changed[0].first_name = "Changed".into();
    let forced = night.export("changed.csv", &changed);
    let out = night.sync(&mock, &forced, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stale = approve("4", &[]);
    assert_eq!(stale.status.code(), Some(2), "{}", stderr(&stale));
    assert!(
        stderr(&stale).contains("the ledger's users of the target changed"),
        "{}",
        stderr(&stale)
    );

    // Rejected: closed, and never approved after.
    let out = night.usersync(&["reject", "4"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(run_line(&night, 4)["held"]["state"], "rejected");
    let closed = approve("4", &[]);
    assert!(
        stderr(&closed).contains("was rejected by"),
        "{}",
        stderr(&closed)
    );
    let table = night.usersync(&["runs"]).output().unwrap();
    assert!(
        stdout(&table).contains("held, rejected by"),
        "{}",
        stdout(&table)
    );
}
