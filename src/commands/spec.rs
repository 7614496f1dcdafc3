//! Where the command line meets the config: the one place a [`RunSpec`] is built, for `plan`,
//! `sync` (and `sync --dry-run`) and `retry`. Flags win over the target's settings here, once;
//! the run itself never reads a flag again.

use std::time::Instant;

use crate::cli::{DiffArgs, GlobalArgs, InputArgs, LedgerArgs, SendArgs};
use crate::commands::{check_send_args, ledger_path, UsageError};
use crate::config::{Config, Target};
use crate::sync::spec::dispatch_settings;
use crate::sync::{Guards, RowSource, RunChoice, RunSpec, SendSpec};

/// Where a run's rows come from, as the command line says.
pub enum Rows<'a> {
    /// An export (`sync`, `plan`), with the diff flags.
    Export {
        input: &'a InputArgs,
        diff: &'a DiffArgs,
    },
    /// The rows of an earlier run (`retry RUN`), `--include-rejected`.
    Kept {
        run: RunChoice,
        include_rejected: bool,
    },
}

/// The run of `target` (a target of `config`) that the command line describes. `send` is the
/// sending flags of a command that has them (`plan` has none: it plans against the target's
/// own endpoint); `deadline` the window's end (`--deadline`, `--max-duration`).
pub fn build(
    global: &GlobalArgs,
    config: &Config,
    target: &Target,
    ledger: &LedgerArgs,
    rows: Rows<'_>,
    send: Option<&SendArgs>,
    deadline: Option<Instant>,
) -> anyhow::Result<RunSpec> {
    let base_url = match send {
        Some(send) => check_send_args(send, target)?,
        None => target.base_url.clone(),
    };
    let (rate, concurrency) = send.map_or((None, None), |s| (s.rate, s.concurrency));
    if let Rows::Export { diff, .. } = &rows {
        let mode = target.policy.mode;
        if diff.deactivate_missing && !mode.allows_deactivation() {
            return Err(UsageError(format!(
                "--deactivate-missing: target {} has mode = \"{}\", which never deactivates",
                target.name,
                mode.as_str()
            ))
            .into());
        }
    }
    let (rows, full, guards) = match rows {
        Rows::Export { input, diff } => (
            RowSource::Export {
                input: input.input.clone(),
                options: config.input.options(&input.settings()),
            },
            diff.full,
            Guards::for_target(
                target,
                diff.deactivate_missing || target.deactivate_missing(),
                diff.force,
            ),
        ),
        // Kept rows are sent as they are: no leavers, no guard, no `--full`.
        Rows::Kept {
            run,
            include_rejected,
        } => (
            RowSource::Kept {
                run,
                include_rejected,
            },
            false,
            Guards::none(),
        ),
    };
    // A retry sends what its parent run counted already: no estimate to log.
    let log_estimate = global.verbose > 0 && matches!(rows, RowSource::Export { .. });
    Ok(RunSpec {
        target: target.clone(),
        ledger: ledger_path(ledger, config),
        rows,
        full,
        guards,
        send: SendSpec {
            base_url,
            dispatch: dispatch_settings(target, rate, concurrency, deadline),
            endpoint_moved: send.is_some_and(|s| s.endpoint_moved),
            command_line: super::sync::command_line(),
            log_estimate,
        },
        expected: None,
    })
}
