//! `usersync runs`: the runs the ledger recorded, newest first, as a table or (`--json`) one
//! JSON object per line, so that an operator sees at a glance how the last nights went and
//! which run to `retry` or `report`.
//!
//! Read-only: a missing ledger is reported, never created.

use std::io::{BufWriter, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::{GlobalArgs, RunsArgs};
use crate::commands::ledger_path;
use crate::config;
use crate::exit::Exit;
use crate::ledger::{HeldRun, Ledger, RunCounts, RunRecord, RunStatus};

/// One run as `runs --json` prints it (a stable shape: fields are only ever added).
#[derive(Debug, Serialize)]
pub struct RunLine<'a> {
    pub id: i64,
    pub target: &'a str,
    pub provider: &'a str,
    /// `sync` or `retry`.
    pub command: &'a str,
    /// For a retry: the run whose rows it re-sent.
    pub parent_run_id: Option<i64>,
    pub input_path: Option<&'a str>,
    /// Where the run sent: `mock` or the base URL without credentials.
    pub endpoint: Option<&'a str>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `None` while the run is going on.
    pub duration_secs: Option<f64>,
    /// `running`, `completed`, `interrupted` or `aborted`.
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub counts: &'a RunCounts,
    /// When the run's row details were deleted by the ledger's retention (`usersync prune`);
    /// `None` while they are there.
    pub pruned_at: Option<DateTime<Utc>>,
    /// For a run held because its guards tripped: `waiting`, `approved` or `rejected`, by whom
    /// and when, and the run that sent it once approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<HeldLine>,
}

/// A held run's state, as `runs --json` prints it.
#[derive(Debug, Serialize)]
pub struct HeldLine {
    pub state: &'static str,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub approved_run_id: Option<i64>,
}

impl HeldLine {
    fn new(held: &HeldRun) -> HeldLine {
        let (state, decided_by, decided_at) = match &held.decision {
            None => ("waiting", None, None),
            Some((decision, by, at)) => (decision.as_str(), Some(by.clone()), Some(*at)),
        };
        HeldLine {
            state,
            decided_by,
            decided_at,
            approved_run_id: held.approved_run.map(|r| r.0),
        }
    }

    /// The table's status for a held run.
    fn status(&self) -> String {
        match &self.decided_by {
            None => "held, waiting".into(),
            Some(by) => format!("held, {} by {by}", self.state),
        }
    }
}

impl<'a> RunLine<'a> {
    /// The line for `run`.
    pub fn new(run: &'a RunRecord) -> Self {
        RunLine {
            id: run.id.0,
            target: &run.target,
            provider: &run.provider,
            command: &run.command,
            parent_run_id: run.parent_run_id.map(|p| p.0),
            input_path: run.input_path.as_deref(),
            endpoint: run.endpoint.as_deref(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_secs: run
                .finished_at
                .map(|end| (end - run.started_at).num_milliseconds().max(0) as f64 / 1000.0),
            status: run.status,
            exit_code: run.exit_code,
            counts: &run.counts,
            pruned_at: run.pruned_at,
            held: None,
        }
    }
}

/// Runs `runs`.
pub fn run(global: &GlobalArgs, args: &RunsArgs) -> anyhow::Result<Exit> {
    let config = config::load(&global.config)?;
    let path = ledger_path(&args.ledger, &config);
    let mut out = BufWriter::new(std::io::stdout().lock());
    if !path.exists() {
        if !args.json {
            writeln!(
                out,
                "no runs yet: the ledger {} does not exist",
                path.display()
            )?;
        }
        out.flush()?;
        return Ok(Exit::Ok);
    }
    let ledger = Ledger::open(&path)?;
    let mut runs = ledger.list_runs(args.target.as_deref())?;
    runs.reverse();
    if args.limit > 0 {
        runs.truncate(args.limit);
    }
    let held: Vec<Option<HeldLine>> = runs
        .iter()
        .map(|run| Ok(ledger.held_run(run.id)?.as_ref().map(HeldLine::new)))
        .collect::<Result<_, crate::ledger::LedgerError>>()?;
    if args.json {
        for (run, held) in runs.iter().zip(held) {
            let line = RunLine {
                held,
                ..RunLine::new(run)
            };
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        }
    } else if runs.is_empty() {
        let whose = args
            .target
            .as_deref()
            .map(|t| format!(" of target {t}"))
            .unwrap_or_default();
        writeln!(out, "no runs{whose} in {}", path.display())?;
    } else {
        write_table(&mut out, &runs, &held)?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}

const HEADER: [&str; 12] = [
    "RUN",
    "TARGET",
    "COMMAND",
    "STARTED (UTC)",
    "DURATION",
    "STATUS",
    "ROWS",
    "SYNCED",
    "UNCHANGED",
    "REJECTED",
    "FAILED",
    "NOT SENT",
];

/// The runs as a table with aligned columns (numbers right-aligned).
fn write_table(
    out: &mut impl Write,
    runs: &[RunRecord],
    held: &[Option<HeldLine>],
) -> std::io::Result<()> {
    let rows: Vec<[String; 12]> = runs
        .iter()
        .zip(held)
        .map(|(run, held)| cells(run, held.as_ref()))
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 12]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(width - cell.chars().count());
            // Text columns left-aligned, counts right-aligned.
            if (1..=5).contains(&i) {
                text.push_str(cell);
                text.push_str(&pad);
            } else {
                text.push_str(&pad);
                text.push_str(cell);
            }
        }
        text.trim_end().to_string()
    };
    writeln!(out, "{}", line(&HEADER.map(String::from)))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

fn cells(run: &RunRecord, held: Option<&HeldLine>) -> [String; 12] {
    let c = &run.counts;
    let command = match run.parent_run_id {
        Some(parent) => format!("{} {parent}", run.command),
        None => run.command.clone(),
    };
    let duration = match run.finished_at {
        Some(end) => human_duration((end - run.started_at).num_milliseconds().max(0) as f64 / 1e3),
        None => "-".into(),
    };
    [
        run.id.to_string(),
        run.target.clone(),
        command,
        run.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        duration,
        match (held, run.pruned_at) {
            (Some(held), _) => held.status(),
            // Its counts are still right; its rows can no longer be reported or retried.
            (None, Some(_)) => format!("{} (pruned)", run.status),
            (None, None) => run.status.to_string(),
        },
        c.rows.to_string(),
        c.synced.to_string(),
        c.unchanged.to_string(),
        c.rejected.to_string(),
        c.failed.to_string(),
        c.not_attempted.to_string(),
    ]
}

/// `0.4s`, `12.3s`, `4m05s`, `1h02m`.
fn human_duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        let s = secs as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = secs as u64 / 60;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_duration(0.42), "0.4s");
        assert_eq!(human_duration(59.96), "60.0s");
        assert_eq!(human_duration(245.0), "4m05s");
        assert_eq!(human_duration(3720.0), "1h02m");
    }
}
