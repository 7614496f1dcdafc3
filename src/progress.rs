//! The one place progress bars are made. A bar shows only on a terminal, never with `-q`, and
//! never while `-v` logs would interleave with it; otherwise it is hidden and costs nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar for `total` rows (a spinner when the total is unknown), or a hidden one.
pub fn rows_bar(total: Option<u64>, quiet: bool, verbose: u8) -> ProgressBar {
    if quiet || verbose > 0 || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::new_spinner(),
    };
    let template = match total {
        Some(_) => "{bar:30} {pos}/{len} rows · {per_sec} · ETA {eta} · {msg}",
        None => "{spinner} {pos} rows · {per_sec} · {msg}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
