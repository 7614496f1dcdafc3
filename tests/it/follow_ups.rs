//! Rows that go through but need a person, through the binary on the sample export and config:
//! a Faveo user who comes back (their access must be given back by hand), a field emptied in
//! the export that GNOSS cannot clear, and a returning GNOSS user whose unblock GNOSS refuses. `plan --json` says so before the night; the sync's
//! summary and every report format after it, with the line, the user and what to do; the night
//! after, with nothing left to do, says nothing.

use crate::support::reliability::nights::{Nights, LEAVER};
use usersync::mock::Change;

#[test]
fn the_reports_of_the_night_a_faveo_user_comes_back_say_who_to_reactivate_by_hand() {
    let nights = Nights::new("faveo", "helpdesk");
    nights.leave("user_name", &LEAVER.to_lowercase());
    // `plan` says it before the night.
    let plan = nights.plan("all.csv");
    let planned = plan
        .iter()
        .find(|l| l["line"] == 2)
        .unwrap_or_else(|| panic!("{plan:?}"));
    assert_eq!(planned["op"], "update");
    assert_eq!(planned["notes"], serde_json::json!(["reactivate_by_hand"]));
    nights.sync("all.csv", &[]);

    // For scripts: the note, on its row.
    let json: serde_json::Value = serde_json::from_str(&nights.report("json")).unwrap();
    let follow_ups = &json["follow_ups"];
    assert_eq!(follow_ups["total"], 1, "{follow_ups}");
    assert_eq!(follow_ups["by_code"][0]["code"], "reactivate_by_hand");
    let row = &follow_ups["listed"][0];
    assert_eq!(
        (&row["line"], &row["key"], &row["outcome"], &row["code"]),
        (
            &2.into(),
            &"e00001".into(),
            &"synced".into(),
            &"reactivate_by_hand".into()
        )
    );
    let message = row["message"].as_str().unwrap();
    assert!(
        message.contains(
            "faveo cannot be asked to give their access back; reactivate them there by hand"
        ),
        "{message}"
    );
    // For HR: a line in the spreadsheet of rows to act on, and a section in the summary.
    let csv = nights.report("csv");
    assert!(
        csv.lines()
            .any(|l| l.contains(",2,e00001,synced,") && l.contains("reactivate_by_hand")),
        "{csv}"
    );
    let md = nights.report("md");
    assert!(
        md.contains("**needs a person**: reactivate by hand 1"),
        "{md}"
    );
    assert!(md.contains("## Needs a person"), "{md}");
    let html = nights.report("html");
    assert!(html.contains("id=\"follow-ups\""), "{html}");
    assert!(html.contains(
        "faveo cannot be asked to give their access back; reactivate them there by hand"
    ));

    // The next night the user is unchanged: nothing more to do.
    nights.sync("all.csv", &["-q"]);
    let json: serde_json::Value = serde_json::from_str(&nights.report("json")).unwrap();
    assert_eq!(json["follow_ups"]["total"], 0);
    assert!(!nights.report("md").contains("Needs a person"));
}

#[test]
fn the_reports_say_which_emptied_fields_gnoss_kept() {
    let nights = Nights::new("gnoss", "community");
    nights.sync("all.csv", &[]);
    // Marc Torres (line 2) no longer has a city in the export; Joan Puig (line 3) neither, and
    // has a new surname. GNOSS cannot clear a field, so both keep their old city there.
    let all = std::fs::read_to_string(nights.path("all.csv")).unwrap();
    let edited: String = all
        .split_inclusive('\n')
        .map(|line| match line.split(',').next() {
            Some("E00001") => line.replacen(",Alicante,", ",,", 1),
            Some("E00002") => {
                line.replacen(",Bilbao,", ",,", 1)
                    .replacen("Puig Álvarez", "Puig Serra", 1)
            }
            _ => line.to_owned(),
        })
        .collect();
    assert_eq!(edited.matches(",,03031,").count(), 1, "the edit applies");
    std::fs::write(nights.path("edited.csv"), edited).unwrap();
    // `plan` says it before the night, for the row that will be sent.
    let plan = nights.plan("edited.csv");
    let joan = plan.iter().find(|l| l["line"] == 3).unwrap();
    assert_eq!(
        (&joan["op"], &joan["not_cleared"], &joan["notes"]),
        (
            &"update".into(),
            &serde_json::json!(["city"]),
            &serde_json::json!(["not_cleared"])
        )
    );
    assert!(plan.iter().all(|l| l["line"] != 2), "Marc needs no request");
    let out = nights.sync("edited.csv", &["-q"]);
    // The summary says it too, for cron mail.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("not cleared at gnoss: 2 user(s) keep old values"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("6a423cf9-d330-4549-8d14-cf1a4cc34636")
            && line.contains("fed5ce26-af1a-46da-ae01-26319a72180d"),
        "{line}"
    );
    let marc = nights.leaver("email", "marc.torres@empresa.example.com");
    assert_eq!(marc.fields["city"], "Alicante", "GNOSS kept the old city");

    let json: serde_json::Value = serde_json::from_str(&nights.report("json")).unwrap();
    let follow_ups = &json["follow_ups"];
    assert_eq!(follow_ups["total"], 2, "{follow_ups}");
    assert_eq!(follow_ups["by_code"][0]["code"], "not_cleared");
    let rows: Vec<(u64, &str, &str)> = follow_ups["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let message = r["message"].as_str().unwrap();
            assert!(
                message.contains("city keep their old values there"),
                "{message}"
            );
            (
                r["line"].as_u64().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["code"].as_str().unwrap(),
            )
        })
        .collect();
    // Marc's row needed no request (nothing GNOSS can be sent changed); Joan's was patched.
    assert_eq!(
        rows,
        [
            (2, "unchanged", "not_cleared"),
            (3, "synced", "not_cleared")
        ]
    );
    let csv = nights.report("csv");
    assert_eq!(
        csv.lines().filter(|l| l.contains("not_cleared")).count(),
        2,
        "{csv}"
    );

    // The same export the next night: the ledger knows, so nobody is told again.
    let out = nights.sync("edited.csv", &[]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not cleared"));
    let json: serde_json::Value = serde_json::from_str(&nights.report("json")).unwrap();
    assert_eq!(json["follow_ups"]["total"], 0);
}

#[test]
fn a_returning_gnoss_user_whose_unblock_is_refused_is_noted_for_a_check() {
    let nights = Nights::new("gnoss", "community");
    let email = "marc.torres@empresa.example.com";
    nights.leave("email", email);
    // Someone gives Marc his access back in GNOSS by hand before he is back in the export: the
    // mock then refuses the unblock usersync sends ("The user is not blocked").
    {
        let mut store = nights.mock.state().store();
        let mut users = store.export();
        let marc = users
            .iter_mut()
            .find(|u| u.fields.get("email").and_then(|v| v.as_str()) == Some(email))
            .expect("Marc at the mock");
        marc.active = true;
        store.import(users);
    }
    let out = nights.sync("all.csv", &[]);

    let back = nights.leaver("email", email);
    assert!(back.active);
    assert_eq!(back.count(Change::Reactivate), 0, "the unblock was refused");
    assert_eq!(
        back.history.last().expect("a history").change,
        Change::Patch,
        "his data is sent anyway"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "access refused at gnoss: 1 returning user(s), data sent, check they can log in: \
             6a423cf9-d330-4549-8d14-cf1a4cc34636"
        ),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("refused to give").count(),
        1,
        "one warning for the row, not one per log site: {stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&nights.report("json")).unwrap();
    let row = &json["follow_ups"]["listed"][0];
    assert_eq!(
        (&row["line"], &row["outcome"], &row["code"]),
        (&2.into(), &"synced".into(), &"reactivation_refused".into())
    );
    let message = row["message"].as_str().unwrap();
    assert!(message.contains("(HTTP 400)"), "{message}");
    assert!(
        !message.contains("not blocked"),
        "the provider's own words stay in the log: {message}"
    );
}
