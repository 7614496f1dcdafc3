//! `usersync plan INPUT` (and `sync --dry-run`): what a sync would do, sending nothing.
//!
//! The readable form prints counts; `--json` prints one line per operation with field names
//! (never values), then `{"summary": {...}}`, so a plan can be pasted into a ticket.

use std::io::{BufWriter, Write};

use crate::cli::{DiffArgs, GlobalArgs, InputArgs, LedgerArgs, PlanArgs, SendArgs, TargetArgs};
use crate::commands::{check_deactivation, check_send_args, ledger_path};
use crate::config;
use crate::exit::Exit;
use crate::ledger::Ledger;
use crate::sync::estimate::{self, Estimate};
use crate::sync::preview::{preview, PreviewRequest};

/// Runs `plan`.
pub fn run(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<Exit> {
    print_plan(
        global,
        &args.input,
        &args.target,
        &args.ledger,
        &args.diff,
        None,
        args.json,
    )
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
    json: bool,
) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let target = config.target(target.target.as_deref())?;
    let base_url = match send {
        Some(send) => check_send_args(send, target)?,
        None => target.base_url.clone(),
    };
    let ledger_file = ledger_path(ledger, &config);
    let deactivate_missing = diff.deactivate_missing || target.deactivate_missing;
    if let Err(refusal) = check_deactivation(target, deactivate_missing) {
        // A plan sends nothing: it still shows the leavers, and says what a sync would do.
        tracing::warn!("a sync would be refused: {refusal}");
    }
    let request = PreviewRequest {
        input: input.input.clone(),
        input_options: config.input.options(&input.settings()),
        ledger_path: ledger_file.clone(),
        full: diff.full,
        deactivate_missing,
        force: diff.force,
        endpoint: base_url.endpoint(),
        endpoint_moved: send.is_some_and(|s| s.endpoint_moved),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut write_error = None;
    let counts = preview(target, &request, |line| {
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
    let (rate, concurrency) = send.map_or((None, None), |s| (s.rate, s.concurrency));
    let rate = estimate::expected_rate(
        target,
        rate,
        concurrency.is_some(),
        &Ledger::open(&ledger_file)?,
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
