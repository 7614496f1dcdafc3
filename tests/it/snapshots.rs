//! Snapshots (insta) of what people read: `--help` of every command, and the four report formats
//! of one small run. A change to any of them shows up as a diff to review
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test --test it -- snapshots::` and read
//! the diff in git), never silently.
//!
//! The run: three rows to the built-in MeetingLawyers mock, one of them rejected, sent one at a
//! time so that the reports come out the same every time. What differs between two runs of the
//! same export is replaced by placeholders: dates, durations, speeds and latencies, the path of
//! the binary, the HTML report's charts and script (drawn from those timings; the browser test
//! checks them), and in the JSON report every timing value (the `latency` and `timeline`
//! sections, `*_ms`, `*_secs`, `*_per_sec`).

use crate::support::{demo_env, tempdir, usersync};

/// The commands whose `--help` is kept.
/// `usersync` itself, then each of its commands, as clap knows them: a new command is snapshot
/// without editing this test.
fn commands() -> Vec<Vec<String>> {
    use clap::CommandFactory;
    let cli = usersync::cli::Cli::command();
    std::iter::once(Vec::new())
        .chain(
            cli.get_subcommands()
                .filter(|c| c.get_name() != "help")
                .map(|c| vec![c.get_name().to_owned()]),
        )
        .collect()
}

#[test]
fn help_of_every_command() {
    let dir = tempdir();
    for command in commands() {
        let out = usersync(dir.path())
            .args(&command)
            .arg("--help")
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert!(out.status.success(), "{command:?}");
        let name = if command.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", command.join("_").replace('-', "_"))
        };
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
}

const CONFIG: &str = r#"
[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
key = "user_id"
concurrency = 1
max_retries = 0

[targets.lawyers.fields]
user_id = "id"
email = "email"
status = { column = "plan", map = { premium = 2, free = 0 } }
first_name = "name"
"#;

const EXPORT: &str = "id,email,plan,name\n\
                      E1,ana@example.com,premium,Ana\n\
                      E2,not-an-email,free,Luis\n\
                      E3,eva@example.com,free,Eva\n";

/// Values that differ between two runs of the same export.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?( ?UTC|Z|[+-]\d{2}:?\d{2})?",
            "[TIME]",
        ),
        (r"\b\d+(\.\d+)?\s?(ms|µs|s)\b", "[DURATION]"),
        (
            r#""(elapsed|duration)_(ms|secs)":\s?[\d.]+"#,
            r#""$1_$2": [N]"#,
        ),
        (
            r#""(p50|p95|p99|max|mean)(_ms)?":\s?[\d.]+"#,
            r#""$1$2": [N]"#,
        ),
        (
            r#""rows_per_sec(ond)?":\s?[\d.]+"#,
            r#""rows_per_sec$1": [N]"#,
        ),
        (r"[\d,.]+ (rows|requests)/s", "[N] $1/s"),
        (r"[^\s`<>\x22]*/usersync sync", "usersync sync"),
        (
            r#"<span class="n">[\d.,]+</span><span class="l">rows per second"#,
            r#"<span class="n">[N]</span><span class="l">rows per second"#,
        ),
        (r"(?s)<svg.*?</svg>", "[CHART]"),
        (r"(?s)<script>.*?</script>", "[SCRIPT]"),
    ]
}

/// `value` with every timing replaced by `"[varies]"` (see the module docs).
fn without_timings(value: &mut serde_json::Value) {
    use serde_json::Value;
    const TIMING_KEYS: &[&str] = &["latency", "timeline", "started_at", "finished_at"];
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let timing = TIMING_KEYS.contains(&key.as_str())
                    || key.ends_with("_ms")
                    || key.ends_with("_secs")
                    || key.ends_with("_per_sec")
                    || key == "command_line";
                if timing {
                    *item = Value::String("[varies]".into());
                } else {
                    without_timings(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_timings),
        _ => {}
    }
}

#[test]
fn every_report_format_of_a_small_run() {
    let dir = tempdir();
    std::fs::write(dir.path().join("usersync.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("export.csv"), EXPORT).unwrap();
    let out = usersync(dir.path())
        .args(["sync", "export.csv", "-c", "usersync.toml"])
        .envs(demo_env("meetinglawyers"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "one row is rejected");
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in filters() {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(|| {
        for format in ["md", "json", "csv", "html"] {
            let out = usersync(dir.path())
                .args(["report", "last", "-c", "usersync.toml", "--format", format])
                .output()
                .unwrap();
            assert!(out.status.success(), "{format}");
            let mut text = String::from_utf8(out.stdout).unwrap();
            if format == "json" {
                let mut report: serde_json::Value = serde_json::from_str(&text).unwrap();
                without_timings(&mut report);
                text = serde_json::to_string_pretty(&report).unwrap();
            }
            insta::assert_snapshot!(format!("report_{format}"), text);
        }
    });
}
