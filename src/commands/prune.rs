//! `usersync prune`: deletes the row details of runs that ended longer ago than the ledger keeps
//! them (`retention_days`), by hand; and [`after_run`], the same for one target at the end of
//! every sync and retry, so that a ledger synced from cron stays the size of its retention.
//!
//! What goes and what stays is the ledger's rule (`Ledger::prunable_runs`): row details of
//! finished runs, never a target's newest run, never the snapshot.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::cli::{GlobalArgs, PruneArgs};
use crate::commands::ledger_path;
use crate::config::{self, Config, Retention};
use crate::exit::Exit;
use crate::ledger::{Ledger, LedgerError, PrunableRun, TargetLock};
use crate::report::number;

/// Runs `prune`.
pub fn run(global: &GlobalArgs, args: &PruneArgs) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let path = ledger_path(&args.ledger, &config);
    if !path.exists() {
        println!(
            "nothing to prune: the ledger {} does not exist",
            path.display()
        );
        return Ok(Exit::Ok);
    }
    let retention = args
        .older_than_days
        .map(Retention::Days)
        .unwrap_or(config.retention);
    let Some(cutoff) = retention.cutoff(Utc::now()) else {
        println!(
            "nothing pruned: retention_days is \"forever\" in {}; pass --older-than-days N to \
             prune anyway",
            config.path.display()
        );
        return Ok(Exit::Ok);
    };
    let mut ledger = Ledger::open(&path)?;
    let vacuum = args.vacuum && !args.dry_run;
    // VACUUM rewrites the whole file: no sync may be writing meanwhile, nor start. Checked
    // first, so that a refusal changes nothing.
    let _locks = if vacuum {
        lock_every_target(&ledger, &config)?
    } else {
        Vec::new()
    };
    let runs = ledger.prunable_runs(cutoff, args.target.as_deref())?;
    let rule = format!(
        "ended before {} ({retention} ago)",
        cutoff.format("%Y-%m-%d %H:%M UTC")
    );
    if runs.is_empty() {
        println!("nothing to prune: no run {rule}, apart from each target's newest run");
    } else if args.dry_run {
        println!("would prune the row details of {}:", runs_and_rows(&runs));
        print_by_target(&runs, &rule);
    } else {
        let rows = prune_all(&mut ledger, &runs)?;
        let plural = if runs.len() == 1 { "" } else { "s" };
        println!(
            "pruned the row details of {} run{plural}: {} rows deleted",
            runs.len(),
            number(rows)
        );
        print_by_target(&runs, &rule);
        println!("  their counts stay in `usersync runs`; every user's snapshot stays");
    }
    if vacuum {
        let before = file_size(&path);
        ledger.vacuum()?;
        println!(
            "vacuumed: the ledger {} went from {} to {}",
            path.display(),
            human_size(before),
            human_size(file_size(&path))
        );
    }
    Ok(Exit::Ok)
}

/// After a sync or retry of `target`: prunes its runs past the config's retention. A failure is
/// only a warning: the run is recorded whatever happens here, and the next run or a `usersync
/// prune` tries again.
pub fn after_run(config: &Config, ledger: &Path, target: &str) {
    let Some(cutoff) = config.retention.cutoff(Utc::now()) else {
        return;
    };
    match prune_target(ledger, cutoff, target) {
        Ok((0, _)) => {}
        Ok((runs, rows)) => tracing::info!(
            target_name = target,
            runs,
            rows,
            retention = %config.retention,
            "pruned the row details of runs older than the ledger's retention"
        ),
        Err(e) => tracing::warn!(
            target_name = target,
            error = %e,
            "could not prune the row details of old runs; the next run or `usersync prune` \
             will try again"
        ),
    }
}

/// Prunes `target`'s runs that ended before `cutoff`: (runs, rows deleted).
fn prune_target(
    ledger: &Path,
    cutoff: DateTime<Utc>,
    target: &str,
) -> Result<(usize, u64), LedgerError> {
    let mut ledger = Ledger::open(ledger)?;
    let runs = ledger.prunable_runs(cutoff, Some(target))?;
    Ok((runs.len(), prune_all(&mut ledger, &runs)?))
}

/// Prunes each of `runs`, one transaction each: the rows deleted.
fn prune_all(ledger: &mut Ledger, runs: &[PrunableRun]) -> Result<u64, LedgerError> {
    runs.iter().map(|run| ledger.prune_run(run.id)).sum()
}

/// "3 runs (300,000 rows)".
fn runs_and_rows(runs: &[PrunableRun]) -> String {
    let rows: u64 = runs.iter().map(|r| r.rows).sum();
    let plural = if runs.len() == 1 { "" } else { "s" };
    format!("{} run{plural} ({} rows)", runs.len(), number(rows))
}

/// One line per target: how many of its runs, which ids, and the rule they met.
fn print_by_target(runs: &[PrunableRun], rule: &str) {
    let mut by_target: BTreeMap<&str, Vec<&PrunableRun>> = BTreeMap::new();
    for run in runs {
        by_target.entry(&run.target).or_default().push(run);
    }
    for (target, runs) in by_target {
        let ids = match (runs.first(), runs.last()) {
            (Some(first), Some(last)) if runs.len() > 1 => {
                format!("runs {} to {}", first.id, last.id)
            }
            (Some(only), _) => format!("run {}", only.id),
            _ => continue,
        };
        println!("  {target}: {} ({ids}), {rule}", runs.len());
    }
}

/// The run lock of every target of the ledger or of the config, or who holds one.
fn lock_every_target(ledger: &Ledger, config: &Config) -> Result<Vec<TargetLock>, LedgerError> {
    let mut targets = ledger.targets()?;
    targets.extend(config.targets.keys().cloned());
    targets.sort();
    targets.dedup();
    targets
        .iter()
        .map(|target| ledger.lock_target(target))
        .collect()
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// "138.7 MB", "96 kB".
fn human_size(bytes: u64) -> String {
    match bytes {
        0..=999 => format!("{bytes} bytes"),
        1_000..=999_999 => format!("{} kB", bytes / 1_000),
        1_000_000..=999_999_999 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_at_a_glance() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(98_304), "98 kB");
        assert_eq!(human_size(145_793_024), "145.8 MB");
        assert_eq!(human_size(2_600_000_000), "2.60 GB");
    }
}
