//! `usersync retry [RUN|last]`: re-sends the rows of an earlier run that did not go through,
//! from the payloads the ledger kept, as a new run linked to it (`crate::sync::retry`).
//!
//! The target is `-t`, else the run's own target when RUN is an id, else the config's only
//! target. Ctrl-C behaves as in `sync`. Exit status as for `sync`; 0 when there is nothing to
//! re-send.

use std::io::Write;

use crate::cli::{GlobalArgs, RetryArgs};
use crate::commands::sync::{run_watched, write_noted, write_outcome_counts};
use crate::commands::{ledger_path, spec};
use crate::config::{self, Config, Target};
use crate::exit::Exit;
use crate::ledger::Ledger;
use crate::signals::AfterRun;
use crate::sync::retry::{self, RetrySummary, RunChoice};

/// Runs `retry`.
pub fn run(global: &GlobalArgs, args: &RetryArgs) -> anyhow::Result<Exit> {
    let since = chrono::Utc::now();
    let config = config::load(&global.config)?;
    let ledger = ledger_path(&args.ledger, &config);
    let target = choose_target(&config, args, &ledger)?;
    let rows = spec::Rows::Kept {
        run: args.run,
        include_rejected: args.include_rejected,
    };
    let spec = spec::build(
        global,
        &config,
        target,
        &args.ledger,
        rows,
        Some(&args.send),
        None,
    )?;
    let progress = crate::progress::rows_bar(None, global.quiet, global.verbose);
    let result = run_watched(&progress, |controls| retry::run(&spec, controls))?;
    progress.finish_and_clear();
    // Nothing to re-send records no run, and signals nothing.
    let after = AfterRun {
        config: &config,
        ledger: &ledger,
        target: &target.name,
        metrics_file: args.metrics_file.as_deref(),
        since,
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            crate::signals::after_run(&after);
            return Err(e);
        }
    };
    if summary.sync.is_some() {
        super::prune::after_run(&config, &ledger, &target.name);
    }
    print_summary(&summary, target, global.quiet)?;
    crate::signals::after_run(&after);
    Ok(summary.sync.as_ref().map_or(Exit::Ok, |s| s.exit))
}

/// `-t`, else the run's own target (RUN given as an id), else the config's only target.
fn choose_target<'c>(
    config: &'c Config,
    args: &RetryArgs,
    ledger: &std::path::Path,
) -> anyhow::Result<&'c Target> {
    if let Some(name) = &args.target {
        return Ok(config.target(Some(name.as_str()))?);
    }
    if let RunChoice::Id(id) = args.run {
        if ledger.exists() {
            if let Some(run) = Ledger::open(ledger)?.run(id)? {
                return config.target(Some(&run.target)).map_err(|e| {
                    anyhow::Error::new(e).context(format!(
                        "run {id} belongs to target {}, which the config no longer has",
                        run.target
                    ))
                });
            }
        }
    }
    Ok(config.target(None)?)
}

fn print_summary(s: &RetrySummary, target: &Target, quiet: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let superseded = match s.counts.superseded {
        0 => String::new(),
        n => format!(" ({n} rows left alone: a later run already synced their users)"),
    };
    let Some(sync) = &s.sync else {
        if !quiet {
            writeln!(
                out,
                "run {} of {}: nothing to retry{superseded}",
                s.parent, target.name
            )?;
        }
        return Ok(());
    };
    if let Some(reason) = &sync.aborted {
        writeln!(
            out,
            "run {} of target {} stopped: {reason}",
            sync.run, target.name
        )?;
    }
    if quiet && !sync.needs_a_person() {
        return Ok(());
    }
    let c = &sync.counts;
    writeln!(
        out,
        "retry of run {} for {} ({}): run {}, {} rows in {:.1}s{superseded}",
        s.parent,
        target.name,
        target.provider.name(),
        sync.run,
        c.rows,
        sync.elapsed.as_secs_f64()
    )?;
    write_outcome_counts(&mut out, c)?;
    write_noted(&mut out, &sync.noted, target.provider.name())?;
    writeln!(
        out,
        "  requests {} (retries {}, throttled {})",
        c.requests, c.retries, sync.dispatch.throttled
    )?;
    if c.failed + c.not_attempted > 0 {
        writeln!(
            out,
            "  still not through: usersync retry {} -t {}",
            sync.run, target.name
        )?;
    }
    Ok(())
}
