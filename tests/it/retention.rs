//! The ledger's retention through the real binary: a sync deletes the row details (and the
//! payloads kept for failed rows) of its target's runs that ended longer ago than
//! `retention_days`, keeps their counts for `usersync runs`, and never touches the snapshot, so
//! the next night still sends only what changed; `report` and `retry` of a pruned run say why
//! they cannot; `usersync prune` does the same by hand, with `--dry-run` and `--vacuum`.

use crate::support::nightly::{assert_exit, employees, Mock, Night};
use crate::support::{stderr, stdout};
use usersync::ledger::RunId;
use usersync::mock::FaultConfig;

/// The users a mock answers 503 about on the first night.
const FAILING: [&str; 2] = ["E00002", "E00005"];

/// Makes run `id` look as if it ended `days` ago.
fn age(night: &Night, id: RunId, days: i64) {
    let at = (chrono::Utc::now() - chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let conn = rusqlite::Connection::open(night.path("usersync.db")).unwrap();
    conn.execute(
        "UPDATE runs SET started_at = ?2, finished_at = ?2 WHERE id = ?1",
        rusqlite::params![id.0, at],
    )
    .unwrap();
}

/// The rows of run `id` in the ledger, and how many of them keep a payload.
fn rows_and_payloads(night: &Night, id: RunId) -> (i64, i64) {
    let conn = rusqlite::Connection::open(night.path("usersync.db")).unwrap();
    conn.query_row(
        "SELECT count(*), count(payload) FROM row_outcomes WHERE run_id = ?1",
        [id.0],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// Puts `line` at the top of the test's config (top-level keys come before the tables).
fn configure(night: &Night, line: &str) {
    let path = night.path("usersync.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{line}\n{config}")).unwrap();
}

/// Night 1 fails the FAILING users (their payloads are kept for `retry`), night 2 creates them:
/// two runs of target `lawyers` over 12 people. Returns their ids.
fn two_nights(night: &Night, mock: &Mock) -> (RunId, RunId) {
    let export = night.export("hr.csv", &employees(12));
    assert_exit(&night.sync(mock, &export, &[]), 3);
    let first = night.last_run();
    assert_eq!(
        rows_and_payloads(night, first.id),
        (12, 2),
        "failed rows keep payloads"
    );
    mock.handle
        .state
        .set_faults(FaultConfig::default())
        .unwrap();
    let out = night.sync(mock, &export, &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("created 2"), "{}", stdout(&out));
    (first.id, night.last_run().id)
}

fn failing_mock() -> Mock {
    Mock::start(FaultConfig {
        seed: Some(3),
        fail_users: FAILING.iter().map(|s| s.to_string()).collect(),
        ..FaultConfig::default()
    })
}

#[test]
fn a_sync_prunes_its_targets_runs_past_the_retention_and_keeps_the_snapshot() {
    let night = Night::new();
    let mock = failing_mock();
    let (first, second) = two_nights(&night, &mock);
    // The default retention is 90 days.
    age(&night, first, 91);
    age(&night, second, 89);

    let export = night.path("hr.csv");
    let before = mock.requests();
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    assert_eq!(
        mock.requests(),
        before,
        "the snapshot still says nothing changed"
    );
    assert!(stdout(&out).contains("unchanged 12"), "{}", stdout(&out));

    assert_eq!(
        rows_and_payloads(&night, first),
        (0, 0),
        "the old run's rows, and the failed rows' payloads, are gone"
    );
    assert_eq!(
        rows_and_payloads(&night, second).0,
        12,
        "a recent run keeps its rows"
    );
    let ledger = night.ledger();
    let pruned = ledger.run(first).unwrap().unwrap();
    assert!(pruned.pruned_at.is_some());
    assert_eq!(
        (pruned.counts.rows, pruned.counts.failed),
        (12, 2),
        "a pruned run keeps its counts"
    );
    assert!(ledger.run(second).unwrap().unwrap().pruned_at.is_none());
    assert_eq!(ledger.snapshot("lawyers").unwrap().len(), 12);

    // `runs` still lists it, marked; the JSON says when.
    let runs = night.usersync(&["runs"]).output().unwrap();
    assert!(
        stdout(&runs).contains("completed (pruned)"),
        "{}",
        stdout(&runs)
    );
    let json = night.usersync(&["runs", "--json"]).output().unwrap();
    let lines: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let oldest = lines.last().unwrap();
    assert_eq!(oldest["id"], first.0);
    assert!(oldest["pruned_at"].is_string(), "{oldest}");
    assert!(lines[0]["pruned_at"].is_null());

    // Its report and its retry say why they cannot, instead of showing an empty run.
    let report = night
        .usersync(&["report", &first.to_string()])
        .output()
        .unwrap();
    assert_exit(&report, 2);
    assert!(
        stderr(&report).contains("no longer has its row details")
            && stderr(&report).contains("retention_days"),
        "{}",
        stderr(&report)
    );
    let retry = night.retry(&mock, &[&first.to_string()]);
    assert_exit(&retry, 1);
    assert!(
        stderr(&retry).contains("no longer has its row details"),
        "{}",
        stderr(&retry)
    );
}

#[test]
fn the_newest_run_and_forever_keep_their_rows() {
    let night = Night::new();
    let mock = failing_mock();
    let (first, second) = two_nights(&night, &mock);
    configure(&night, "retention_days = \"forever\"");
    age(&night, first, 400);
    age(&night, second, 400);
    assert_exit(&night.sync(&mock, &night.path("hr.csv"), &[]), 0);
    assert_eq!(
        rows_and_payloads(&night, first),
        (12, 2),
        "forever keeps everything"
    );

    let out = night.usersync(&["prune"]).output().unwrap();
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("nothing pruned"), "{}", stdout(&out));
    assert_eq!(rows_and_payloads(&night, first).0, 12);

    // A target's newest run stays whole, however old: it is the one `retry` picks by default.
    let third = night.last_run().id;
    age(&night, third, 400);
    let out = night
        .usersync(&["prune", "--older-than-days", "30"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("2 runs"), "{}", stdout(&out));
    assert_eq!(rows_and_payloads(&night, first).0, 0);
    assert_eq!(rows_and_payloads(&night, second).0, 0);
    assert_eq!(
        rows_and_payloads(&night, third).0,
        12,
        "the newest run is kept"
    );
}

#[test]
fn prune_by_hand_previews_prunes_and_shrinks_the_file() {
    let night = Night::new();
    let mock = failing_mock();
    let (first, second) = two_nights(&night, &mock);
    configure(&night, "retention_days = 7");
    age(&night, first, 8);

    let preview = night.usersync(&["prune", "--dry-run"]).output().unwrap();
    assert_exit(&preview, 0);
    let text = stdout(&preview);
    assert!(
        text.contains("would prune the row details of 1 run (12 rows)")
            && text.contains(&format!("lawyers: 1 (run {first})"))
            && text.contains("7 days ago"),
        "{text}"
    );
    assert_eq!(
        rows_and_payloads(&night, first).0,
        12,
        "a dry run deletes nothing"
    );

    // A vacuum rewrites the whole file: not while a sync of any target holds its lock.
    let held = night.ledger().lock_target("lawyers").unwrap();
    let busy = night.usersync(&["prune", "--vacuum"]).output().unwrap();
    assert_exit(&busy, 1);
    assert!(
        stderr(&busy).contains("is syncing target lawyers"),
        "{}",
        stderr(&busy)
    );
    assert_eq!(
        rows_and_payloads(&night, first).0,
        12,
        "a refusal changes nothing"
    );
    drop(held);

    let out = night.usersync(&["prune", "--vacuum"]).output().unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("12 rows deleted"), "{text}");
    assert!(text.contains("vacuumed: the ledger"), "{text}");
    assert_eq!(rows_and_payloads(&night, first).0, 0);
    assert_eq!(rows_and_payloads(&night, second).0, 12);

    let again = night.usersync(&["prune"]).output().unwrap();
    assert_exit(&again, 0);
    assert!(
        stdout(&again).contains("nothing to prune"),
        "{}",
        stdout(&again)
    );

    // A target name limits it; another target's runs are not touched.
    let other = night
        .usersync(&["prune", "-t", "nobody", "--older-than-days", "1"])
        .output()
        .unwrap();
    assert_exit(&other, 0);
    assert!(
        stdout(&other).contains("nothing to prune"),
        "{}",
        stdout(&other)
    );
}
