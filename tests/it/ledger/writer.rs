//! The writer task's transactions, the snapshot it maintains, and the keyed hashes.

use super::*;
use usersync::ledger::short;

#[tokio::test]
async fn intents_are_committed_before_the_call_returns() {
    let dir = TempDir::new().unwrap();
    let (path, _ledger, run) = ledger_with_run(&dir);
    let (handle, _join) = spawn_writer(&path);

    let intents = (0..3)
        .map(|i| Intent::new(i + 2, format!("u{i}"), Operation::Create, &user(i as usize)).unwrap())
        .collect();
    handle.record_intents(run, intents).await.unwrap();

    // No flush: a separate connection already sees them.
    let rows = Ledger::open(&path).unwrap().outcomes(run).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.outcome == OutcomeKind::InFlight));
    assert_eq!(rows[0].payload.as_ref(), Some(&user(0)));
    assert_eq!(rows[0].operation, Some(Operation::Create));
}

#[tokio::test]
async fn an_outcome_replaces_its_intent_and_updates_the_snapshot_together() {
    let dir = TempDir::new().unwrap();
    let (path, ledger, run) = ledger_with_run(&dir);
    let (handle, join) = spawn_writer(&path);
    let ana = user(1);
    let intent = Intent::new(2, "u1".into(), Operation::Create, &ana).unwrap();
    handle.record_intents(run, vec![intent]).await.unwrap();
    handle
        .record_outcome(run, synced(&ledger, 2, Operation::Create, &ana, Some("41")))
        .await
        .unwrap();
    drop(handle);
    let stats = join.await.unwrap().unwrap();
    assert_eq!((stats.intents, stats.outcomes), (1, 1));

    let rows = ledger.outcomes(run).unwrap();
    assert_eq!(rows.len(), 1, "one row per line");
    assert_eq!(rows[0].outcome, OutcomeKind::Synced);
    assert_eq!(rows[0].payload, None, "no personal data kept once synced");
    assert_eq!(rows[0].http_status, Some(200));
    let snap = ledger.snapshot("ml").unwrap();
    let u1 = snap.get("u1").unwrap();
    assert_eq!(u1.remote_id, Some("41"));
    assert_eq!(u1.payload_hash, &short(&ledger.hasher().hash_payload(&ana)));
    assert!(u1.active);
}

#[tokio::test]
async fn everything_queued_is_committed_when_the_writer_shuts_down() {
    let dir = TempDir::new().unwrap();
    let (path, ledger, run) = ledger_with_run(&dir);
    let config = WriterConfig {
        batch_rows: 64,
        channel_capacity: 16,
        ..WriterConfig::default()
    };
    let (handle, join) = LedgerWriter::spawn(&path, config).unwrap();
    let n = 2_000;
    let mut senders = Vec::new();
    for part in 0..4 {
        let handle = handle.clone();
        let hasher = ledger.hasher();
        senders.push(tokio::spawn(async move {
            for i in (part..n).step_by(4) {
                let p = user(i);
                let row = RowOutcome {
                    operation: Some(Operation::Create),
                    snapshot: Some(SnapshotChange::Upsert {
                        remote_id: None,
                        payload_hash: hasher.hash_payload(&p),
                        field_hashes: hasher.hash_fields(&p),
                        source_hash: None,
                    }),
                    ..RowOutcome::new(i as i64 + 2, Some(format!("u{i}")), OutcomeKind::Synced)
                };
                handle.record_outcome(run, row).await.unwrap();
            }
        }));
    }
    drop(handle);
    for s in senders {
        s.await.unwrap();
    }
    let stats = join.await.unwrap().unwrap();
    assert_eq!(stats.outcomes, n as u64);
    assert!(stats.transactions < n as u64 / 10, "batched: {stats:?}");

    assert_eq!(ledger.counts(run).unwrap().synced, n as u64);
    assert_eq!(ledger.snapshot("ml").unwrap().len(), n);
    ledger.integrity_check().unwrap();
}

#[tokio::test]
async fn a_failed_row_keeps_its_payload_and_a_deactivation_marks_the_user_inactive_until_created_again(
) {
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    let ledger = Ledger::open(&path).unwrap();
    let first = ledger.begin_run(&new_run("ml")).unwrap();
    let (handle, join) = spawn_writer(&path);
    handle
        .record_outcome(
            first,
            synced(&ledger, 2, Operation::Create, &user(1), Some("7")),
        )
        .await
        .unwrap();
    handle.flush().await.unwrap();

    let second = ledger.begin_run(&new_run("ml")).unwrap();
    let intent = Intent::new(3, "u2".into(), Operation::Create, &user(2)).unwrap();
    handle.record_intents(second, vec![intent]).await.unwrap();
    // The failed outcome does not repeat the payload: the intent's is kept.
    handle
        .record_outcome(second, failed(3, "u2", None))
        .await
        .unwrap();
    let deactivated = RowOutcome {
        operation: Some(Operation::Deactivate),
        snapshot: Some(SnapshotChange::Deactivated),
        ..RowOutcome::new(-1, Some("u1".into()), OutcomeKind::Synced)
    };
    // An update without a remote id keeps the known one.
    let mut changed = user(1);
    changed.insert("name", json!("Ana María"));
    handle
        .record_outcome(second, synced(&ledger, 2, Operation::Patch, &changed, None))
        .await
        .unwrap();
    handle.record_outcome(second, deactivated).await.unwrap();
    drop(handle);
    join.await.unwrap().unwrap();

    let rows = ledger.outcomes(second).unwrap();
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [-1, 2, 3]);
    assert_eq!(rows[2].outcome, OutcomeKind::Failed);
    assert_eq!(rows[2].payload.as_ref(), Some(&user(2)));
    assert_eq!(rows[2].error_code.as_deref(), Some("http_503"));
    let snap = ledger.snapshot("ml").unwrap();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap.active_len(), 0);
    assert_u1(&ledger, false, &changed);
    assert!(
        snap.get("u2").is_none(),
        "a failed row is not in the snapshot"
    );

    // The leaver comes back and is created again: the snapshot already holds them, so the
    // create's row replaces theirs (active, the new payload, the remote id kept).
    let third = ledger.begin_run(&new_run("ml")).unwrap();
    let (handle, join) = spawn_writer(&path);
    let mut back = user(1);
    back.insert("name", json!("Ana M."));
    handle
        .record_outcome(third, synced(&ledger, 2, Operation::Create, &back, None))
        .await
        .unwrap();
    drop(handle);
    join.await.unwrap().unwrap();
    assert_eq!(
        ledger.outcomes(third).unwrap()[0].outcome,
        OutcomeKind::Synced
    );
    let snap = ledger.snapshot("ml").unwrap();
    assert_eq!((snap.len(), snap.active_len()), (1, 1));
    assert_u1(&ledger, true, &back);
}

/// u1 in the snapshot: `active` or not, remote id 7, and `payload` as the one last synced.
fn assert_u1(ledger: &Ledger, active: bool, payload: &usersync::payload::Payload) {
    let snap = ledger.snapshot("ml").unwrap();
    let u1 = snap.get("u1").unwrap();
    assert_eq!(u1.active, active);
    assert_eq!(u1.remote_id, Some("7"));
    assert_eq!(
        u1.payload_hash,
        &short(&ledger.hasher().hash_payload(payload))
    );
}

#[tokio::test]
async fn a_bad_run_id_stops_the_writer_with_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    let (handle, join) = spawn_writer(&path);
    handle
        .record_outcome(
            RunId(999),
            RowOutcome::new(2, Some("u".into()), OutcomeKind::Unchanged),
        )
        .await
        .unwrap();
    let flushed = handle.flush().await.unwrap_err();
    assert!(
        matches!(flushed, LedgerError::WriterStopped { .. }),
        "{flushed:?}"
    );
    let err = join.await.unwrap().unwrap_err();
    assert!(
        err.to_string().contains("run 999 is not in the ledger"),
        "{err}"
    );
    assert!(handle.flush().await.is_err(), "later sends fail too");
}

// ---- snapshot and hashes ----

#[tokio::test]
async fn snapshot_and_field_hashes_round_trip() {
    let dir = TempDir::new().unwrap();
    let (path, ledger, run) = ledger_with_run(&dir);
    let (handle, join) = spawn_writer(&path);
    let rows: Vec<_> = (0..300)
        .map(|i| synced(&ledger, i as i64 + 2, Operation::Create, &user(i), None))
        .collect();
    handle.record_outcomes(run, rows).await.unwrap();
    drop(handle);
    join.await.unwrap().unwrap();

    let hasher = ledger.hasher();
    let snap = ledger.snapshot("ml").unwrap();
    assert_eq!(snap.len(), 300);
    assert!(
        ledger.snapshot("other").unwrap().is_empty(),
        "snapshots are per target"
    );
    for i in [0, 150, 299] {
        let key = format!("u{i}");
        assert_eq!(
            snap.get(&key).unwrap().payload_hash,
            &short(&hasher.hash_payload(&user(i)))
        );
        let fields = ledger.field_hashes("ml", &key).unwrap();
        assert_eq!(fields, hasher.hash_fields(&user(i)));
        assert_eq!(
            *fields.get("email").unwrap(),
            hasher.hash_field("email", &json!(format!("u{i}@example.com")))
        );
    }
    assert!(ledger.field_hashes("ml", "nobody").unwrap().is_empty());
    let many = ledger
        .field_hashes_many("ml", ["u1", "u2", "nobody"])
        .unwrap();
    assert_eq!(many.len(), 2);
    // The ledger keeps hashes, never values: a BLOB of the field names and 16 bytes of hash
    // each (a format byte, a count, then per field its name's length, the name, the hash).
    let conn = rusqlite::Connection::open(&path).unwrap();
    let raw: Vec<u8> = conn
        .query_row(
            "SELECT field_hashes FROM synced_users WHERE user_key = 'u1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("example.com"), "{text}");
    let names: usize = user(1).keys().map(|name| 1 + name.len() + 16).sum();
    assert_eq!(raw.len(), 2 + names, "{text}");
    assert!(user(1).keys().all(|name| text.contains(name)), "{text}");

    // An older ledger's row, its hashes in hex JSON, is still read.
    let hex_json = serde_json::Value::Object(
        hasher
            .hash_fields(&user(1))
            .iter()
            .map(|(name, hash)| (name.to_string(), hex::encode(hash).into()))
            .collect(),
    );
    conn.execute(
        "UPDATE synced_users SET field_hashes = ?1 WHERE user_key = 'u1'",
        [hex_json.to_string()],
    )
    .unwrap();
    assert_eq!(
        ledger.field_hashes("ml", "u1").unwrap(),
        hasher.hash_fields(&user(1))
    );
    conn.execute(
        "UPDATE synced_users SET field_hashes = X'02' WHERE user_key = 'u1'",
        [],
    )
    .unwrap();
    let err = ledger.field_hashes("ml", "u1").unwrap_err().to_string();
    assert!(err.contains("bad field_hashes"), "{err}");
}

#[test]
fn hashes_are_keyed_per_ledger_and_stable_across_opens() {
    let dir = TempDir::new().unwrap();
    let a = ledger_in(&dir);
    let b = dir.path().join("other.db");
    let p = user(1);
    let hash_a = Ledger::open(&a).unwrap().hasher().hash_payload(&p);
    let hash_b = Ledger::open(&b).unwrap().hasher().hash_payload(&p);
    assert_ne!(hash_a, hash_b, "two ledgers, two keys");
    assert_eq!(
        Ledger::open(&a).unwrap().hasher().hash_payload(&p),
        hash_a,
        "key persisted"
    );
    assert_eq!(
        format!("{:?}", Ledger::open(&a).unwrap().hasher()),
        "PayloadHasher([redacted])"
    );
}

#[tokio::test]
async fn a_nightly_batch_of_unchanged_rows_gets_one_outcome_per_line() {
    let dir = TempDir::new().unwrap();
    let (path, ledger, run) = ledger_with_run(&dir);
    let (handle, join) = spawn_writer(&path);
    // 300 rows: unchanged ones (written many per statement) around a synced and a failed one.
    let outcomes: Vec<RowOutcome> = (2..302)
        .map(|line| match line {
            100 => synced(&ledger, line, Operation::Create, &user(1), None),
            200 => failed(line, "u200", Some(user(2))),
            _ => RowOutcome::new(line, Some(format!("u{line}")), OutcomeKind::Unchanged),
        })
        .collect();
    handle.record_outcomes(run, outcomes).await.unwrap();
    drop(handle);
    join.await.unwrap().unwrap();

    let rows = ledger.outcomes(run).unwrap();
    assert_eq!(rows.len(), 300);
    for (row, line) in rows.iter().zip(2..) {
        assert_eq!(row.line, line);
        let expected = match line {
            100 => OutcomeKind::Synced,
            200 => OutcomeKind::Failed,
            _ => OutcomeKind::Unchanged,
        };
        assert_eq!(row.outcome, expected, "line {line}");
        if expected == OutcomeKind::Unchanged {
            assert_eq!(row.user_key, Some(format!("u{line}")));
        }
    }
    let counts = ledger.counts(run).unwrap();
    assert_eq!((counts.rows, counts.unchanged), (300, 298));
}

#[tokio::test]
async fn a_rows_notes_are_kept_with_its_outcome_and_reach_the_report_masked() {
    let dir = TempDir::new().unwrap();
    let (path, ledger, run) = ledger_with_run(&dir);
    let (handle, join) = spawn_writer(&path);
    let ana = user(1);
    let back = RowOutcome {
        notes: vec![usersync::notes::reactivate_by_hand("faveo")],
        ..synced(&ledger, 2, Operation::Update, &ana, Some("41"))
    };
    let kept = RowOutcome {
        user_key: Some("ana.perez@example.com".into()),
        notes: vec![usersync::notes::not_cleared(&["city".into()], "gnoss")],
        ..RowOutcome::new(3, None, OutcomeKind::Unchanged)
    };
    // A note-less unchanged row goes the quick way (no notes column bound).
    let plain = RowOutcome::new(4, Some("u4".into()), OutcomeKind::Unchanged);
    handle
        .record_outcomes(run, vec![back, kept, plain])
        .await
        .unwrap();
    drop(handle);
    join.await.unwrap().unwrap();

    let rows = ledger.outcomes(run).unwrap();
    let codes: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.notes.iter().map(|n| n.code.as_str()).collect())
        .collect();
    assert_eq!(
        codes,
        [vec!["reactivate_by_hand"], vec!["not_cleared"], vec![]]
    );

    let options = usersync::report::ReportOptions { mask_pii: true };
    let report = usersync::report::build(&ledger, run, &options).unwrap();
    let f = &report.follow_ups;
    assert_eq!((f.total, f.not_listed, f.listed.len()), (2, 0, 2));
    assert_eq!(f.listed[1].key.as_deref(), Some("a***@***.com"));
    assert_eq!(
        (f.listed[1].line, f.listed[1].outcome.as_str()),
        (Some(3), "unchanged")
    );
}
