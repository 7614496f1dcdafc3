//! Helpers for the tests of adaptive concurrency and the nightly window: a mock started in the
//! test process (so its state outlives each `usersync sync`), generated exports, and a way to run
//! the real binary against the mock from an async test.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use usersync::ledger::{Ledger, RunRecord};
use usersync::mock::{self, FaultConfig, MockHandle, MockOptions, StatsSnapshot};

/// Holds the machine for one timing-sensitive test: the tests that measure rates take it one at
/// a time, and never beside a heavy load of another area.
pub async fn serial() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    super::machine::alone().await
}

/// A MeetingLawyers target reading `id,email,plan,sex,born`, with `extra` target settings.
pub fn config(extra: &str) -> String {
    format!(
        r#"
[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
credentials = {{ api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }}
key = "user_id"
{extra}

[targets.lawyers.fields]
user_id = "id"
email = "email"
status = {{ column = "plan", map = {{ premium = 2, free = 0, trial = 4 }} }}
gender = {{ column = "sex", map = {{ M = 0, F = 1 }} }}
birthdate = {{ column = "born", date_format = "%d/%m/%Y" }}
"#
    )
}

/// An export of `n` valid users, `E0000000`..
pub fn users_csv(n: usize) -> String {
    let mut out = String::from("id,email,plan,sex,born\n");
    for i in 0..n {
        out.push_str(&format!(
            "E{i:07},user{i}@example.com,premium,{},{:02}/{:02}/19{}\n",
            if i % 2 == 0 { "M" } else { "F" },
            1 + i % 28,
            1 + i % 12,
            60 + i % 40
        ));
    }
    out
}

/// A MeetingLawyers mock with `faults`, on a free port of 127.0.0.1.
pub async fn start_mock(faults: FaultConfig) -> MockHandle {
    let provider = usersync::provider::by_name("meetinglawyers").expect("a known provider");
    mock::start(
        provider,
        MockOptions {
            faults: FaultConfig {
                seed: Some(8),
                ..faults
            },
            ..MockOptions::default()
        },
    )
    .await
    .expect("the mock starts")
}

/// One finished `usersync` run.
pub struct Run {
    pub output: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Runs `usersync ARGS` in `dir` on a blocking thread (the mock keeps serving meanwhile), with
/// the mock's demo credentials in the environment.
pub async fn usersync(dir: &Path, args: &[&str]) -> Run {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let output = super::usersync(&dir)
            .args(&args)
            .envs(super::demo_env("meetinglawyers"))
            .output()
            .expect("usersync runs");
        Run {
            output,
            elapsed: started.elapsed(),
        }
    })
    .await
    .expect("the blocking thread")
}

/// `usersync sync users.csv` against the mock, with the ledger `ledger.db` in `dir`.
pub async fn sync(dir: &Path, mock: &MockHandle, extra: &[&str]) -> Run {
    let url = mock.url.to_string();
    let mut args = vec![
        "sync",
        "users.csv",
        "-c",
        "usersync.toml",
        "--ledger",
        "ledger.db",
        "--base-url",
        &url,
    ];
    args.extend_from_slice(extra);
    usersync(dir, &args).await
}

/// The ledger in `dir`.
pub fn ledger(dir: &Path) -> Ledger {
    Ledger::open(dir.join("ledger.db")).expect("the ledger opens")
}

/// The target's runs, oldest first.
pub fn runs(dir: &Path) -> Vec<RunRecord> {
    ledger(dir).list_runs(Some("lawyers")).expect("runs")
}

/// Requests per second the mock saw from `from_second` on, whole seconds only (the first and
/// the last second a run was active in are partial, so left out).
pub fn settled_seconds(stats: &StatsSnapshot, from_second: usize) -> Vec<u64> {
    let seconds: Vec<u64> = stats
        .per_second
        .iter()
        .skip(from_second)
        .map(|s| s.requests)
        .collect();
    let first = seconds.iter().position(|n| *n > 0);
    let last = seconds.iter().rposition(|n| *n > 0);
    match (first, last) {
        (Some(a), Some(b)) if b > a + 1 => seconds[a + 1..b].to_vec(),
        _ => Vec::new(),
    }
}

/// The median of some counts.
pub fn median(values: &[u64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2] as f64,
        n => (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0,
    }
}

/// The mean of some counts.
pub fn mean(values: &[u64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<u64>() as f64 / values.len() as f64
    }
}

/// The row latencies of the ledger's runs, in milliseconds, sorted.
pub fn latencies(dir: &Path) -> Vec<u64> {
    let db = rusqlite::Connection::open(dir.join("ledger.db")).expect("the ledger opens");
    let mut stmt = db
        .prepare("SELECT latency_ms FROM row_outcomes WHERE latency_ms IS NOT NULL")
        .unwrap();
    let mut values: Vec<u64> = stmt
        .query_map([], |row| row.get::<_, i64>(0))
        .unwrap()
        .map(|v| v.unwrap() as u64)
        .collect();
    values.sort_unstable();
    values
}

/// A test directory with the config and an export of `users` users.
pub fn workspace(extra_config: &str, users: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = super::tempdir();
    let path = dir.path().to_path_buf();
    std::fs::write(path.join("usersync.toml"), config(extra_config)).unwrap();
    std::fs::write(path.join("users.csv"), users_csv(users)).unwrap();
    (dir, path)
}
