//! The subcommands: one file each. A command turns the parsed command line and the config into
//! work, writes its output to stdout, and returns how it ended as an [`Exit`].
//!
//! Fatal problems are returned as errors; [`exit_for`] decides their exit code (2 for usage and
//! config problems, 1 for everything else), so every command classifies errors the same way.

pub mod apply;
pub mod completions;
pub mod config_schema;
pub mod held;
pub mod init;
pub mod man;
pub mod mock_server;
pub mod notify;
pub mod plan;
pub mod prune;
pub mod reconcile;
pub mod report;
pub mod retry;
pub mod runs;
pub mod spec;
pub mod sync;
pub mod validate;

use crate::cli::{Cli, Command};
use crate::config::ConfigError;
use crate::exit::Exit;
use crate::input::InputError;
use crate::mapping::MappingError;
use crate::prepare::PrepareError;

/// A problem with how the command was invoked that clap cannot see (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Init(args) => init::run(&cli.global, args),
        Command::ConfigSchema(args) => config_schema::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man => man::run(),
        Command::Validate(args) => validate::run(&cli.global, args),
        Command::Sync(args) => sync::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Report(args) => report::run(&cli.global, args),
        Command::Retry(args) => retry::run(&cli.global, args),
        Command::Runs(args) => runs::run(&cli.global, args),
        Command::Prune(args) => prune::run(&cli.global, args),
        Command::Reconcile(args) => reconcile::run(&cli.global, args),
        Command::Apply(args) => apply::run(&cli.global, args),
        Command::Approve(args) => held::approve(&cli.global, args),
        Command::Reject(args) => held::reject(&cli.global, args),
        Command::Notify(args) => notify::run(&cli.global, args),
        Command::MockServer(args) => runtime()?
            .block_on(mock_server::run(args.clone()))
            .map(|()| Exit::Ok),
    }
}

/// The tokio runtime of the mock server: one async worker per core (tokio's default).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The tokio runtime of the commands that send (`sync`, `retry`): one async worker.
///
/// Their CPU work has threads of its own (the reader, the planner and dispatcher on the main
/// thread, the ledger writer on the blocking pool); the async workers only drive the HTTP
/// connections and hash the results, which one worker keeps up with at any rate a provider
/// allows. Every further worker only competes with those threads for the cores: on the 2-core
/// bench machine a second one cost 8% more CPU and 6% more time per row (BENCHMARKS.md).
/// `TOKIO_WORKER_THREADS`, tokio's own setting, still overrides it.
pub fn sync_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    Ok(builder.enable_all().build()?)
}

/// Checks the flags of a command that sends (`--rate` and `--concurrency` positive, `--base-url`
/// a URL), so that `sync`, `sync --dry-run` and `retry` refuse the same mistakes with the same
/// words, and returns the base URL to send to: `--base-url`, or the target's.
pub fn check_send_args(
    args: &crate::cli::SendArgs,
    target: &crate::config::Target,
) -> Result<crate::config::BaseUrl, UsageError> {
    if matches!(args.rate, Some(r) if r.is_nan() || r <= 0.0) || args.concurrency == Some(0) {
        return Err(UsageError(
            "--rate and --concurrency must be positive".into(),
        ));
    }
    match &args.base_url {
        Some(url) => {
            crate::config::parse_base_url(url).map_err(|e| UsageError(format!("--base-url: {e}")))
        }
        None => Ok(target.base_url.clone()),
    }
}

/// With deactivations on (`--deactivate-missing` or the target's `deactivate_missing`), checks
/// that the target can deactivate a leaver at all ([`crate::provider::Provider::check_deactivation`]):
/// otherwise every leaver would fail one by one, night after night.
pub fn check_deactivation(
    target: &crate::config::Target,
    deactivate_missing: bool,
) -> Result<(), UsageError> {
    if !deactivate_missing {
        return Ok(());
    }
    target
        .provider
        .check_deactivation(&target.options)
        .map_err(|(option, why)| {
            UsageError(format!(
                "target {} ({}) cannot deactivate leavers: {why}; set {} in the config, or sync \
                 without --deactivate-missing",
                target.name,
                target.provider.name(),
                target.key_path(&format!("options.{option}"))
            ))
        })
}

/// The ledger path: `--ledger`, or the config's `ledger`.
pub fn ledger_path(
    args: &crate::cli::LedgerArgs,
    config: &crate::config::Config,
) -> std::path::PathBuf {
    args.ledger.clone().unwrap_or_else(|| config.ledger.clone())
}

/// The exit code for a fatal error: [`Exit::Usage`] when the config, the command line, or the
/// fit between the config and the file is wrong (a mapped column the file lacks, a format that
/// needs `--format`), or between the target's endpoint and the ledger, [`Exit::Fatal`]
/// otherwise.
pub fn exit_for(err: &anyhow::Error) -> Exit {
    let usage = err.chain().any(|cause| {
        cause.is::<ConfigError>()
            || cause.is::<MappingError>()
            || cause.is::<UsageError>()
            || cause.is::<crate::sync::EndpointChanged>()
            || cause.is::<crate::sync::PlanStale>()
            || matches!(
                cause.downcast_ref::<PrepareError>(),
                Some(PrepareError::Mapping(_))
            )
            || matches!(
                cause.downcast_ref::<PrepareError>(),
                Some(PrepareError::Input(e)) if e.is_usage()
            )
            || cause
                .downcast_ref::<InputError>()
                .is_some_and(InputError::is_usage)
    });
    if usage {
        Exit::Usage
    } else {
        Exit::Fatal
    }
}
