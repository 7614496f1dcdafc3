//! What `nightly`, `nightly_fingerprints`, `retry`, `retention` and `fail_closed` share: a
//! MeetingLawyers mock started in the test process (so its users and request histories outlive
//! each `usersync` run), an HR export of fictitious people that a test edits between nights, the
//! binary pointed at the mock, and the first night that syncs them all.

use std::path::{Path, PathBuf};

use usersync::ledger::{Ledger, RunRecord};
use usersync::mock::{FaultConfig, MockOptions, StoredUser};

pub use super::mock::Mock;
use super::{stderr, stdout};

/// The config of the tests: one MeetingLawyers target, quick retries.
pub const CONFIG: &str = r#"
ledger = "usersync.db"

[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
credentials = { api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }
key = "user_id"
concurrency = 4
max_retries = 1
max_deactivate = 0.10

[targets.lawyers.fields]
user_id = "id"
email = { column = "email", transform = ["trim", "lowercase"] }
first_name = "first_name"
status = { column = "plan", map = { premium = 2, free = 0, trial = 4 } }
# An emptied mobile is cleared (the pages show `null` only for `description`: opted in here).
mobile_phone = { column = "mobile", clear = "null" }
"#;

/// One person in the HR export (not `reliability::Person`: other columns).
#[derive(Debug, Clone)]
pub struct Employee {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub plan: &'static str,
    pub mobile: String,
}

/// `n` employees, E00001.. , all valid.
pub fn employees(n: usize) -> Vec<Employee> {
    (1..=n)
        .map(|i| Employee {
            id: format!("E{i:05}"),
            email: format!("Person.{i}@Empresa.example.com"),
            first_name: ["Ana", "Joan", "Lucía", "Iñaki"][i % 4].to_string(),
            plan: ["premium", "trial"][i % 2],
            mobile: format!("+34 6{:02} 000 {i:03}", i % 100),
        })
        .collect()
}

/// The export of `people` as CSV.
pub fn csv(people: &[Employee]) -> String {
    let mut out = String::from("id,email,first_name,plan,mobile\n");
    for p in people {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            p.id, p.email, p.first_name, p.plan, p.mobile
        ));
    }
    out
}

/// A test's directory: config and exports, the ledger beside them.
pub struct Night {
    pub dir: tempfile::TempDir,
}

impl Night {
    pub fn new() -> Night {
        let dir = super::tempdir();
        std::fs::write(dir.path().join("usersync.toml"), CONFIG).expect("write the config");
        Night { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `people` as `name` and returns its path.
    pub fn export(&self, name: &str, people: &[Employee]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, csv(people)).expect("write the export");
        path
    }

    /// `usersync ARGS -c usersync.toml`, run from the directory, with the mock's demo
    /// credentials in the environment the config names.
    pub fn usersync(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::from_std(super::usersync(self.dir.path()));
        cmd.envs(super::demo_env("meetinglawyers"))
            .args(args)
            .args(["-c", "usersync.toml"]);
        cmd
    }

    /// `usersync sync FILE -t lawyers --base-url MOCK EXTRA..`.
    pub fn sync(&self, mock: &Mock, file: &Path, extra: &[&str]) -> std::process::Output {
        let file = file.to_str().expect("a UTF-8 path");
        let url = mock.url();
        let mut args = vec!["sync", file, "-t", "lawyers", "--base-url", url.as_str()];
        args.extend_from_slice(extra);
        self.usersync(&args).output().expect("run usersync")
    }

    /// `usersync retry ARGS.. -t lawyers --base-url MOCK`.
    pub fn retry(&self, mock: &Mock, args: &[&str]) -> std::process::Output {
        let url = mock.url();
        let mut all = vec!["retry"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-t", "lawyers", "--base-url", url.as_str()]);
        self.usersync(&all).output().expect("run usersync")
    }

    pub fn ledger(&self) -> Ledger {
        Ledger::open(self.path("usersync.db")).expect("open the ledger")
    }

    /// The latest run of the target, after checking that the counts it stored are the sums
    /// of its rows in the ledger.
    pub fn last_run(&self) -> RunRecord {
        let ledger = self.ledger();
        let run = ledger
            .last_run("lawyers")
            .expect("read the ledger")
            .expect("a run");
        let mut from_rows = ledger.counts(run.id).expect("count the run's rows");
        from_rows.requests = run.counts.requests;
        from_rows.retries = run.counts.retries;
        assert_eq!(run.counts, from_rows, "run {}: stored counts", run.id);
        run
    }
}

/// Asserts the exit code, showing both streams when it is another.
pub fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit status\n--- stdout\n{}--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The kinds of change (`create`, `patch`, `deactivate`, ...) that reached a user, in order,
/// each with the field names its request carried.
pub fn history(user: &StoredUser) -> Vec<(String, Vec<String>)> {
    user.history
        .iter()
        .map(|r| (r.change.as_str().to_string(), r.fields.clone()))
        .collect()
}

/// A quiet mock: no faults; a `null` clears a field, as the config asks of `mobile_phone`.
pub fn quiet_mock() -> Mock {
    Mock::start_with(MockOptions {
        faults: FaultConfig {
            seed: Some(5),
            ..FaultConfig::default()
        },
        null_clears: true,
        ..MockOptions::default()
    })
}

/// 20 people synced once: every one created, exit 0.
pub fn first_night(night: &Night, mock: &Mock) -> Vec<Employee> {
    let everyone = employees(20);
    let export = night.export("hr.csv", &everyone);
    let out = night.sync(mock, &export, &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("created 20"), "{}", stdout(&out));
    assert_eq!(mock.users().len(), 20);
    everyone
}
