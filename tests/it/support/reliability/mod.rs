//! Helpers shared by the reliability and security suites (`soak`, `crash`, `disk`,
//! `hostile`, `secrets`, `config_errors`): a mock provider that lives in the test process (so its
//! store outlives every `usersync` child), deterministic generated exports with the users they
//! should produce, the ledger checks every suite repeats, (`process`) a child run measured for
//! its peak memory, and (`nights`) nights of the sample export whose leaver comes back, for
//! `reactivation` and `follow_ups`.

pub mod nights;
pub mod process;

// Its suites reach these through `reliability::*`.
pub use super::{demo_env, tempdir, usersync};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use usersync::ledger::{Ledger, OutcomeKind, RunRecord, RunStatus};
use usersync::mock::{self, FaultConfig, MockHandle, MockOptions, StatsSnapshot, StoredUser};
use usersync::provider::Credentials;

/// A mock provider served by a runtime of the test process: it keeps its users across the
/// `usersync` processes a test starts (and kills). Dropping it stops the server.
pub struct TestMock {
    handle: Option<MockHandle>,
    runtime: tokio::runtime::Runtime,
}

impl TestMock {
    /// Starts a mock of `provider` (a config name) with `faults` and the accepted `credentials`
    /// (empty: the provider's demo credentials).
    pub fn start(provider: &str, faults: FaultConfig, credentials: Credentials) -> TestMock {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the mock");
        let provider = usersync::provider::by_name(provider).expect("a known provider");
        let handle = runtime
            .block_on(mock::start(
                provider,
                MockOptions {
                    credentials,
                    faults,
                    ..MockOptions::default()
                },
            ))
            .expect("the mock starts");
        TestMock {
            handle: Some(handle),
            runtime,
        }
    }

    fn handle(&self) -> &MockHandle {
        self.handle.as_ref().expect("the mock is running")
    }

    /// The root URL, with a trailing slash.
    pub fn url(&self) -> String {
        self.handle().url.to_string()
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.handle().state.stats()
    }

    pub fn users(&self) -> Vec<StoredUser> {
        self.handle().state.users()
    }

    pub fn state(&self) -> &usersync::mock::MockState {
        &self.handle().state
    }

    /// Changes the faults from now on.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.handle()
            .state
            .set_faults(faults)
            .expect("valid faults");
    }

    /// Waits (polling the counters, never longer than `limit`) until the mock has received at
    /// least `requests` requests or `stop` says to give up; returns whether the count was reached.
    pub fn wait_for_requests(
        &self,
        requests: u64,
        limit: Duration,
        mut stop: impl FnMut() -> bool,
    ) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.stats().requests >= requests {
                return true;
            }
            if stop() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }
}

impl Drop for TestMock {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.stop());
        }
    }
}

/// A MeetingLawyers target `t` reading `id,email,plan,sex,born`, for generated exports.
/// `extra` is appended to the target table (e.g. `concurrency = 64`).
pub fn ml_config(extra: &str) -> String {
    format!(
        r#"
[targets.t]
provider = "meetinglawyers"
base_url = "mock"
credentials = {{ api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }}
key = "user_id"
{extra}

[targets.t.fields]
user_id = "id"
email = {{ column = "email", transform = ["trim", "lowercase"] }}
status = {{ column = "plan", map = {{ premium = 2, free = 0, trial = 4 }} }}
gender = {{ column = "sex", map = {{ M = 0, F = 1 }} }}
birthdate = {{ column = "born", date_format = "%d/%m/%Y" }}
"#
    )
}

/// One generated person: the CSV row and the MeetingLawyers user it should become.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub plan: &'static str,
    pub sex: &'static str,
    pub day: u32,
    pub month: u32,
    pub year: i32,
}

impl Person {
    /// The row under the header `id,email,plan,sex,born` (the e-mail in mixed case, padded:
    /// the mapping trims and lowercases it).
    pub fn csv_row(&self) -> String {
        format!(
            "{},\" {} \",{},{},{:02}/{:02}/{}\n",
            self.id,
            self.email.replacen("user", "User", 1),
            self.plan,
            self.sex,
            self.day,
            self.month,
            self.year
        )
    }

    /// The fields the provider should hold for this person.
    pub fn expected_fields(&self) -> Value {
        let status = match self.plan {
            "premium" => 2,
            "free" => 0,
            _ => 4,
        };
        json!({
            "user_id": self.id,
            "email": self.email,
            "status": status,
            "gender": if self.sex == "M" { 0 } else { 1 },
            "birthdate": format!("{:04}-{:02}-{:02}", self.year, self.month, self.day),
        })
    }
}

/// `n` valid, distinct people, the same for the same `seed`.
pub fn people(n: usize, seed: u64) -> Vec<Person> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| Person {
            id: format!("E{i:06}"),
            email: format!("user.{i}@empresa.example.com"),
            plan: ["premium", "free", "trial"][rng.gen_range(0..3)],
            sex: ["M", "F"][rng.gen_range(0..2)],
            day: rng.gen_range(1..=28),
            month: rng.gen_range(1..=12),
            year: rng.gen_range(1950..=2004),
        })
        .collect()
}

/// The export of `people`, with its header.
pub fn csv_of(people: &[Person]) -> String {
    let mut out = String::from("id,email,plan,sex,born\n");
    for p in people {
        out.push_str(&p.csv_row());
    }
    out
}

/// The mock's users by provider id.
pub fn users_by_id(mock: &TestMock) -> BTreeMap<String, StoredUser> {
    mock.users()
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect()
}

/// Asserts that the mock holds exactly `expected` (MeetingLawyers ids), active, with exactly
/// the expected fields, each created once; `inactive` must be held deactivated (`status` 0).
pub fn assert_store_holds(mock: &TestMock, expected: &[Person], inactive: &[&str]) {
    let users = users_by_id(mock);
    assert_eq!(
        users.len(),
        expected.len() + inactive.len(),
        "the mock holds {} users, expected {} active and {} deactivated",
        users.len(),
        expected.len(),
        inactive.len()
    );
    for person in expected {
        let user = users
            .get(&person.id)
            .unwrap_or_else(|| panic!("{} is missing at the provider", person.id));
        assert_eq!(
            Value::from(user.fields.clone()),
            person.expected_fields(),
            "{}: the provider holds other fields",
            person.id
        );
        assert_eq!(
            user.count(usersync::mock::Change::Create),
            1,
            "{} was created {} times",
            person.id,
            user.count(usersync::mock::Change::Create)
        );
    }
    for id in inactive {
        let user = users
            .get(*id)
            .unwrap_or_else(|| panic!("{id} is missing at the provider"));
        assert_eq!(user.fields.get("status"), Some(&json!(0)), "{id} is active");
        assert_eq!(user.count(usersync::mock::Change::Create), 1, "{id}");
    }
}

/// Opens the ledger at `path` (read side) for checks.
pub fn ledger(path: &Path) -> Ledger {
    Ledger::open(path).expect("the ledger opens")
}

/// The consistency every crash, fault and disk test demands of a ledger: `PRAGMA
/// integrity_check` and the foreign keys are clean; no run is left `running` and no row left
/// `in_flight`; each run has one outcome per line (the primary key) and its stored counts are
/// the counts of its outcomes and add up.
pub fn assert_ledger_consistent(path: &Path) -> Vec<RunRecord> {
    let ledger = ledger(path);
    ledger.integrity_check().expect("PRAGMA integrity_check");
    let runs = ledger.list_runs(None).expect("runs");
    for run in &runs {
        assert_ne!(
            run.status,
            RunStatus::Running,
            "run {} left running",
            run.id
        );
        let outcomes = ledger.outcomes(run.id).expect("outcomes");
        if run.pruned_at.is_some() {
            // Past the retention: its counts stay, its rows are gone.
            assert!(outcomes.is_empty(), "pruned run {} kept rows", run.id);
            continue;
        }
        let mut lines: Vec<i64> = outcomes.iter().map(|o| o.line).collect();
        lines.dedup();
        assert_eq!(lines.len(), outcomes.len(), "run {}: a line twice", run.id);
        assert!(
            outcomes.iter().all(|o| o.outcome != OutcomeKind::InFlight),
            "run {} has rows left in flight",
            run.id
        );
        let c = &run.counts;
        assert_eq!(
            c.rows,
            outcomes.len() as u64,
            "run {}: stored rows != outcomes",
            run.id
        );
        assert_eq!(
            c.rows,
            c.synced + c.unchanged + c.rejected + c.failed + c.not_attempted,
            "run {}: counts do not add up: {c:?}",
            run.id
        );
        assert_eq!(
            c.synced,
            c.created + c.updated + c.deactivated,
            "run {}: {c:?}",
            run.id
        );
        assert_eq!(
            ledger.counts(run.id).expect("counts").synced,
            c.synced,
            "run {}: stored counts differ from its rows",
            run.id
        );
    }
    runs
}

/// Text of a process output, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `contents` to `dir/name`.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a test file");
    path
}
