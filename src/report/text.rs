//! Making untrusted text inert: every value in a report came from an HR export or a provider's
//! answer, so it may hold markup, spreadsheet formulas, terminal escapes or megabytes of junk.
//!
//! Each format escapes for its own syntax (HTML entities, Markdown backslashes, CSV formula
//! prefixes, JSON string escapes); all of them first pass text through [`visible`], which makes
//! control and bidirectional-override characters visible and cuts very long values.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The longest value the HTML and Markdown reports show in full, in characters.
pub const DISPLAY_CHARS: usize = 300;
/// The longest CSV cell, in characters (Excel holds at most 32,767 per cell).
pub const CSV_CELL_CHARS: usize = 32_000;

/// `text` with every control character (C0, DEL, C1) and every bidirectional-formatting
/// character written as a visible `\u{..}` escape (a newline or tab as `\n`, `\t`), and cut
/// after `max_chars` characters with a note of how many were left out.
pub fn visible(text: &str, max_chars: usize) -> Cow<'_, str> {
    let needs_work =
        text.chars().any(is_hidden) || text.len() > max_chars && text.chars().count() > max_chars;
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    let mut chars = text.chars();
    for c in chars.by_ref().take(max_chars) {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    let left = chars.count();
    if left > 0 {
        let _ = write!(out, "… ({left} more characters)");
    }
    Cow::Owned(out)
}

/// Whether `c` would be invisible, or would change how the text around it is shown.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200e}' | '\u{200f}'            // left-to-right / right-to-left marks
            | '\u{202a}'..='\u{202e}'          // embeddings and overrides
            | '\u{2066}'..='\u{2069}'          // isolates
            | '\u{2028}' | '\u{2029}'          // line and paragraph separators
            | '\u{feff}'                       // zero-width no-break space
        )
}

/// `text` escaped for HTML text and attribute values (after [`visible`]).
pub fn html(text: &str) -> String {
    let text = visible(text, DISPLAY_CHARS);
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped for a Markdown table cell or line (after [`visible`]): every character that
/// could end a table cell, start an HTML tag, an autolink, a link or an image, or emphasis,
/// gets a backslash. Backticks are kept (code spans show values as the messages quote them;
/// they cannot cross a cell), and so are `_` (intraword in field names) and `(`.
pub fn markdown(text: &str) -> String {
    let text = visible(text, DISPLAY_CHARS);
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if matches!(c, '\\' | '|' | '<' | '>' | '[' | ']' | '*' | '~' | '&') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` as a CSV cell a spreadsheet shows as text: control characters made visible, cut to
/// [`CSV_CELL_CHARS`], and never run as a formula ([`neutralise_formula`]).
pub fn csv_cell(text: &str) -> String {
    neutralise_formula(&visible(text, CSV_CELL_CHARS)).into_owned()
}

/// `cell` prefixed with `'` when a spreadsheet would run it as a formula: it starts, after any
/// spaces, with `=`, `+`, `-`, `@` (or their full-width forms), a tab or a carriage return.
/// Every CSV usersync writes for people goes through it: the CSV report and `validate
/// --rejects`, whose cells otherwise keep the export's text as it was.
pub fn neutralise_formula(cell: &str) -> Cow<'_, str> {
    let formula = cell
        .trim_start_matches(' ')
        .starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠']);
    if formula {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_become_visible_and_long_text_is_cut() {
        assert_eq!(visible("a\u{1b}[31mb\n", 100), "a\\u{1b}[31mb\\n");
        assert_eq!(visible("evil\u{202e}txt.exe", 100), "evil\\u{202e}txt.exe");
        assert_eq!(visible("abcdef", 3), "abc… (3 more characters)");
        assert_eq!(visible("ñandú", 5), "ñandú");
    }

    #[test]
    fn html_escapes_markup() {
        assert_eq!(
            html("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn markdown_escapes_tables_links_and_tags() {
        assert_eq!(markdown("a|b"), "a\\|b");
        assert_eq!(markdown("[x](javascript:y)"), "\\[x\\](javascript:y)");
        assert_eq!(markdown("<img src=x>"), "\\<img src=x\\>");
        assert_eq!(markdown("two\nlines"), "two\\\\nlines");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("+34 600"), "'+34 600");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("  =1"), "'  =1");
        assert_eq!(csv_cell("\t=1"), "\\t=1");
        assert_eq!(csv_cell("ana@example.com"), "ana@example.com");
    }

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(
            neutralise_formula("=HYPERLINK(\"x\")"),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(neutralise_formula("+34 600"), "'+34 600");
        assert_eq!(neutralise_formula("-1"), "'-1");
        assert_eq!(neutralise_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_formula("\tx"), "'\tx");
        assert_eq!(neutralise_formula("ana@example.com"), "ana@example.com");
        assert_eq!(neutralise_formula(""), "");
        assert_eq!(
            neutralise_formula("  =1"),
            "'  =1",
            "spaces do not hide a formula"
        );
        assert_eq!(neutralise_formula("＝1"), "'＝1", "nor a full-width sign");
    }
}
