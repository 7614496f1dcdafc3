//! A leaver who comes back, through the binary, on the sample export and config: GNOSS gets
//! the `user/unblock` their `user/block` needs undone before their data is sent; Faveo, whose
//! API has no way back that usersync knows, gets the data and the sync says the access must be
//! given back by hand. (MeetingLawyers and Abitmedia give access back through the payload's
//! `status`: `nightly_fingerprints`; what the reports say: `follow_ups`.)

use crate::support::reliability::nights::{Nights, LEAVER};
use crate::support::{demo_env, usersync};
use usersync::mock::{Change, FaultConfig};

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
    assert_eq!(
        stderr.matches("reactivate them there by hand").count(),
        1,
        "said once, with the row's outcome: {stderr}"
    );
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

#[test]
fn gnoss_deactivations_without_a_community_id_option_are_refused_before_anything_is_sent() {
    let nights = Nights::new("gnoss", "community");
    // The sample maps community_id for every row, but a leaver has no row: without the option,
    // every leaver's block would fail, night after night.
    let config = nights.path("usersync.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let without = text.replace(
        "options = { signing = \"gnoss\", community_id = \"1ede819e-9d0f-41e9-855b-bbebc7f08dd1\" }",
        "options = { signing = \"gnoss\" }",
    );
    assert_ne!(text, without, "the sample sets the option");
    std::fs::write(&config, without).unwrap();

    let out = usersync(nights.dir.path())
        .args([
            "sync",
            "without.csv",
            "-c",
            "usersync.toml",
            "-t",
            "community",
        ])
        .args(["--base-url", &nights.mock.url(), "--deactivate-missing"])
        .envs(demo_env("gnoss"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("target community (gnoss) cannot deactivate leavers")
            && stderr.contains("targets.community.options.community_id"),
        "{stderr}"
    );
    assert_eq!(nights.mock.stats().requests, 0, "nothing sent");
    assert!(!nights.path("usersync.db").exists(), "no run recorded");

    // `plan` sends nothing: it warns, and still shows the plan.
    let plan = usersync(nights.dir.path())
        .args([
            "plan",
            "without.csv",
            "-c",
            "usersync.toml",
            "-t",
            "community",
        ])
        .arg("--deactivate-missing")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert!(stderr.contains("a sync would be refused"), "{stderr}");
    assert!(String::from_utf8_lossy(&plan.stdout).contains("deactivate 0"));

    // Without deactivations the target syncs as before.
    nights.sync("all.csv", &[]);
    assert!(nights.mock.stats().requests > 0);
}
