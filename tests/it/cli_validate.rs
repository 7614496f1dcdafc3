//! `usersync validate` through the real binary: the samples for every target, the report, the
//! `--json` shape, the `--rejects` file, exit codes, and config errors that name file and key.

use std::collections::BTreeSet;

use crate::support::cli::{err, errors, json_lines, TestDir, ML_CONFIG};
use crate::support::{samples, stderr, stdout};
use serde_json::Value;

/// The sample config's targets, one per provider of the registry.
fn sample_targets() -> Vec<String> {
    let config = usersync::config::load(&samples().join("usersync.toml")).unwrap();
    config.targets.keys().cloned().collect()
}

/// Runs `validate` on a sample file for `target` with `--json`; returns exit code and lines.
fn sample_json(dir: &TestDir, file: &str, target: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let out = dir
        .usersync()
        .arg("validate")
        .arg(samples().join(file))
        .arg("-c")
        .arg(samples().join("usersync.toml"))
        .args(["-t", target, "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.stderr.is_empty(), "unexpected stderr: {}", stderr(&out));
    (out.status.code().unwrap(), json_lines(&stdout(&out)))
}

fn rejected_lines(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l.get("line").and_then(Value::as_u64))
        .collect()
}

usersync_test!(the_json_output_has_the_documented_shape, |dir| {
    let (code, lines) = sample_json(&dir, "hr_export.csv", "lawyers", &[]);
    assert_eq!(code, 3);
    let (last, rows) = lines.split_last().unwrap();
    for row in rows {
        let keys: BTreeSet<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(["line", "key", "errors"]), "{row}");
        assert!(row["line"].is_u64());
        assert!(row["key"].is_string() || row["key"].is_null());
        for e in row["errors"].as_array().unwrap() {
            let keys: BTreeSet<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, BTreeSet::from(["field", "code", "message"]), "{e}");
            assert!(!e["message"].as_str().unwrap().is_empty());
        }
    }
    assert_eq!(
        last.to_string(),
        format!(
            r#"{{"summary":{{"rejected":{},"rows":300,"valid":{}}}}}"#,
            rows.len(),
            300 - rows.len()
        ),
        "exactly the three counts"
    );
    assert_eq!(last["summary"]["rows"], 300);
    assert_eq!(last["summary"]["rejected"], rows.len());
    assert_eq!(
        last["summary"]["valid"].as_u64().unwrap(),
        300 - rows.len() as u64
    );
});

usersync_test!(csv_and_jsonl_samples_agree_for_every_target, |dir| {
    for target in sample_targets() {
        let target = target.as_str();
        let (csv_code, csv) = sample_json(&dir, "hr_export.csv", target, &[]);
        let (jsonl_code, jsonl) = sample_json(&dir, "hr_export.jsonl", target, &[]);
        assert_eq!(csv_code, jsonl_code, "{target}");
        assert_eq!(csv.last(), jsonl.last(), "{target}");
        // The same rows are rejected for the same reasons; the CSV has a header line more.
        let shifted: Vec<_> = errors(&csv)
            .into_iter()
            .map(|(line, f, c)| (line - 1, f, c))
            .collect();
        assert_eq!(shifted, errors(&jsonl), "{target}");
    }
});

usersync_test!(
    later_duplicate_keys_are_rejected_and_the_first_kept,
    |dir| {
        let (_, lines) = sample_json(&dir, "hr_export.csv", "lawyers", &[]);
        let duplicates: Vec<(u64, &str, &str)> = lines
            .iter()
            .filter(|l| l.get("line").is_some())
            .flat_map(|l| {
                l["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["code"] == "duplicate_key")
                    .map(|e| {
                        (
                            l["line"].as_u64().unwrap(),
                            l["key"].as_str().unwrap(),
                            e["message"].as_str().unwrap(),
                        )
                    })
            })
            .collect();
        assert_eq!(
            duplicates,
            [
                (152, "E00020", "`E00020` is also on line 21, which is kept"),
                (292, "E00201", "`E00201` is also on line 202, which is kept"),
            ]
        );
    }
);

usersync_test!(the_lawyers_sample_rejects_exactly_the_bad_rows, |dir| {
    let (code, lines) = sample_json(&dir, "hr_export.csv", "lawyers", &[]);
    assert_eq!(code, 3);
    assert_eq!(
        errors(&lines),
        [
            err(13, "nid_number", "invalid_nid"),
            err(39, "email", "invalid_email"),
            err(54, "birthdate", "invalid_date"),
            err(70, "coverage_name", "unmapped_value"),
            err(70, "status", "unmapped_value"),
            err(99, "nid_number", "invalid_nid"),
            err(123, "status", "required"),
            err(142, "email", "invalid_email"),
            err(152, "user_id", "duplicate_key"),
            err(165, "birthdate", "invalid_date"),
            err(189, "coverage_name", "unmapped_value"),
            err(189, "status", "unmapped_value"),
            err(250, "nid_number", "invalid_nid"),
            err(273, "user_id", "required"),
            err(292, "user_id", "duplicate_key"),
        ]
    );
});

usersync_test!(the_other_samples_reject_their_bad_rows, |dir| {
    // Abitmedia: international phones, its required fields, e-mails, dates.
    let (_, portal) = sample_json(&dir, "hr_export.csv", "portal", &[]);
    assert_eq!(rejected_lines(&portal), [39, 54, 85, 142, 165, 206, 228]);
    assert!(errors(&portal).contains(&err(85, "cellPhoneNumber", "invalid_phone")));
    assert!(errors(&portal).contains(&err(206, "lastName", "required")));
    // Faveo: its always-required names and the config's extra required fields.
    let (_, helpdesk) = sample_json(&dir, "hr_export.csv", "helpdesk", &[]);
    assert_eq!(rejected_lines(&helpdesk), [39, 142, 152, 206, 273, 292]);
    assert!(errors(&helpdesk).contains(&err(273, "user_name", "required")));
    // GNOSS: id_card is checked where it looks like a DNI/NIE.
    let (_, community) = sample_json(&dir, "hr_export.csv", "community", &[]);
    for line in [13, 99, 250] {
        assert!(errors(&community).contains(&err(line, "id_card", "invalid_nid")));
    }
});

usersync_test!(the_readable_report_lists_rows_and_counts, |dir| {
    dir.write("usersync.toml", ML_CONFIG);
    dir.write(
        "in.csv",
        "id,email,plan,sex,born\nE1,a@example.com,premium,F,01/02/1980\nE2,b@example.com,gold,M,30/02/1985\nE1,c@example.com,free,M,01/01/1990\n",
    );
    let out = dir
        .usersync()
        .args(["validate", "in.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_text_eq!(
        "in.csv for target lawyers
rows read:        3
valid:            1
rejected:         2

rejected rows:
  line 3 (E2): birthdate: `30/02/1985` (column `born`) is not a date in the format `%d/%m/%Y` (targets.lawyers.fields.birthdate.date_format) [invalid_date]
  line 3 (E2): status: `gold` (column `plan`) is not a key of targets.lawyers.fields.status.map; known values: free, premium, trial [unmapped_value]
  line 4 (E1): user_id: `E1` is also on line 2, which is kept [duplicate_key]

rejections by field and code:
  birthdate  invalid_date              1
  status     unmapped_value            1
  user_id    duplicate_key             1
",
        stdout(&out)
    );
});

usersync_test!(the_rejects_file_keeps_the_original_columns, |dir| {
    let (_, lines) = sample_json(
        &dir,
        "hr_export.csv",
        "lawyers",
        &["--rejects", "rejects.csv"],
    );
    let text = dir.read("rejects.csv");
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let sample_header = std::fs::read_to_string(samples().join("hr_export.csv")).unwrap();
    let mut expected: Vec<String> = sample_header
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    expected.extend(["_line".to_owned(), "_errors".to_owned()]);
    assert_eq!(header, expected);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let line_col = header.iter().position(|h| h == "_line").unwrap();
    let written: Vec<u64> = records
        .iter()
        .map(|r| r[line_col].parse().unwrap())
        .collect();
    assert_eq!(written, rejected_lines(&lines));
    let mobile = header.iter().position(|h| h == "mobile").unwrap();
    let first = &records[0];
    assert!(first[mobile].starts_with("'+34 6"), "{}", &first[mobile]);
    assert!(
        first[line_col + 1].contains('['),
        "the errors with their codes"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("rejects.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
});

usersync_test!(formulas_in_rejected_rows_are_neutralised, |dir| {
    dir.write("usersync.toml", ML_CONFIG);
    dir.write(
        "in.csv",
        "id,note,email,plan,sex,born,=cmd\nE1,=1+1,@SUM(A1),  =gold,-1,\"\tx\",+1\n",
    );
    let out = dir
        .usersync()
        .args(["validate", "in.csv", "--rejects", "rejects.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = dir.read("rejects.csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(&reader.headers().unwrap()[6], "'=cmd");
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(
        row.iter().take(7).collect::<Vec<_>>(),
        ["E1", "'=1+1", "'@SUM(A1)", "'  =gold", "'-1", "'\tx", "'+1"]
    );
});

usersync_test!(exit_codes_follow_the_readme, |dir| {
    dir.write("usersync.toml", ML_CONFIG);
    dir.write(
        "good.csv",
        "id,email,plan,sex,born\nE1,a@example.com,premium,F,01/02/1980\n",
    );
    dir.write(
        "bad.csv",
        "id,email,plan,sex,born\nE1,a@example.com,gold,F,01/02/1980\n",
    );
    let code = |args: &[&str]| dir.usersync().args(args).output().unwrap().status.code();
    assert_eq!(code(&["validate", "good.csv"]), Some(0));
    assert_eq!(code(&["validate", "bad.csv"]), Some(3));
    assert_eq!(code(&["validate", "missing.csv"]), Some(1));
    assert_eq!(code(&["validate", "good.csv", "-c", "nope.toml"]), Some(2));
    assert_eq!(code(&["validate", "good.csv", "--no-such-flag"]), Some(2));
    assert_eq!(code(&["validate", "good.csv", "-t", "nobody"]), Some(2));
    // --rejects must not overwrite the input.
    assert_eq!(
        code(&["validate", "bad.csv", "--rejects", "bad.csv"]),
        Some(2)
    );
    assert!(dir.read("bad.csv").contains("gold"));
});

/// Runs validate with a config `text` and returns (exit code, stderr).
fn with_config(dir: &TestDir, text: &str) -> (Option<i32>, String) {
    dir.write("bad.toml", text);
    dir.write("in.csv", "id,email,plan,sex,born\n");
    let out = dir
        .usersync()
        .args(["validate", "in.csv", "-c", "bad.toml"])
        .output()
        .unwrap();
    (out.status.code(), stderr(&out))
}

usersync_test!(config_errors_name_the_file_and_the_key, |dir| {
    let (code, e) = with_config(&dir, &ML_CONFIG.replace("meetinglawyers", "meetinglaywers"));
    assert_eq!(code, Some(2));
    let known = usersync::provider::names().join(", ");
    assert!(e.starts_with(&format!("error: bad.toml: `targets.lawyers.provider`: unknown provider `meetinglaywers`; known providers: {known}")), "{e}");

    let (code, e) = with_config(
        &dir,
        &ML_CONFIG.replace("key = \"user_id\"", "key = \"user_id\"\nrate_limt = 5"),
    );
    assert_eq!(code, Some(2));
    assert!(
        e.contains("bad.toml:7:1: `targets.lawyers.rate_limt`: unknown field `rate_limt`"),
        "{e}"
    );

    let (code, e) = with_config(
        &dir,
        &ML_CONFIG.replace("{ column = \"plan\"", "{ colum = \"plan\""),
    );
    assert_eq!(code, Some(2));
    assert!(
        e.contains("`targets.lawyers.fields.status.colum`: unknown field `colum`"),
        "{e}"
    );

    let (code, e) = with_config(
        &dir,
        &ML_CONFIG.replace(
            "[targets.lawyers.fields]",
            "[targets.lawyers.fields]\nemial = \"email\"",
        ),
    );
    assert_eq!(code, Some(2));
    assert!(
        e.contains("`targets.lawyers.fields.emial`: meetinglawyers has no field `emial`"),
        "{e}"
    );

    let (code, e) = with_config(&dir, "[targets.lawyers\n");
    assert_eq!(code, Some(2));
    assert!(e.starts_with("error: bad.toml:1:"), "{e}");
});

usersync_test!(fatal_errors_print_the_error_then_each_cause, |dir| {
    dir.write("in.csv", "id\n");
    let out = dir
        .usersync()
        .args(["validate", "in.csv", "-c", "nope.toml"])
        .output()
        .unwrap();
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "error: cannot read config file nope.toml");
    assert!(lines[1].starts_with("  caused by: "), "{text}");
});

usersync_test!(logs_go_to_stderr_as_json_when_asked, |dir| {
    dir.write("usersync.toml", ML_CONFIG);
    dir.write(
        "in.csv",
        "id,email,plan,sex,born\nE1,a@example.com,gold,F,01/02/1980\n",
    );
    let out = dir
        .usersync()
        .args([
            "validate",
            "in.csv",
            "--json",
            "-vv",
            "--log-format",
            "json",
        ])
        .output()
        .unwrap();
    let logs = json_lines(&stderr(&out));
    assert!(logs.iter().any(|l| l["fields"]["message"] == "row rejected"
        && l["fields"]["line"] == 2
        && l["level"] == "DEBUG"));
    // stdout stays pure JSON output.
    assert_eq!(json_lines(&stdout(&out)).len(), 2);
    let quiet = dir
        .usersync()
        .args(["validate", "in.csv", "-q"])
        .output()
        .unwrap();
    assert!(quiet.stderr.is_empty());
});

usersync_test!(several_targets_need_t, |dir| {
    dir.write("in.csv", "employee_id\n");
    let out = dir
        .usersync()
        .arg("validate")
        .arg("in.csv")
        .arg("-c")
        .arg(samples().join("usersync.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let mut targets = sample_targets();
    targets.sort();
    let expected = format!(
        "several targets ({}): choose one with -t/--target",
        targets.join(", ")
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
});
