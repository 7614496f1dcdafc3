//! Reports on a run, read from the ledger, for the three people who look at a nightly sync: the
//! integration engineer (`json`, for alerting scripts), the HR administrator (`csv`, the rows
//! to fix) and a manager (`html`, the run at a glance), plus `md` for an e-mail or chat message.
//!
//! Like hyperfine's exporters: `collect.rs` builds one format-free [`Report`] (masked once, when
//! asked), a private `Exporter` trait has one implementation per file (`markdown.rs`,
//! `json.rs`, `csv.rs`, `html.rs`), and `exporter` is the one place that picks it. Adding a
//! format is one file, a [`ReportFormat`] variant (clap's `ValueEnum`: `--format` and `--help`
//! follow) and its arm in `exporter`.

mod charts;
mod collect;
mod csv;
mod html;
mod human;
mod json;
mod markdown;
pub mod mask;
pub mod model;
mod page;
mod text;

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

pub use collect::{build, each_problem_row, ReportOptions};
pub use human::number;
pub use model::{ProblemRow, Report, SCHEMA_VERSION};
pub use text::neutralise_formula;

use crate::ledger::{Ledger, RunId};

/// A report format: what `--format` takes (clap lists the names in `--help`), and what a file's
/// extension asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A short summary for an e-mail or chat message, then the problem tables.
    #[value(name = "md", alias = "markdown")]
    Markdown,
    /// The documented schema of `docs/report-schema.md`, for scripts.
    Json,
    /// One line per error of every row that did not succeed, safe to open in a spreadsheet.
    Csv,
    /// One self-contained page with charts.
    #[value(alias = "htm")]
    Html,
}

impl ReportFormat {
    /// Every format, in the order `--help` lists them.
    pub fn all() -> &'static [ReportFormat] {
        <ReportFormat as clap::ValueEnum>::value_variants()
    }

    /// The format's name (and the extension of its files).
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The names of every format, each after `prefix`, for messages: `md, json, csv or html`.
    pub fn names(prefix: &str) -> String {
        let names: Vec<String> = ReportFormat::all()
            .iter()
            .map(|f| format!("{prefix}{}", f.name()))
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

    /// The format a file name's extension asks for (`.md`, `.markdown`, `.json`, `.csv`,
    /// `.html`, `.htm`; any case), if any.
    pub fn from_path(path: &Path) -> Option<ReportFormat> {
        path.extension()?.to_str()?.parse().ok()
    }
}

impl FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <ReportFormat as clap::ValueEnum>::from_str(s, true).map_err(|_| {
            format!(
                "unknown report format {s:?}: expected {}",
                ReportFormat::names("")
            )
        })
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The problem rows of a report, one per error, streamed in line order. An exporter calls
/// [`ProblemRows::each`] at most once.
pub trait ProblemRows {
    /// Calls `f` with every row; stops at the first error.
    fn each(&mut self, f: &mut dyn FnMut(ProblemRow) -> anyhow::Result<()>) -> anyhow::Result<()>;
}

/// The problem rows of a run in a ledger.
pub struct LedgerRows<'a> {
    pub ledger: &'a Ledger,
    pub run: RunId,
    pub options: ReportOptions,
}

impl ProblemRows for LedgerRows<'_> {
    fn each(&mut self, f: &mut dyn FnMut(ProblemRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        each_problem_row(self.ledger, self.run, &self.options, f)
    }
}

/// Rows already in memory (for tests and small tools).
impl ProblemRows for Vec<ProblemRow> {
    fn each(&mut self, f: &mut dyn FnMut(ProblemRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.drain(..).try_for_each(f)
    }
}

/// One report format (hyperfine's `Exporter`): writes a report and its rows to `out`.
trait Exporter {
    fn export(
        &self,
        report: &Report,
        rows: &mut dyn ProblemRows,
        out: &mut dyn Write,
    ) -> anyhow::Result<()>;
}

fn exporter(format: ReportFormat) -> &'static dyn Exporter {
    match format {
        ReportFormat::Markdown => &markdown::MarkdownExporter,
        ReportFormat::Json => &json::JsonExporter,
        ReportFormat::Csv => &csv::CsvExporter,
        ReportFormat::Html => &html::HtmlExporter,
    }
}

/// Writes `report` and its problem rows in `format` to `out`.
pub fn write_report(
    format: ReportFormat,
    report: &Report,
    rows: &mut dyn ProblemRows,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    exporter(format).export(report, rows, out)?;
    out.flush()?;
    Ok(())
}

/// Reads run `run` from `ledger` and writes its report in `format` to `out`.
pub fn render(
    ledger: &Ledger,
    run: RunId,
    format: ReportFormat,
    options: ReportOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let report = build(ledger, run, &options)?;
    let mut rows = LedgerRows {
        ledger,
        run,
        options,
    };
    write_report(format, &report, &mut rows, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_names_and_extensions() {
        for format in ReportFormat::all().iter().copied() {
            assert_eq!(format.name().parse::<ReportFormat>(), Ok(format));
        }
        assert_eq!(
            ReportFormat::from_path(Path::new("out/Nightly.HTM")),
            Some(ReportFormat::Html)
        );
        assert_eq!(
            ReportFormat::from_path(Path::new("r.markdown")),
            Some(ReportFormat::Markdown)
        );
        assert_eq!(ReportFormat::from_path(Path::new("r.txt")), None);
        assert_eq!(ReportFormat::from_path(Path::new("report")), None);
    }
}
