//! `usersync retry` and `usersync runs` through the real binary: a mock failing every request
//! about some users leaves exactly their rows `failed`; once it recovers, `retry last` sends
//! exactly those rows, from the payloads the ledger kept (the export is gone by then), as a
//! new run linked to the first; a row a later run already synced is left alone; `runs` lists
//! the runs newest first. The ledger's retry queries are checked directly too.

use crate::support::nightly::{assert_exit, employees, history, Mock, Night};
use crate::support::stdout;
use usersync::ledger::{
    Ledger, NewRun, OutcomeKind, RowOutcome, RunStatus, SnapshotChange, GUARD_REFUSED,
};
use usersync::mock::FaultConfig;
use usersync::provider::Operation;

const FAILING: [&str; 3] = ["E00003", "E00008", "E00011"];

/// A mock that answers 503 to everything about the FAILING users.
fn failing_mock() -> Mock {
    Mock::start(FaultConfig {
        seed: Some(11),
        fail_users: FAILING.iter().map(|s| s.to_string()).collect(),
        ..FaultConfig::default()
    })
}

/// The mock recovers.
fn recover(mock: &Mock) {
    mock.handle
        .state
        .set_faults(FaultConfig::default())
        .unwrap();
}

#[test]
fn retry_last_sends_exactly_the_failed_rows_after_the_mock_recovers() {
    let night = Night::new();
    let mock = failing_mock();
    let export = night.export("hr.csv", &employees(15));

    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 3);
    assert!(stdout(&out).contains("failed 3"), "{}", stdout(&out));
    let first = night.last_run();
    let ledger = night.ledger();
    let mut failed: Vec<String> = ledger
        .outcomes(first.id)
        .unwrap()
        .into_iter()
        .filter(|o| o.outcome == OutcomeKind::Failed)
        .filter_map(|o| o.user_key)
        .collect();
    failed.sort();
    assert_eq!(failed, FAILING);
    assert_eq!(mock.users().len(), 12);

    // The export is gone; the mock is back.
    std::fs::remove_file(&export).unwrap();
    recover(&mock);
    let before = mock.requests();
    let out = night.retry(&mock, &["last"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("retry of run {}", first.id)),
        "{text}"
    );
    assert!(text.contains("created 3"), "{text}");
    assert_eq!(
        mock.requests() - before,
        3,
        "exactly the failed rows are sent"
    );
    for id in FAILING {
        assert_eq!(
            history(&mock.user(id)),
            [(
                "create".to_string(),
                ["email", "first_name", "mobile_phone", "status", "user_id"]
                    .map(String::from)
                    .to_vec()
            )],
            "{id} is created once, with its whole payload"
        );
    }
    for user in mock.users() {
        assert_eq!(user.history.len(), 1, "{} was sent once", user.id);
    }

    let retry = night.last_run();
    assert_eq!(retry.command, "retry");
    assert_eq!(retry.parent_run_id, Some(first.id));
    assert_eq!(retry.status, RunStatus::Completed);
    assert_eq!(
        (retry.counts.rows, retry.counts.created),
        (3, 3),
        "the retry's run holds the retried rows"
    );
    let lines: Vec<i64> = night
        .ledger()
        .outcomes(retry.id)
        .unwrap()
        .iter()
        .map(|o| o.line)
        .collect();
    assert_eq!(lines, [4, 9, 12], "each row keeps its line in the export");
    assert_eq!(night.ledger().snapshot("lawyers").unwrap().len(), 15);

    // Nothing is left to retry.
    let out = night.retry(&mock, &[]);
    assert_nothing_to_retry(&out);
    assert_eq!(
        night.last_run().id,
        retry.id,
        "an empty retry records no run"
    );
}

#[test]
fn provider_rejections_are_re_sent_only_with_include_rejected() {
    let night = Night::new();
    let mock = Mock::start(FaultConfig {
        seed: Some(12),
        reject_users: vec!["E00004".into()],
        ..FaultConfig::default()
    });
    let export = night.export("hr.csv", &employees(10));
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 3);
    assert!(stdout(&out).contains("rejected 1"), "{}", stdout(&out));
    let first = night.last_run();
    let rejected = night
        .ledger()
        .outcomes(first.id)
        .unwrap()
        .into_iter()
        .find(|o| o.outcome == OutcomeKind::Rejected)
        .unwrap();
    assert_eq!(rejected.user_key.as_deref(), Some("E00004"));
    assert_eq!(rejected.http_status, Some(400));

    // The data is fixed at the provider's end; the export is gone.
    std::fs::remove_file(&export).unwrap();
    recover(&mock);
    let before = mock.requests();
    let out = night.retry(&mock, &["last"]);
    assert_nothing_to_retry(&out);
    assert_eq!(
        mock.requests(),
        before,
        "a rejection is not retried by default"
    );

    let out = night.retry(&mock, &["last", "--include-rejected"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("created 1"), "{}", stdout(&out));
    assert_eq!(mock.requests() - before, 1, "only the rejected row is sent");
    assert_eq!(history(&mock.user("E00004")).len(), 1);
    assert_eq!(mock.users().len(), 10);
    let retry = night.last_run();
    assert_eq!(retry.parent_run_id, Some(first.id));
    assert_eq!((retry.counts.rows, retry.counts.created), (1, 1));
}

#[test]
fn retry_leaves_alone_what_a_later_run_already_synced() {
    let night = Night::new();
    let mock = failing_mock();
    let export = night.export("hr.csv", &employees(15));
    assert_exit(&night.sync(&mock, &export, &[]), 3);
    let first = night.last_run();

    // The next night syncs them (they were not in the snapshot) once the mock is back...
    recover(&mock);
    let mut everyone = employees(15);
    everyone[2].first_name = "Nuevo".into();
    let export = night.export("hr.csv", &everyone);
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("created 3"), "{}", stdout(&out));
    let before = mock.requests();

    // ...so retrying the first night would only undo the second's data.
    let url = mock.url();
    let out = night
        .usersync(&["retry", &first.id.to_string(), "--base-url", &url])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("nothing to retry"), "{text}");
    assert!(text.contains("3 rows left alone"), "{text}");
    assert_eq!(mock.requests(), before);
    assert_eq!(mock.user("E00003").fields["first_name"], "Nuevo");
}

#[test]
fn retry_names_an_unknown_run() {
    let night = Night::new();
    let mock = failing_mock();
    let export = night.export("hr.csv", &employees(3));
    night.sync(&mock, &export, &[]);
    let out = night.retry(&mock, &["42"]);
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no run 42"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn runs_lists_the_runs_newest_first() {
    let night = Night::new();
    let out = night.usersync(&["runs"]).output().unwrap();
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("no runs yet"), "{}", stdout(&out));
    assert!(
        !night.path("usersync.db").exists(),
        "listing runs does not create a ledger"
    );

    let mock = failing_mock();
    let export = night.export("hr.csv", &employees(15));
    night.sync(&mock, &export, &[]);
    recover(&mock);
    night.retry(&mock, &["last"]);

    let out = night.usersync(&["runs"]).output().unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("RUN  TARGET"), "{text}");
    let words = |line: &str| {
        line.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let newest = words(lines[1]);
    assert_eq!(&newest[..4], ["2", "lawyers", "retry", "1"], "{text}");
    assert!(newest.contains(&"completed".to_string()), "{text}");
    let oldest = words(lines[2]);
    assert_eq!(&oldest[..3], ["1", "lawyers", "sync"], "{text}");
    // ROWS SYNCED UNCHANGED REJECTED FAILED NOT-SENT
    assert_eq!(
        &oldest[oldest.len() - 6..],
        ["15", "12", "0", "0", "3", "0"]
    );

    let out = night
        .usersync(&["runs", "-t", "lawyers", "--json", "--limit", "1"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let run = &lines[0];
    assert_eq!(run["id"], 2);
    assert_eq!(run["command"], "retry");
    assert_eq!(run["parent_run_id"], 1);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["counts"]["created"], 3);
    assert!(run["duration_secs"].as_f64().unwrap() >= 0.0);
    assert!(run["started_at"].as_str().unwrap().ends_with('Z'));

    let out = night.usersync(&["runs", "-t", "nobody"]).output().unwrap();
    assert!(stdout(&out).contains("no runs of target nobody"));
}

/// The ledger's side of `retry`: which rows it re-sends, and which it leaves alone.
#[test]
fn the_ledger_retries_failed_and_unsent_rows_and_provider_rejections_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().join("l.db")).unwrap();
    let begin = || {
        ledger
            .begin_run(&NewRun {
                target: "t".into(),
                provider: "meetinglawyers".into(),
                command: "sync".into(),
                ..NewRun::default()
            })
            .unwrap()
    };
    let run = begin();
    let payload = || {
        serde_json::json!({"user_id": "x"})
            .as_object()
            .unwrap()
            .clone()
            .into()
    };
    let row = |line: i64, key: &str, kind: OutcomeKind| RowOutcome {
        operation: Some(Operation::Create),
        payload: Some(payload()),
        ..RowOutcome::new(line, Some(key.into()), kind)
    };
    let rows = vec![
        row(2, "a", OutcomeKind::Failed),
        row(3, "b", OutcomeKind::NotAttempted),
        RowOutcome {
            http_status: Some(400),
            ..row(4, "c", OutcomeKind::Rejected)
        },
        // Rejected by validation: no status, no operation, no payload.
        RowOutcome::new(5, Some("d".into()), OutcomeKind::Rejected),
        RowOutcome {
            error_code: Some(GUARD_REFUSED.into()),
            ..row(6, "e", OutcomeKind::NotAttempted)
        },
        row(7, "f", OutcomeKind::Failed),
        RowOutcome {
            operation: Some(Operation::Deactivate),
            ..row(-1, "g", OutcomeKind::Failed)
        },
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let path = dir.path().join("l.db");
    let write = |run, rows: Vec<RowOutcome>| {
        runtime.block_on(async {
            let (writer, task) =
                usersync::ledger::LedgerWriter::spawn(&path, Default::default()).unwrap();
            writer.record_outcomes(run, rows).await.unwrap();
            writer.flush().await.unwrap();
            drop(writer);
            task.await.unwrap().unwrap();
        })
    };
    write(run, rows);
    // A later run synced `f`.
    let later = begin();
    write(
        later,
        vec![RowOutcome {
            operation: Some(Operation::Create),
            snapshot: Some(SnapshotChange::Upsert {
                remote_id: None,
                payload_hash: [1; 32],
                field_hashes: Default::default(),
                source_hash: None,
            }),
            ..RowOutcome::new(2, Some("f".into()), OutcomeKind::Synced)
        }],
    );

    let keys = |include_rejected| {
        let mut keys = Vec::new();
        ledger
            .each_retryable(run, "t", include_rejected, |o| {
                keys.push(o.user_key.unwrap());
                Ok::<(), usersync::ledger::LedgerError>(())
            })
            .unwrap();
        keys
    };
    assert_eq!(keys(false), ["g", "a", "b"], "deactivations first, by line");
    assert_eq!(keys(true), ["g", "a", "b", "c"]);
    let counts = ledger.retry_counts(run, "t", false).unwrap();
    assert_eq!((counts.rows, counts.superseded), (3, 1));
}

/// The retry found nothing to send and said so, exiting 0.
fn assert_nothing_to_retry(out: &std::process::Output) {
    assert_exit(out, 0);
    assert!(stdout(out).contains("nothing to retry"), "{}", stdout(out));
}
