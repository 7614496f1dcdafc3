//! `usersync sync` end to end: the real binary against a MeetingLawyers
//! mock living in the test process, so that its store and counters outlive each usersync
//! process and can be checked against the ledger.
//!
//! - faults (5xx, 429 with Retry-After, connections dropped after the change): every valid row
//!   arrives once with the right fields and every row has one outcome; a create whose answer
//!   was lost is looked up and updated, never created again (no 409);
//! - SIGKILL part-way, then a re-run: nothing lost, nothing created twice, nothing synced sent
//!   again, the earlier run `interrupted`, the ledger intact;
//! - refused credentials: the run stops after a handful of requests, exit 1, a message naming
//!   the variables to fix;
//! - `--rate`: the mock never sees more than the rate in any second;
//! - connections: a sync reuses its connections instead of opening new ones as it goes;
//! - Ctrl-C: exit 130, in-flight rows recorded, a re-run finishes the rest.
//!
//! `support::sync::export` generates the export and its expected results; `support::sync` holds
//! the mock, the command and the ledger queries.
#![cfg(unix)]

use std::time::{Duration, Instant};

use usersync::ledger::{OutcomeKind, RunStatus};
use usersync::mock::{FaultConfig, Latency};

use crate::support::machine;
use crate::support::sync::export::{config, Export};
use crate::support::sync::{
    assert_one_outcome_per_row, assert_store_matches, finish, signal, spawn, tally, Mock, Workspace,
};

/// Long enough for a loaded CI machine, short enough to fail a hung test quickly.
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn every_valid_row_reaches_a_faulty_provider_once_with_its_fields() {
    let _machine = machine::shared_blocking();
    let mock = Mock::start(FaultConfig {
        seed: Some(20240611),
        fail_rate: 0.10,
        throttle_rate: 0.05,
        drop_rate: 0.03,
        retry_after_secs: 1,
        ..FaultConfig::default()
    });
    let ws = Workspace::new(&config(8, 1));
    let export = Export::generate(ws.path(), "export.csv", 200, Some(25));
    let valid = export.valid_count() as u64;
    let rejected = export.rows.len() as u64 - valid;

    let (code, stdout, stderr) = finish(&mut ws.sync(&export, &mock, &[]));

    assert_eq!(code, 3, "some rows are invalid\n{stdout}\n{stderr}");
    let stats = mock.stats();
    assert!(
        stats.fault("fail_500") + stats.fault("fail_503") > 0
            && stats.fault("throttle") > 0
            && stats.fault("drop") > 0,
        "every kind of fault happened: {:?}",
        stats.by_fault
    );
    assert_store_matches(&export, &mock);

    let runs = ws.runs();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.exit_code, Some(3));
    let outcomes = ws.outcomes(run);
    assert_one_outcome_per_row(&export, &outcomes);
    for row in &export.rows {
        let want = if row.valid {
            OutcomeKind::Synced
        } else {
            OutcomeKind::Rejected
        };
        assert_eq!(outcomes[&row.line].outcome, want, "{}", row.key);
        if row.valid {
            assert_eq!(
                outcomes[&row.line].payload, None,
                "{}: payload kept",
                row.key
            );
        }
    }
    let c = &run.counts;
    assert_eq!(
        (c.rows, c.synced, c.rejected, c.failed, c.not_attempted),
        (200, valid, rejected, 0, 0)
    );
    assert_eq!(
        c.created + c.updated,
        valid,
        "each synced row is one change"
    );
    // A create whose answer was dropped was looked up (`GET s2s/v1/users/{user_id}`), found,
    // and updated: never sent again, so never answered 409.
    assert_eq!(stats.status(409), 0, "{:?}", stats.by_status);
    assert!(
        stats.by_method.get("GET").copied().unwrap_or(0) > 0,
        "{:?}",
        stats.by_method
    );
    assert!(
        c.updated > 0 && c.updated <= stats.fault("drop"),
        "{} updates after {} dropped answers",
        c.updated,
        stats.fault("drop")
    );
    assert_eq!(
        c.requests, stats.requests,
        "requests sent = requests received"
    );
    assert_eq!(c.retries, c.requests - valid - c.updated);
    assert!(
        stdout.contains(&format!("rejected {rejected} · failed 0")),
        "{stdout}"
    );
    // The summary's hint names this run's config and ledger, and works from anywhere.
    let hint = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("details: "))
        .and_then(|l| l.split(" (or ").next())
        .unwrap_or_else(|| panic!("no details hint\n{stdout}"));
    assert_eq!(
        hint,
        format!(
            "usersync report last -c {} -t lawyers --ledger {}",
            ws.config.display(),
            ws.ledger().display()
        )
    );
    let words: Vec<&str> = hint.split_whitespace().collect();
    let report = crate::support::usersync(&std::env::temp_dir())
        .args(&words[1..])
        .output()
        .expect("run the hinted report");
    let shown = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{shown}");
    assert!(
        shown.contains(&format!("rejected {rejected} · failed 0")),
        "{shown}"
    );

    // The same export again: nothing to send.
    let before = mock.stats().requests;
    let (code, stdout, _) = finish(&mut ws.sync(&export, &mock, &[]));
    assert_eq!(code, 3, "{stdout}");
    assert_eq!(mock.stats().requests, before, "a re-run sent requests");
    let again = ws.outcomes(&ws.runs()[1]);
    assert_eq!(tally(&again).get("unchanged"), Some(&(valid as usize)));
}

#[test]
fn a_sync_killed_part_way_resumes_without_loss_or_duplicates() {
    // Slow answers, so that requests are in flight when the process dies.
    let mock = Mock::start(FaultConfig {
        latency: Latency::Range(Duration::from_millis(5), Duration::from_millis(30)),
        ..FaultConfig::default()
    });
    let ws = Workspace::new(&config(8, 1));
    let export = Export::generate(ws.path(), "export.csv", 3000, Some(100));
    let valid = export.valid_count();

    let mut child = spawn(&mut ws.sync(&export, &mock, &["--rate", "300"]));
    mock.wait_for_requests(600, PATIENCE);
    child.kill().expect("SIGKILL usersync");
    child.wait().expect("reap usersync");
    let first_requests = mock.stats().requests;
    let reached = mock.users().len();

    let ledger = ws.open_ledger();
    ledger
        .integrity_check()
        .expect("the ledger survives a SIGKILL");
    let runs = ws.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].status,
        RunStatus::Running,
        "nobody has recovered it yet"
    );
    let first = ws.outcomes(&runs[0]);
    let counts = tally(&first);
    let synced = counts.get("synced").copied().unwrap_or(0);
    let in_flight = counts.get("in_flight").copied().unwrap_or(0);
    assert!(synced > 0 && synced < valid, "killed part-way: {counts:?}");
    assert!(
        (synced..=synced + in_flight).contains(&reached),
        "every user at the provider is synced or in flight in the ledger: {reached} users, {counts:?}"
    );

    mock.set_faults(FaultConfig::default());
    let (code, stdout, stderr) = finish(&mut ws.sync(&export, &mock, &[]));
    assert_eq!(code, 3, "invalid rows remain rejected\n{stdout}\n{stderr}");

    // Only the rows not synced were sent; the ones the provider had seen without the answer
    // being recorded met a conflict on create and were sent again as an update.
    let second_requests = mock.stats().requests - first_requests;
    let lost_answers = reached - synced;
    assert_eq!(
        second_requests as usize,
        (valid - synced) + lost_answers,
        "the re-run re-sent rows the first run had synced"
    );
    assert_store_matches(&export, &mock);

    let runs = ws.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].status, RunStatus::Interrupted);
    assert_eq!(runs[1].status, RunStatus::Completed);
    let second = ws.outcomes(&runs[1]);
    assert_one_outcome_per_row(&export, &second);
    for (line, o) in &first {
        if o.outcome == OutcomeKind::Synced {
            assert_eq!(second[line].outcome, OutcomeKind::Unchanged, "line {line}");
        }
    }
    let c = &runs[1].counts;
    assert_eq!(c.synced as usize, valid - synced);
    assert_eq!(c.unchanged as usize, synced);
    assert_eq!(c.updated as usize, lost_answers);
    ws.open_ledger()
        .integrity_check()
        .expect("the ledger is intact after the re-run");
}

#[test]
fn refused_credentials_stop_the_run_at_once() {
    let mock = Mock::start(FaultConfig::default());
    let concurrency = 4;
    let ws = Workspace::new(&config(concurrency, 1));
    let export = Export::generate(ws.path(), "export.csv", 200, Some(50));

    let (code, stdout, stderr) = finish(
        ws.sync(&export, &mock, &[])
            .env("ML_API_KEY", "not-the-key")
            .env("ML_SECRET_KEY", "not-the-secret"),
    );

    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let requests = mock.stats().requests;
    assert!(
        requests >= 1 && requests <= concurrency as u64 + 3,
        "{requests} requests after the first 401"
    );
    assert_eq!(mock.stats().status(401), requests);
    assert!(mock.users().is_empty());
    for needle in [
        "lawyers",
        "ML_API_KEY",
        "ML_SECRET_KEY",
        "refused the credentials",
    ] {
        assert!(
            stderr.contains(needle),
            "the message names {needle}:\n{stderr}"
        );
    }
    for secret in ["not-the-key", "not-the-secret"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }

    let runs = ws.runs();
    assert_eq!(runs[0].status, RunStatus::Aborted);
    let outcomes = ws.outcomes(&runs[0]);
    assert_one_outcome_per_row(&export, &outcomes);
    let counts = tally(&outcomes);
    let failed = counts.get("failed").copied().unwrap_or(0);
    assert_eq!(
        failed as u64, requests,
        "each refused request is its row's outcome"
    );
    assert_eq!(
        counts.get("not_attempted").copied().unwrap_or(0),
        export.valid_count() - failed,
        "{counts:?}"
    );
    for o in outcomes.values() {
        if o.outcome == OutcomeKind::NotAttempted {
            let detail = o.error_detail.as_deref().unwrap_or("");
            assert!(detail.contains("refused the credentials"), "{detail}");
        }
    }
    // Rows not synced keep their whole payload in the ledger, for a later `retry`.
    for row in export.valid() {
        let o = &outcomes[&row.line];
        assert_eq!(
            o.payload.as_ref(),
            Some(&row.expected.clone().into()),
            "{} ({})",
            row.key,
            o.outcome
        );
    }
}

#[test]
fn a_sync_keeps_its_connections_to_the_provider() {
    let mock = Mock::start(FaultConfig::default());
    let ws = Workspace::new(&config(8, 1));
    let export = Export::generate(ws.path(), "export.csv", 6_000, None);

    let (code, stdout, stderr) = finish(&mut ws.sync(&export, &mock, &[]));

    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let stats = mock.stats();
    assert_eq!(stats.requests, 6_000);
    // At concurrency 8 the pool settles at 12 to 15 connections. With room for only 8 idle,
    // usersync closed one and opened another every 50 requests or so: over 100 here.
    assert!(
        stats.connections <= 32,
        "{} connections for {} requests",
        stats.connections,
        stats.requests
    );
}

#[test]
fn the_rate_limit_holds_in_every_second() {
    let _machine = machine::alone_blocking();
    let mock = Mock::start(FaultConfig::default());
    let ws = Workspace::new(&config(8, 1));
    let export = Export::generate(ws.path(), "export.csv", 60, None);

    let started = Instant::now();
    let (code, stdout, stderr) = finish(&mut ws.sync(&export, &mock, &["--rate", "20"]));
    let elapsed = started.elapsed();

    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let stats = mock.stats();
    assert_eq!(stats.requests, 60);
    let per_second: Vec<u64> = stats.per_second.iter().map(|s| s.requests).collect();
    // 20 per second, plus the one request of the burst.
    assert!(
        per_second.iter().all(|&n| n <= 21),
        "requests per second at the mock: {per_second:?}"
    );
    assert!(
        per_second.iter().any(|&n| n >= 15),
        "the rate was reached: {per_second:?}"
    );
    // 60 requests at 20/s: the last leaves 59/20 s after the first.
    assert!(
        elapsed >= Duration::from_millis(2900) && elapsed < Duration::from_secs(8),
        "took {elapsed:?}"
    );
}

#[test]
fn ctrl_c_records_the_rows_in_flight_and_a_rerun_finishes() {
    let mock = Mock::start(FaultConfig {
        latency: Latency::Fixed(Duration::from_millis(100)),
        ..FaultConfig::default()
    });
    let ws = Workspace::new(&config(8, 1));
    let export = Export::generate(ws.path(), "export.csv", 1000, None);

    let child = spawn(&mut ws.sync(&export, &mock, &[]));
    mock.wait_for_requests(40, PATIENCE);
    assert!(mock.stats().in_flight > 0, "requests are in flight");
    signal(&child, "INT");
    let out = child.wait_with_output().expect("wait for usersync");

    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = ws.runs();
    assert_eq!(runs[0].status, RunStatus::Interrupted);
    assert_eq!(runs[0].exit_code, Some(130));
    let first = ws.outcomes(&runs[0]);
    let counts = tally(&first);
    assert_eq!(
        counts.get("in_flight"),
        None,
        "in-flight rows recorded: {counts:?}"
    );
    assert_eq!(counts.get("failed"), None, "{counts:?}");
    let synced = counts.get("synced").copied().unwrap_or(0);
    assert_eq!(
        synced,
        mock.users().len(),
        "every request the provider applied is recorded synced"
    );
    // The rows read but not sent are `not_attempted`, saying why; the rest were never read.
    assert_eq!(
        synced + counts.get("not_attempted").copied().unwrap_or(0),
        first.len(),
        "{counts:?}"
    );
    assert!(synced < export.rows.len(), "the run stopped part-way");
    for o in first.values() {
        if o.outcome == OutcomeKind::NotAttempted {
            let detail = o.error_detail.as_deref().unwrap_or("");
            assert!(detail.contains("interrupted"), "{detail}");
        }
    }

    mock.set_faults(FaultConfig::default());
    let before = mock.stats().requests;
    let (code, stdout, stderr) = finish(&mut ws.sync(&export, &mock, &[]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        (mock.stats().requests - before) as usize,
        export.rows.len() - synced,
        "only the rest was sent"
    );
    assert_store_matches(&export, &mock);
    let second = ws.outcomes(&ws.runs()[1]);
    assert_one_outcome_per_row(&export, &second);
    assert_eq!(tally(&second).get("unchanged"), Some(&synced));
}
