//! Nights of the sample export against one of its targets, served by a [`TestMock`]: the
//! sample's Marc Torres ([`LEAVER`]) can leave and come back, and the ledger and reports of
//! each night can be read. Shared by `reactivation`, `follow_ups` and `fidelity`.

use std::path::PathBuf;
use std::process::Output;

use usersync::mock::{Change, FaultConfig, StoredUser};
use usersync::provider::Credentials;

use super::{demo_env, tempdir, usersync, TestMock};
use crate::support::samples;

/// The sample row that leaves and comes back: Marc Torres, E00001, line 2.
pub const LEAVER: &str = "E00001";

pub struct Nights {
    pub dir: tempfile::TempDir,
    pub mock: TestMock,
    provider: &'static str,
    target: &'static str,
}

impl Nights {
    pub fn new(provider: &'static str, target: &'static str) -> Nights {
        let dir = tempdir();
        let samples = samples();
        std::fs::copy(
            samples.join("usersync.toml"),
            dir.path().join("usersync.toml"),
        )
        .expect("copy the sample config");
        std::fs::copy(samples.join("hr_export.csv"), dir.path().join("all.csv"))
            .expect("copy the sample export");
        let all = std::fs::read_to_string(dir.path().join("all.csv")).unwrap();
        let without: String = all
            .split_inclusive('\n')
            .filter(|line| !line.starts_with(&format!("{LEAVER},")))
            .collect();
        assert!(without.len() < all.len(), "the leaver is in the sample");
        std::fs::write(dir.path().join("without.csv"), without).unwrap();
        Nights {
            dir,
            mock: TestMock::start(provider, FaultConfig::default(), Credentials::new()),
            provider,
            target,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// One sync of `export` to the mock. The sample holds deliberately bad rows: exit 3.
    pub fn sync(&self, export: &str, extra: &[&str]) -> Output {
        let out = usersync(self.dir.path())
            .args(["sync", export, "-c", "usersync.toml", "-t", self.target])
            .args(["--base-url", &self.mock.url()])
            // The sample's rate limits are a real provider's; the mock needs none.
            .args(["--rate", "5000"])
            .args(extra)
            .envs(demo_env(self.provider))
            .output()
            .expect("run usersync");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(self.path("usersync.db").exists());
        out
    }

    /// The leaver at the provider, found by `field` = `value`.
    pub fn leaver(&self, field: &str, value: &str) -> StoredUser {
        self.mock
            .users()
            .into_iter()
            .find(|u| u.fields.get(field).and_then(|v| v.as_str()) == Some(value))
            .unwrap_or_else(|| panic!("no user with {field} = {value} at the mock"))
    }

    /// `usersync retry last` of the target, to the mock. The sample's E00227 fails at Faveo
    /// every time (its mobile is taken, and Faveo cannot be sent an update without an id): exit 3.
    pub fn retry(&self) -> Output {
        let out = usersync(self.dir.path())
            .args(["retry", "last", "-c", "usersync.toml", "-t", self.target])
            .args(["--base-url", &self.mock.url(), "--rate", "5000"])
            .envs(demo_env(self.provider))
            .output()
            .expect("run usersync retry");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        out
    }

    /// `usersync report last --format FORMAT` of the target.
    pub fn report(&self, format: &str) -> String {
        let out = usersync(self.dir.path())
            .args(["report", "last", "-c", "usersync.toml", "-t", self.target])
            .args(["--format", format])
            .output()
            .expect("run usersync report");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("a UTF-8 report")
    }

    /// `usersync plan EXPORT --json` of the target: one JSON value per line.
    pub fn plan(&self, export: &str) -> Vec<serde_json::Value> {
        let out = usersync(self.dir.path())
            .args([
                "plan",
                export,
                "--json",
                "-c",
                "usersync.toml",
                "-t",
                self.target,
            ])
            .output()
            .expect("run usersync plan");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// Syncs everyone, then everyone but the leaver (deactivating them), then everyone again;
    /// returns the last night's output.
    pub fn leave_and_come_back(&self, field: &str, value: &str) -> Output {
        self.leave(field, value);
        self.sync("all.csv", &[])
    }

    /// Syncs everyone, then everyone but the leaver, deactivating them.
    pub fn leave(&self, field: &str, value: &str) {
        self.sync("all.csv", &[]);
        assert!(self.leaver(field, value).active);
        self.sync("without.csv", &["--deactivate-missing"]);
        let gone = self.leaver(field, value);
        assert!(!gone.active, "the leaver is deactivated");
        assert_eq!(gone.count(Change::Deactivate), 1);
    }
}
