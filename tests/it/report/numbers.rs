//! Each format's numbers against the ledger.

use std::collections::BTreeSet;

use serde_json::Value;
use usersync::ledger::{OutcomeKind, RunId};

use super::{counts, csv_records, error_lines, json_report, ledger, problems, tags};
use crate::support::report_fixture::*;

#[test]
fn the_fixture_has_synced_rejected_and_failed_rows() {
    let c = counts(fixture().first);
    assert_eq!(c.rows, 309, "300 sample rows and 9 hostile ones");
    assert_eq!(c.rejected, 13 + 9);
    assert!(
        c.failed > 10,
        "the mock failed a fifth of the requests: {c:?}"
    );
    assert!(c.synced > 200);
    let second = counts(fixture().second);
    assert_eq!(
        second.created, c.failed,
        "run 2 creates what run 1 failed to"
    );
    assert_eq!(second.unchanged, c.synced);
}

#[test]
fn json_numbers_match_the_ledger() {
    let f = fixture();
    let c = counts(f.first);
    let doc = json_report(f.first, &[]);
    assert_eq!(doc["schema_version"], 1);
    let n = |v: &Value| v.as_u64().unwrap();
    let jc = &doc["counts"];
    for (name, expected) in [
        ("rows", c.rows),
        ("synced", c.synced),
        ("unchanged", c.unchanged),
        ("rejected", c.rejected),
        ("failed", c.failed),
        ("not_attempted", c.not_attempted),
        ("created", c.created),
        ("updated", c.updated),
        ("deactivated", c.deactivated),
        ("requests", c.requests),
        ("retries", c.retries),
    ] {
        assert_eq!(n(&jc[name]), expected, "counts.{name}");
    }
    let run = &doc["run"];
    assert_eq!(run["id"], f.first);
    assert_eq!(run["target"], "lawyers");
    assert_eq!(run["provider"], "meetinglawyers");
    assert_eq!(run["status"], "completed");
    assert_eq!(run["exit_code"], 3);
    let record = ledger().run(RunId(f.first)).unwrap().unwrap();
    assert_eq!(run["input_sha256"].as_str(), record.input_sha256.as_deref());
    assert!(run["command_line"]
        .as_str()
        .unwrap()
        .contains("sync hr_export.csv"));

    // Operations add up to the outcome counts.
    let ops = doc["operations"].as_array().unwrap();
    let total = |key: &str| ops.iter().map(|o| n(&o[key])).sum::<u64>();
    assert_eq!(total("total"), c.rows);
    assert_eq!(total("failed"), c.failed);
    assert_eq!(total("rejected"), c.rejected);

    // Latency percentiles are the nearest ranks of the rows' latency_ms.
    let mut latencies: Vec<u64> = ledger()
        .outcomes(RunId(f.first))
        .unwrap()
        .iter()
        .filter_map(|o| o.latency_ms)
        .collect();
    latencies.sort_unstable();
    let rank = |p: f64| latencies[((p * latencies.len() as f64).ceil() as usize).max(1) - 1];
    let l = &doc["latency"];
    assert_eq!(n(&l["samples"]), latencies.len() as u64);
    assert_eq!(n(&l["p50_ms"]), rank(0.50));
    assert_eq!(n(&l["p95_ms"]), rank(0.95));
    assert_eq!(n(&l["p99_ms"]), rank(0.99));
    assert_eq!(n(&l["max_ms"]), *latencies.last().unwrap());
    let binned: u64 = l["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| n(&b["rows"]))
        .sum();
    assert_eq!(binned, latencies.len() as u64);

    // The timeline holds every row that went to the provider.
    let sent = ledger()
        .outcomes(RunId(f.first))
        .unwrap()
        .iter()
        .filter(|o| o.attempts > 0)
        .count() as u64;
    let buckets = doc["timeline"]["buckets"].as_array().unwrap();
    let timeline: u64 = buckets
        .iter()
        .map(|b| n(&b["synced"]) + n(&b["failed"]) + n(&b["rejected"]))
        .sum();
    assert_eq!(timeline, sent);
    assert_eq!(n(&doc["counts"]["sent_rows"]), sent);

    // Problems by cause cover every problem row exactly once (field errors counted per row).
    let p = &doc["problems"];
    assert_eq!(n(&p["rows"]), c.rejected + c.failed + c.not_attempted);
    let failed_by_cause: u64 = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "failed")
        .map(|e| n(&e["rows"]))
        .sum();
    assert_eq!(failed_by_cause, c.failed);
    for cause in p["errors"].as_array().unwrap() {
        assert!(matches!(cause["http_status"].as_u64(), Some(500 | 503)));
    }
    let invalid_nid = p["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["field"] == "nid_number" && r["code"] == "invalid_nid")
        .unwrap();
    let expected_nid = problems(f.first)
        .iter()
        .filter(|o| o.errors.iter().any(|e| e.code == "invalid_nid"))
        .count() as u64;
    assert_eq!(n(&invalid_nid["rows"]), expected_nid);

    // Then the rows, one per error, in line order.
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), error_lines(f.first));
    let lines: BTreeSet<u64> = rows.iter().map(|r| n(&r["line"])).collect();
    assert_eq!(lines.len() as u64, c.rejected + c.failed);
    let first_failed = problems(f.first)
        .into_iter()
        .find(|o| o.outcome == OutcomeKind::Failed)
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r["line"] == first_failed.line)
        .unwrap();
    assert_eq!(row["key"].as_str(), first_failed.user_key.as_deref());
    assert_eq!(row["outcome"], "failed");
    assert_eq!(row["operation"], "create");
    assert_eq!(
        row["http_status"].as_u64(),
        first_failed.http_status.map(u64::from)
    );
}

#[test]
fn json_compares_with_the_previous_run() {
    let f = fixture();
    let (before, now) = (counts(f.first), counts(f.second));
    let doc = json_report(f.second, &[]);
    let changes = &doc["changes"];
    assert_eq!(changes["created"], now.created);
    assert_eq!(changes["updated"], now.updated);
    assert_eq!(changes["deactivated"], now.deactivated);
    let previous = &changes["previous_run"];
    assert_eq!(previous["id"], f.first);
    assert_eq!(previous["counts"]["failed"], before.failed);
    assert_eq!(previous["counts"]["synced"], before.synced);
    assert!(json_report(f.first, &[])["changes"]["previous_run"].is_null());
}

#[test]
fn csv_has_one_line_per_error_with_the_ledger_values() {
    let f = fixture();
    let text = report(&[&f.first.to_string(), "--format", "csv"]);
    let records = csv_records(&text);
    assert_eq!(records.len(), error_lines(f.first));
    let failed: Vec<&csv::StringRecord> = records.iter().filter(|r| &r[3] == "failed").collect();
    assert_eq!(failed.len() as u64, counts(f.first).failed);
    let expected = problems(f.first);
    for record in &records {
        assert_eq!(&record[0], "1");
        let line: i64 = record[1].parse().unwrap();
        let row = expected.iter().find(|o| o.line == line).unwrap();
        assert_eq!(&record[3], row.outcome.as_str());
        if row.outcome == OutcomeKind::Failed {
            assert_eq!(record[5].parse::<u16>().ok(), row.http_status);
            assert_eq!(Some(&record[7]), row.error_code.as_deref());
        } else {
            assert!(row
                .errors
                .iter()
                .any(|e| e.field == record[6] && e.code == record[7]));
        }
    }
}

#[test]
fn markdown_summary_matches_the_ledger() {
    let f = fixture();
    let c = counts(f.first);
    let md = report(&[&f.first.to_string()]);
    let head: String = md.lines().take(8).collect::<Vec<_>>().join("\n");
    assert!(head.starts_with("# usersync report: run 1 of lawyers (meetinglawyers)"));
    assert!(
        head.contains("**completed with problems** · exit code 3"),
        "{head}"
    );
    assert!(
        head.contains(&format!(
            "**309 rows**: synced {} · unchanged 0 · rejected {} · failed {} · not attempted 0",
            c.synced, c.rejected, c.failed
        )),
        "{head}"
    );
    assert!(head.contains(&format!("created {}", c.created)));
    for section in [
        "## Run",
        "## By operation",
        "## Rejections by field and code",
    ] {
        assert!(md.contains(section), "{section}");
    }
    assert!(md.contains("## Provider and transport errors"));
    let rows = md
        .lines()
        .skip_while(|l| *l != "## Rows")
        .filter(|l| l.starts_with("| ") && !l.starts_with("| line"))
        .count();
    assert_eq!(rows, error_lines(f.first));

    let second = report(&[&f.second.to_string()]);
    assert!(second.contains("**compared with run 1**"), "{second}");
    assert!(second.contains(&format!("failed 0 (−{})", c.failed)));
}

#[test]
fn html_numbers_match_and_the_page_is_self_contained() {
    let f = fixture();
    let c = counts(f.first);
    let page = report(&[&f.first.to_string(), "--format", "html"]);
    assert!(page.starts_with("<!DOCTYPE html>"));
    for (label, n) in [
        ("synced", c.synced),
        ("rejected", c.rejected),
        ("failed", c.failed),
    ] {
        let card = format!("<span class=\"n\">{n}</span><span class=\"l\">{label}</span>");
        assert!(page.contains(&card), "{card}");
    }
    for chart in [
        "chart-outcomes",
        "chart-latency",
        "chart-throughput",
        "chart-causes",
    ] {
        assert!(
            page.contains(&format!("<svg class=\"chart\" id=\"{chart}\"")),
            "{chart}"
        );
    }
    let rows = page.matches("<tr><td class=\"num\" data-v=").count();
    assert_eq!(rows, error_lines(f.first));
    // Nothing is loaded from anywhere; the policy allows only the page's own style and script.
    for tag in tags(&page) {
        let tag = tag.to_ascii_lowercase();
        for external in [
            "src=", "href=", "<link", "<iframe", "<object", "<embed", "<img",
        ] {
            assert!(!tag.contains(external), "{tag}");
        }
    }
    assert!(!page.contains("@import") && !page.contains("url("));
    assert!(page.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;;"
    ));
    assert_eq!(page.matches("<script>").count(), 1);
    assert_eq!(page.matches("<style>").count(), 1);
}
