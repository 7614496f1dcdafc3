//! `usersync report` and `sync --report`, through the binary, on a ledger made by real syncs
//! against the mock (`support::report_fixture`). One module per area; the helpers below read the
//! ledger the reports must agree with.

// Each format's numbers match the ledger: counts, operations, latency, timeline, causes, rows,
// and the comparison with the previous run.
mod numbers;
// Hostile values in the export come out inert in every format; --mask-pii hides personal data.
mod safety;
// Files (0600, format from the extension), sync --report, and usage errors.
mod cli;

use serde_json::Value;
use usersync::ledger::{Ledger, RunCounts, RunId, StoredOutcome};

use crate::support::report_fixture::*;

pub(crate) const FORMATS: [&str; 4] = ["md", "json", "csv", "html"];

pub(crate) fn ledger() -> Ledger {
    Ledger::open(&fixture().ledger).unwrap()
}

pub(crate) fn counts(run: i64) -> RunCounts {
    ledger().counts(RunId(run)).unwrap()
}

pub(crate) fn problems(run: i64) -> Vec<StoredOutcome> {
    ledger()
        .outcomes(RunId(run))
        .unwrap()
        .into_iter()
        .filter(|o| !o.outcome.succeeded())
        .collect()
}

/// One report line per field error, or one for a problem row without field errors.
pub(crate) fn error_lines(run: i64) -> usize {
    problems(run).iter().map(|o| o.errors.len().max(1)).sum()
}

pub(crate) fn json_report(run: i64, extra: &[&str]) -> Value {
    let mut args = vec![run.to_string(), "--format".into(), "json".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&report(&args)).expect("the json report parses")
}

/// The CSV report's records (the BOM and the header checked and removed).
pub(crate) fn csv_records(text: &str) -> Vec<csv::StringRecord> {
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

/// The page's tags, from `<` to `>` (values are escaped, so every `<` starts a real tag).
pub(crate) fn tags(page: &str) -> impl Iterator<Item = &str> {
    page.split('<')
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or(rest))
}
