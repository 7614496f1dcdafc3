//! A ledger made by real syncs, shared by the report tests: the sample export plus hostile rows,
//! synced by the `usersync` binary to a MeetingLawyers mock started in the test process.
//!
//! Run 1: the mock fails a fifth of the requests (500/503) and the target retries nothing, so
//! the run has synced, rejected (13 sample rows + the hostile ones) and failed rows, and writes
//! `run1.html` with `sync --report`. Run 2: no faults; the rows that failed are created, the
//! rest unchanged, and it writes `run2.json`. Built once per test run, by the first test that
//! asks, in a directory under Cargo's target dir (removed and recreated on every test run); the
//! tests only read it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use usersync::mock::{FaultConfig, MockOptions};

/// Hostile values planted in the export, each in a row that validation rejects, so that each
/// ends up in the reports (as a user key or inside an error message).
pub const SCRIPT_EMAIL: &str = "<script>alert('mail')</script>";
pub const IMG_KEY: &str = "<img src=x onerror=alert(1)>";
pub const FORMULA_KEY: &str = "=HYPERLINK(\"http://evil.example/\",\"click\")";
pub const AT_FORMULA_KEY: &str = "@SUM(1+1)*cmd";
pub const MINUS_PLAN: &str = "-2+3";
pub const CONTROL_KEY: &str = "CTRL\u{1b}[31mred\u{7}";
pub const NEWLINE_PLAN: &str = "gold\nline2\u{202e}gnp.exe";
pub const MARKDOWN_KEY: &str = "pipe|[x](javascript:alert(1))";
pub const PHONE_KEY: &str = "+34 600 123 456";
pub const EMAIL_KEY: &str = "ana.perez@example.com";
pub const DNI_KEY: &str = "12345678Z";

/// A key of 20,000 characters.
pub fn long_key() -> String {
    format!("LONG{}", "x".repeat(20_000))
}

/// Personal data the sample's rejected rows show in their messages.
pub const SAMPLE_PII: [&str; 3] = ["03251847Q", "beatriz.iglesias", "nuria.rodriguez"];

pub struct Fixture {
    pub dir: PathBuf,
    pub ledger: PathBuf,
    /// The run with failures, and the clean run after it.
    pub first: i64,
    pub second: i64,
}

/// The fixture of this test process, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| build(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-fixture")))
}

fn build(dir: &Path) -> Fixture {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the fixture directory");
    let samples = super::samples();
    let config = dir.join("usersync.toml");
    let sample_config = std::fs::read_to_string(samples.join("usersync.toml")).unwrap();
    assert!(sample_config.contains("max_retries = 5"));
    std::fs::write(
        &config,
        sample_config.replace("max_retries = 5", "max_retries = 0"),
    )
    .unwrap();
    let export = dir.join("hr_export.csv");
    write_export(&samples.join("hr_export.csv"), &export);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let provider = usersync::provider::by_name("meetinglawyers").unwrap();
    let mock = rt
        .block_on(usersync::mock::start(
            provider,
            MockOptions {
                faults: FaultConfig {
                    seed: Some(11),
                    fail_rate: 0.2,
                    ..FaultConfig::default()
                },
                ..MockOptions::default()
            },
        ))
        .unwrap();
    let sync = |report: &str, expect: i32| {
        let out = usersync(dir)
            .args(["sync", "hr_export.csv", "-t", "lawyers", "--rate", "5000"])
            .args(["--base-url", mock.url.as_str(), "--report", report])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expect),
            "sync: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sync("run1.html", 3);
    mock.state.set_faults(FaultConfig::default()).unwrap();
    sync("run2.json", 3);
    drop(mock);
    Fixture {
        dir: dir.to_path_buf(),
        ledger: dir.join("usersync.db"),
        first: 1,
        second: 2,
    }
}

/// The binary, run in `dir` with the sample config and the mock's demo credentials.
pub fn usersync(dir: &Path) -> assert_cmd::Command {
    let mut cmd = super::usersync(dir);
    cmd.env("USERSYNC_CONFIG", dir.join("usersync.toml"))
        .envs(super::demo_env("meetinglawyers"));
    assert_cmd::Command::from_std(cmd)
}

/// The sample export with the hostile rows appended (each a copy of the first sample row with
/// some columns replaced).
fn write_export(sample: &Path, export: &Path) {
    let mut reader = csv::Reader::from_path(sample).unwrap();
    let header = reader.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let mut writer = csv::Writer::from_path(export).unwrap();
    writer.write_record(&header).unwrap();
    for record in &records {
        writer.write_record(record).unwrap();
    }
    let long = long_key();
    let hostile: Vec<Vec<(&str, &str)>> = vec![
        vec![("employee_id", IMG_KEY), ("work_email", SCRIPT_EMAIL)],
        vec![("employee_id", FORMULA_KEY), ("dni", "+1-2|3")],
        vec![("employee_id", AT_FORMULA_KEY), ("plan", MINUS_PLAN)],
        vec![("employee_id", &long), ("dni", "33333333A")],
        vec![("employee_id", CONTROL_KEY), ("plan", NEWLINE_PLAN)],
        vec![("employee_id", MARKDOWN_KEY), ("dni", "00000000A")],
        vec![("employee_id", PHONE_KEY), ("dni", "11111111A")],
        vec![("employee_id", EMAIL_KEY), ("dni", "22222222A")],
        vec![("employee_id", DNI_KEY), ("birth_date", "31/02/2000")],
    ];
    for changes in hostile {
        let row: Vec<String> = header
            .iter()
            .zip(records[0].iter())
            .map(|(column, value)| {
                changes
                    .iter()
                    .find(|(c, _)| *c == column)
                    .map_or(value, |(_, v)| v)
                    .to_owned()
            })
            .collect();
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
}

/// Runs `usersync report` with `args` in the fixture's directory and returns its stdout.
pub fn report(args: &[&str]) -> String {
    let f = fixture();
    let out = usersync(&f.dir).arg("report").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "report {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("a UTF-8 report")
}
