//! The metrics file: every target's latest run as the ledger records it, in the Prometheus text
//! exposition format (version 0.0.4), for node_exporter's textfile collector.
//!
//! The file is computed from the ledger alone, never merged with what it held before, so any
//! run may rewrite it whole and it always says the same. It is written beside its final name
//! and renamed into place, so the collector never reads half a file; the temporary name ends in
//! `.tmp`, which the collector skips (it reads `*.prom`).
//!
//! Written by hand rather than with a client library: the values are read back from the ledger,
//! not kept in live instruments, and the format of a few gauges is a few lines of text; the
//! Rust clients centre on registries of atomic metrics (and `prometheus-client` writes
//! OpenMetrics unless asked otherwise).

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::ledger::{Ledger, LedgerError, Responses, RunRecord};

/// What the file says of one target.
#[derive(Debug, Clone)]
pub struct TargetMetrics {
    pub target: String,
    /// Its latest `sync` or `retry` run that ended.
    pub last: RunRecord,
    /// Its latest run that completed with exit code 0.
    pub last_clean: Option<RunRecord>,
    /// The rate adaptive concurrency learned, requests per second.
    pub learned_rate: Option<f64>,
    /// Its runs held for a person's decision (`usersync approve`, `reject`).
    pub held_waiting: u64,
    /// How the latest run's requests were answered: the throttled ones, and all by class.
    pub responses: Option<(u64, Responses)>,
}

/// Every target of the ledger that has an ended `sync` or `retry` run, by name.
pub fn collect(ledger: &Ledger) -> Result<Vec<TargetMetrics>, LedgerError> {
    let mut out = Vec::new();
    for target in ledger.targets()? {
        let Some(last) = ledger.last_ended_send(&target)? else {
            continue;
        };
        out.push(TargetMetrics {
            last_clean: ledger.last_clean_send(&target)?,
            learned_rate: ledger.learned_limit(&target)?.and_then(|l| l.rate),
            held_waiting: ledger.held_waiting(&target)?,
            responses: ledger.run_responses(last.id)?,
            target,
            last,
        });
    }
    Ok(out)
}

/// One metric family and its samples.
struct Gauge {
    name: &'static str,
    help: &'static str,
    samples: Vec<Sample>,
}

/// A sample: its target, the one label some families add after `target`, and its value.
struct Sample {
    target: String,
    label: Option<(&'static str, &'static str)>,
    value: f64,
}

impl Gauge {
    fn new(name: &'static str, help: &'static str) -> Gauge {
        Gauge {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, target: &str, label: Option<(&'static str, &'static str)>, value: f64) {
        self.samples.push(Sample {
            target: target.to_owned(),
            label,
            value,
        });
    }
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The exposition of `targets`: each family once, its HELP and TYPE, then every target's samples.
pub fn render(targets: &[TargetMetrics]) -> String {
    let mut rows = Gauge::new(
        "usersync_rows",
        "Rows of the target's latest run, by outcome.",
    );
    let mut operations = Gauge::new(
        "usersync_operations",
        "Synced operations of the target's latest run.",
    );
    let mut requests = Gauge::new(
        "usersync_requests",
        "HTTP requests the target's latest run sent for rows.",
    );
    let mut retries = Gauge::new(
        "usersync_retries",
        "Requests of the target's latest run beyond each row's first.",
    );
    let mut start = Gauge::new(
        "usersync_last_run_start_timestamp_seconds",
        "When the target's latest run started.",
    );
    let mut end = Gauge::new(
        "usersync_last_run_end_timestamp_seconds",
        "When the target's latest run ended.",
    );
    let mut duration = Gauge::new(
        "usersync_last_run_duration_seconds",
        "How long the target's latest run took.",
    );
    let mut exit = Gauge::new(
        "usersync_last_run_exit_code",
        "The exit code of the target's latest run (0 clean, 3 row errors, 1 aborted, 4 deadline, 5 held, 130 interrupted).",
    );
    let mut success = Gauge::new(
        "usersync_last_success_timestamp_seconds",
        "When the target's latest run with exit code 0 ended.",
    );
    let mut rate = Gauge::new(
        "usersync_learned_rate_requests_per_second",
        "The request rate adaptive concurrency learned for the target.",
    );
    let mut throttled = Gauge::new(
        "usersync_throttled",
        "Answers to the target's latest run that asked it to slow down (HTTP 429 or a Retry-After).",
    );
    let mut answers = Gauge::new(
        "usersync_responses",
        "The target's latest run's requests by how they were answered: HTTP status class, or none.",
    );
    let mut held = Gauge::new(
        "usersync_held_runs_waiting",
        "The target's runs held for a person's decision (usersync approve or reject).",
    );
    for t in targets {
        let (name, run, c) = (t.target.as_str(), &t.last, &t.last.counts);
        for (outcome, n) in [
            ("synced", c.synced),
            ("unchanged", c.unchanged),
            ("rejected", c.rejected),
            ("failed", c.failed),
            ("not_attempted", c.not_attempted),
        ] {
            rows.add(name, Some(("outcome", outcome)), n as f64);
        }
        for (operation, n) in [
            ("created", c.created),
            ("updated", c.updated),
            ("deactivated", c.deactivated),
        ] {
            operations.add(name, Some(("operation", operation)), n as f64);
        }
        requests.add(name, None, c.requests as f64);
        retries.add(name, None, c.retries as f64);
        start.add(name, None, seconds(run.started_at));
        if let Some(finished) = run.finished_at {
            end.add(name, None, seconds(finished));
            let took = (finished - run.started_at).num_milliseconds().max(0);
            duration.add(name, None, took as f64 / 1000.0);
        }
        // A run recovered after a crash has no exit code: none is made up.
        if let Some(code) = run.exit_code {
            exit.add(name, None, f64::from(code));
        }
        if let Some(finished) = t.last_clean.as_ref().and_then(|r| r.finished_at) {
            success.add(name, None, seconds(finished));
        }
        if let Some(r) = t.learned_rate.filter(|r| r.is_finite()) {
            rate.add(name, None, r);
        }
        held.add(name, None, t.held_waiting as f64);
        if let Some((slowed, r)) = &t.responses {
            throttled.add(name, None, *slowed as f64);
            for (class, n) in [
                ("2xx", r.status_2xx),
                ("3xx", r.status_3xx),
                ("4xx", r.status_4xx),
                ("5xx", r.status_5xx),
                ("none", r.no_answer),
            ] {
                answers.add(name, Some(("class", class)), n as f64);
            }
        }
    }
    let mut out = String::new();
    for gauge in [
        rows, operations, requests, retries, throttled, answers, start, end, duration, exit,
        success, rate, held,
    ] {
        write_gauge(&mut out, &gauge);
    }
    out
}

fn write_gauge(out: &mut String, gauge: &Gauge) {
    if gauge.samples.is_empty() {
        return;
    }
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {} {}", gauge.name, escape_help(gauge.help));
    let _ = writeln!(out, "# TYPE {} gauge", gauge.name);
    for sample in &gauge.samples {
        let _ = write!(
            out,
            "{}{{target=\"{}\"",
            gauge.name,
            escape_label(&sample.target)
        );
        if let Some((name, value)) = sample.label {
            let _ = write!(out, ",{name}=\"{}\"", escape_label(value));
        }
        let _ = writeln!(out, "}} {}", sample.value);
    }
}

/// A label value as the format writes it: backslash, double quote and line feed escaped.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text as the format writes it: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

/// Writes the metrics of every target in `ledger` to `path`, atomically.
pub fn write(path: &Path, ledger: &Ledger) -> anyhow::Result<()> {
    let text = render(&collect(ledger)?);
    write_atomically(path, text.as_bytes())
}

/// Writes `bytes` to `path` atomically (`private_file::replace`), readable by everyone (mode
/// 0644): node_exporter runs as a user of its own, and the file holds counts and target names,
/// no personal data.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::private_file::replace(path, "the metrics file", 0o644, |out| {
        out.write_all(bytes)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{RunCounts, RunId, RunStatus};

    fn run(target: &str, exit_code: Option<i32>) -> RunRecord {
        let started_at = DateTime::parse_from_rfc3339("2024-03-01T02:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        RunRecord {
            id: RunId(7),
            target: target.into(),
            provider: "meetinglawyers".into(),
            command: "sync".into(),
            parent_run_id: None,
            input_path: None,
            input_sha256: None,
            command_line: None,
            note: None,
            endpoint: None,
            pid: None,
            started_at,
            finished_at: Some(started_at + chrono::Duration::milliseconds(90_500)),
            status: RunStatus::Completed,
            exit_code,
            counts: RunCounts {
                rows: 10,
                synced: 6,
                unchanged: 1,
                rejected: 2,
                failed: 1,
                created: 4,
                updated: 2,
                requests: 9,
                retries: 2,
                ..RunCounts::default()
            },
            pruned_at: None,
        }
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label("plain"), "plain");
        assert_eq!(escape_label(r"a\b"), r"a\\b");
        assert_eq!(escape_label("say \"hi\""), r#"say \"hi\""#);
        assert_eq!(escape_label("two\nlines"), r"two\nlines");
        assert_eq!(escape_help("a\\b\nc"), r"a\\b\nc");
    }

    #[test]
    fn every_family_is_written_once_with_each_targets_samples() {
        let odd = "we\"ird\\name\n";
        let text = render(&[
            TargetMetrics {
                target: "lawyers".into(),
                last: run("lawyers", Some(3)),
                last_clean: None,
                learned_rate: Some(12.5),
                held_waiting: 1,
                responses: Some((
                    2,
                    Responses {
                        status_2xx: 7,
                        status_4xx: 1,
                        ..Responses::default()
                    },
                )),
            },
            TargetMetrics {
                target: odd.into(),
                last: run(odd, None),
                last_clean: Some(run(odd, Some(0))),
                learned_rate: None,
                held_waiting: 0,
                responses: None,
            },
        ]);
        assert_eq!(text.matches("# TYPE usersync_rows gauge\n").count(), 1);
        assert!(text.contains("usersync_rows{target=\"lawyers\",outcome=\"rejected\"} 2\n"));
        assert!(text.contains("usersync_operations{target=\"lawyers\",operation=\"created\"} 4\n"));
        assert!(text.contains("usersync_last_run_exit_code{target=\"lawyers\"} 3\n"));
        assert!(text.contains("usersync_held_runs_waiting{target=\"lawyers\"} 1\n"));
        assert!(text.contains("usersync_throttled{target=\"lawyers\"} 2\n"));
        assert!(text.contains("usersync_responses{target=\"lawyers\",class=\"2xx\"} 7\n"));
        assert!(text.contains(
            "usersync_last_run_start_timestamp_seconds{target=\"lawyers\"} 1709258400.25\n"
        ));
        assert!(text.contains("usersync_last_run_duration_seconds{target=\"lawyers\"} 90.5\n"));
        assert!(
            text.contains("usersync_learned_rate_requests_per_second{target=\"lawyers\"} 12.5\n")
        );
        let escaped = r#"target="we\"ird\\name\n""#;
        assert!(
            text.contains(&format!("usersync_requests{{{escaped}}} 9\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "usersync_last_success_timestamp_seconds{{{escaped}}} 1709258490.75\n"
            )),
            "{text}"
        );
        // No exit code is made up for a run without one, nor a success for a target without.
        assert_eq!(text.matches("usersync_last_run_exit_code{").count(), 1);
        assert_eq!(
            text.matches("usersync_last_success_timestamp_seconds{")
                .count(),
            1
        );
        // The samples of a family are together, after its HELP and TYPE.
        let lines: Vec<&str> = text.lines().collect();
        let first = lines
            .iter()
            .position(|l| l.starts_with("usersync_retries{"))
            .unwrap();
        assert_eq!(lines[first - 1], "# TYPE usersync_retries gauge");
        assert!(lines[first + 1].starts_with("usersync_retries{"));
    }

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usersync.prom");
        write_atomically(&path, b"old 1\n").unwrap();
        write_atomically(&path, b"new 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new 2\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["usersync.prom"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "node_exporter's own user reads it");
        }
        // A directory that does not exist: an error naming it, and nothing written.
        let missing = dir.path().join("nope").join("usersync.prom");
        let err = write_atomically(&missing, b"x 1\n").unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
    }
}
