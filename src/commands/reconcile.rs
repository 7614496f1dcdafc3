//! `usersync reconcile [INPUT] -t TARGET`: what the target holds, compared with the ledger
//! (`crate::reconcile`), printed as a summary or (`--json`) one object per finding and a
//! summary object. Exit 0 when nothing is found, 3 when something is.

use std::io::{BufWriter, Write};

use crate::cli::{GlobalArgs, ReconcileArgs};
use crate::commands::{ledger_path, sync::command_line, sync_runtime};
use crate::config;
use crate::config::InputSettings;
use crate::exit::Exit;
use crate::reconcile::{reconcile, Finding, ReconcileRequest};

/// Runs `reconcile`.
pub fn run(global: &GlobalArgs, args: &ReconcileArgs) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let target = config.target(args.target.target.as_deref())?;
    let request = ReconcileRequest {
        target: target.clone(),
        ledger: ledger_path(&args.ledger, &config),
        base_url: target.base_url.clone(),
        input: args.input.as_ref().map(|input| {
            let flags = InputSettings {
                sheet: args.sheet.clone(),
                ..InputSettings::default()
            };
            let options = config.input.options(&flags);
            (input.clone(), options)
        }),
        adopt: args.adopt,
        command_line: command_line(),
    };
    let found = sync_runtime()?.block_on(reconcile(&request))?;
    let [drift, missing, unlinked, unowned] = found.counts();
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.json {
        for finding in &found.findings {
            serde_json::to_writer(&mut out, finding)?;
            writeln!(out)?;
        }
        let summary = serde_json::json!({ "summary": {
            "target": target.name, "at_target": found.at_target, "linked": found.linked,
            "drift": drift, "missing": missing, "unlinked": unlinked, "unowned": unowned,
            "listed": found.listed, "unchecked": found.unchecked.len(),
        }});
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "reconcile of {} ({}): {} users at the target, {} linked by the ledger",
            target.name,
            target.provider.name(),
            found.at_target,
            found.linked
        )?;
        writeln!(
            out,
            "  drift {drift} · missing {missing} · unlinked {unlinked} · unowned {unowned}"
        )?;
        if !found.listed {
            writeln!(
                out,
                "  its API cannot list users: each synced user was looked up, so users the \
                 ledger does not link (unlinked, unowned) are not seen"
            )?;
        }
        if !found.unchecked.is_empty() {
            writeln!(
                out,
                "  not checked ({}): {}",
                found.unchecked.len(),
                found.unchecked.join(", ")
            )?;
        }
        for finding in &found.findings {
            match finding {
                Finding::Drift { key, fields, .. } => {
                    writeln!(out, "  drift: {key} ({})", fields.join(", "))?
                }
                Finding::Missing { key, remote_id } => writeln!(
                    out,
                    "  missing: {key} (id {remote_id}): the next sync creates the user again"
                )?,
                Finding::Unlinked {
                    key,
                    remote_id,
                    adopted,
                } => {
                    let what = if *adopted {
                        "linked"
                    } else {
                        "not linked: run with --adopt to link"
                    };
                    writeln!(out, "  unlinked: {key} is id {remote_id} ({what})")?
                }
                Finding::Unowned { remote_id } => {
                    writeln!(out, "  unowned: id {remote_id} (left alone)")?
                }
            }
        }
        if drift > 0 {
            writeln!(out, "  the next sync re-sends the drifted fields")?;
        }
    }
    out.flush()?;
    Ok(if found.findings.is_empty() {
        Exit::Ok
    } else {
        Exit::RowErrors
    })
}
