//! The one place progress bars are made. A bar shows only on a terminal, never with `-q`, and
//! never while `-v` logs would interleave with it; otherwise it is hidden and costs nothing.
//!
//! A sync starts on a spinner (rows done, rows/s) and becomes a bar with an ETA once the
//! export's rows are counted, which a thread of its own does while the sync runs.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A bar toward a known number of rows.
const BAR: &str = "{bar:30} {pos}/{len} rows · {rate} · ETA {eta} · {msg}";
/// Rows done so far, toward an unknown number.
const SPINNER: &str = "{spinner} {pos} rows · {rate} · {msg}";

/// A bar for `total` rows (a spinner when the total is unknown), or a hidden one.
pub fn rows_bar(total: Option<u64>, quiet: bool, verbose: u8) -> ProgressBar {
    if quiet || verbose > 0 || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::new_spinner(),
    };
    style(&bar, if total.is_some() { BAR } else { SPINNER });
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn style(bar: &ProgressBar, template: &str) {
    if let Ok(style) = ProgressStyle::with_template(template) {
        // Whole rows per second (indicatif's own `per_sec` shows four decimals).
        let rate = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0} rows/s", state.per_sec());
        };
        bar.set_style(style.with_key("rate", rate));
    }
}

/// Turns `bar` into a bar toward `total` rows (with an ETA), keeping what it has counted.
pub fn set_total(bar: &ProgressBar, total: u64) {
    bar.set_length(total);
    style(bar, BAR);
}

/// Counts on a thread of its own (`count`: the rows of the export) and then gives `bar` its
/// total. Nothing is counted for a hidden bar; a count that fails leaves the spinner.
pub fn total_in_background(
    bar: &ProgressBar,
    count: impl FnOnce() -> Option<u64> + Send + 'static,
) {
    if bar.is_hidden() {
        return;
    }
    let bar = bar.clone();
    let spawned = std::thread::Builder::new()
        .name("usersync-count".into())
        .spawn(move || {
            if let Some(total) = count() {
                set_total(&bar, total);
            }
        });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "no thread to count the export's rows: no ETA");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinner_becomes_a_bar_once_its_total_is_known() {
        let bar = ProgressBar::hidden();
        bar.inc(3);
        assert_eq!(bar.length(), None);
        set_total(&bar, 10);
        assert_eq!((bar.position(), bar.length()), (3, Some(10)));
    }
}
