//! Faults: a soak of 20,000 rows through a mock that fails, throttles, drops
//! connections after applying the change and answers at random speeds; and a provider that
//! never answers at all.
//!
//! The mock lives in the test process, so its store can be compared with what the export
//! says once the `usersync sync` child has finished. The soak prints its figures (for
//! BENCHMARKS.md, "Soak"): run it with `cargo test --test it -- soak:: --nocapture`.

use std::time::{Duration, Instant};

use crate::support::machine;
use crate::support::reliability::*;
use usersync::ledger::{OutcomeKind, RunStatus};
use usersync::mock::{FaultConfig, Latency};
use usersync::provider::Credentials;

const ROWS: usize = 20_000;

#[test]
fn soak_20k_rows_through_faults_ends_with_exactly_the_expected_users() {
    let _machine = machine::shared_blocking();
    let dir = tempdir();
    let people = people(ROWS, 7);
    write(dir.path(), "export.csv", csv_of(&people));
    // No rate limit and a high concurrency: every `Retry-After` pauses the whole client for a
    // second, so the run's length is about (throttles / concurrency) seconds.
    write(
        dir.path(),
        "usersync.toml",
        ml_config("concurrency = 1024\nmax_retries = 12\ntimeout_secs = 10"),
    );
    let ledger_path = dir.path().join("ledger.db");
    let mock = TestMock::start(
        "meetinglawyers",
        FaultConfig {
            seed: Some(7),
            fail_rate: 0.10,
            throttle_rate: 0.05,
            drop_rate: 0.02,
            retry_after_secs: 1,
            latency: Latency::Range(Duration::ZERO, Duration::from_millis(5)),
            ..FaultConfig::default()
        },
        Credentials::new(),
    );

    let started = Instant::now();
    let out = usersync(dir.path())
        .args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
        .arg("--ledger")
        .arg(&ledger_path)
        .args(["--base-url", &mock.url()])
        .envs(demo_env("meetinglawyers"))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The provider holds exactly the export: every user once, with exactly its fields.
    assert_store_holds(&mock, &people, &[]);

    // Every row has exactly one outcome, all synced, and the run's counts add up.
    let runs = assert_ledger_consistent(&ledger_path);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Completed);
    let c = run.counts;
    assert_eq!(c.rows, ROWS as u64);
    assert_eq!(c.synced, ROWS as u64, "{c:?}");
    assert_eq!(c.created + c.updated, ROWS as u64, "{c:?}");
    let outcomes = ledger(&ledger_path).outcomes(run.id).unwrap();
    assert!(outcomes.iter().all(|o| o.outcome == OutcomeKind::Synced));
    assert!(
        outcomes.iter().all(|o| o.payload.is_none()),
        "payloads kept"
    );

    // Faults of every kind were injected at about their rates, and every request the mock saw
    // is one the ledger counted.
    let stats = mock.stats();
    let fails = stats.fault("fail_500") + stats.fault("fail_503");
    let throttles = stats.fault("throttle");
    let drops = stats.fault("drop");
    let requests = stats.requests as f64;
    assert!(
        (0.08..0.12).contains(&(fails as f64 / requests)),
        "{stats:?}"
    );
    assert!((0.04..0.06).contains(&(throttles as f64 / requests)));
    assert!((0.01..0.03).contains(&(drops as f64 / requests)));
    assert_eq!(
        stats.requests, c.requests,
        "mock requests vs ledger attempts"
    );
    // Every request is a row's first attempt, a retry, or the update that follows a lookup
    // finding the user a create had reached.
    assert_eq!(c.requests, ROWS as u64 + c.retries + c.updated, "{c:?}");
    // A create whose answer was dropped was applied: its retry looked the user up
    // (`GET s2s/v1/users/{user_id}`), found them, and sent an update instead of a second create,
    // so nothing was answered 409, no user was created twice (checked per user above) and every
    // drop of a create shows up as an update.
    let conflicts = stats.status(409);
    let lookups = stats.by_method.get("GET").copied().unwrap_or(0);
    assert_eq!(conflicts, 0, "{:?}", stats.by_status);
    assert!(c.updated > 0 && c.updated <= drops, "{c:?} drops {drops}");
    assert!(c.updated <= lookups, "{c:?} lookups {lookups}");

    eprintln!(
        "soak: {ROWS} rows in {:.1}s (whole command); faults: {fails} 5xx ({} 500 + {} 503), \
         {throttles} 429 (Retry-After 1s), {drops} dropped after apply; mock requests {}; \
         ledger: requests {}, retries {}, created {}, updated {}, synced {}, rejected {}, \
         failed {}, not attempted {}",
        elapsed.as_secs_f64(),
        stats.fault("fail_500"),
        stats.fault("fail_503"),
        stats.requests,
        c.requests,
        c.retries,
        c.created,
        c.updated,
        c.synced,
        c.rejected,
        c.failed,
        c.not_attempted,
    );
    eprintln!("soak summary:\n{stdout}");

    // The ledger's snapshot matches the provider: the same export again sends nothing.
    let again = usersync(dir.path())
        .args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
        .arg("--ledger")
        .arg(&ledger_path)
        .args(["--base-url", &mock.url()])
        .envs(demo_env("meetinglawyers"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(
        mock.stats().requests,
        stats.requests,
        "a re-run sent requests"
    );
    let runs = assert_ledger_consistent(&ledger_path);
    assert_eq!(runs[1].counts.unchanged, ROWS as u64);
}

#[test]
fn a_provider_that_never_answers_times_out_retries_then_fails_and_the_run_ends() {
    let dir = tempdir();
    let people = people(3, 11);
    write(dir.path(), "export.csv", csv_of(&people));
    write(
        dir.path(),
        "usersync.toml",
        ml_config("concurrency = 3\nmax_retries = 1\ntimeout_secs = 1"),
    );
    let ledger_path = dir.path().join("ledger.db");
    let mock = TestMock::start(
        "meetinglawyers",
        FaultConfig {
            seed: Some(1),
            hang_rate: 1.0,
            ..FaultConfig::default()
        },
        Credentials::new(),
    );
    let started = Instant::now();
    let out = usersync(dir.path())
        .args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
        .arg("--ledger")
        .arg(&ledger_path)
        .args(["--base-url", &mock.url()])
        .envs(demo_env("meetinglawyers"))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = text(&out.stdout);
    // Three rows at once, each: 1 s timeout, a short backoff, 1 s timeout.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("failed 3"), "{stdout}");
    assert_eq!(mock.stats().fault("hang"), 6, "two attempts per row");
    assert!(mock.users().is_empty());

    let runs = assert_ledger_consistent(&ledger_path);
    let outcomes = ledger(&ledger_path).outcomes(runs[0].id).unwrap();
    assert_eq!(outcomes.len(), 3);
    for o in &outcomes {
        assert_eq!(o.outcome, OutcomeKind::Failed);
        assert_eq!(o.error_code.as_deref(), Some("timeout"));
        assert_eq!(o.attempts, 2);
        assert!(
            o.payload.is_some(),
            "a failed row keeps its payload for retry"
        );
        let detail = o.error_detail.as_deref().unwrap_or_default();
        assert!(detail.contains("no answer within 1s"), "{detail}");
    }
}
