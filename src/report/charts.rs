//! The HTML report's charts, drawn as inline SVG on the server side: no script, no library, no
//! external file, so they show offline and under a Content-Security-Policy that forbids
//! everything else. Each chart is an `<svg class="chart">` with a `<title>`, fixed `width` and
//! `height` attributes (scaled by CSS) and every label HTML-escaped.

use std::fmt::Write as _;

use super::human::{self, number};
use super::model::{Latency, Problems, Report, Timeline};
use super::text::html;

/// The color of each outcome, shared with the page's legend and badges.
pub fn color(outcome: &str) -> &'static str {
    match outcome {
        "synced" => "#2e7d32",
        "unchanged" => "#90a4ae",
        "rejected" => "#ef6c00",
        "failed" => "#c62828",
        "not_attempted" => "#6a1b9a",
        _ => "#1565c0",
    }
}

/// Opens a chart's `<svg>`.
fn open(out: &mut String, id: &str, width: u32, height: u32, title: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-labelledby=\"{id}-title\"><title id=\"{id}-title\">{}</title>",
        html(title)
    );
}

/// A chart with nothing to draw says so, at the same place and width as a real one.
fn empty(id: &str, width: u32, title: &str, message: &str) -> String {
    let mut out = String::new();
    open(&mut out, id, width, 60, title);
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"35\" text-anchor=\"middle\" class=\"muted\">{}</text></svg>",
        width / 2,
        html(message)
    );
    out
}

/// The width of the charts that span the page, and of those that share a row.
const WIDE: u32 = 1000;
const HALF: u32 = 600;

/// Outcomes at a glance: one bar across the page split by outcome, with a legend.
pub fn outcomes(report: &Report) -> String {
    let id = "chart-outcomes";
    let title = "Rows by outcome";
    let c = &report.counts;
    if c.rows == 0 {
        return empty(id, WIDE, title, "the run has no rows");
    }
    let mut out = String::new();
    open(&mut out, id, WIDE, 86, title);
    let (x0, width) = (10.0, f64::from(WIDE) - 20.0);
    let mut x = x0;
    for (key, label, n) in human::outcome_parts(c) {
        if n == 0 {
            continue;
        }
        let w = width * n as f64 / c.rows as f64;
        let _ = write!(
            out,
            "<rect x=\"{x:.2}\" y=\"10\" width=\"{w:.2}\" height=\"40\" fill=\"{}\">\
             <title>{label}: {}</title></rect>",
            color(key),
            number(n)
        );
        x += w;
    }
    let mut lx = 10.0;
    let mut ly = 74.0;
    for (key, label, n) in human::outcome_parts(c) {
        if n == 0 && key == "in_flight" {
            continue;
        }
        let text = format!(
            "{label} {} ({:.1}%)",
            number(n),
            100.0 * n as f64 / c.rows as f64
        );
        let advance = 30.0 + 7.0 * text.chars().count() as f64;
        if lx + advance > f64::from(WIDE) {
            lx = 10.0;
            ly += 22.0;
        }
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            ly - 10.0,
            color(key),
            lx + 16.0,
            ly,
            html(&text)
        );
        lx += advance;
    }
    out.push_str("</svg>");
    out
}

/// The latency distribution: one bar per 1-2-5 bin, with p50, p95 and p99 marked.
pub fn latency(latency: &Latency) -> String {
    let id = "chart-latency";
    let title = "Latency distribution";
    if latency.histogram.is_empty() {
        return empty(id, HALF, title, "no requests were sent");
    }
    let mut out = String::new();
    open(&mut out, id, HALF, 250, title);
    // The percentile labels sit above the bars, one row each.
    let (left, right, top, bottom) = (50.0, 590.0, 50.0, 200.0);
    let bins = &latency.histogram;
    let peak = bins.iter().map(|b| b.rows).max().unwrap_or(1).max(1) as f64;
    let slot = (right - left) / bins.len() as f64;
    axes(&mut out, left, right, top, bottom, &number(peak as u64));
    for (i, bin) in bins.iter().enumerate() {
        let h = (bottom - top) * bin.rows as f64 / peak;
        let x = left + slot * i as f64;
        let _ = write!(
            out,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{h:.2}\" fill=\"#1565c0\">\
             <title>{}–{} ms: {} rows</title></rect>\
             <text x=\"{x:.2}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            x + 1.0,
            bottom - h,
            (slot - 2.0).max(1.0),
            number(bin.from_ms),
            number(bin.to_ms),
            number(bin.rows),
            bottom + 14.0,
            ms_label(bin.from_ms)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{right:.2}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">milliseconds</text>",
        bottom + 14.0,
        ms_label(bins.last().map_or(0, |b| b.to_ms)),
        (left + right) / 2.0,
        bottom + 30.0
    );
    let marks = [
        ("p50", latency.p50_ms),
        ("p95", latency.p95_ms),
        ("p99", latency.p99_ms),
    ];
    for (n, (name, value)) in marks.iter().enumerate() {
        let Some(v) = *value else { continue };
        let Some(i) = bins
            .iter()
            .position(|b| v < b.to_ms)
            .or(Some(bins.len() - 1))
        else {
            continue;
        };
        let bin = bins[i];
        let within = (v.saturating_sub(bin.from_ms)) as f64
            / (bin.to_ms.saturating_sub(bin.from_ms)).max(1) as f64;
        let x = left + slot * (i as f64 + within.min(1.0));
        let label_y = 12.0 + 13.0 * n as f64;
        let (label_x, anchor) = if x > right - 90.0 {
            (x - 3.0, "end")
        } else {
            (x + 3.0, "start")
        };
        let _ = write!(
            out,
            "<line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{:.1}\" y2=\"{bottom}\" class=\"mark\"/>\
             <text x=\"{label_x:.2}\" y=\"{label_y:.1}\" class=\"tick\" \
             text-anchor=\"{anchor}\">{name} {}</text>",
            label_y - 9.0,
            human::ms(Some(v))
        );
    }
    out.push_str("</svg>");
    out
}

/// Rows finished per second over the run's time, split by outcome.
pub fn throughput(timeline: &Timeline) -> String {
    let id = "chart-throughput";
    let title = "Throughput over the run (rows sent to the provider per second)";
    if timeline.buckets.is_empty() {
        return empty(id, HALF, title, "no requests were sent");
    }
    let mut out = String::new();
    open(&mut out, id, HALF, 250, title);
    let (left, right, top, bottom) = (50.0, 590.0, 20.0, 200.0);
    let secs = timeline.bucket_secs.max(0.001);
    let peak = timeline
        .buckets
        .iter()
        .map(|b| b.rows_per_sec)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    axes(
        &mut out,
        left,
        right,
        top,
        bottom,
        &format!("{}/s", human::rate(peak)),
    );
    let slot = (right - left) / timeline.buckets.len() as f64;
    for (i, bucket) in timeline.buckets.iter().enumerate() {
        let x = left + slot * i as f64;
        let mut y = bottom;
        for (key, n) in [
            ("synced", bucket.synced),
            ("rejected", bucket.rejected),
            ("failed", bucket.failed),
        ] {
            if n == 0 {
                continue;
            }
            let h = (bottom - top) * (n as f64 / secs) / peak;
            y -= h;
            let _ = write!(
                out,
                "<rect x=\"{:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{h:.2}\" fill=\"{}\">\
                 <title>{:.1}–{:.1} s: {} {key}</title></rect>",
                x + 0.5,
                (slot - 1.0).max(0.5),
                color(key),
                bucket.start_secs,
                bucket.start_secs + secs,
                number(n)
            );
        }
    }
    let end = timeline.buckets.len() as f64 * secs;
    let _ = write!(
        out,
        "<text x=\"{left}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">0 s</text>\
         <text x=\"{right}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">time since the \
         start ({} per bar)</text></svg>",
        bottom + 14.0,
        bottom + 14.0,
        html(&human::duration(end)),
        (left + right) / 2.0,
        bottom + 30.0,
        html(&human::duration(secs))
    );
    out
}

/// The most frequent causes of problems, as horizontal bars.
pub fn causes(problems: &Problems) -> String {
    let id = "chart-causes";
    let title = "Problems by cause";
    let mut causes: Vec<(String, &'static str, u64)> = problems
        .rejections
        .iter()
        .map(|c| (format!("{} · {}", c.field, c.code), "rejected", c.rows))
        .chain(problems.errors.iter().map(|c| {
            let status = c
                .http_status
                .map(|s| format!("HTTP {s} · "))
                .unwrap_or_default();
            let code = c.code.as_deref().unwrap_or(c.outcome.as_str());
            (format!("{status}{code}"), color_key(&c.outcome), c.rows)
        }))
        .collect();
    if causes.is_empty() {
        return empty(id, WIDE, title, "no problems");
    }
    causes.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    causes.truncate(10);
    let peak = causes[0].2.max(1) as f64;
    let height = 10 + 26 * causes.len() as u32;
    let mut out = String::new();
    open(&mut out, id, WIDE, height, title);
    let (label_w, bar_x, bar_max) = (390.0, 400.0, 520.0);
    for (i, (label, key, n)) in causes.iter().enumerate() {
        let y = 8.0 + 26.0 * i as f64;
        let w = (bar_max * *n as f64 / peak).max(1.0);
        let short: String = if label.chars().count() > 60 {
            label.chars().take(59).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = write!(
            out,
            "<text x=\"{label_w}\" y=\"{:.1}\" text-anchor=\"end\">{}<title>{}</title></text>\
             <rect x=\"{bar_x}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"18\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y + 13.0,
            html(&short),
            html(label),
            color(key),
            bar_x + w + 6.0,
            y + 13.0,
            number(*n)
        );
    }
    out.push_str("</svg>");
    out
}

fn color_key(outcome: &str) -> &'static str {
    match outcome {
        "rejected" => "rejected",
        "not_attempted" => "not_attempted",
        "in_flight" => "in_flight",
        _ => "failed",
    }
}

/// The two axes of a bar chart and the label of its top value.
fn axes(out: &mut String, left: f64, right: f64, top: f64, bottom: f64, peak: &str) {
    let _ = write!(
        out,
        "<line x1=\"{left}\" x2=\"{right}\" y1=\"{bottom}\" y2=\"{bottom}\" class=\"axis\"/>\
         <line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{bottom}\" class=\"axis\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text>\
         <text x=\"{:.1}\" y=\"{bottom}\" class=\"tick\" text-anchor=\"end\">0</text>",
        left - 4.0,
        top + 4.0,
        html(peak),
        left - 4.0
    );
}

/// `0`, `20`, `500`, `1 s`, `20 s`: a bin edge.
fn ms_label(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", number(ms / 1000))
    } else {
        number(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{ErrorCause, RejectionCause};

    #[test]
    fn cause_labels_are_escaped() {
        let problems = Problems {
            rows: 1,
            rejections: vec![RejectionCause {
                field: "<script>alert(1)</script>".into(),
                code: "x".into(),
                rows: 1,
                example: String::new(),
            }],
            errors: vec![ErrorCause {
                outcome: "failed".into(),
                http_status: Some(503),
                code: Some("server_error".into()),
                message: None,
                rows: 3,
            }],
            ..Problems::default()
        };
        let svg = causes(&problems);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("HTTP 503 · server_error"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn empty_charts_say_why() {
        assert!(latency(&Latency::default()).contains("no requests were sent"));
        assert!(throughput(&Timeline::default()).contains("no requests were sent"));
        assert!(causes(&Problems::default()).contains("no problems"));
    }
}
