//! The `csv` report: for the HR administrator, one line per error of every row that did not
//! succeed (a row with two field errors has two lines), to sort and filter in a spreadsheet;
//! then one line per note of the rows that went through but need a person (outcome `synced` or
//! `unchanged`, the note's code and what to do; see `crate::notes`).
//!
//! Columns: `run, line, key, outcome, operation, http_status, field, code, message, attempts`.
//! UTF-8 with a BOM (so Excel reads the accents), and every text cell passed through
//! [`csv_cell`]: it can never start a formula, holds no control characters, and fits a cell.

use std::io::Write;

use super::model::Report;
use super::text::csv_cell;
use super::{Exporter, ProblemRows};

pub(super) struct CsvExporter;

/// The header line.
pub(super) const COLUMNS: [&str; 10] = [
    "run",
    "line",
    "key",
    "outcome",
    "operation",
    "http_status",
    "field",
    "code",
    "message",
    "attempts",
];

impl Exporter for CsvExporter {
    fn export(
        &self,
        report: &Report,
        rows: &mut dyn ProblemRows,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        out.write_all(b"\xef\xbb\xbf")?;
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(COLUMNS)?;
        let run = report.run.id.to_string();
        let text = |value: &Option<String>| value.as_deref().map(csv_cell).unwrap_or_default();
        rows.each(&mut |row| {
            writer.write_record([
                run.clone(),
                row.line.map(|l| l.to_string()).unwrap_or_default(),
                text(&row.key),
                row.outcome.clone(),
                text(&row.operation),
                row.http_status.map(|s| s.to_string()).unwrap_or_default(),
                text(&row.field),
                text(&row.code),
                text(&row.message),
                row.attempts.to_string(),
            ])?;
            Ok(())
        })?;
        for n in &report.follow_ups.listed {
            writer.write_record([
                run.clone(),
                n.line.map(|l| l.to_string()).unwrap_or_default(),
                text(&n.key),
                n.outcome.clone(),
                text(&n.operation),
                String::new(),
                String::new(),
                csv_cell(&n.code),
                csv_cell(&n.message),
                String::new(),
            ])?;
        }
        writer.flush()?;
        Ok(())
    }
}
