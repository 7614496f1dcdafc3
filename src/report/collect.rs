//! Builds a [`Report`] from the ledger: the run, its counts, latencies, timeline, comparison
//! with the previous run and problems by cause; and streams its problem rows. Masking happens
//! here, once, so no exporter can forget it.

use chrono::{DateTime, Utc};

use super::mask::mask_if;
use super::model::*;
use crate::ledger::{Ledger, LedgerError, OutcomeKind, RunId, RunRecord, RunStatus};

/// How many cause groups of each kind a report lists.
pub const CAUSES_LISTED: usize = 100;
/// How many rows with notes a report lists (every format; the ledger has the rest).
pub const FOLLOW_UPS_LISTED: usize = 1000;
/// How many slices the timeline has at most.
const TIMELINE_BUCKETS: u64 = 60;

/// What to put in a report.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportOptions {
    /// Mask e-mails, ID numbers and phone numbers (`--mask-pii`).
    pub mask_pii: bool,
}

/// Reads everything but the problem rows of `run` from `ledger`.
pub fn build(ledger: &Ledger, run: RunId, opts: &ReportOptions) -> Result<Report, LedgerError> {
    let record = ledger.run(run)?.ok_or_else(|| LedgerError::UnknownRun {
        path: ledger.path().to_path_buf(),
        run,
    })?;
    let mask = |text: Option<String>| text.map(|t| mask_if(opts.mask_pii, t));
    let activity = ledger.run_activity(run)?;
    let counts = Counts::new(&ledger.counts(run)?, activity.sent_rows);
    let end = record
        .finished_at
        .or(activity.last_recorded)
        .unwrap_or(record.started_at)
        .max(record.started_at);
    let duration_secs = (end - record.started_at).num_milliseconds().max(0) as f64 / 1000.0;
    let mut notes = Vec::new();
    if record.status == RunStatus::Running {
        notes.push(
            "the run is still going on (or its process died and no run of the target has \
             started since): its numbers are the rows recorded so far"
                .to_owned(),
        );
    } else if counts_differ(&record, &counts) {
        notes.push(
            "the counts stored when the run ended differ from its rows; this report counts \
             the rows"
                .to_owned(),
        );
    }
    if let Some(held) = ledger.held_run(run)? {
        let decision = match (&held.decision, held.approved_run) {
            (None, _) => "it waits for `usersync approve` or `usersync reject`".to_owned(),
            (Some((decision, by, at)), sent) => format!(
                "{} by {by} at {}{}",
                decision.as_str(),
                at.format("%Y-%m-%d %H:%M UTC"),
                sent.map(|r| format!(" (sent by run {r})"))
                    .unwrap_or_default()
            ),
        };
        notes.push(format!(
            "the run was held for a person: a broken-export guard tripped and nothing was sent; \
             {decision}"
        ));
    }
    let previous = ledger.previous_run(&record.target, run)?;
    let (rejections, rejection_groups) = ledger.field_error_groups(run, CAUSES_LISTED)?;
    let (errors, error_groups) = ledger.error_groups(run, CAUSES_LISTED)?;
    let problems = Problems {
        rows: counts.problems(),
        rejection_causes_not_listed: rejection_groups.saturating_sub(rejections.len() as u64),
        rejections: rejections
            .into_iter()
            .map(|g| RejectionCause {
                field: g.field,
                code: g.code,
                rows: g.rows,
                example: mask_if(opts.mask_pii, g.example),
            })
            .collect(),
        error_causes_not_listed: error_groups.saturating_sub(errors.len() as u64),
        errors: errors
            .into_iter()
            .map(|g| ErrorCause {
                outcome: g.outcome.as_str().to_owned(),
                http_status: g.http_status,
                code: g.code,
                message: mask(g.detail),
                rows: g.rows,
            })
            .collect(),
    };
    Ok(Report {
        generated_at: Utc::now(),
        generator: format!("usersync {}", env!("CARGO_PKG_VERSION")),
        pii_masked: opts.mask_pii,
        operations: operations(ledger, run)?,
        throughput: Throughput {
            rows_per_sec: per_sec(counts.rows, duration_secs),
            requests_per_sec: per_sec(counts.requests, duration_secs),
        },
        latency: latency(&ledger.latencies(run)?),
        timeline: timeline(ledger, run, record.started_at, end)?,
        changes: Changes {
            created: counts.created,
            updated: counts.updated,
            deactivated: counts.deactivated,
            previous_run: previous.map(|p| PreviousRun {
                id: p.id.0,
                command: p.command,
                started_at: p.started_at,
                status: p.status.as_str().to_owned(),
                exit_code: p.exit_code,
                counts: p.counts,
            }),
        },
        follow_ups: follow_ups(ledger, run, opts)?,
        counts,
        problems,
        notes,
        run: RunInfo {
            id: record.id.0,
            target: record.target,
            provider: record.provider,
            command: record.command,
            parent_run_id: record.parent_run_id.map(|r| r.0),
            input_path: mask(record.input_path),
            input_sha256: record.input_sha256,
            command_line: mask(record.command_line),
            endpoint: record.endpoint,
            started_at: record.started_at,
            finished_at: record.finished_at,
            duration_secs,
            status: record.status.as_str().to_owned(),
            exit_code: record.exit_code,
        },
    })
}

/// Streams `run`'s problem rows, one per error, masked as `opts` says, into `f`.
pub fn each_problem_row(
    ledger: &Ledger,
    run: RunId,
    opts: &ReportOptions,
    f: &mut dyn FnMut(ProblemRow) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mask = |text: Option<String>| text.map(|t| mask_if(opts.mask_pii, t));
    ledger.each_problem(run, |row| -> anyhow::Result<()> {
        let base = ProblemRow {
            line: u64::try_from(row.line).ok(),
            key: mask(row.user_key),
            outcome: row.outcome.as_str().to_owned(),
            operation: row.operation.map(|o| o.as_str().to_owned()),
            http_status: row.http_status,
            field: None,
            code: row.error_code,
            message: mask(row.error_detail),
            attempts: row.attempts,
        };
        if row.errors.is_empty() {
            return f(base);
        }
        for error in row.errors {
            f(ProblemRow {
                field: Some(error.field),
                code: Some(error.code),
                message: Some(mask_if(opts.mask_pii, error.message)),
                ..base.clone()
            })?;
        }
        Ok(())
    })
}

/// The run's notes by code, and those of its first [`FOLLOW_UPS_LISTED`] rows with notes.
fn follow_ups(ledger: &Ledger, run: RunId, opts: &ReportOptions) -> Result<FollowUps, LedgerError> {
    let by_code = ledger.note_counts(run)?;
    let total = by_code.iter().map(|c| c.rows).sum();
    if total == 0 {
        return Ok(FollowUps::default());
    }
    let mut listed = Vec::new();
    ledger.each_noted(run, FOLLOW_UPS_LISTED, |row| -> Result<(), LedgerError> {
        for note in row.notes {
            listed.push(FollowUp {
                line: u64::try_from(row.line).ok(),
                key: row.user_key.clone().map(|k| mask_if(opts.mask_pii, k)),
                outcome: row.outcome.as_str().to_owned(),
                operation: row.operation.map(|o| o.as_str().to_owned()),
                code: note.code.to_string(),
                message: mask_if(opts.mask_pii, note.message),
            });
        }
        Ok(())
    })?;
    Ok(FollowUps {
        total,
        by_code,
        not_listed: total.saturating_sub(listed.len() as u64),
        listed,
    })
}

fn counts_differ(record: &RunRecord, counts: &Counts) -> bool {
    let s = &record.counts;
    (
        s.rows,
        s.synced,
        s.unchanged,
        s.rejected,
        s.failed,
        s.not_attempted,
    ) != (
        counts.rows,
        counts.synced,
        counts.unchanged,
        counts.rejected,
        counts.failed,
        counts.not_attempted,
    )
}

fn per_sec(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        round3(n as f64 / secs)
    } else {
        0.0
    }
}

/// Rates and means to the millisecond's precision: no report needs more.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The operation table: one line per operation the run has rows for, in a fixed order.
fn operations(ledger: &Ledger, run: RunId) -> Result<Vec<OperationCounts>, LedgerError> {
    let names = ["create", "update", "patch", "deactivate", "none"];
    let mut table: Vec<OperationCounts> = names
        .iter()
        .map(|n| OperationCounts {
            operation: (*n).to_owned(),
            ..OperationCounts::default()
        })
        .collect();
    for count in ledger.outcomes_by_operation(run)? {
        let name = count.operation.map_or("none", |o| o.as_str());
        let Some(line) = table.iter_mut().find(|l| l.operation == name) else {
            continue;
        };
        line.total += count.rows;
        let cell = match count.outcome {
            OutcomeKind::Synced => &mut line.synced,
            OutcomeKind::Unchanged => &mut line.unchanged,
            OutcomeKind::Rejected => &mut line.rejected,
            OutcomeKind::Failed => &mut line.failed,
            OutcomeKind::NotAttempted => &mut line.not_attempted,
            OutcomeKind::InFlight => &mut line.in_flight,
        };
        *cell += count.rows;
    }
    table.retain(|l| l.total > 0);
    Ok(table)
}

/// Percentiles (nearest rank) and a 1-2-5 histogram of latencies sorted ascending.
pub fn latency(sorted: &[u64]) -> Latency {
    let n = sorted.len();
    if n == 0 {
        return Latency::default();
    }
    let rank = |p: f64| sorted[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    let mut bounds = vec![0u64];
    let mut decade = 1u64;
    let max = sorted[n - 1];
    // Values beyond the last bound (absurd ones, past 10^15 ms) are counted in the last bin.
    while *bounds.last().unwrap_or(&0) <= max && decade <= 1_000_000_000_000_000 {
        for step in [1, 2, 5] {
            bounds.push(step * decade);
        }
        decade *= 10;
    }
    let mut histogram: Vec<LatencyBin> = bounds
        .windows(2)
        .map(|w| LatencyBin {
            from_ms: w[0],
            to_ms: w[1],
            rows: 0,
        })
        .collect();
    let mut bin = 0;
    for &ms in sorted {
        while bin + 1 < histogram.len() && ms >= histogram[bin].to_ms {
            bin += 1;
        }
        histogram[bin].rows += 1;
    }
    let first = histogram.iter().position(|b| b.rows > 0).unwrap_or(0);
    let last = histogram.iter().rposition(|b| b.rows > 0).unwrap_or(0);
    Latency {
        samples: n as u64,
        p50_ms: Some(rank(0.50)),
        p95_ms: Some(rank(0.95)),
        p99_ms: Some(rank(0.99)),
        max_ms: Some(max),
        mean_ms: Some(round3(
            sorted.iter().map(|&v| v as f64).sum::<f64>() / n as f64,
        )),
        histogram: histogram[first..=last].to_vec(),
    }
}

/// The rows that went to the provider, in at most [`TIMELINE_BUCKETS`] slices of a round width.
fn timeline(
    ledger: &Ledger,
    run: RunId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Timeline, LedgerError> {
    let span_ms = (end - start).num_milliseconds().max(1) as u64;
    let width_ms = round_width(span_ms.div_ceil(TIMELINE_BUCKETS));
    let slices = ledger.rows_over_time(run, start, width_ms)?;
    let Some(last) = slices.iter().map(|s| s.index).max() else {
        return Ok(Timeline {
            bucket_secs: width_ms as f64 / 1000.0,
            buckets: Vec::new(),
        });
    };
    let bucket_secs = width_ms as f64 / 1000.0;
    let mut buckets: Vec<TimeBucket> = (0..=last)
        .map(|i| TimeBucket {
            start_secs: i as f64 * bucket_secs,
            ..TimeBucket::default()
        })
        .collect();
    for slice in slices {
        let Some(bucket) = buckets.get_mut(slice.index as usize) else {
            continue;
        };
        match slice.outcome {
            OutcomeKind::Synced | OutcomeKind::Unchanged => bucket.synced += slice.rows,
            OutcomeKind::Rejected => bucket.rejected += slice.rows,
            _ => bucket.failed += slice.rows,
        }
    }
    for bucket in &mut buckets {
        bucket.rows_per_sec =
            round3((bucket.synced + bucket.rejected + bucket.failed) as f64 / bucket_secs);
    }
    Ok(Timeline {
        bucket_secs,
        buckets,
    })
}

/// The smallest 1-2-5 width (in ms, at least 100) not below `ms`.
fn round_width(ms: u64) -> u64 {
    let mut decade = 100u64;
    loop {
        for step in [1u64, 2, 5] {
            let width = step.saturating_mul(decade);
            if width >= ms {
                return width;
            }
        }
        decade = decade.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        let l = latency(&values);
        assert_eq!(
            (l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms),
            (Some(50), Some(95), Some(99), Some(100))
        );
        assert_eq!(l.samples, 100);
        assert_eq!(l.histogram.iter().map(|b| b.rows).sum::<u64>(), 100);
        let one = latency(&[7]);
        assert_eq!((one.p50_ms, one.p99_ms), (Some(7), Some(7)));
        assert_eq!(latency(&[]), Latency::default());
    }

    #[test]
    fn histogram_bins_grow_one_two_five() {
        let l = latency(&[0, 3, 3, 40, 1200]);
        let bins: Vec<(u64, u64, u64)> = l
            .histogram
            .iter()
            .map(|b| (b.from_ms, b.to_ms, b.rows))
            .collect();
        assert_eq!(bins.first(), Some(&(0, 1, 1)));
        assert!(bins.contains(&(2, 5, 2)));
        assert!(bins.contains(&(20, 50, 1)));
        assert_eq!(bins.last(), Some(&(1000, 2000, 1)));
    }

    #[test]
    fn timeline_widths_are_round() {
        assert_eq!(round_width(1), 100);
        assert_eq!(round_width(150), 200);
        assert_eq!(round_width(4_000), 5_000);
        assert_eq!(round_width(60_001), 100_000);
    }
}
