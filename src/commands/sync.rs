//! `usersync sync INPUT`: the main job. Turns the command line and the config into a run
//! description (`spec.rs`), runs it (`crate::sync`), prints the summary, and picks the exit
//! code.
//!
//! Ctrl-C (or SIGTERM) once: stop reading, let in-flight requests finish, record everything,
//! exit 130. Twice: abandon the in-flight requests.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::cli::{GlobalArgs, SyncArgs};
use crate::commands::{check_deactivation, spec, sync_runtime};
use crate::config::{self, Config, Target};
use crate::dispatch::{self, AbortReason, StopHandle, StopLevel};
use crate::exit::Exit;
use crate::notes;
use crate::signals::AfterRun;
use crate::sync::{self, window, Controls, Noted, RowSource, RunSpec, SyncSummary};

/// Runs `sync`.
pub fn run(global: &GlobalArgs, args: &SyncArgs) -> anyhow::Result<Exit> {
    if args.dry_run {
        return super::plan::print_plan(
            global,
            &args.input,
            &args.target,
            &args.ledger,
            &args.diff,
            Some(&args.send),
            super::plan::Output::default(),
        );
    }
    // The window starts when the command does.
    let deadline = window::stop_at(args.deadline, args.max_duration);
    let since = chrono::Utc::now();
    let config = config::load(&global.config)?;
    let target = config.target(args.target.target.as_deref())?;
    let rows = spec::Rows::Export {
        input: &args.input,
        diff: &args.diff,
    };
    let spec = spec::build(
        global,
        &config,
        target,
        &args.ledger,
        rows,
        Some(&args.send),
        deadline,
    )?;
    let finish = Finish {
        report: args.report.as_deref(),
        mask_pii: args.mask_pii,
        ledger_flag: args.ledger.ledger.as_deref(),
        metrics_file: args.metrics_file.as_deref(),
        since,
    };
    execute(global, &config, target, spec, &finish)
}

/// What happens once a run is over, besides its summary.
#[derive(Debug, Clone, Copy)]
pub(super) struct Finish<'a> {
    /// `--report FILE`, and `--mask-pii` for it.
    pub report: Option<&'a Path>,
    pub mask_pii: bool,
    /// `--ledger`, for the command that shows the run's problems.
    pub ledger_flag: Option<&'a Path>,
    /// `--metrics-file` (else the config's `metrics_file`).
    pub metrics_file: Option<&'a Path>,
    /// When the command started (see `crate::signals`).
    pub since: chrono::DateTime<chrono::Utc>,
}

/// Runs the sync `spec` describes for `target` of `config`, prints its summary, signals its end
/// (`crate::signals`), writes its report when asked, and picks the exit code: `sync`'s work,
/// and `apply`'s once it has checked its plan.
pub(super) fn execute(
    global: &GlobalArgs,
    config: &Config,
    target: &Target,
    spec: RunSpec,
    finish: &Finish<'_>,
) -> anyhow::Result<Exit> {
    let Finish {
        report,
        mask_pii,
        ledger_flag,
        metrics_file,
        since,
    } = *finish;
    check_deactivation(target, spec.guards.deactivate_missing)?;
    let ledger_file = spec.ledger.clone();
    let progress = crate::progress::rows_bar(None, global.quiet, global.verbose);
    if let RowSource::Export { input, options } = &spec.rows {
        let (input, options) = (input.clone(), options.clone());
        crate::progress::total_in_background(&progress, move || {
            crate::input::count_rows(&input, &options).ok()
        });
    }
    let result = run_watched(&progress, |controls| sync::run(&spec, controls))?;
    progress.finish_and_clear();
    let after = AfterRun {
        config,
        ledger: &ledger_file,
        target: &target.name,
        metrics_file,
        since,
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            // A run the ledger recorded before it failed still signals its end.
            crate::signals::after_run(&after);
            return Err(e);
        }
    };
    super::prune::after_run(config, &ledger_file, &target.name);
    if let Some(AbortReason::AuthFailed { .. }) = &summary.aborted {
        eprintln!("error: {}", credentials_refused(target, &global.config));
    }
    if let Some(why) = &summary.held {
        let config = shell_word(&global.config.display().to_string()).into_owned();
        eprintln!(
            "held: {why}\nRun {run} of target {t} sent nothing and is held for a person: \
             `usersync approve {run} -c {config}` sends exactly what it holds (refused if the \
             export, the config or the ledger changed since), `usersync reject {run} -c \
             {config}` closes it.",
            run = summary.run.0,
            t = target.name,
        );
        crate::signals::after_run(&after);
        return Ok(summary.exit);
    }
    let details = report_command(&target.name, &global.config, ledger_flag);
    print_summary(
        &summary,
        &target.name,
        target.provider.name(),
        &details,
        global.quiet,
    )?;
    crate::signals::after_run(&after);
    let Some(file) = report else {
        return Ok(summary.exit);
    };
    // The run is over and recorded whatever happens here: a report that cannot be written is
    // said on stderr, and turns a clean exit into a failure (a script expects the file).
    match super::report::write_run_report(&ledger_file, summary.run, file, mask_pii) {
        Ok(()) => {
            if !global.quiet {
                println!("  report: {}", file.display());
            }
            Ok(summary.exit)
        }
        Err(err) => {
            eprintln!(
                "error: cannot write the report of run {}: {err:#}",
                summary.run
            );
            Ok(match summary.exit {
                Exit::Ok => Exit::Fatal,
                other => other,
            })
        }
    }
}

/// What to fix when the provider refuses the credentials: the target and where its
/// `credentials` table takes them from (never their values).
fn credentials_refused(target: &Target, config: &std::path::Path) -> String {
    let origins = target.credential_origins();
    let what = if origins.is_empty() {
        "the target has no credentials table".to_owned()
    } else {
        format!("check {origins}")
    };
    format!(
        "target {} ({}) refused the credentials; {what} ({} in {})",
        target.name,
        target.provider.name(),
        target.key_path("credentials"),
        config.display()
    )
}

/// Runs a run (`sync::run`, `sync::retry::run`) on the sync runtime, its progress on
/// `progress`, Ctrl-C and SIGTERM watched (see [`watch_signals`]). The outer error is the
/// runtime's; the inner one the run's.
pub(super) fn run_watched<T, F>(
    progress: &indicatif::ProgressBar,
    run: impl FnOnce(Controls) -> F,
) -> anyhow::Result<anyhow::Result<T>>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let (stop_handle, stop_signal) = dispatch::stop_signal();
    let controls = Controls {
        progress: progress.clone(),
        stop: Some((stop_handle.clone(), stop_signal)),
    };
    let rt = sync_runtime()?;
    Ok(rt.block_on(async {
        let signals = tokio::spawn(watch_signals(stop_handle));
        let result = run(controls).await;
        signals.abort();
        result
    }))
}

/// SIGINT / SIGTERM: the first asks for a graceful stop, the next for a hard one.
pub(super) async fn watch_signals(stop: StopHandle) {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        #[cfg(unix)]
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminated = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminated => {}
        }
        match stop.escalate() {
            StopLevel::Hard => {
                tracing::warn!("interrupted again: abandoning the requests in flight");
                return;
            }
            _ => tracing::warn!(
                "interrupted: finishing the requests in flight (Ctrl-C again to abandon them)"
            ),
        }
    }
}

/// The command line for the ledger and reports. usersync never takes a secret as an argument
/// (credentials come from environment variables), but `--base-url` may hold userinfo, as
/// `--base-url URL` or `--base-url=URL`: drop it.
pub(super) fn command_line() -> String {
    std::env::args()
        .map(|arg| without_url_credentials(&arg))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `arg`, or the `value` of `--flag=value`, without the user name and password of a URL.
fn without_url_credentials(arg: &str) -> String {
    let (flag, value) = match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => (Some(flag), value),
        _ => (None, arg),
    };
    match url::Url::parse(value) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            let url = crate::config::without_credentials(url);
            match flag {
                Some(flag) => format!("{flag}={url}"),
                None => url.to_string(),
            }
        }
        _ => arg.to_owned(),
    }
}

/// The command that shows a run's rejected and failed rows: `usersync report last` with the
/// config (and the ledger, when one was given) of this run, so that it reads the same ledger.
fn report_command(target: &str, config: &Path, ledger: Option<&Path>) -> String {
    let mut command = format!(
        "usersync report last -c {} -t {}",
        shell_word(&config.display().to_string()),
        shell_word(target)
    );
    if let Some(ledger) = ledger {
        command.push_str(" --ledger ");
        command.push_str(&shell_word(&ledger.display().to_string()));
    }
    command
}

/// `text` as one shell word: as it is when plain, else single-quoted.
fn shell_word(text: &str) -> Cow<'_, str> {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("'{}'", text.replace('\'', r"'\''")))
    }
}

/// `details` is the command that shows the rows that did not go through.
/// The two lines of row outcomes every run's summary prints (`sync`, `retry`).
pub(super) fn write_outcome_counts(
    out: &mut impl Write,
    c: &crate::ledger::RunCounts,
) -> std::io::Result<()> {
    writeln!(
        out,
        "  created {} · updated {} · deactivated {} · unchanged {}",
        c.created, c.updated, c.deactivated, c.unchanged
    )?;
    writeln!(
        out,
        "  rejected {} · failed {} · not attempted {}",
        c.rejected, c.failed, c.not_attempted
    )?;
    Ok(())
}

/// A line for each kind of row that went through but needs a person (see `crate::notes`),
/// naming the first keys; the report lists every row with what to do.
pub(super) fn write_noted(
    out: &mut impl Write,
    noted: &BTreeMap<crate::ledger::NoteCode, Noted>,
    provider: &str,
) -> std::io::Result<()> {
    for (code, rows) in noted {
        let more = rows.count.saturating_sub(rows.keys.len() as u64);
        let keys = if more > 0 {
            format!("{} and {more} more", rows.keys.join(", "))
        } else {
            rows.keys.join(", ")
        };
        let what = notes::summary(*code, provider, rows.count);
        writeln!(out, "  {what}: {keys}")?;
    }
    Ok(())
}

fn print_summary(
    s: &SyncSummary,
    target: &str,
    provider: &str,
    details: &str,
    quiet: bool,
) -> std::io::Result<()> {
    let c = &s.counts;
    let mut out = std::io::stdout().lock();
    if let Some(reason) = &s.aborted {
        writeln!(out, "run {} of target {target} stopped: {reason}", s.run.0)?;
    }
    if quiet && !s.needs_a_person() {
        return Ok(());
    }
    let secs = s.elapsed.as_secs_f64();
    writeln!(
        out,
        "sync of {target} ({provider}): run {}, {} rows in {secs:.1}s",
        s.run.0, c.rows
    )?;
    write_outcome_counts(&mut out, c)?;
    write_noted(&mut out, &s.noted, provider)?;
    let rate = if secs > 0.0 {
        c.rows as f64 / secs
    } else {
        0.0
    };
    writeln!(
        out,
        "  requests {} (retries {}, throttled {}) · {rate:.0} rows/s",
        c.requests, c.retries, s.dispatch.throttled
    )?;
    if let Some(adaptive) = &s.dispatch.adaptive {
        let rate = match adaptive.rate {
            Some(rate) if adaptive.announced => {
                format!("limit {rate:.0} requests/s (announced by the provider)")
            }
            Some(rate) => format!("limit {rate:.0} requests/s (found by throttling)"),
            None => "no rate limit met".to_string(),
        };
        let next = if s.learned {
            " · the next run starts there"
        } else {
            ""
        };
        writeln!(
            out,
            "  adaptive: {rate} · {} in flight (peak {}){next}",
            adaptive.concurrency, adaptive.peak_concurrency
        )?;
    }
    if c.rejected + c.failed > 0 {
        writeln!(
            out,
            "  details: {details} (or the ledger's row_outcomes table)"
        )?;
    }
    Ok(())
}
