//! How the human formats (Markdown and HTML) say things: times, durations, rates, the run's
//! verdict in a few words, and the change from the previous run. Plain text; each format
//! escapes it.

use chrono::{DateTime, Utc};

use super::model::{Counts, FollowUps, Report};

/// `2024-05-01 02:00:03 UTC`.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `850 ms`, `14.2 s`, `3 min 20 s`, `2 h 05 min`.
pub fn duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// `21.1`, `1,877`: a rate per second, with the precision it deserves.
pub fn rate(per_sec: f64) -> String {
    if per_sec < 100.0 {
        format!("{per_sec:.1}")
    } else {
        number(per_sec.round() as u64)
    }
}

/// `1,234,567`.
pub fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `12 ms`, or `–` when there is no value.
pub fn ms(value: Option<u64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{} ms", number(v)))
}

/// The run's verdict: `completed`, `completed with problems`, `aborted`, ...
pub fn verdict(report: &Report) -> String {
    let status = report.run.status.as_str();
    match status {
        "completed" if report.counts.problems() > 0 => "completed with problems".to_owned(),
        "completed" if report.follow_ups.total > 0 => "completed: rows need a person".to_owned(),
        "running" => "still running".to_owned(),
        other => other.to_owned(),
    }
}

/// How serious the verdict is, for the HTML badge: `ok`, `warn` or `bad`.
pub fn severity(report: &Report) -> &'static str {
    match report.run.status.as_str() {
        "completed" if report.counts.failed + report.counts.not_attempted > 0 => "bad",
        "completed" if report.counts.problems() > 0 || report.follow_ups.total > 0 => "warn",
        "completed" => "ok",
        "running" | "interrupted" => "warn",
        _ => "bad",
    }
}

/// The notes of a run by code: `reactivate by hand 2 · not cleared 1`.
pub fn follow_ups_line(f: &FollowUps) -> String {
    f.by_code
        .iter()
        .map(|c| format!("{} {}", c.code.replace('_', " "), number(c.rows)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `(+2)`, `(−3)`, `(=)`: the change from `before` to `now`.
pub fn delta(now: u64, before: u64) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Greater => format!("(+{})", number(now - before)),
        std::cmp::Ordering::Less => format!("(−{})", number(before - now)),
        std::cmp::Ordering::Equal => "(=)".to_owned(),
    }
}

/// The headline counts: `synced 285 · unchanged 0 · rejected 13 · failed 2 · not attempted 0`.
pub fn outcomes_line(c: &Counts) -> String {
    let mut line = format!(
        "synced {} · unchanged {} · rejected {} · failed {} · not attempted {}",
        number(c.synced),
        number(c.unchanged),
        number(c.rejected),
        number(c.failed),
        number(c.not_attempted)
    );
    if c.in_flight > 0 {
        line.push_str(&format!(" · in flight {}", number(c.in_flight)));
    }
    line
}

/// Each outcome's name as people read it, and its count.
pub fn outcome_parts(c: &Counts) -> [(&'static str, &'static str, u64); 6] {
    [
        ("synced", "synced", c.synced),
        ("unchanged", "unchanged", c.unchanged),
        ("rejected", "rejected", c.rejected),
        ("failed", "failed", c.failed),
        ("not_attempted", "not attempted", c.not_attempted),
        ("in_flight", "in flight", c.in_flight),
    ]
}

/// An HTTP status for a table cell: `503`, or `–` when no answer came.
pub fn status(s: Option<u16>) -> String {
    s.map_or_else(|| "–".to_owned(), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(number(0), "0");
        assert_eq!(number(1234567), "1,234,567");
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(14.23), "14.2 s");
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(7500.0), "2 h 05 min");
        assert_eq!(delta(5, 3), "(+2)");
        assert_eq!(delta(1, 4), "(−3)");
        assert_eq!(rate(1877.2), "1,877");
        assert_eq!(rate(21.14), "21.1");
    }
}
