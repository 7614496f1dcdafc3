//! The `html` report: one self-contained page that shows a run at a glance, for a manager or
//! anyone without a terminal. No external script, font, style or image: it works offline and
//! as a mail attachment.
//!
//! The page: a verdict badge and key figures, four inline SVG charts (`charts.rs`: outcomes,
//! latency distribution, throughput over time, problems by cause), the change since the previous
//! run, the run's details, and sortable tables of the problems. Every value is escaped with
//! [`html`]; the Content-Security-Policy (`page.rs`) lets only the page's own style sheet and
//! script run, so even a value that escaped escaping could execute nothing. At most
//! [`ROWS_LISTED`] problem rows are listed; the CSV and JSON reports have all of them.

use std::io::Write;

use super::charts;
use super::human::{self, number};
use super::model::Report;
use super::page::{content_security_policy, SCRIPT, STYLE};
use super::text::html;
use super::{Exporter, ProblemRows};

/// How many problem rows (one per error) the HTML report lists.
pub const ROWS_LISTED: u64 = 2000;

pub(super) struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn export(
        &self,
        report: &Report,
        rows: &mut dyn ProblemRows,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        head(report, out)?;
        summary(report, out)?;
        writeln!(
            out,
            "<h2>At a glance</h2><section class=\"charts\">\
             <figure class=\"wide\"><figcaption>Outcomes</figcaption>{}</figure>\
             <figure><figcaption>Latency</figcaption>{}</figure>\
             <figure><figcaption>Throughput</figcaption>{}</figure>\
             <figure class=\"wide\"><figcaption>Problems by cause</figcaption>{}</figure>\
             </section>",
            charts::outcomes(report),
            charts::latency(&report.latency),
            charts::throughput(&report.timeline),
            charts::causes(&report.problems)
        )?;
        changes(report, out)?;
        run_details(report, out)?;
        operations(report, out)?;
        causes(report, out)?;
        follow_ups(report, out)?;
        problem_rows(report, rows, out)?;
        writeln!(
            out,
            "<footer>Generated {} by {}{}.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>",
            html(&human::time(report.generated_at)),
            html(&report.generator),
            if report.pii_masked {
                "; e-mails, ID numbers and phone numbers are masked"
            } else {
                ""
            }
        )?;
        Ok(())
    }
}

fn head(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>usersync report: run {} of {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        html(&content_security_policy()),
        r.run.id,
        html(&r.run.target)
    )?;
    Ok(())
}

fn summary(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let run = &r.run;
    let c = &r.counts;
    let exit = run
        .exit_code
        .map(|e| format!(" · exit code {e}"))
        .unwrap_or_default();
    writeln!(
        out,
        "<header><h1>Run {} of {} <small>({})</small></h1>\
         <p class=\"badge sev-{}\">{}{exit}</p>\
         <p class=\"meta\">started {} · took {} · {} command</p></header>",
        run.id,
        html(&run.target),
        html(&run.provider),
        human::severity(r),
        html(&human::verdict(r)),
        html(&human::time(run.started_at)),
        html(&human::duration(run.duration_secs)),
        html(&run.command)
    )?;
    if !r.notes.is_empty() || r.follow_ups.total > 0 {
        out.write_all(b"<div class=\"notes\">")?;
        if r.follow_ups.total > 0 {
            write!(
                out,
                "<p>Needs a person: {} (<a href=\"#follow-ups\">the rows</a>).</p>",
                html(&human::follow_ups_line(&r.follow_ups))
            )?;
        }
        for note in &r.notes {
            write!(out, "<p>{}</p>", html(note))?;
        }
        out.write_all(b"</div>\n")?;
    }
    let cards = [
        ("rows", "rows", number(c.rows)),
        ("synced", "synced", number(c.synced)),
        ("unchanged", "unchanged", number(c.unchanged)),
        ("rejected", "rejected", number(c.rejected)),
        ("failed", "failed", number(c.failed)),
        ("not_attempted", "not attempted", number(c.not_attempted)),
        (
            "rate",
            "rows per second",
            format!("{:.1}", r.throughput.rows_per_sec),
        ),
        ("p95", "latency p95", human::ms(r.latency.p95_ms)),
    ];
    out.write_all(b"<section class=\"cards\">")?;
    for (class, label, value) in cards {
        write!(
            out,
            "<div class=\"card {class}\"><span class=\"n\">{}</span>\
             <span class=\"l\">{label}</span></div>",
            html(&value)
        )?;
    }
    out.write_all(b"</section>\n")?;
    Ok(())
}

fn changes(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let c = &r.counts;
    let ch = &r.changes;
    out.write_all(b"<h2>Changes since the previous run</h2>")?;
    let Some(p) = &ch.previous_run else {
        writeln!(
            out,
            "<p>This is the first run of this target in the ledger: it created {}, updated {} \
             and deactivated {} users.</p>",
            number(ch.created),
            number(ch.updated),
            number(ch.deactivated)
        )?;
        return Ok(());
    };
    write!(
        out,
        "<p>Compared with run {} ({}, started {}).</p>\
         <table><thead><tr><th></th><th class=\"num\">this run</th><th class=\"num\">run {}</th>\
         <th class=\"num\">change</th></tr></thead><tbody>",
        p.id,
        html(&p.status),
        html(&human::time(p.started_at)),
        p.id
    )?;
    let lines = [
        ("created", ch.created, p.counts.created),
        ("updated", ch.updated, p.counts.updated),
        ("deactivated", ch.deactivated, p.counts.deactivated),
        ("rows", c.rows, p.counts.rows),
        ("unchanged", c.unchanged, p.counts.unchanged),
        ("rejected", c.rejected, p.counts.rejected),
        ("failed", c.failed, p.counts.failed),
        ("not attempted", c.not_attempted, p.counts.not_attempted),
        ("requests", c.requests, p.counts.requests),
    ];
    for (name, now, before) in lines {
        write!(
            out,
            "<tr><th>{name}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            number(now),
            number(before),
            html(&human::delta(now, before))
        )?;
    }
    out.write_all(b"</tbody></table>\n")?;
    Ok(())
}

fn run_details(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let run = &r.run;
    let l = &r.latency;
    let code = |v: &Option<String>| {
        v.as_deref()
            .map(|t| format!("<code>{}</code>", html(t)))
            .unwrap_or_else(|| "–".into())
    };
    let mut lines = vec![
        (
            "target",
            format!("{} ({})", html(&run.target), html(&run.provider)),
        ),
        ("input", code(&run.input_path)),
        ("input SHA-256", code(&run.input_sha256)),
        ("sent to", code(&run.endpoint)),
        ("started", html(&human::time(run.started_at))),
        (
            "finished",
            run.finished_at
                .map_or_else(|| "–".into(), |t| html(&human::time(t))),
        ),
        ("duration", html(&human::duration(run.duration_secs))),
        (
            "status",
            format!(
                "{}{}",
                html(&run.status),
                run.exit_code
                    .map(|e| format!(" (exit code {e})"))
                    .unwrap_or_default()
            ),
        ),
        ("command line", code(&run.command_line)),
        (
            "requests",
            format!(
                "{} for {} rows ({} retries) · {} requests/s",
                number(r.counts.requests),
                number(r.counts.sent_rows),
                number(r.counts.retries),
                html(&human::rate(r.throughput.requests_per_sec))
            ),
        ),
        (
            "latency",
            format!(
                "p50 {} · p95 {} · p99 {} · max {} ({} rows)",
                html(&human::ms(l.p50_ms)),
                html(&human::ms(l.p95_ms)),
                html(&human::ms(l.p99_ms)),
                html(&human::ms(l.max_ms)),
                number(l.samples)
            ),
        ),
    ];
    if let Some(parent) = run.parent_run_id {
        lines.insert(1, ("retry of run", parent.to_string()));
    }
    out.write_all(b"<h2>Run</h2><table class=\"kv\"><tbody>")?;
    for (name, value) in lines {
        write!(out, "<tr><th>{name}</th><td>{value}</td></tr>")?;
    }
    out.write_all(b"</tbody></table>\n")?;
    Ok(())
}

fn operations(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    if r.operations.is_empty() {
        return Ok(());
    }
    out.write_all(
        b"<h2>By operation</h2><table><thead><tr><th>operation</th><th class=\"num\">rows</th>\
          <th class=\"num\">synced</th><th class=\"num\">unchanged</th>\
          <th class=\"num\">rejected</th><th class=\"num\">failed</th>\
          <th class=\"num\">not attempted</th></tr></thead><tbody>",
    )?;
    for o in &r.operations {
        let name = if o.operation == "none" {
            "none (refused by validation)"
        } else {
            o.operation.as_str()
        };
        write!(
            out,
            "<tr><td>{name}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            number(o.total),
            number(o.synced),
            number(o.unchanged),
            number(o.rejected),
            number(o.failed),
            number(o.not_attempted + o.in_flight)
        )?;
    }
    out.write_all(b"</tbody></table>\n")?;
    Ok(())
}

fn causes(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let p = &r.problems;
    if !p.rejections.is_empty() {
        out.write_all(
            b"<h2>Rejections by field and code</h2><table class=\"sortable\" id=\"rejections\">\
              <thead><tr><th>field</th><th>code</th><th class=\"num\">rows</th>\
              <th>example</th></tr></thead><tbody>",
        )?;
        for c in &p.rejections {
            write!(
                out,
                "<tr><td class=\"c\"><code>{}</code></td><td class=\"c\"><code>{}</code></td>\
                 <td class=\"num\" data-v=\"{}\">{}</td><td>{}</td></tr>",
                html(&c.field),
                html(&c.code),
                c.rows,
                number(c.rows),
                html(&c.example)
            )?;
        }
        out.write_all(b"</tbody></table>")?;
        not_listed(p.rejection_causes_not_listed, out)?;
    }
    if !p.errors.is_empty() {
        out.write_all(
            b"<h2>Provider and transport errors</h2><table class=\"sortable\" id=\"errors\">\
              <thead><tr><th>outcome</th><th class=\"num\">HTTP</th><th>code</th>\
              <th>message</th><th class=\"num\">rows</th></tr></thead><tbody>",
        )?;
        for c in &p.errors {
            write!(
                out,
                "<tr><td class=\"nw\">{}</td><td class=\"num\">{}</td><td class=\"c\"><code>{}</code></td><td>{}</td>\
                 <td class=\"num\" data-v=\"{}\">{}</td></tr>",
                pill(&c.outcome),
                human::status(c.http_status),
                c.code.as_deref().map(html).unwrap_or_default(),
                c.message.as_deref().map(html).unwrap_or_default(),
                c.rows,
                number(c.rows)
            )?;
        }
        out.write_all(b"</tbody></table>")?;
        not_listed(p.error_causes_not_listed, out)?;
    }
    Ok(())
}

fn not_listed(n: u64, out: &mut dyn Write) -> anyhow::Result<()> {
    if n > 0 {
        writeln!(
            out,
            "<p class=\"muted\">{} more causes are not listed.</p>",
            number(n)
        )?;
    }
    out.write_all(b"\n")?;
    Ok(())
}

fn pill(outcome: &str) -> String {
    let class = match outcome {
        "synced" | "unchanged" | "rejected" | "failed" | "not_attempted" | "in_flight" => outcome,
        _ => "failed",
    };
    format!(
        "<span class=\"pill o-{class}\">{}</span>",
        html(&outcome.replace('_', " "))
    )
}

/// The rows that went through but need a person.
fn follow_ups(r: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let f = &r.follow_ups;
    if f.total == 0 {
        return Ok(());
    }
    out.write_all(
        b"<h2 id=\"follow-ups\">Needs a person</h2>\
          <p>These rows went through, but somebody has to act.</p>\
          <table class=\"sortable\" id=\"follow-up-rows\"><thead><tr><th class=\"num\">line</th>\
          <th>key</th><th>outcome</th><th>code</th><th>what to do</th></tr></thead><tbody>",
    )?;
    let text = |v: &Option<String>| v.as_deref().map(html).unwrap_or_default();
    for n in &f.listed {
        writeln!(
            out,
            "<tr><td class=\"num\" data-v=\"{}\">{}</td><td class=\"k\">{}</td>\
             <td class=\"nw\">{}</td><td class=\"c\"><code>{}</code></td>\
             <td class=\"msg\">{}</td></tr>",
            n.line.map_or(-1, |l| l as i64),
            n.line
                .map_or_else(|| "leaver".to_owned(), |l| l.to_string()),
            text(&n.key),
            pill(&n.outcome),
            html(&n.code),
            html(&n.message)
        )?;
    }
    out.write_all(b"</tbody></table>\n")?;
    if f.not_listed > 0 {
        writeln!(
            out,
            "<p class=\"muted\">{} more are not listed here: the ledger has them \
             (<code>row_outcomes.notes_json</code>).</p>",
            number(f.not_listed)
        )?;
    }
    Ok(())
}

fn problem_rows(r: &Report, rows: &mut dyn ProblemRows, out: &mut dyn Write) -> anyhow::Result<()> {
    out.write_all(b"<h2>Rows</h2>")?;
    if r.problems.rows == 0 {
        out.write_all(b"<p>No problems: every row was synced or unchanged.</p>\n")?;
        return Ok(());
    }
    out.write_all(
        b"<table class=\"sortable\" id=\"rows\"><thead><tr><th class=\"num\">line</th>\
          <th>key</th><th>outcome</th><th>field</th><th>code</th><th class=\"num\">HTTP</th>\
          <th>message</th></tr></thead><tbody>",
    )?;
    let mut listed = 0u64;
    let mut left = 0u64;
    let text = |v: &Option<String>| v.as_deref().map(html).unwrap_or_default();
    rows.each(&mut |row| {
        if listed == ROWS_LISTED {
            left += 1;
            return Ok(());
        }
        listed += 1;
        writeln!(
            out,
            "<tr><td class=\"num\" data-v=\"{}\">{}</td><td class=\"k\">{}</td><td class=\"nw\">{}</td>\
             <td class=\"c\"><code>{}</code></td><td class=\"c\"><code>{}</code></td>\
             <td class=\"num\">{}</td><td class=\"msg\">{}</td></tr>",
            row.line.map_or(-1, |l| l as i64),
            row.line
                .map_or_else(|| "leaver".to_owned(), |l| l.to_string()),
            text(&row.key),
            pill(&row.outcome),
            text(&row.field),
            text(&row.code),
            human::status(row.http_status),
            text(&row.message)
        )?;
        Ok(())
    })?;
    out.write_all(b"</tbody></table>\n")?;
    if left > 0 {
        writeln!(
            out,
            "<p class=\"muted\">{} more errors are not listed here: the CSV and JSON reports \
             (<code>usersync report {} --format csv</code>) have every row.</p>",
            number(left),
            r.run.id
        )?;
    }
    Ok(())
}
