//! `usersync validate INPUT`: read an export, map and validate every row for one target, and tell
//! HR exactly which rows are wrong and why, before anything is sent.
//!
//! Output on stdout: a readable report (counts, the first rejected rows, rejections by field and
//! code), or with `--json` one object per rejected row and a last summary object. `--rejects FILE`
//! also writes the rejected rows as a CSV that is safe to open in Excel.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::commands::UsageError;
use crate::config;
use crate::exit::Exit;
use crate::input::{Column, Header, Record};
use crate::prepare::Rows;
use crate::report::neutralise_formula;
use crate::validate::FieldError;

/// How many rejected rows the readable report lists.
const LISTED_ROWS: usize = 20;

/// What a validation run found.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Rows read (blank JSONL lines are not rows).
    pub rows: u64,
    pub valid: u64,
    pub rejected: u64,
    /// (field, code) -> number of errors.
    #[serde(skip)]
    pub by_field_code: BTreeMap<(String, String), u64>,
}

/// Runs `validate`.
pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let target = config.target(args.target.target.as_deref())?;
    let options = config.input.options(&args.input.settings());
    let path = &args.input.input;
    let mut rows = Rows::open(path, target, &options)?;
    let mut rejects = match &args.rejects {
        Some(file) if same_file(file, path) => {
            return Err(UsageError(format!(
                "--rejects {} would overwrite the input: choose another file",
                file.display()
            ))
            .into())
        }
        Some(file) => Some(RejectsWriter::create(
            file,
            rows.source_columns(),
            rows.header(),
        )?),
        None => None,
    };
    tracing::info!(input = %path.display(), target = %target.name, provider = target.provider.name(), "validating");

    let mut out = BufWriter::new(io::stdout().lock());
    let mut summary = Summary::default();
    let mut listed = Vec::new();
    while let Some(row) = rows.next() {
        let row = row?;
        summary.rows += 1;
        let Some(errors) = row.result.errors() else {
            // `validate` reads without known rows: every row is mapped.
            summary.valid += 1;
            continue;
        };
        summary.rejected += 1;
        for e in errors {
            *summary
                .by_field_code
                .entry((e.field.clone(), e.code.clone()))
                .or_default() += 1;
        }
        tracing::debug!(line = row.line, key = ?row.key, errors = errors.len(), "row rejected");
        if args.json {
            let line = RejectedRow {
                line: row.line,
                key: row.key.as_deref(),
                errors,
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        } else if listed.len() < LISTED_ROWS {
            listed.push((row.line, row.key.clone(), errors.to_vec()));
        }
        if let Some(w) = &mut rejects {
            w.write(rows.record(), row.line, errors)?;
        }
    }
    if let Some(w) = rejects {
        w.finish()?;
    }
    if args.json {
        serde_json::to_writer(&mut out, &SummaryLine { summary: &summary })?;
        out.write_all(b"\n")?;
    } else {
        write_report(&mut out, path, &target.name, &summary, &listed)?;
    }
    out.flush()?;
    tracing::info!(
        rows = summary.rows,
        valid = summary.valid,
        rejected = summary.rejected,
        "validated"
    );
    Ok(if summary.rejected == 0 {
        Exit::Ok
    } else {
        Exit::RowErrors
    })
}

/// One `--json` line.
#[derive(Serialize)]
struct RejectedRow<'a> {
    line: u64,
    key: Option<&'a str>,
    errors: &'a [FieldError],
}

/// The last `--json` line.
#[derive(Serialize)]
struct SummaryLine<'a> {
    summary: &'a Summary,
}

fn write_report(
    out: &mut impl Write,
    path: &Path,
    target: &str,
    summary: &Summary,
    listed: &[(u64, Option<String>, Vec<FieldError>)],
) -> io::Result<()> {
    writeln!(out, "{} for target {target}", path.display())?;
    writeln!(out, "rows read: {:>8}", summary.rows)?;
    writeln!(out, "valid:     {:>8}", summary.valid)?;
    writeln!(out, "rejected:  {:>8}", summary.rejected)?;
    if summary.rejected == 0 {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "rejected rows:")?;
    for (line, key, errors) in listed {
        // A key is export data: shown escaped and bounded, like the messages.
        let key = key
            .clone()
            .map_or_else(|| "-".to_owned(), crate::validate::bounded_message);
        for e in errors {
            writeln!(
                out,
                "  line {line} ({key}): {}: {} [{}]",
                e.field, e.message, e.code
            )?;
        }
    }
    if summary.rejected > listed.len() as u64 {
        writeln!(
            out,
            "  ... and {} more rows (all of them with --json or --rejects FILE)",
            summary.rejected - listed.len() as u64
        )?;
    }
    writeln!(out)?;
    writeln!(out, "rejections by field and code:")?;
    let width = summary
        .by_field_code
        .keys()
        .map(|(f, _)| f.len())
        .max()
        .unwrap_or(5);
    for ((field, code), n) in &summary.by_field_code {
        writeln!(out, "  {field:<width$}  {code:<20} {n:>6}")?;
    }
    Ok(())
}

/// The `--rejects` CSV: the original columns, `_line` and `_errors`.
pub struct RejectsWriter {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    /// Where each output column is in a record.
    columns: Vec<Column>,
}

impl RejectsWriter {
    /// Creates `path` (mode 0600: it holds personal data) and writes the header line.
    pub fn create(path: &Path, names: Vec<String>, header: &Header) -> anyhow::Result<Self> {
        let file = crate::private_file::create(path)
            .with_context(|| format!("cannot create the rejects file {}", path.display()))?;
        let mut buf = BufWriter::new(file);
        // A BOM, so that Excel reads the accents as UTF-8.
        buf.write_all(b"\xef\xbb\xbf")?;
        let mut writer = csv::Writer::from_writer(buf);
        let columns = names
            .iter()
            .map(|n| header.resolve(n).unwrap_or_else(|| Column::Key(n.clone())))
            .collect();
        let mut head: Vec<String> = names
            .iter()
            .map(|n| neutralise_formula(n).into_owned())
            .collect();
        head.push("_line".into());
        head.push("_errors".into());
        writer.write_record(&head)?;
        Ok(RejectsWriter {
            path: path.to_owned(),
            writer,
            columns,
        })
    }

    /// Appends one rejected row.
    pub fn write(
        &mut self,
        record: &Record,
        line: u64,
        errors: &[FieldError],
    ) -> anyhow::Result<()> {
        let mut cells: Vec<String> = self
            .columns
            .iter()
            .map(|c| neutralise_formula(&record.get(c).to_text()).into_owned())
            .collect();
        cells.push(line.to_string());
        let described: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {} [{}]", e.field, e.message, e.code))
            .collect();
        cells.push(neutralise_formula(&described.join("; ")).into_owned());
        self.writer
            .write_record(&cells)
            .with_context(|| format!("cannot write to {}", self.path.display()))?;
        Ok(())
    }

    /// Flushes the file.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write to {}", self.path.display()))
    }
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
