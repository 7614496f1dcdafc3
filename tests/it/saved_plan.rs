//! Saved plans: `plan --out FILE` then `apply FILE` sends exactly the plan, and refuses (exit 2,
//! naming what) once the export, the config or the ledger changed since the plan was made.

use crate::support::nightly::{assert_exit, first_night, history, quiet_mock, Night};
use crate::support::{stderr, stdout};

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_once_stale() {
    let night = Night::new();
    let mock = quiet_mock();
    let everyone = first_night(&night, &mock);
    // Two people change, one leaves.
    let mut people = everyone[..19].to_vec();
    people[0].first_name = "Changed".into();
    people[1].plan = "trial";
    let export = night.export("hr2.csv", &people);
    let export = export.to_str().unwrap();
    let plan = night
        .usersync(&[
            "plan",
            export,
            "-t",
            "lawyers",
            "--deactivate-missing",
            "--out",
            "plan.json",
        ])
        .output()
        .unwrap();
    assert_exit(&plan, 0);
    let text = std::fs::read_to_string(night.path("plan.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ops: Vec<(String, String)> = saved["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_owned(),
                o["op"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("E00020".to_string(), "deactivate".to_string()),
            ("E00001".to_string(), "update".to_string()),
            ("E00002".to_string(), "update".to_string()),
        ]
    );
    assert!(!text.contains("Changed"), "no values in a plan: {text}");
    assert!(!text.contains("@"), "no e-mail addresses in a plan");

    let url = mock.url();
    let apply = |plan: &str| {
        night
            .usersync(&["apply", plan, "--base-url", url.as_str()])
            .output()
            .unwrap()
    };

    // Stale: the export changed.
    let mut other = people.clone();
    other[2].first_name = "Other".into();
    night.export("hr2.csv", &other);
    let refused = apply("plan.json");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("the export changed"),
        "{}",
        stderr(&refused)
    );
    night.export("hr2.csv", &people);

    // Stale: the config changed.
    let config = std::fs::read_to_string(night.path("usersync.toml")).unwrap();
    std::fs::write(
        night.path("usersync.toml"),
        config.replace("max_deactivate = 0.10", "max_deactivate = 0.2"),
    )
    .unwrap();
    let refused = apply("plan.json");
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("config"), "{}", stderr(&refused));
    std::fs::write(night.path("usersync.toml"), &config).unwrap();

    // Applied: exactly the plan reaches the provider.
    let before: usize = mock.users().iter().map(|u| u.history.len()).sum();
    let out = apply("plan.json");
    assert_exit(&out, 0);
    let after: usize = mock.users().iter().map(|u| u.history.len()).sum();
    assert_eq!(after - before, 3, "{}", stdout(&out));
    assert_eq!(
        history(&mock.user("E00020")).last().unwrap().0,
        "deactivate"
    );
    assert_eq!(mock.user("E00001").fields["first_name"], "Changed");

    // Stale: the ledger changed (the plan was applied already).
    let refused = apply("plan.json");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("the ledger's users of the target changed"),
        "{}",
        stderr(&refused)
    );
}
