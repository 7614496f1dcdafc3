//! Disk trouble: a ledger that cannot be created where asked, a second concurrent
//! sync of the same target, a ledger written by a newer usersync, and the files' modes.
//!
//! Tests run as root on CI, and root ignores permission bits, so "not writable" is made with
//! something that fails for root too: a ledger path under a regular file, or a path that is a
//! directory. The permission-bit variant runs only where it can fail (an unprivileged user).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::support::mode;
use crate::support::reliability::*;
use usersync::ledger::{Ledger, RunStatus};
use usersync::mock::{FaultConfig, Latency};
use usersync::provider::Credentials;

fn side(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// A directory with a 20-person export and the MeetingLawyers config.
fn setup(extra: &str) -> (tempfile::TempDir, Vec<Person>) {
    let dir = tempdir();
    let people = people(20, 5);
    write(dir.path(), "export.csv", csv_of(&people));
    write(dir.path(), "usersync.toml", ml_config(extra));
    (dir, people)
}

fn sync(dir: &Path, ledger: &Path, mock: &TestMock) -> std::process::Command {
    let mut cmd = usersync(dir);
    cmd.args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
        .arg("--ledger")
        .arg(ledger)
        .args(["--base-url", &mock.url()])
        .envs(demo_env("meetinglawyers"));
    cmd
}

fn mock() -> TestMock {
    TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new())
}

#[test]
fn a_ledger_that_cannot_be_created_is_one_clear_error_before_anything_is_sent() {
    let (dir, _) = setup("");
    let mock = mock();
    write(dir.path(), "a-file", "not a directory");
    std::fs::create_dir(dir.path().join("a-dir.db")).unwrap();
    let cases = [
        (
            "a-file/ledger.db",
            "a-file (or a folder above it) is a file, not a directory",
        ),
        ("a-dir.db", "it is a directory, not a file"),
        ("missing/ledger.db", "the directory missing does not exist"),
    ];
    for (ledger, hint) in cases {
        let out = sync(dir.path(), Path::new(ledger), &mock).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{ledger}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: cannot create the ledger {ledger}: {hint}")),
            "{ledger}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(
        mock.stats().requests,
        0,
        "requests were sent without a ledger"
    );
}

#[test]
fn an_unwritable_ledger_directory_is_refused_for_users_that_permissions_apply_to() {
    let (dir, _) = setup("");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
    let privileged = std::fs::write(locked.join("probe"), "x").is_ok();
    if privileged {
        // Root (CI) writes anyway: the cases above cover it.
        eprintln!("running with privileges: the permission-bit case cannot fail here");
        return;
    }
    let mock = mock();
    let out = sync(dir.path(), Path::new("locked/ledger.db"), &mock)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "cannot create the ledger locked/ledger.db: the directory locked is not writable"
        ),
        "{stderr}"
    );
    assert_eq!(mock.stats().requests, 0);
}

#[test]
fn a_second_sync_of_the_same_target_refuses_and_the_first_finishes_cleanly() {
    let (dir, people) = setup("concurrency = 1");
    let ledger = dir.path().join("ledger.db");
    // Slow enough that the first sync is surely still running when the second starts.
    let mock = TestMock::start(
        "meetinglawyers",
        FaultConfig {
            latency: Latency::Fixed(Duration::from_millis(100)),
            ..FaultConfig::default()
        },
        Credentials::new(),
    );
    let mut first = sync(dir.path(), &ledger, &mock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        mock.wait_for_requests(2, Duration::from_secs(30), || false),
        "the first sync never sent anything"
    );

    // While it runs, SQLite's side files are as private as the ledger.
    for file in [ledger.clone(), side(&ledger, "-wal"), side(&ledger, "-shm")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&side(&ledger, ".t.lock")), 0o600);

    let second = sync(dir.path(), &ledger, &mock).output().unwrap();
    let stderr = text(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    let holder = format!(
        "error: another usersync run (pid {}) is syncing target t since ",
        first.id()
    );
    assert!(stderr.starts_with(&holder), "{stderr}");
    assert!(stderr.contains("wait for it to finish"), "{stderr}");

    assert!(first.wait().unwrap().success());
    assert_store_holds(&mock, &people, &[]);
    let runs = assert_ledger_consistent(&ledger);
    assert_eq!(runs.len(), 1, "the refused sync recorded a run");
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert_eq!(runs[0].counts.synced, people.len() as u64);
}

#[test]
fn a_lock_held_by_another_process_is_respected_until_released() {
    let (dir, people) = setup("");
    let ledger = dir.path().join("ledger.db");
    let mock = mock();
    let held = Ledger::open(&ledger).unwrap();
    let lock = held.lock_target("t").unwrap();

    let out = sync(dir.path(), &ledger, &mock).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is syncing target t"), "{stderr}");
    assert_eq!(mock.stats().requests, 0);

    drop(lock);
    let out = sync(dir.path(), &ledger, &mock).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_store_holds(&mock, &people, &[]);
    assert_ledger_consistent(&ledger);
}

#[test]
fn a_ledger_from_a_newer_usersync_is_refused_and_left_untouched() {
    let (dir, _) = setup("");
    let ledger = dir.path().join("ledger.db");
    drop(Ledger::open(&ledger).unwrap());
    let set_version = |v: i64| {
        let conn = rusqlite::Connection::open(&ledger).unwrap();
        conn.pragma_update(None, "user_version", v).unwrap();
    };
    set_version(999);
    let before = std::fs::read(&ledger).unwrap();
    let mock = mock();

    let out = sync(dir.path(), &ledger, &mock).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "error: the ledger {} has schema version 999, but this usersync ({}) knows versions up \
         to {}: it was written by a newer usersync. Upgrade usersync, or use another ledger file \
         (--ledger)",
        ledger.display(),
        env!("CARGO_PKG_VERSION"),
        usersync::ledger::schema_version()
    );
    assert_eq!(stderr.trim_end(), expected);
    assert_eq!(mock.stats().requests, 0);

    // `plan` reads the ledger too, and refuses the same way.
    let plan = usersync(dir.path())
        .args([
            "plan",
            "export.csv",
            "-c",
            "usersync.toml",
            "-t",
            "t",
            "--ledger",
        ])
        .arg(&ledger)
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan.stderr));
    assert!(text(&plan.stderr).contains("schema version 999"));

    assert_eq!(
        std::fs::read(&ledger).unwrap(),
        before,
        "the newer ledger was changed"
    );
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 999);
}

#[test]
fn ledger_files_are_created_private_and_a_wider_ledger_is_tightened() {
    let (dir, _) = setup("");
    let mock = mock();
    let ledger = dir.path().join("ledger.db");
    let out = sync(dir.path(), &ledger, &mock).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mode(&ledger), 0o600);
    assert_eq!(mode(&side(&ledger, ".t.lock")), 0o600);

    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sync(dir.path(), &ledger, &mock).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mode(&ledger), 0o600);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the ledger was readable by other users; its mode is now 600"),
        "{stderr}"
    );
}
