//! The nightly window: `--max-duration` / `--deadline` and a target's `max_requests`
//! stop the run on time, lose nothing (every row has its outcome, the rest `not_attempted`),
//! exit 4 with the run `interrupted`, and the next run finishes the work without sending
//! anything twice. Plus the duration estimate of `plan` and `sync -v`.

use std::time::Duration;

use crate::support::adaptive::*;
use usersync::ledger::RunStatus;
use usersync::mock::{Change, FaultConfig};

/// Every user of an export of `n` is at the mock exactly once, created once.
fn all_created_once(mock: &usersync::mock::MockHandle, n: usize) {
    let users = mock.state.users();
    assert_eq!(users.len(), n);
    for user in &users {
        assert_eq!(user.count(Change::Create), 1, "{user:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_duration_stops_on_time_and_the_next_run_finishes() {
    let _machine = serial().await;
    // 1000 rows at 100/s: ten seconds of work for a two-second window.
    let (_tmp, dir) = workspace("rate_limit = 100\nconcurrency = 4", 1000);
    let mock = start_mock(FaultConfig::default()).await;

    let first = sync(&dir, &mock, &["--max-duration", "2s"]).await;
    assert_eq!(first.code(), 4, "{}{}", first.stdout(), first.stderr());
    assert!(
        first.elapsed >= Duration::from_secs(2) && first.elapsed < Duration::from_secs(5),
        "took {:?}",
        first.elapsed
    );
    assert!(
        first.stdout().contains("deadline was reached"),
        "{}",
        first.stdout()
    );
    let run = &runs(&dir)[0];
    assert_eq!(run.status, RunStatus::Interrupted);
    assert_eq!(run.exit_code, Some(4));
    let c = &run.counts;
    assert_eq!(c.rows, 1000);
    assert_eq!(c.synced + c.not_attempted + c.failed, 1000, "{c:?}");
    assert!(c.not_attempted > 500, "{c:?}");
    assert_eq!(mock.state.users().len() as u64, c.synced);

    let second = sync(&dir, &mock, &[]).await;
    assert_eq!(second.code(), 0, "{}{}", second.stdout(), second.stderr());
    let rest = &runs(&dir)[1].counts;
    assert_eq!(rest.created, 1000 - c.synced, "{rest:?}");
    assert_eq!(rest.unchanged, c.synced);
    all_created_once(&mock, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_request_quota_stops_each_run_until_the_work_is_done() {
    let _machine = serial().await;
    let (_tmp, dir) = workspace("max_requests = 300\nconcurrency = 8", 700);
    let mock = start_mock(FaultConfig::default()).await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let run = sync(&dir, &mock, &[]).await;
        codes.push(run.code());
        if run.code() == 0 {
            break;
        }
        assert!(
            run.stdout()
                .contains("request quota (300 requests) is spent"),
            "{}",
            run.stdout()
        );
    }
    assert_eq!(codes, [4, 4, 0]);
    let runs = runs(&dir);
    for (run, created) in runs.iter().zip([300, 300, 100]) {
        assert!(run.counts.requests <= 300, "{:?}", run.counts);
        assert_eq!(run.counts.created, created, "{:?}", run.counts);
        assert_eq!(
            run.counts.synced + run.counts.unchanged + run.counts.not_attempted,
            700
        );
    }
    assert_eq!(runs[0].status, RunStatus::Interrupted);
    assert_eq!(mock.state.stats().requests, 700);
    all_created_once(&mock, 700);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_flags_are_checked() {
    let (_tmp, dir) = workspace("", 1);
    for args in [
        ["--deadline", "25:00"],
        ["--deadline", "5pm"],
        ["--max-duration", "soon"],
        ["--max-duration", "0s"],
    ] {
        let run = usersync(
            &dir,
            &["sync", "users.csv", "-c", "usersync.toml", args[0], args[1]],
        )
        .await;
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        assert!(run.stderr().contains(args[0]), "{}", run.stderr());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_sync_v_estimate_the_duration() {
    let (_tmp, dir) = workspace("rate_limit = 50\nconcurrency = 4", 100);
    let plan = usersync(
        &dir,
        &[
            "plan",
            "users.csv",
            "-c",
            "usersync.toml",
            "--ledger",
            "ledger.db",
        ],
    )
    .await;
    assert_eq!(plan.code(), 0, "{}", plan.stderr());
    assert!(
        plan.stdout().contains(
            "estimated duration: about 2.0s for 100 requests at 50 requests/s (configured)"
        ),
        "{}",
        plan.stdout()
    );
    let json = usersync(
        &dir,
        &[
            "plan",
            "users.csv",
            "-c",
            "usersync.toml",
            "--ledger",
            "ledger.db",
            "--json",
        ],
    )
    .await;
    let last: serde_json::Value =
        serde_json::from_str(json.stdout().lines().last().unwrap()).unwrap();
    assert_eq!(last["estimate"]["requests"], 100);
    assert_eq!(last["estimate"]["basis"], "configured");

    // -v estimates before sending (from the sync's own pass over the export), and warns when
    // the window is too short for it.
    let mock = start_mock(FaultConfig::default()).await;
    let run = sync(&dir, &mock, &["-v", "--max-duration", "1s"]).await;
    assert_eq!(run.code(), 4, "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "estimated duration: about 2.0s for 100 requests at 50 requests/s (configured)"
        ),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("will probably not finish within its window"),
        "{}",
        run.stderr()
    );
}
