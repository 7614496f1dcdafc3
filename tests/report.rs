//! `usersync report` and `sync --report`, through the binary, on a ledger made by real syncs
//! against the mock (`report/fixture.rs`): each format's numbers match the ledger, hostile
//! values in the export come out inert in every format, `--mask-pii` hides personal data in
//! every format, files are private, and mistakes are usage errors.

mod common;
#[path = "report/fixture.rs"]
mod fixture;

use std::collections::BTreeSet;

use serde_json::Value;
use usersync::ledger::{Ledger, OutcomeKind, RunCounts, RunId, StoredOutcome};

use fixture::*;

const FORMATS: [&str; 4] = ["md", "json", "csv", "html"];

fn ledger() -> Ledger {
    Ledger::open(&fixture().ledger).unwrap()
}

fn counts(run: i64) -> RunCounts {
    ledger().counts(RunId(run)).unwrap()
}

fn problems(run: i64) -> Vec<StoredOutcome> {
    ledger()
        .outcomes(RunId(run))
        .unwrap()
        .into_iter()
        .filter(|o| !o.outcome.succeeded())
        .collect()
}

/// One report line per field error, or one for a problem row without field errors.
fn error_lines(run: i64) -> usize {
    problems(run).iter().map(|o| o.errors.len().max(1)).sum()
}

fn json_report(run: i64, extra: &[&str]) -> Value {
    let mut args = vec![run.to_string(), "--format".into(), "json".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&report(&args)).expect("the json report parses")
}

/// The CSV report's records (the BOM and the header checked and removed).
fn csv_records(text: &str) -> Vec<csv::StringRecord> {
    let body = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "run",
            "line",
            "key",
            "outcome",
            "operation",
            "http_status",
            "field",
            "code",
            "message",
            "attempts"
        ]
    );
    reader.records().map(|r| r.unwrap()).collect()
}

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

#[test]
fn hostile_values_are_inert_in_every_format() {
    let f = fixture();
    let run = f.first.to_string();
    let long = long_key();

    let page = report(&[&run, "--format", "html"]);
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!page.contains("<img"));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.contains("&lt;script&gt;alert(&#39;mail&#39;)&lt;/script&gt;"));
    assert_no_hidden_characters("html", &page);
    assert!(!page.contains(&long[..400]), "long values are cut");
    assert!(page.contains("more characters)"));

    let md = report(&[&run, "--format", "md"]);
    assert!(
        md.match_indices('<').all(|(i, _)| md[..i].ends_with('\\')),
        "every < is escaped"
    );
    assert!(md.contains("\\<img src=x onerror=alert(1)\\>"));
    assert!(md.contains("pipe\\|\\[x\\](javascript:alert(1))"));
    assert_no_hidden_characters("md", &md);
    assert!(!md.contains(&long[..400]));
    // Every table line has exactly its columns: no value adds a cell or breaks a line.
    let mut table_columns = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            table_columns = None;
            continue;
        }
        let cells = unescaped_pipes(line);
        match table_columns {
            None => table_columns = Some(cells),
            Some(n) => assert_eq!(cells, n, "a broken table line: {line}"),
        }
    }

    let csv_text = report(&[&run, "--format", "csv"]);
    let records = csv_records(&csv_text);
    for record in &records {
        for (i, cell) in record.iter().enumerate() {
            let first = cell.trim_start_matches(' ').chars().next();
            assert!(
                !matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')),
                "column {i} could run as a formula: {cell}"
            );
            assert!(
                !cell.chars().any(char::is_control),
                "control character in {cell:?}"
            );
            assert!(cell.chars().count() < 32_100, "a cell too long for Excel");
        }
    }
    let keys: Vec<&str> = records.iter().map(|r| &r[2]).collect();
    assert!(keys.contains(&"'=HYPERLINK(\"http://evil.example/\",\"click\")"));
    assert!(keys.contains(&"'@SUM(1+1)*cmd"));
    assert!(keys.contains(&"'+34 600 123 456"));

    // JSON keeps the exact values, escaped as JSON strings: nothing raw reaches a terminal.
    let json_text = report(&[&run, "--format", "json"]);
    assert!(!json_text.chars().any(|c| c.is_control() && c != '\n'));
    let doc: Value = serde_json::from_str(&json_text).unwrap();
    let keys: BTreeSet<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["key"].as_str())
        .collect();
    for key in [
        IMG_KEY,
        FORMULA_KEY,
        AT_FORMULA_KEY,
        CONTROL_KEY,
        MARKDOWN_KEY,
        &long,
    ] {
        assert!(keys.contains(key), "json keeps {key:.40}");
    }
}

/// The page's tags, from `<` to `>` (values are escaped, so every `<` starts a real tag).
fn tags(page: &str) -> impl Iterator<Item = &str> {
    page.split('<')
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or(rest))
}

fn assert_no_hidden_characters(format: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c))
        .collect();
    assert!(bad.is_empty(), "{format}: raw {bad:?}");
}

/// Pipes that separate Markdown table cells (not escaped with a backslash).
fn unescaped_pipes(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    count
}

#[test]
fn mask_pii_hides_emails_ids_and_phones_in_every_format() {
    let run = fixture().first.to_string();
    let personal = [
        EMAIL_KEY,
        "ana.perez",
        PHONE_KEY,
        "600 123 456",
        DNI_KEY,
        "11111111A",
        "22222222A",
    ];
    for format in FORMATS {
        let plain = report(&[&run, "--format", format]);
        for value in SAMPLE_PII.iter().chain(&personal) {
            assert!(
                plain.contains(value),
                "{format} without masking shows {value}"
            );
        }
        let masked = report(&[&run, "--format", format, "--mask-pii"]);
        for value in SAMPLE_PII.iter().chain(&personal) {
            assert!(!masked.contains(value), "{format} --mask-pii shows {value}");
        }
        // Rows stay recognisable by their line and non-personal keys.
        assert!(masked.contains("E00012"), "{format}");
    }
    let doc = json_report(fixture().first, &["--mask-pii"]);
    assert_eq!(doc["pii_masked"], true);
    let keys: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["key"].as_str())
        .collect();
    assert!(keys.contains(&"a***@***.com"));
    assert!(keys.contains(&"+** *** *** 456"));
    assert!(keys.contains(&"***4567**"));
}

#[test]
fn sync_report_writes_the_run_report_privately() {
    let f = fixture();
    let html = std::fs::read_to_string(f.dir.join("run1.html")).unwrap();
    assert!(html.contains("<title>usersync report: run 1 of lawyers</title>"));
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(f.dir.join("run2.json")).unwrap()).unwrap();
    assert_eq!(json["run"]["id"], 2);
    #[cfg(unix)]
    for file in ["run1.html", "run2.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

#[test]
fn output_files_take_their_format_from_the_extension() {
    let f = fixture();
    let dir = common::TestDir::new();
    let file = dir.path().join("last.csv");
    usersync(&f.dir)
        .args(["report", "last", "-t", "lawyers", "-o"])
        .arg(&file)
        .assert()
        .success()
        .stdout("");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("\u{feff}run,line,key"));
    assert!(
        csv_records(&text).iter().all(|r| &r[0] == "2"),
        "last is run 2"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // --format wins over the extension.
    let file = dir.path().join("r.txt");
    usersync(&f.dir)
        .args(["report", "1", "--format", "json", "-o"])
        .arg(&file)
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["run"]["id"], 1);
}

#[test]
fn mistakes_are_usage_errors() {
    let f = fixture();
    let fails = |args: &[&str], message: &str| {
        let out = usersync(&f.dir).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    };
    fails(&["report", "99"], "run 99 is not in the ledger");
    fails(
        &["report", "1", "-t", "community"],
        "run 1 is a run of target lawyers",
    );
    fails(
        &["report", "last", "-t", "community"],
        "target community has no runs",
    );
    fails(&["report", "last"], "choose one with -t/--target");
    fails(&["report", "first"], "give a run number");
    fails(&["report", "1", "--format", "pdf"], "unknown report format");
    fails(
        &["report", "1", "--ledger", "missing.db"],
        "there is no ledger at missing.db",
    );
    assert!(!f.dir.join("missing.db").exists(), "no ledger is created");
    fails(
        &[
            "sync",
            "hr_export.csv",
            "-t",
            "lawyers",
            "--report",
            "r.pdf",
        ],
        "name it .md, .json, .csv or .html",
    );
    fails(
        &["sync", "hr_export.csv", "-t", "lawyers", "--mask-pii"],
        "--report",
    );
}
