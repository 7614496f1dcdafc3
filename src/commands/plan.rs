//! `usersync plan INPUT` (and `sync --dry-run`): what a sync would do, sending nothing.
//!
//! The readable form prints counts; `--json` prints one line per operation with field names
//! (never values), then `{"summary": {...}}`, so a plan can be pasted into a ticket.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::cli::{DiffArgs, GlobalArgs, InputArgs, LedgerArgs, PlanArgs, SendArgs, TargetArgs};
use crate::commands::{check_deactivation, spec};
use crate::config;
use crate::exit::Exit;
use crate::ledger::Ledger;
use crate::sync::estimate::{self, Estimate};
use crate::sync::preview::preview;
use crate::sync::saved_plan::{self, Fingerprints, PlanFlags, SavedOperation, SavedPlan};
use crate::sync::RowSource;

/// Runs `plan`.
pub fn run(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<Exit> {
    print_plan(
        global,
        &args.input,
        &args.target,
        &args.ledger,
        &args.diff,
        None,
        Output {
            json: args.json,
            file: args.out.as_deref(),
        },
    )
}

/// How a plan is given: printed as counts or (`json`) as JSON lines, and saved to `file`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output<'a> {
    pub json: bool,
    pub file: Option<&'a Path>,
}

/// Plans and prints; shared with `sync --dry-run`, which gives its `send` flags (the endpoint
/// and pace of the sync it previews). Exit 0, or 3 when rows would be rejected.
pub fn print_plan(
    global: &GlobalArgs,
    input: &InputArgs,
    target: &TargetArgs,
    ledger: &LedgerArgs,
    diff: &DiffArgs,
    send: Option<&SendArgs>,
    output: Output<'_>,
) -> anyhow::Result<Exit> {
    let Output {
        json,
        file: out_file,
    } = output;
    let config = config::load(&global.config)?;
    let target = config.target(target.target.as_deref())?;
    let rows = spec::Rows::Export { input, diff };
    let spec = spec::build(global, &config, target, ledger, rows, send, None)?;
    if let Err(refusal) = check_deactivation(target, spec.guards.deactivate_missing) {
        // A plan sends nothing: it still shows the leavers, and says what a sync would do.
        tracing::warn!("a sync would be refused: {refusal}");
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut write_error = None;
    let mut operations = Vec::new();
    let found = preview(&spec, out_file.is_some(), |line| {
        if out_file.is_some() {
            operations.push(SavedOperation::from(line));
        }
        if json && write_error.is_none() {
            if let Err(e) = serde_json::to_writer(&mut out, line)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
            {
                write_error = Some(e);
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let counts = found.counts;
    if let (Some(file), RowSource::Export { input, options }) = (out_file, &spec.rows) {
        let plan = SavedPlan {
            usersync_plan: saved_plan::FORMAT,
            target: target.name.clone(),
            provider: target.provider.name().to_owned(),
            created_at: chrono::Utc::now(),
            export: input.clone(),
            fingerprints: Fingerprints {
                export_sha256: crate::sync::scan::sha256_file(input)?,
                config_sha256: saved_plan::config_sha256(target, options),
                snapshot_sha256: found.snapshot_sha256.expect("asked for with --out"),
            },
            flags: PlanFlags {
                full: spec.full,
                deactivate_missing: spec.guards.deactivate_missing,
                force: spec.guards.force,
            },
            summary: counts,
            operations,
        };
        crate::private_file::write_atomically(file, "the plan", |w| {
            serde_json::to_writer_pretty(&mut *w, &plan)?;
            writeln!(w)?;
            Ok(())
        })?;
        eprintln!(
            "plan written to {}: `usersync apply {}` sends exactly it",
            file.display(),
            file.display()
        );
    }
    let rate = estimate::expected_rate(
        &target.name,
        &spec.send.dispatch,
        &Ledger::open(&spec.ledger)?,
    )?;
    let requests = estimate::planned_requests(&counts);
    let estimate = rate.map(|(rate, basis)| Estimate::new(requests, rate, basis));
    if json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({ "summary": counts, "estimate": estimate }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "plan for {} ({}), nothing sent:",
            target.name,
            target.provider.name()
        )?;
        writeln!(out, "  create {}", counts.create)?;
        writeln!(out, "  update {}", counts.update)?;
        writeln!(out, "  unchanged {}", counts.unchanged)?;
        writeln!(out, "  deactivate {}", counts.deactivate)?;
        writeln!(out, "  rejected {}", counts.rejected)?;
        if counts.left_alone > 0 {
            writeln!(
                out,
                "  left alone {} (protected users, or operations the target's mode does not allow)",
                counts.left_alone
            )?;
        }
        match estimate {
            Some(estimate) => writeln!(out, "  estimated duration: {estimate}")?,
            None if requests > 0 => writeln!(
                out,
                "  estimated duration: unknown (no rate configured, learned or measured yet)"
            )?,
            None => {}
        }
    }
    out.flush()?;
    Ok(if counts.rejected > 0 {
        Exit::RowErrors
    } else {
        Exit::Ok
    })
}
