//! `usersync report [RUN|last]`: the report of a run from the ledger, on stdout or in a file;
//! and the `--report FILE` of `sync`, which writes the report of the run it just made.
//!
//! Reading only: the ledger must exist (a missing one is not created), and a report never
//! needs credentials.

use std::io::{self, BufWriter};
use std::path::Path;

use crate::cli::{GlobalArgs, ReportArgs, RunSelector};
use crate::commands::{ledger_path, UsageError};
use crate::config;
use crate::exit::Exit;
use crate::ledger::{Ledger, RunId};
use crate::report::{self, ReportFormat, ReportOptions};

/// Runs `report`.
pub fn run(global: &GlobalArgs, args: &ReportArgs) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let path = ledger_path(&args.ledger, &config);
    let ledger = open_existing(&path)?;
    let run = match args.run {
        RunSelector::Last => {
            let target = config.target(args.target.target.as_deref())?;
            ledger
                .last_run(&target.name)?
                .ok_or_else(|| {
                    UsageError(format!(
                        "target {} has no runs in the ledger {} yet",
                        target.name,
                        path.display()
                    ))
                })?
                .id
        }
        RunSelector::Id(id) => {
            let record = ledger.run(RunId(id))?.ok_or_else(|| {
                UsageError(format!("run {id} is not in the ledger {}", path.display()))
            })?;
            if let Some(pruned) = record.pruned_message() {
                return Err(UsageError(pruned).into());
            }
            if let Some(target) = &args.target.target {
                if *target != record.target {
                    return Err(UsageError(format!(
                        "run {id} is a run of target {}, not of {target}",
                        record.target
                    ))
                    .into());
                }
            }
            record.id
        }
    };
    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(ReportFormat::from_path))
        .unwrap_or(ReportFormat::Markdown);
    let options = ReportOptions {
        mask_pii: args.mask_pii,
    };
    match &args.output {
        Some(file) => {
            crate::private_file::write_atomically(file, "the report", |out| {
                report::render(&ledger, run, format, options, out)
            })?;
            tracing::info!(run = run.0, file = %file.display(), %format, "report written");
        }
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            match report::render(&ledger, run, format, options, &mut out) {
                Err(e) if is_broken_pipe(&e) => return Ok(Exit::Ok),
                other => other?,
            }
        }
    }
    Ok(Exit::Ok)
}

/// Writes the report of `run` to `file`, in the format its extension names (`sync --report`).
pub fn write_run_report(
    ledger_path: &Path,
    run: RunId,
    file: &Path,
    mask_pii: bool,
) -> anyhow::Result<()> {
    let format = ReportFormat::from_path(file).ok_or_else(|| {
        UsageError(format!(
            "{}: name the report .md, .json, .csv or .html",
            file.display()
        ))
    })?;
    let ledger = Ledger::open(ledger_path)?;
    crate::private_file::write_atomically(file, "the report", |out| {
        report::render(&ledger, run, format, ReportOptions { mask_pii }, out)
    })
}

/// Opens the ledger at `path` for reading, refusing to create one where there is none.
fn open_existing(path: &Path) -> anyhow::Result<Ledger> {
    if !path.exists() {
        return Err(UsageError(format!(
            "there is no ledger at {}: run a sync first, or name the ledger with --ledger \
             (or the config's `ledger`)",
            path.display()
        ))
        .into());
    }
    Ok(Ledger::open(path)?)
}

/// Whether the reader of stdout went away (`usersync report | head`): not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<csv::Error>()
                .is_some_and(|e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe))
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}
