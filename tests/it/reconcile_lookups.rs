//! `usersync reconcile` at a provider whose API cannot list its users but can look one up
//! (MeetingLawyers, by id): each user the ledger holds as synced is asked about, drift and
//! missing users are found, and the report says that unlinked and unowned users cannot be.
//! A provider with neither way (Faveo) is refused by name.

use serde_json::json;
use usersync::mock::store::RequestRecord;
use usersync::mock::Change;
use usersync::payload::Payload;

use crate::support::nightly::{first_night, quiet_mock, Night, CONFIG};
use crate::support::{stderr, stdout};

#[test]
fn reconcile_looks_each_user_up_where_the_api_cannot_list_them() {
    let mock = quiet_mock();
    let night = Night::new();
    // reconcile reads the target at its configured URL.
    let config = CONFIG.replace(
        "base_url = \"mock\"",
        &format!("base_url = \"{}\"", mock.url()),
    );
    std::fs::write(night.path("usersync.toml"), config).unwrap();
    first_night(&night, &mock);

    let clean = night
        .usersync(&["reconcile", "-t", "lawyers"])
        .output()
        .unwrap();
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );
    assert!(
        stdout(&clean).contains("cannot list users"),
        "{}",
        stdout(&clean)
    );

    {
        let mut store = mock.handle.state.store();
        let record = RequestRecord::new(
            Change::Patch,
            &http::Method::PATCH,
            "elsewhere",
            &Payload::new(),
        );
        store
            .update("E00003", record, |user| {
                let mut fields = user.fields.clone().into_object();
                fields.insert("first_name".into(), json!("Changed at the provider"));
                user.fields = fields.into();
            })
            .unwrap();
        store.delete("E00005").unwrap();
    }
    let found = night
        .usersync(&["reconcile", "-t", "lawyers"])
        .output()
        .unwrap();
    let out = stdout(&found);
    assert_eq!(found.status.code(), Some(3), "{out}{}", stderr(&found));
    assert!(out.contains("drift: E00003 (first_name)"), "{out}");
    assert!(out.contains("missing: E00005"), "{out}");
    assert!(
        !out.contains("Changed at the provider"),
        "no values in the report: {out}"
    );

    // The next sync mends both.
    let export = night.path("hr.csv");
    let mended = night.sync(&mock, &export, &[]);
    assert_eq!(mended.status.code(), Some(0), "{}", stderr(&mended));
    assert_eq!(mock.user("E00003").fields["first_name"], "Iñaki");
    assert!(mock.handle.state.user("E00005").is_some(), "created again");
}

#[test]
fn a_provider_that_can_neither_list_nor_look_up_is_refused() {
    let dir = crate::support::tempdir();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    std::fs::copy(
        samples.join("usersync.toml"),
        dir.path().join("usersync.toml"),
    )
    .unwrap();
    let out = crate::support::usersync(dir.path())
        .args(["reconcile", "-t", "helpdesk"])
        .envs(crate::support::demo_env("faveo"))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(faveo): its API can neither list its users nor look one up"),
        "{}",
        stderr(&out)
    );
}
