//! The `md` report: a few lines that say how the run went, short enough to paste into an
//! e-mail or a chat message, then tables of the run, its operations and its problems.
//!
//! Every value goes through [`markdown`] (backslash escapes for `|`, `<`, `[`, `` ` `` and the
//! rest, control characters made visible, long values cut), so nothing in the data can break a
//! table or become a link, an image or an HTML tag. At most [`ROWS_LISTED`] problem rows are
//! listed; the CSV and JSON reports have all of them.

use std::io::Write;

use super::human::{self, number};
use super::model::Report;
use super::text::markdown;
use super::{Exporter, ProblemRows};

/// How many problem rows (one per error) the Markdown report lists.
pub const ROWS_LISTED: u64 = 200;

pub(super) struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn export(
        &self,
        report: &Report,
        rows: &mut dyn ProblemRows,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        summary(report, out)?;
        run_table(report, out)?;
        operations(report, out)?;
        causes(report, out)?;
        follow_ups(report, out)?;
        problem_rows(report, rows, out)
    }
}

fn summary(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let run = &r.run;
    let c = &r.counts;
    writeln!(
        out,
        "# usersync report: run {} of {} ({})\n",
        run.id,
        markdown(&run.target),
        markdown(&run.provider)
    )?;
    let exit = run
        .exit_code
        .map(|e| format!(" · exit code {e}"))
        .unwrap_or_default();
    writeln!(
        out,
        "**{}**{exit} · started {} · took {}\n",
        human::verdict(r),
        human::time(run.started_at),
        human::duration(run.duration_secs)
    )?;
    writeln!(
        out,
        "- **{} rows**: {}",
        number(c.rows),
        human::outcomes_line(c)
    )?;
    writeln!(
        out,
        "- **changes at the provider**: created {} · updated {} · deactivated {}",
        number(r.changes.created),
        number(r.changes.updated),
        number(r.changes.deactivated)
    )?;
    if let Some(p) = &r.changes.previous_run {
        writeln!(
            out,
            "- **compared with run {}** ({}, {}): synced {} {} · rejected {} {} · failed {} {}",
            p.id,
            human::time(p.started_at),
            markdown(&p.status),
            number(c.synced),
            human::delta(c.synced, p.counts.synced),
            number(c.rejected),
            human::delta(c.rejected, p.counts.rejected),
            number(c.failed),
            human::delta(c.failed, p.counts.failed),
        )?;
    } else {
        writeln!(out, "- **first run** of this target in the ledger")?;
    }
    let l = &r.latency;
    writeln!(
        out,
        "- **speed**: {} rows/s · {} requests ({} retries) · latency p50 {} · p95 {} · p99 {} · max {}",
        human::rate(r.throughput.rows_per_sec),
        number(c.requests),
        number(c.retries),
        human::ms(l.p50_ms),
        human::ms(l.p95_ms),
        human::ms(l.p99_ms),
        human::ms(l.max_ms)
    )?;
    if r.follow_ups.total > 0 {
        writeln!(
            out,
            "- **needs a person**: {} (see below)",
            markdown(&human::follow_ups_line(&r.follow_ups))
        )?;
    }
    for note in &r.notes {
        writeln!(out, "- **note**: {}", markdown(note))?;
    }
    if r.pii_masked {
        writeln!(
            out,
            "- e-mails, ID numbers and phone numbers are masked in this report"
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn run_table(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let run = &r.run;
    let text = |v: &Option<String>| v.as_deref().map(markdown).unwrap_or_else(|| "–".into());
    writeln!(out, "## Run\n\n| | |\n|---|---|")?;
    let mut line = |name: &str, value: String| writeln!(out, "| {name} | {value} |");
    line(
        "target",
        format!("{} ({})", markdown(&run.target), markdown(&run.provider)),
    )?;
    line("command", markdown(&run.command))?;
    if let Some(parent) = run.parent_run_id {
        line("retry of run", parent.to_string())?;
    }
    line("input", text(&run.input_path))?;
    line("input SHA-256", text(&run.input_sha256))?;
    line("sent to", text(&run.endpoint))?;
    line("started", human::time(run.started_at))?;
    line(
        "finished",
        run.finished_at.map_or_else(|| "–".into(), human::time),
    )?;
    line("duration", human::duration(run.duration_secs))?;
    line(
        "status",
        format!(
            "{}{}",
            markdown(&run.status),
            run.exit_code
                .map(|e| format!(" (exit code {e})"))
                .unwrap_or_default()
        ),
    )?;
    line("command line", text(&run.command_line))?;
    line(
        "requests",
        format!(
            "{} for {} rows ({} retries)",
            number(r.counts.requests),
            number(r.counts.sent_rows),
            number(r.counts.retries)
        ),
    )?;
    writeln!(out)?;
    Ok(())
}

fn operations(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    if r.operations.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "## By operation\n\n| operation | rows | synced | unchanged | rejected | failed | not attempted |\n\
         |---|--:|--:|--:|--:|--:|--:|"
    )?;
    for o in &r.operations {
        let name = if o.operation == "none" {
            "none (refused by validation)"
        } else {
            o.operation.as_str()
        };
        writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            number(o.total),
            number(o.synced),
            number(o.unchanged),
            number(o.rejected),
            number(o.failed),
            number(o.not_attempted + o.in_flight)
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn causes(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let p = &r.problems;
    if !p.rejections.is_empty() {
        writeln!(
            out,
            "## Rejections by field and code\n\n| field | code | rows | example |\n|---|---|--:|---|"
        )?;
        for c in &p.rejections {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                markdown(&c.field),
                markdown(&c.code),
                number(c.rows),
                markdown(&c.example)
            )?;
        }
        if p.rejection_causes_not_listed > 0 {
            writeln!(
                out,
                "\n({} more causes are not listed)",
                p.rejection_causes_not_listed
            )?;
        }
        writeln!(out)?;
    }
    if !p.errors.is_empty() {
        writeln!(
            out,
            "## Provider and transport errors\n\n| outcome | HTTP | code | message | rows |\n\
             |---|--:|---|---|--:|"
        )?;
        for c in &p.errors {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                markdown(&c.outcome),
                human::status(c.http_status),
                c.code.as_deref().map(markdown).unwrap_or_default(),
                c.message.as_deref().map(markdown).unwrap_or_default(),
                number(c.rows)
            )?;
        }
        if p.error_causes_not_listed > 0 {
            writeln!(
                out,
                "\n({} more causes are not listed)",
                p.error_causes_not_listed
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The rows that went through but need a person, at most [`ROWS_LISTED`].
fn follow_ups(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let f = &r.follow_ups;
    if f.total == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "## Needs a person\n\nThese rows went through, but somebody has to act.\n\n\
         | line | key | outcome | code | what to do |\n|--:|---|---|---|---|"
    )?;
    let text = |v: &Option<String>| v.as_deref().map(markdown).unwrap_or_default();
    for n in f.listed.iter().take(ROWS_LISTED as usize) {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            n.line.map_or_else(|| "–".into(), |l| l.to_string()),
            text(&n.key),
            markdown(&n.outcome),
            markdown(&n.code),
            markdown(&n.message)
        )?;
    }
    let left = f
        .total
        .saturating_sub(f.listed.len().min(ROWS_LISTED as usize) as u64);
    if f.not_listed > 0 {
        writeln!(
            out,
            "\n{} more are not listed here: the ledger has every one (`row_outcomes.notes_json`).",
            number(left)
        )?;
    } else if left > 0 {
        writeln!(
            out,
            "\n{} more are not listed here: see `usersync report {} --format csv`.",
            number(left),
            r.run.id
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn problem_rows(r: &Report, rows: &mut dyn ProblemRows, out: &mut dyn Write) -> anyhow::Result<()> {
    if r.problems.rows == 0 {
        writeln!(out, "No problems: every row was synced or unchanged.")?;
        return Ok(());
    }
    writeln!(
        out,
        "## Rows\n\n| line | key | outcome | field | code | message |\n|--:|---|---|---|---|---|"
    )?;
    let mut listed = 0u64;
    let mut left = 0u64;
    let text = |v: &Option<String>| v.as_deref().map(markdown).unwrap_or_default();
    rows.each(&mut |row| {
        if listed == ROWS_LISTED {
            left += 1;
            return Ok(());
        }
        listed += 1;
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.line.map_or_else(|| "–".into(), |l| l.to_string()),
            text(&row.key),
            markdown(&row.outcome),
            text(&row.field),
            text(&row.code),
            text(&row.message)
        )?;
        Ok(())
    })?;
    if left > 0 {
        writeln!(
            out,
            "\n{} more errors are not listed here: see `usersync report {} --format csv`.",
            number(left),
            r.run.id
        )?;
    }
    Ok(())
}
