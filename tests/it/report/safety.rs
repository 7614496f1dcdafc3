//! Hostile values in the export come out inert in every format; `--mask-pii` hides them.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{csv_records, json_report, tags, FORMATS};
use crate::support::report_fixture::*;

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
    let data_tags = ["img", "iframe", "a ", "svg onload", "body onload"];
    assert!(
        tags(&page).all(|t| !data_tags.iter().any(|d| t.starts_with(d))),
        "no element came from the data"
    );
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
