//! The sync tests' tools: a MeetingLawyers mock that lives in the test process (so its store and
//! counters outlive each `usersync` process), the `usersync sync` command pointed at it, the
//! ledger read back through `usersync::ledger`, and the assertions every test shares.

// The generated export and what each of its rows should become.
pub mod export;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use usersync::ledger::{Ledger, OutcomeKind, RunRecord, StoredOutcome};
use usersync::mock::{self, Change};

use export::{Export, TARGET};

pub use super::mock::Mock;

/// A test's directory: the config, the export and the ledger.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Workspace {
    /// A fresh directory holding `config`.
    pub fn new(config: &str) -> Workspace {
        let dir = super::tempdir();
        let path = dir.path().join("usersync.toml");
        std::fs::write(&path, config).expect("write the config");
        Workspace { dir, config: path }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The ledger the config names.
    pub fn ledger(&self) -> PathBuf {
        self.path().join("usersync.db")
    }

    /// `usersync sync EXPORT -c CONFIG -t lawyers --base-url MOCK --ledger LEDGER EXTRA...`
    /// with the mock's demo credentials in the environment.
    pub fn sync(&self, export: &Export, mock: &Mock, extra: &[&str]) -> Command {
        let mut cmd = super::usersync(self.path());
        cmd.envs(super::demo_env("meetinglawyers"))
            .arg("sync")
            .arg(&export.path)
            .arg("-c")
            .arg(&self.config)
            .args(["-t", TARGET, "--base-url", &mock.url(), "--ledger"])
            .arg(self.ledger())
            .args(extra);
        cmd
    }

    /// The ledger, opened through the library.
    pub fn open_ledger(&self) -> Ledger {
        Ledger::open(self.ledger()).expect("open the ledger")
    }

    /// Every run of the target, oldest first.
    pub fn runs(&self) -> Vec<RunRecord> {
        let mut runs = self
            .open_ledger()
            .list_runs(Some(TARGET))
            .expect("list the runs");
        runs.sort_by_key(|r| r.id.0);
        runs
    }

    /// The row outcomes of `run`, by line.
    pub fn outcomes(&self, run: &RunRecord) -> BTreeMap<i64, StoredOutcome> {
        self.open_ledger()
            .outcomes(run.id)
            .expect("read the outcomes")
            .into_iter()
            .map(|o| (o.line, o))
            .collect()
    }
}

/// Runs a command to its end and returns its exit code, stdout and stderr.
pub fn finish(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run usersync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts a command in the background, its output discarded (the progress bar is off anyway).
pub fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start usersync")
}

/// Sends `signal` (e.g. "INT") to a child.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Counts outcomes by kind.
pub fn tally(outcomes: &BTreeMap<i64, StoredOutcome>) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for o in outcomes.values() {
        *counts.entry(o.outcome.as_str()).or_default() += 1;
    }
    counts
}

/// Every row of `export` has exactly one outcome in the run (the ledger's key is (run, line)),
/// no row is left `in_flight`, and no other line has one.
pub fn assert_one_outcome_per_row(export: &Export, outcomes: &BTreeMap<i64, StoredOutcome>) {
    let lines: BTreeSet<i64> = export.rows.iter().map(|r| r.line).collect();
    let recorded: BTreeSet<i64> = outcomes.keys().copied().collect();
    let missing: Vec<_> = lines.difference(&recorded).take(10).collect();
    let extra: Vec<_> = recorded.difference(&lines).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "rows without an outcome: {missing:?}; outcomes of no row: {extra:?}"
    );
    let in_flight: Vec<_> = outcomes
        .values()
        .filter(|o| o.outcome == OutcomeKind::InFlight)
        .map(|o| o.line)
        .take(10)
        .collect();
    assert!(in_flight.is_empty(), "rows left in flight: {in_flight:?}");
}

/// The mock holds every valid row of `export` exactly once (one create each), with exactly the
/// expected fields, and nothing for the invalid rows.
pub fn assert_store_matches(export: &Export, mock: &Mock) {
    let users: BTreeMap<String, mock::StoredUser> = mock
        .users()
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    for row in &export.rows {
        let stored = users.get(&row.key);
        if !row.valid {
            assert!(
                stored.is_none(),
                "{}: a rejected row reached the mock",
                row.key
            );
            continue;
        }
        let Some(user) = stored else {
            panic!("{} (line {}) is missing from the mock", row.key, row.line)
        };
        assert_eq!(
            user.count(Change::Create),
            1,
            "{} was created {} times",
            row.key,
            user.count(Change::Create)
        );
        for (field, value) in &row.expected {
            assert_eq!(
                user.fields.get(field),
                Some(value),
                "{}: field {field}",
                row.key
            );
        }
    }
    assert_eq!(users.len(), export.valid_count(), "users in the mock");
}
