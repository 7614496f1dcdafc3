//! Runs: listing and linking, recovery after a crash, retry selection, counts, learned limits.

use super::*;

#[tokio::test]
async fn a_run_left_running_by_a_dead_process_is_recovered() {
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    let mut ledger = Ledger::open(&path).unwrap();
    let run = ledger.begin_run(&new_run("ml")).unwrap();
    let (handle, join) = spawn_writer(&path);
    let intents = (0..2)
        .map(|i| Intent::new(i + 2, format!("u{i}"), Operation::Create, &user(i as usize)).unwrap())
        .collect();
    handle.record_intents(run, intents).await.unwrap();
    handle
        .record_outcome(run, synced(&ledger, 2, Operation::Create, &user(0), None))
        .await
        .unwrap();
    drop(handle);
    join.await.unwrap().unwrap();
    // Pretend the run belonged to a process that was killed.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE runs SET pid = 4000000 WHERE id = ?1", [run.0])
        .unwrap();

    let lock = ledger.lock_target("ml").unwrap();
    let recovered = ledger.recover_interrupted(&lock).unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!((recovered[0].id, recovered[0].in_flight_rows), (run, 1));

    let record = ledger.run(run).unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Interrupted);
    assert!(record.finished_at.is_some());
    assert_eq!(
        (
            record.counts.rows,
            record.counts.synced,
            record.counts.failed
        ),
        (2, 1, 1)
    );
    let rows = ledger.outcomes(run).unwrap();
    assert_eq!(rows[1].outcome, OutcomeKind::Failed);
    assert_eq!(rows[1].error_code.as_deref(), Some("interrupted"));
    assert!(rows[1]
        .error_detail
        .as_deref()
        .unwrap()
        .contains("may have reached the provider"));
    assert_eq!(rows[1].payload.as_ref(), Some(&user(1)), "kept for a retry");
    // Our own running run is never touched, and a second call finds nothing.
    let ours = ledger.begin_run(&new_run("ml")).unwrap();
    assert!(ledger.recover_interrupted(&lock).unwrap().is_empty());
    assert_eq!(
        ledger.run(ours).unwrap().unwrap().status,
        RunStatus::Running
    );
    ledger.integrity_check().unwrap();
}

#[tokio::test]
async fn retry_selects_failed_and_not_attempted_rows_and_provider_rejections_on_request() {
    let dir = TempDir::new().unwrap();
    let (path, ledger, run) = ledger_with_run(&dir);
    let (handle, join) = spawn_writer(&path);
    let rows = vec![
        synced(&ledger, 2, Operation::Create, &user(2), None),
        RowOutcome {
            operation: Some(Operation::Create),
            ..RowOutcome::new(3, Some("u3".into()), OutcomeKind::Unchanged)
        },
        failed(4, "u4", Some(user(4))),
        RowOutcome {
            operation: Some(Operation::Create),
            payload: Some(user(5)),
            error_code: Some("auth_failed".into()),
            ..RowOutcome::new(5, Some("u5".into()), OutcomeKind::NotAttempted)
        },
        // Rejected by the provider: retried only on request.
        RowOutcome {
            operation: Some(Operation::Create),
            http_status: Some(422),
            payload: Some(user(6)),
            errors: vec![FieldError::new("email", "taken", "email already used")],
            attempts: 1,
            ..RowOutcome::new(6, Some("u6".into()), OutcomeKind::Rejected)
        },
        // Rejected by validation: never retried.
        RowOutcome {
            errors: vec![FieldError::new("email", "email_invalid", "not an email")],
            ..RowOutcome::new(7, None, OutcomeKind::Rejected)
        },
    ];
    handle.record_outcomes(run, rows).await.unwrap();
    drop(handle);
    join.await.unwrap().unwrap();

    let lines = |rows: Vec<usersync::ledger::StoredOutcome>| {
        rows.iter().map(|r| r.line).collect::<Vec<_>>()
    };
    assert_eq!(lines(ledger.retryable(run, false).unwrap()), [4, 5]);
    let with_rejected = ledger.retryable(run, true).unwrap();
    assert_eq!(
        with_rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
        [4, 5, 6]
    );
    assert_eq!(with_rejected[2].payload.as_ref(), Some(&user(6)));
    assert_eq!(with_rejected[2].errors[0].code, "taken");

    let all = ledger.outcomes(run).unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[1].payload, None, "unchanged rows keep no payload");
    assert_eq!(all[5].user_key, None);
    assert_eq!(all[5].errors[0].code, "email_invalid");

    let counts = ledger.counts(run).unwrap();
    let expected = RunCounts {
        rows: 6,
        synced: 1,
        unchanged: 1,
        rejected: 2,
        failed: 1,
        not_attempted: 1,
        created: 1,
        updated: 0,
        deactivated: 0,
        requests: 6,
        retries: 3,
    };
    assert_eq!(counts, expected);
}

#[test]
fn runs_are_listed_finished_and_linked() {
    let dir = TempDir::new().unwrap();
    let ledger = Ledger::open(ledger_in(&dir)).unwrap();
    let first = ledger.begin_run(&new_run("ml")).unwrap();
    let other = ledger.begin_run(&new_run("gnoss")).unwrap();
    let counts = RunCounts {
        rows: 10,
        synced: 8,
        failed: 2,
        created: 8,
        requests: 12,
        retries: 2,
        ..RunCounts::default()
    };
    ledger
        .finish_run(first, RunStatus::Completed, Some(3), &counts)
        .unwrap();
    let retry = ledger
        .begin_run(&NewRun {
            command: "retry".into(),
            parent_run_id: Some(first),
            ..new_run("ml")
        })
        .unwrap();

    let all = ledger.list_runs(None).unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first, other, retry]
    );
    let ml = ledger.list_runs(Some("ml")).unwrap();
    assert_eq!(ml.len(), 2);
    let done = &ml[0];
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.exit_code, Some(3));
    assert_eq!(done.counts, counts);
    assert_eq!(done.input_sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(done.pid, Some(std::process::id()));
    assert!(done.finished_at.unwrap() >= done.started_at);
    assert_eq!(ledger.last_run("ml").unwrap().unwrap().id, retry);
    assert_eq!(
        ledger.last_run("ml").unwrap().unwrap().parent_run_id,
        Some(first)
    );
    assert_eq!(ledger.previous_run("ml", retry).unwrap().unwrap().id, first);
    assert!(ledger.previous_run("ml", first).unwrap().is_none());
    assert!(ledger.last_run("abitmedia").unwrap().is_none());
    assert!(ledger.run(RunId(99)).unwrap().is_none());
    let err = ledger
        .finish_run(
            RunId(99),
            RunStatus::Aborted,
            Some(1),
            &RunCounts::default(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("run 99 is not in the ledger"),
        "{err}"
    );
}

#[test]
fn learned_limits_are_remembered_per_target() {
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    let ledger = Ledger::open(&path).unwrap();
    assert!(ledger.learned_limit("ml").unwrap().is_none());
    ledger
        .store_learned_limit("ml", Some(180.5), Some(12))
        .unwrap();
    ledger
        .store_learned_limit("ml", Some(195.0), Some(14))
        .unwrap();
    let reopened = Ledger::open(&path).unwrap();
    let limit = reopened.learned_limit("ml").unwrap().unwrap();
    assert_eq!((limit.rate, limit.concurrency), (Some(195.0), Some(14)));
    assert!(reopened.learned_limit("gnoss").unwrap().is_none());
}

#[test]
fn a_fresh_ledger_passes_the_integrity_check_and_holds_its_tables() {
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    Ledger::open(&path).unwrap().integrity_check().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    assert_eq!(
        tables,
        [
            "held_runs",
            "meta",
            "row_outcomes",
            "run_responses",
            "runs",
            "synced_users",
            "target_state"
        ]
    );
    let key_len: usize = conn
        .query_row(
            "SELECT length(value) FROM meta WHERE name = 'hmac_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(key_len, 32);
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT user_key, remote_id, payload_hash, active FROM synced_users \
             WHERE target = 'ml' ORDER BY user_key",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(
        plan.contains("COVERING INDEX synced_users_snapshot"),
        "{plan}"
    );
}
