//! Crash loops: `usersync sync` killed with SIGKILL at seeded random moments, run again
//! each time, must end with the provider holding exactly the export and a consistent ledger.
//!
//! The moments are "after the mock has seen N more requests", N drawn from a seeded generator:
//! with requests in flight, intents and outcomes are being committed all the time, so most kills
//! land in the middle of the ledger writer's work; one kill lands before the first request
//! (while the ledger is being opened, migrated and scanned). The mock lives in the test process,
//! so what reached the provider survives every kill.

use std::process::{Child, Stdio};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::reliability::*;
use usersync::ledger::RunStatus;
use usersync::mock::{FaultConfig, Latency};
use usersync::provider::Credentials;

const PEOPLE: usize = 1500;

struct Scenario {
    dir: tempfile::TempDir,
    mock: TestMock,
}

impl Scenario {
    fn ledger(&self) -> std::path::PathBuf {
        self.dir.path().join("ledger.db")
    }

    fn spawn(&self, extra: &[&str]) -> Child {
        usersync(self.dir.path())
            .args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
            .arg("--ledger")
            .arg(self.ledger())
            .args(["--base-url", &self.mock.url()])
            .args(extra)
            .envs(demo_env("meetinglawyers"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Starts a sync and SIGKILLs it once the mock has seen `after` more requests (0: at once).
    /// Returns whether it was killed (false: it finished first).
    fn kill_after(&self, after: u64, extra: &[&str]) -> bool {
        let start = self.mock.stats().requests;
        let mut child = self.spawn(extra);
        let mut finished = false;
        if after > 0 {
            self.mock
                .wait_for_requests(start + after, Duration::from_secs(60), || {
                    finished = matches!(child.try_wait(), Ok(Some(_)));
                    finished
                });
        }
        let killed = !finished && matches!(child.try_wait(), Ok(None));
        if killed {
            // SIGKILL: no destructor, no signal handler, no flush runs.
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        if !killed {
            let stderr = child_stderr(&mut child);
            assert!(status.success(), "a sync failed on its own: {stderr}");
        }
        // Whatever the moment, the file left behind is a sound SQLite database.
        if self.ledger().exists() {
            ledger(&self.ledger())
                .integrity_check()
                .expect("integrity after a kill");
        }
        killed
    }

    /// Runs a sync to its end; returns its exit code and stderr.
    fn complete(&self, extra: &[&str]) -> (Option<i32>, String) {
        let mut child = self.spawn(extra);
        let status = child.wait().unwrap();
        (status.code(), child_stderr(&mut child))
    }
}

fn child_stderr(child: &mut Child) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

#[test]
fn syncs_killed_at_seeded_moments_end_with_the_right_state_and_a_consistent_ledger() {
    let dir = tempdir();
    let mock = TestMock::start(
        "meetinglawyers",
        FaultConfig {
            seed: Some(3),
            fail_rate: 0.05,
            drop_rate: 0.02,
            latency: Latency::Range(Duration::from_millis(1), Duration::from_millis(4)),
            ..FaultConfig::default()
        },
        Credentials::new(),
    );
    let s = Scenario { dir, mock };
    write(
        s.dir.path(),
        "usersync.toml",
        ml_config("concurrency = 16\nmax_retries = 8\ntimeout_secs = 10"),
    );
    let mut rng = StdRng::seed_from_u64(0x5EED_C4A5);

    // Night 1: the first sync of the export, killed at random points, then run to its end.
    let first = people(PEOPLE, 21);
    write(s.dir.path(), "export.csv", csv_of(&first));
    let mut kills = 0;
    kills += usize::from(s.kill_after(0, &[]));
    for _ in 0..4 {
        kills += usize::from(s.kill_after(rng.gen_range(1..600), &[]));
    }
    let (code, stderr) = s.complete(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_store_holds(&s.mock, &first, &[]);
    let runs = assert_ledger_consistent(&s.ledger());
    assert_eq!(runs.last().unwrap().status, RunStatus::Completed);

    // Night 2: a quarter of the people changed plan, a twentieth left, a few joined; killed again.
    let mut second = first.clone();
    for p in second.iter_mut().step_by(4) {
        p.plan = if p.plan == "premium" {
            "trial"
        } else {
            "premium"
        };
    }
    let leavers: Vec<String> = second
        .iter()
        .skip(3)
        .step_by(20)
        .map(|p| p.id.clone())
        .collect();
    second.retain(|p| !leavers.contains(&p.id));
    let mut joiners = people(PEOPLE + 40, 21).split_off(PEOPLE);
    for p in &mut joiners {
        p.plan = "free";
    }
    second.extend(joiners);
    write(s.dir.path(), "export.csv", csv_of(&second));
    let deactivate = ["--deactivate-missing"];
    for _ in 0..4 {
        kills += usize::from(s.kill_after(rng.gen_range(1..250), &deactivate));
    }
    let (code, stderr) = s.complete(&deactivate);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(kills >= 5, "only {kills} syncs were killed");

    let gone: Vec<&str> = leavers.iter().map(String::as_str).collect();
    assert_store_holds(&s.mock, &second, &gone);
    let runs = assert_ledger_consistent(&s.ledger());
    let last = runs.last().unwrap();
    assert_eq!(last.status, RunStatus::Completed);
    // Every input row, plus the leavers the killed runs had not yet deactivated.
    let rows = last.counts.rows as usize;
    assert!(
        (second.len()..=second.len() + gone.len()).contains(&rows),
        "{rows}"
    );
    for r in &runs {
        eprintln!(
            "run {}: {} exit {:?} rows {} synced {} failed {} not attempted {}",
            r.id,
            r.status,
            r.exit_code,
            r.counts.rows,
            r.counts.synced,
            r.counts.failed,
            r.counts.not_attempted
        );
    }
    // Every killed run was found and closed by the next one.
    let interrupted = runs
        .iter()
        .filter(|r| r.status == RunStatus::Interrupted)
        .count();
    assert!(
        interrupted >= kills - 1,
        "{interrupted} interrupted runs for {kills} kills"
    );

    // The ledger's snapshot agrees with the provider: one more run sends nothing.
    let before = s.mock.stats().requests;
    let (code, stderr) = s.complete(&deactivate);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        s.mock.stats().requests,
        before,
        "a run after recovery sent requests"
    );
}
