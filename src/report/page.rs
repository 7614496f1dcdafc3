//! The fixed parts of the HTML report: its style sheet, its one small script, and the
//! Content-Security-Policy that allows exactly these two and nothing else.
//!
//! The policy names both by their SHA-256, so a `<script>` or `<style>` smuggled into the page
//! by some value that escaped escaping would still not run, and the page loads nothing from
//! anywhere (`default-src 'none'`).

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The style sheet. No inline `style` attributes anywhere: the policy would refuse them.
pub const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1c2430; --muted: #5f6b7a; --line: #dde3ea; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; }
h1 small { color: var(--muted); font-weight: normal; }
h2 { font-size: 17px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.meta, .muted, figcaption { color: var(--muted); }
.badge { display: inline-block; padding: 3px 10px; border-radius: 12px; font-weight: 600; margin: 0 0 6px; }
.sev-ok { background: #e8f5e9; color: #1b5e20; }
.sev-warn { background: #fff3e0; color: #a84300; }
.sev-bad { background: #ffebee; color: #b71c1c; }
.notes { background: #fffde7; border: 1px solid #f0e6a0; padding: 8px 12px; border-radius: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 10px; margin: 16px 0; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .n { display: block; font-size: 22px; font-weight: 650; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.synced .n { color: #2e7d32; } .card.rejected .n { color: #c45500; }
.card.failed .n { color: #c62828; } .card.not_attempted .n { color: #6a1b9a; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
figure.wide { grid-column: 1 / -1; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
figcaption { font-weight: 600; margin-bottom: 6px; }
svg.chart { display: block; width: 100%; height: auto; font: 12px system-ui, sans-serif; fill: var(--ink); }
svg.chart .tick { font-size: 10px; fill: var(--muted); }
svg.chart .muted { fill: var(--muted); }
svg.chart .axis { stroke: #9aa5b1; stroke-width: 1; }
svg.chart .mark { stroke: #37474f; stroke-width: 1; stroke-dasharray: 4 3; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td { overflow-wrap: anywhere; }
td.k { min-width: 9ch; } td.c { min-width: 15ch; } td.nw { white-space: nowrap; }
td.msg { min-width: 40ch; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 180px; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \2195"; color: #b0bac5; }
table.sortable th[aria-sort=ascending]::after { content: " \2191"; color: var(--ink); }
table.sortable th[aria-sort=descending]::after { content: " \2193"; color: var(--ink); }
tbody tr:nth-child(even) { background: #fbfcfd; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.pill { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; color: #fff; }
.o-synced { background: #2e7d32; } .o-unchanged { background: #78909c; } .o-rejected { background: #ef6c00; }
.o-failed { background: #c62828; } .o-not_attempted { background: #6a1b9a; } .o-in_flight { background: #1565c0; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { body { padding: 0; } .charts { grid-template-columns: 1fr 1fr; } }
@media (max-width: 960px) { .charts { grid-template-columns: 1fr; } }
"#;

/// Sorts tables by a click (or Enter) on a column header, and records each chart's drawn size
/// on it (`data-size="WxH"`, `data-shapes`): a self-check that the charts rendered, which the
/// browser test reads.
pub const SCRIPT: &str = r#"
(function () {
  "use strict";
  function key(cell, numeric) {
    var v = cell.getAttribute("data-v");
    if (v === null) { v = cell.textContent; }
    if (numeric) { var n = parseFloat(v); return isNaN(n) ? -Infinity : n; }
    return v.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      function sort() {
        var numeric = th.classList.contains("num");
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  });
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    svg.setAttribute("data-size", Math.round(box.width) + "x" + Math.round(box.height));
    svg.setAttribute("data-shapes", String(svg.querySelectorAll("rect, line, text").length));
  });
  document.documentElement.setAttribute("data-ready", "1");
})();
"#;

/// The page's Content-Security-Policy: nothing from anywhere, only [`STYLE`] and [`SCRIPT`].
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; img-src 'none'; \
         base-uri 'none'; form-action 'none'",
        hash(STYLE),
        hash(SCRIPT)
    )
}

/// `sha256-BASE64`: how a CSP names an inline block.
fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_style_and_the_script_and_nothing_else() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none';"));
        assert!(!csp.contains("unsafe"));
        assert_eq!(csp.matches("'sha256-").count(), 2);
        assert!(!STYLE.contains("</style"));
        assert!(!SCRIPT.contains("</script"));
    }
}
