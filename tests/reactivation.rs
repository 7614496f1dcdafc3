//! A leaver who comes back, through the binary, on the sample export and config: GNOSS gets
//! the `user/unblock` their `user/block` needs undone before their data is sent; Faveo, whose
//! API has no way back that usersync knows, gets the data and the sync says the access must be
//! given back by hand. (MeetingLawyers and Abitmedia give access back through the payload's
//! `status`: `tests/nightly_fingerprints.rs`.)

mod reliability;

use std::path::{Path, PathBuf};
use std::process::Output;

use reliability::{demo_env, usersync, TestMock};
use usersync::mock::{Change, FaultConfig, StoredUser};
use usersync::provider::Credentials;

/// The sample row that leaves and comes back: Marc Torres, E00001, line 2.
const LEAVER: &str = "E00001";

struct Nights {
    dir: tempfile::TempDir,
    mock: TestMock,
    provider: &'static str,
    target: &'static str,
}

impl Nights {
    fn new(provider: &'static str, target: &'static str) -> Nights {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
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

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// One sync of `export` to the mock. The sample holds deliberately bad rows: exit 3.
    fn sync(&self, export: &str, extra: &[&str]) -> Output {
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
    fn leaver(&self, field: &str, value: &str) -> StoredUser {
        self.mock
            .users()
            .into_iter()
            .find(|u| u.fields.get(field).and_then(|v| v.as_str()) == Some(value))
            .unwrap_or_else(|| panic!("no user with {field} = {value} at the mock"))
    }

    /// `usersync retry last` of the target, to the mock. The sample's E00227 fails at Faveo
    /// every time (its mobile is taken, and Faveo cannot be sent an update without an id): exit 3.
    fn retry(&self) -> Output {
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

    /// Syncs everyone, then everyone but the leaver (deactivating them), then everyone again;
    /// returns the last night's output.
    fn leave_and_come_back(&self, field: &str, value: &str) -> Output {
        self.leave(field, value);
        self.sync("all.csv", &[])
    }

    /// Syncs everyone, then everyone but the leaver, deactivating them.
    fn leave(&self, field: &str, value: &str) {
        self.sync("all.csv", &[]);
        assert!(self.leaver(field, value).active);
        self.sync("without.csv", &["--deactivate-missing"]);
        let gone = self.leaver(field, value);
        assert!(!gone.active, "the leaver is deactivated");
        assert_eq!(gone.count(Change::Deactivate), 1);
    }
}

#[test]
fn a_returning_gnoss_user_is_unblocked_and_updated() {
    let nights = Nights::new("gnoss", "community");
    let email = "marc.torres@empresa.example.com";
    nights.leave("email", email);
    let out = nights.sync("all.csv", &["-v"]);

    let back = nights.leaver("email", email);
    assert!(back.active, "the returning user is unblocked");
    assert_eq!(back.count(Change::Reactivate), 1);
    let last = back.history.last().expect("a history");
    assert_eq!(
        last.change,
        Change::Patch,
        "their data is sent after the unblock"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("updated 1"), "{stdout}");
    // The duration estimate counts both requests.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("for 2 requests"), "{stderr}");
}

#[test]
fn a_returning_faveo_user_is_updated_and_the_sync_says_to_reactivate_by_hand() {
    let nights = Nights::new("faveo", "helpdesk");
    let out = nights.leave_and_come_back("user_name", &LEAVER.to_lowercase());

    let back = nights.leaver("user_name", &LEAVER.to_lowercase());
    assert!(!back.active, "Faveo has no reactivation usersync knows");
    assert_eq!(back.count(Change::Update), 1, "their data is sent");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reactivate them there by hand"), "{stderr}");
    assert!(
        stderr.contains("line=2") || stderr.contains("line 2"),
        "{stderr}"
    );
    // The summary says it too, for cron mail, where `-q` keeps warnings out of the log.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("reactivate by hand at faveo: 1 returning user(s)")
            && stdout.contains("e00001"),
        "{stdout}"
    );
    let quiet = nights.sync("all.csv", &["-q"]);
    assert!(
        !String::from_utf8_lossy(&quiet.stdout).contains("reactivate by hand"),
        "said once: the user's data is now synced"
    );
}

#[test]
fn a_retry_that_gets_a_returning_faveo_user_through_says_to_reactivate_by_hand() {
    let nights = Nights::new("faveo", "helpdesk");
    let leaver = LEAVER.to_lowercase();
    nights.leave("user_name", &leaver);

    // The night they come back, the helpdesk refuses every request about them.
    nights.mock.set_faults(FaultConfig {
        fail_users: vec![leaver.clone()],
        ..FaultConfig::default()
    });
    let config = std::fs::read_to_string(nights.path("usersync.toml")).unwrap();
    let config = config.replace(
        "key = \"user_name\"",
        "key = \"user_name\"\nmax_retries = 0",
    );
    std::fs::write(nights.path("usersync.toml"), config).unwrap();
    let out = nights.sync("all.csv", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(nights.leaver("user_name", &leaver).count(Change::Update), 0);
    assert!(
        !stdout.contains("reactivate by hand"),
        "their data was not sent: {stdout}"
    );

    nights.mock.set_faults(FaultConfig::default());
    let out = nights.retry();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("reactivate by hand at faveo: 1 returning user(s)")
            && stdout.contains(&leaver),
        "{stdout}"
    );
    assert_eq!(nights.leaver("user_name", &leaver).count(Change::Update), 1);
}
