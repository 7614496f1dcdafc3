//! A ledger knows a target's users at one endpoint. Rehearsing a config against the built-in
//! mock, then pointing the same target at another server with the same ledger, must not send
//! "only what changed" to a provider that has none of those users (nor may a rehearsal against
//! a mock-server make the real provider's users look synced). Such a run is refused before any
//! request, exit 2, naming both endpoints and the way out; `--endpoint-moved` accepts the new
//! endpoint once, and the ledger never holds a password from a base URL.

use std::path::Path;
use std::process::Output;

use crate::support::reliability::{
    csv_of, demo_env, ledger, ml_config, people, tempdir, text, usersync, write, TestMock,
};
use usersync::mock::FaultConfig;
use usersync::provider::Credentials;

/// `usersync sync FILE -q` of target `t` in `dir`, with the demo credentials and `extra` flags.
fn sync_quietly(dir: &Path, file: &str, extra: &[&str]) -> Output {
    usersync(dir)
        .args(["sync", file, "-c", "usersync.toml", "-t", "t", "-q"])
        .args(extra)
        .envs(demo_env("meetinglawyers"))
        .output()
        .expect("run usersync")
}

#[test]
fn a_ledger_synced_to_the_mock_is_not_taken_to_another_server() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", ml_config("rate_limit = 5000"));
    write(dir.path(), "hr.csv", csv_of(&people(20, 7)));
    let sync = |extra: &[&str]| sync_quietly(dir.path(), "hr.csv", extra);

    // The rehearsal: the built-in mock, in the default ledger.
    let rehearsal = sync(&[]);
    assert_eq!(
        rehearsal.status.code(),
        Some(0),
        "{}",
        text(&rehearsal.stderr)
    );

    // The same target, pointed at another server: refused before anything is sent.
    let server = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let url = server.url();
    let refused = sync(&["--base-url", &url]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("knows its users at mock (run 1)") && stderr.contains(&url),
        "both endpoints named: {stderr}"
    );
    assert!(
        stderr.contains("--ledger") && stderr.contains("--endpoint-moved"),
        "the ways out named: {stderr}"
    );
    assert_eq!(server.stats().requests, 0, "nothing sent");
    let runs = ledger(&dir.path().join("usersync.db"))
        .list_runs(Some("t"))
        .unwrap();
    assert_eq!(runs.len(), 1, "no run recorded for the refusal");
    assert_eq!(runs[0].endpoint.as_deref(), Some("mock"));

    // `plan` sends nothing: it plans against what the ledger knows, and warns.
    write(
        dir.path(),
        "real.toml",
        ml_config("rate_limit = 5000").replace("\"mock\"", &format!("\"{url}\"")),
    );
    let plan = usersync(dir.path())
        .args([
            "plan",
            "hr.csv",
            "-c",
            "real.toml",
            "-t",
            "t",
            "--ledger",
            "usersync.db",
        ])
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert!(
        text(&plan.stderr).contains("knows its users at mock"),
        "{}",
        text(&plan.stderr)
    );

    // A ledger of its own for the new server: everyone is sent there.
    let own = sync(&["--base-url", &url, "--ledger", "other.db"]);
    assert_eq!(own.status.code(), Some(0), "{}", text(&own.stderr));
    assert_eq!(server.users().len(), 20);

    // Told the provider moved, the first ledger goes on from what it knows: nothing changed.
    let moved = sync(&["--base-url", &url, "--endpoint-moved"]);
    assert_eq!(moved.status.code(), Some(0), "{}", text(&moved.stderr));
    let runs = ledger(&dir.path().join("usersync.db"))
        .list_runs(Some("t"))
        .unwrap();
    assert_eq!(runs.last().unwrap().endpoint.as_deref(), Some(url.as_str()));
    assert_eq!(runs.last().unwrap().counts.unchanged, 20);
    // Where each run went is in `runs --json` and in its report.
    let listed = usersync(dir.path())
        .args(["runs", "--json", "-c", "usersync.toml"])
        .output()
        .unwrap();
    let endpoints: Vec<serde_json::Value> = text(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["endpoint"].clone())
        .collect();
    assert_eq!(endpoints, [url.as_str(), "mock"], "newest first");
    let report = usersync(dir.path())
        .args(["report", "last", "--format", "json", "-c", "usersync.toml"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["run"]["endpoint"], url.as_str());
    // From then on the new endpoint is the target's, and the mock is the other one: a dry run
    // previews the sync it is given, endpoint included.
    let dry_run = |extra: &[&str]| {
        usersync(dir.path())
            .args([
                "sync",
                "hr.csv",
                "-c",
                "usersync.toml",
                "-t",
                "t",
                "--dry-run",
            ])
            .args(extra)
            .output()
            .expect("run usersync")
    };
    let dry = dry_run(&["--base-url", &url]);
    assert!(
        !text(&dry.stderr).contains("would be refused"),
        "{}",
        text(&dry.stderr)
    );
    let dry = dry_run(&[]);
    assert!(
        text(&dry.stderr).contains("a sync would be refused"),
        "{}",
        text(&dry.stderr)
    );
    assert_eq!(sync(&["--base-url", &url]).status.code(), Some(0));
    let back = sync(&[]);
    assert_eq!(back.status.code(), Some(2), "{}", text(&back.stderr));
    assert!(text(&back.stderr).contains("but this run would send to mock"));
}

#[test]
fn a_password_in_a_base_url_never_reaches_the_ledger_or_the_refusal() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", ml_config("rate_limit = 5000"));
    write(dir.path(), "hr.csv", csv_of(&people(3, 11)));
    let server = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let with_password = server
        .url()
        .replacen("http://", "http://proxyuser:s3cr3t-pw@", 1);
    let sync = |extra: &[&str]| sync_quietly(dir.path(), "hr.csv", extra);
    assert_eq!(sync(&[]).status.code(), Some(0), "the built-in mock first");

    // The refusal names the new endpoint without its password.
    let refused = sync(&["--base-url", &with_password]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&server.url()), "{stderr}");
    assert!(!stderr.contains("s3cr3t-pw"), "{stderr}");

    // Moved there: the ledger records the endpoint without it.
    let moved = sync(&["--base-url", &with_password, "--endpoint-moved"]);
    assert_eq!(moved.status.code(), Some(0), "{}", text(&moved.stderr));
    let runs = ledger(&dir.path().join("usersync.db"))
        .list_runs(Some("t"))
        .unwrap();
    assert_eq!(runs[1].endpoint.as_deref(), Some(server.url().as_str()));
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let file = file.unwrap();
        if file
            .file_name()
            .to_string_lossy()
            .starts_with("usersync.db")
        {
            let bytes = std::fs::read(file.path()).unwrap();
            assert!(
                !bytes.windows(b"s3cr3t-pw".len()).any(|w| w == b"s3cr3t-pw"),
                "the password is not in {:?}",
                file.file_name()
            );
        }
    }
}

#[test]
fn a_ledger_that_knows_no_users_of_the_target_or_no_endpoint_goes_anywhere() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", ml_config("rate_limit = 5000"));
    // Every row is rejected: the ledger records a run at the mock, but no user.
    write(
        dir.path(),
        "bad.csv",
        "id,email,plan,sex,born\nE1,not-an-email,premium,M,01/01/1990\n",
    );
    write(dir.path(), "hr.csv", csv_of(&people(5, 13)));
    let server = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let url = server.url();
    let sync = |file: &str, extra: &[&str]| sync_quietly(dir.path(), file, extra);
    assert_eq!(sync("bad.csv", &[]).status.code(), Some(3));
    let first = sync("hr.csv", &["--base-url", &url]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(server.users().len(), 5);

    // A ledger from before usersync recorded endpoints: its first run is not checked, and
    // records where it sent.
    let db = dir.path().join("usersync.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE runs SET endpoint = NULL", [])
        .unwrap();
    let legacy = sync("hr.csv", &[]);
    assert_eq!(legacy.status.code(), Some(0), "{}", text(&legacy.stderr));
    let runs = ledger(&db).list_runs(Some("t")).unwrap();
    assert_eq!(runs.last().unwrap().endpoint.as_deref(), Some("mock"));
    let checked = sync("hr.csv", &["--base-url", &url]);
    assert_eq!(checked.status.code(), Some(2), "checked again from then on");
}

#[test]
fn a_retry_to_another_endpoint_is_refused_too() {
    let dir = tempdir();
    // No retries: the failing user fails at once.
    write(
        dir.path(),
        "usersync.toml",
        ml_config("rate_limit = 5000\nmax_retries = 0"),
    );
    let everyone = people(6, 17);
    write(dir.path(), "hr.csv", csv_of(&everyone));
    // The first server keeps failing one user, so the night leaves a row to retry.
    let first = TestMock::start(
        "meetinglawyers",
        FaultConfig {
            fail_users: vec![everyone[0].id.clone()],
            ..FaultConfig::default()
        },
        Credentials::new(),
    );
    let night = usersync(dir.path())
        .args(["sync", "hr.csv", "-c", "usersync.toml", "-t", "t", "-q"])
        .args(["--base-url", &first.url()])
        .envs(demo_env("meetinglawyers"))
        .output()
        .unwrap();
    assert_eq!(night.status.code(), Some(3), "{}", text(&night.stderr));

    let second = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let retry = |extra: &[&str]| {
        usersync(dir.path())
            .args(["retry", "last", "-c", "usersync.toml", "-t", "t", "-q"])
            .args(["--base-url", &second.url()])
            .args(extra)
            .envs(demo_env("meetinglawyers"))
            .output()
            .unwrap()
    };
    let refused = retry(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains(&first.url()));
    assert_eq!(second.stats().requests, 0);
    let moved = retry(&["--endpoint-moved"]);
    assert_eq!(moved.status.code(), Some(0), "{}", text(&moved.stderr));
    assert_eq!(
        second.users().len(),
        1,
        "the failed user, re-sent to the new endpoint"
    );
}
