//! Spreadsheets through the real binary: the sample export as `.xlsx` gives the CSV's outcomes,
//! cells arrive as the text a CSV would hold (ids with leading zeros, ISO dates, integral numbers),
//! the `.xls` and `.ods` fixtures (`tests/sheets/`) are read, sheets are chosen by name or number,
//! and error cells are row errors. Hostile workbooks are in `hostile`; the `.xlsx` workbooks are
//! written by `workbooks`.

mod hostile;
mod workbooks;

use std::path::{Path, PathBuf};

use serde_json::Value;

use workbooks::{sample_as_xlsx, t, write_xlsx, C};

use crate::support::cli::{err, errors, read_rejects, run_json, summary, TestDir, ML_CONFIG};
use crate::support::reliability::{demo_env, TestMock};
use crate::support::{samples, stderr, stdout};
use usersync::mock::FaultConfig;
use usersync::provider::Credentials;

/// A fixture of `tests/sheets/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sheets")
        .join(name)
}

/// [`ML_CONFIG`] with `birthdate` read as it comes (ISO dates, which date cells give), and the
/// columns `phone` and `joined` left unmapped.
fn sheet_config() -> String {
    ML_CONFIG.replace(
        r#"birthdate = { column = "born", date_format = "%d/%m/%Y" }"#,
        r#"birthdate = "born""#,
    )
}

/// The run counts of the ledger's latest run of `target`.
fn last_counts(dir: &TestDir, ledger: &str, target: &str) -> Value {
    let out = dir
        .usersync()
        .args(["report", "last", "-c", "usersync.toml", "-t", target])
        .args(["--ledger", ledger, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    report["counts"].clone()
}

/// `usersync validate FILE -c usersync.toml --rejects rejects.csv --json` in `dir`.
fn validate_with_rejects(dir: &TestDir, file: &str) -> (i32, Vec<Value>, String) {
    run_json(
        dir,
        &[
            "validate",
            file,
            "-c",
            "usersync.toml",
            "--rejects",
            "rejects.csv",
        ],
    )
}

usersync_test!(the_sample_export_as_xlsx_gives_the_csv_outcomes, |dir| {
    let sample = std::fs::read_to_string(samples().join("usersync.toml")).unwrap();
    dir.write("usersync.toml", &sample);
    // Date cells arrive as ISO dates: the workbook's config needs no `date_format`.
    let without_formats = sample.replace(r#", date_format = "%d/%m/%Y""#, "");
    assert_ne!(without_formats, sample);
    dir.write("xlsx.toml", &without_formats);
    std::fs::copy(
        samples().join("hr_export.csv"),
        dir.path().join("hr_export.csv"),
    )
    .unwrap();
    sample_as_xlsx(&dir.path().join("hr_export.xlsx"));

    // Validation: the same rows rejected, on the same lines, for the same reasons; also for the
    // target that reads a second date column.
    for target in ["lawyers", "community"] {
        let args = |file, config| ["validate", file, "-c", config, "-t", target];
        let (csv_code, csv_lines, _) = run_json(&dir, &args("hr_export.csv", "usersync.toml"));
        let (code, lines, stderr) = run_json(&dir, &args("hr_export.xlsx", "xlsx.toml"));
        assert_eq!(code, csv_code, "{stderr}");
        assert_eq!(errors(&lines), errors(&csv_lines), "{target}");
        assert_eq!(summary(&lines), summary(&csv_lines), "{target}");
        assert_eq!(summary(&lines).0, 300);
    }

    // A sync of each to the built-in mock, each with its own ledger: the same counts.
    let sync = |file: &str, ledger: &str| {
        let config = if file.ends_with(".xlsx") {
            "xlsx.toml"
        } else {
            "usersync.toml"
        };
        let out = dir
            .usersync()
            .args(["sync", file, "-c", config, "-t", "lawyers"])
            .args(["--ledger", ledger, "--rate", "1000"])
            .envs(demo_env("meetinglawyers"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        last_counts(&dir, ledger, "lawyers")
    };
    let from_csv = sync("hr_export.csv", "csv.db");
    assert_eq!(
        (from_csv["created"].as_u64(), from_csv["rejected"].as_u64()),
        (Some(287), Some(13))
    );
    assert_eq!(sync("hr_export.xlsx", "xlsx.db"), from_csv);
    // The CSV after the workbook, in its ledger: every payload is the one the workbook gave
    // (dates, numbers and texts alike), so nothing is sent again.
    let again = sync("hr_export.csv", "xlsx.db");
    assert_eq!(
        (again["unchanged"].as_u64(), again["sent_rows"].as_u64()),
        (Some(287), Some(0)),
        "{again}"
    );
});

usersync_test!(
    ids_dates_and_numbers_arrive_as_a_csv_would_hold_them,
    |dir| {
        dir.write("usersync.toml", sheet_config());
        let header = [
            "id", "email", "plan", "sex", "born", "phone", "joined", "ok",
        ];
        write_xlsx(
            &dir.path().join("in.xlsx"),
            &[(
                "Empleados",
                vec![
                    header.iter().map(|h| t(h)).collect(),
                    vec![
                        t("00123"),
                        t("ana@example.com"),
                        t("premium"),
                        t("F"),
                        C::Date(1990, 1, 31),
                        C::Number(34_612_345_678.0),
                        C::DateTime(2020, 3, 2, 8, 30, 0),
                        C::Bool(true),
                    ],
                    vec![
                        C::Number(4567.0),
                        t("b@example.com"),
                        t("gold"),
                        t("M"),
                        C::Date(1985, 6, 15),
                        C::Number(1234.5),
                        C::Date(2021, 12, 1),
                        C::Bool(false),
                    ],
                    vec![C::Blank; 8],
                ],
            )],
        );
        let (code, lines, message) = validate_with_rejects(&dir, "in.xlsx");
        assert_eq!(code, 3, "{message}");
        assert_eq!(errors(&lines), [err(3, "status", "unmapped_value")]);
        assert_eq!(summary(&lines), (2, 1, 1));
        let rejects = read_rejects(&dir);
        assert_eq!(
            rejects[0],
            [&header[..], &["_line", "_errors"]].concat(),
            "the rejects file is a CSV with the sheet's header"
        );
        assert_eq!(
            rejects[1][..9],
            [
                "4567",
                "b@example.com",
                "gold",
                "M",
                "1985-06-15",
                "1234.5",
                "2021-12-01",
                "false",
                "3"
            ]
        );

        // Synced, the valid row's values reach the provider as they were in the cells.
        let mock = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
        let out = dir
            .usersync()
            .args(["sync", "in.xlsx", "-c", "usersync.toml", "--ledger", "l.db"])
            .args(["--base-url", &mock.url()])
            .envs(demo_env("meetinglawyers"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let users = mock.users();
        assert_eq!(users.len(), 1);
        let fields = &users[0].fields;
        assert_eq!(fields["user_id"], "00123", "{fields:?}");
        assert_eq!(fields["birthdate"], "1990-01-31", "{fields:?}");
        assert_eq!(fields["email"], "ana@example.com", "{fields:?}");

        // The date-time and the phone number as a CSV would hold them, seen through the rejects
        // file of a config that rejects every row.
        dir.write("usersync.toml", sheet_config().replace("premium = 2, ", ""));
        let (_, _, message) = validate_with_rejects(&dir, "in.xlsx");
        let rejects = read_rejects(&dir);
        assert_eq!(
            rejects[1][..8],
            [
                "00123",
                "ana@example.com",
                "premium",
                "F",
                "1990-01-31",
                "34612345678",
                "2020-03-02T08:30:00",
                "true"
            ],
            "{message}"
        );
    }
);

usersync_test!(the_xls_and_ods_fixtures_are_read, |dir| {
    dir.write("usersync.toml", sheet_config());
    for name in ["employees.xls", "employees.ods"] {
        let file = fixture(name);
        let file = file.to_str().unwrap();
        let (code, lines, stderr) = validate_with_rejects(&dir, file);
        assert_eq!(code, 3, "{name}: {stderr}");
        assert_eq!(
            errors(&lines),
            [err(2, "status", "unmapped_value")],
            "{name}"
        );
        assert_eq!(summary(&lines), (2, 1, 1), "{name}");
        assert_eq!(
            read_rejects(&dir)[1][..7],
            [
                "00123",
                "ana@example.com",
                "gold",
                "F",
                "1990-01-31",
                "34612345678",
                "2"
            ],
            "{name}"
        );
        // The second sheet, by name and by number.
        for sheet in ["Bajas", "2"] {
            let (code, lines, stderr) = run_json(
                &dir,
                &["validate", file, "-c", "usersync.toml", "--sheet", sheet],
            );
            assert_eq!((code, summary(&lines)), (0, (1, 1, 0)), "{name}: {stderr}");
        }
    }
});

usersync_test!(
    sheets_are_chosen_by_flag_or_config_and_unknown_ones_named,
    |dir| {
        let header: Vec<C> = ["id", "email", "plan", "sex", "born"]
            .iter()
            .map(|h| t(h))
            .collect();
        let row = |id: &str| {
            vec![
                t(id),
                t("a@example.com"),
                t("free"),
                t("M"),
                C::Date(1990, 1, 2),
            ]
        };
        write_xlsx(
            &dir.path().join("in.xlsx"),
            &[
                ("Altas", vec![header.clone(), row("A1"), row("A2")]),
                ("Bajas", vec![header.clone(), row("B1")]),
                ("Vacía", vec![vec![C::Blank, C::Blank]]),
            ],
        );
        dir.write("usersync.toml", sheet_config());
        let rows = |extra: &[&str]| {
            let mut args = vec!["validate", "in.xlsx", "-c", "usersync.toml"];
            args.extend_from_slice(extra);
            let (code, lines, stderr) = run_json(&dir, &args);
            assert_eq!(code, 0, "{stderr}");
            summary(&lines).0
        };
        assert_eq!(rows(&[]), 2, "the first sheet by default");
        assert_eq!(rows(&["--sheet", "Bajas"]), 1);
        assert_eq!(rows(&["--sheet", "bajas"]), 1, "names ignore case");
        assert_eq!(rows(&["--sheet", "1"]), 2, "numbers count from 1");
        dir.write(
            "usersync.toml",
            format!("[input]\nsheet = \"Bajas\"\n{}", sheet_config()),
        );
        assert_eq!(rows(&[]), 1, "[input] sheet");
        assert_eq!(
            rows(&["--sheet", "Altas"]),
            2,
            "the flag wins over the config"
        );

        for wanted in ["Nóminas", "0", "4"] {
            let out = dir
                .usersync()
                .args([
                    "validate",
                    "in.xlsx",
                    "-c",
                    "usersync.toml",
                    "--sheet",
                    wanted,
                ])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{wanted}");
            assert_eq!(
                stderr(&out),
                format!(
                    "error: in.xlsx has no sheet `{wanted}`; its sheets are: Altas, Bajas, \
                     Vacía (choose one with --sheet NAME or a number from 1)\n"
                )
            );
        }
        let out = dir
            .usersync()
            .args(["validate", "in.xlsx", "-c", "usersync.toml", "--sheet", "3"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            "error: cannot read the workbook in.xlsx: its sheet is empty: the sheet's first row \
             with a value is its header\n"
        );
    }
);

usersync_test!(error_cells_and_stray_values_are_row_errors, |dir| {
    let header: Vec<C> = ["id", "email", "plan", "sex", "born"]
        .iter()
        .map(|h| t(h))
        .collect();
    let mut stray = vec![
        t("E3"),
        t("c@example.com"),
        t("free"),
        t("M"),
        C::Date(1990, 1, 2),
    ];
    stray.push(C::Blank);
    stray.push(t("note"));
    write_xlsx(
        &dir.path().join("in.xlsx"),
        &[(
            "Hoja1",
            vec![
                header,
                vec![
                    t("E1"),
                    t("a@example.com"),
                    t("free"),
                    t("F"),
                    C::Date(1990, 1, 2),
                ],
                vec![
                    t("E2"),
                    C::NotAvailable,
                    t("free"),
                    t("F"),
                    C::Date(1990, 1, 2),
                ],
                vec![],
                stray,
            ],
        )],
    );
    dir.write("usersync.toml", sheet_config());
    let (code, lines, stderr) = run_json(&dir, &["validate", "in.xlsx", "-c", "usersync.toml"]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(
        errors(&lines),
        [
            err(3, "_row", "cell_error"),
            err(5, "_row", "wrong_field_count")
        ]
    );
    let message = |i: usize| {
        lines[i]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        message(0),
        "column `email` (cell B3) holds the spreadsheet error #N/A"
    );
    assert_eq!(
        message(1),
        "the row has a value in column G, outside the header's columns A to E"
    );
    assert_eq!(summary(&lines), (3, 1, 2), "the empty row 4 is no row");
});
