//! The command line, as clap types only. Commands turn these into a validated plan with
//! [`crate::config`]; nothing else reads flags.
//!
//! Groups of flags that several subcommands share are their own structs, flattened where used:
//! [`InputArgs`] (an export and how to read it), [`TargetArgs`] (which target of the config) and
//! [`LedgerArgs`] (where the ledger is).

mod mock_server;
mod setup;

pub use mock_server::{CredentialArg, MockServerArgs};
pub use setup::{CompletionsArgs, ConfigSchemaArgs, InitArgs};

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::config::InputSettings;
use crate::input::{parse_delimiter, Encoding, Format};
use crate::report::ReportFormat;
use crate::sync::RunChoice;

/// usersync: keep a company's users in step with the user APIs of the services it buys.
#[derive(Debug, Parser)]
#[command(name = "usersync", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts, before or after its name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The config file.
    #[arg(
        short,
        long,
        global = true,
        value_name = "FILE",
        default_value = "usersync.toml",
        env = "USERSYNC_CONFIG"
    )]
    pub config: PathBuf,
    /// More detail in the logs on stderr: -v info, -vv debug, -vvv trace.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Only errors in the logs.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// The log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a first config for a provider: every field it takes, each with its rule; with
    /// --from, the fields the export's columns fill are mapped.
    ///
    /// The config targets the built-in mock (`base_url = "mock"`) until its real URL is set, and
    /// names placeholder environment variables for the credentials. `usersync validate -c FILE
    /// EXPORT` then checks it against the export as it is.
    Init(InitArgs),

    /// Check an export against a target's mapping and field rules, without sending anything.
    ///
    /// Exit status: 0 all rows valid, 3 some rows rejected, 2 usage or config error,
    /// 1 any other fatal error.
    Validate(ValidateArgs),

    /// Send an export to a target: creates, updates and (with --deactivate-missing)
    /// deactivations, only what changed since the last sync, every row's outcome in the ledger.
    ///
    /// Exit status: 0 all rows synced or unchanged, 3 some rows rejected or failed,
    /// 1 aborted (credentials refused, circuit breaker, guard refusal, fatal error),
    /// 2 usage or config error, 4 stopped at the deadline or quota, 130 interrupted.
    Sync(SyncArgs),

    /// Print what a sync would do, without sending anything.
    ///
    /// Counts of create / update / unchanged / deactivate / rejected; with --json one line per
    /// operation with field names, never values.
    Plan(PlanArgs),

    /// Re-send the rows of an earlier run that did not go through, from the payloads the
    /// ledger kept (the export may be gone), as a new run linked to it.
    ///
    /// Re-sends the rows that ended failed or not_attempted, and with --include-rejected those
    /// the provider rejected (never those validation rejected: fix them at the source). Each
    /// is decided again against the ledger's snapshot; a row whose user a later run already
    /// synced is left alone. Exit status as for sync.
    Retry(RetryArgs),

    /// List the runs in the ledger, newest first: id, target, command, start, duration,
    /// status and counts.
    Runs(RunsArgs),

    /// Delete the row details of runs that ended longer ago than the ledger keeps them
    /// (`retention_days` in the config, 90 by default); each run's counts and every user's
    /// snapshot stay.
    ///
    /// Every sync and retry already does this for its target when it ends; run it by hand to
    /// prune at once, another age (--older-than-days), or to shrink the file (--vacuum).
    Prune(PruneArgs),

    /// Read a SCIM target's users back and compare them with the ledger, changing nothing there.
    ///
    /// Finds users whose values drifted from what was last sent (re-sent by the next sync),
    /// users the target no longer has (created again by the next sync), users it has that match
    /// an export row but were never linked (--adopt links them), and users nothing links (left
    /// alone). Exit 0 when nothing is found, 3 when something is.
    Reconcile(ReconcileArgs),

    /// Send exactly a plan saved by `plan --out`.
    ///
    /// Refuses (exit 2), naming what changed, when the export, the target's config or the
    /// ledger's users of the target are not what the plan was made from; otherwise runs the
    /// sync, which then decides exactly the plan's operations.
    Apply(ApplyArgs),

    /// Send exactly what a held run holds (a run whose broken-export guards tripped).
    ///
    /// Refuses (exit 2), naming what changed, when the export, the target's config or the
    /// ledger's users of the target changed since the run was held, or when it was held longer
    /// ago than --max-age.
    Approve(ApproveArgs),

    /// Close a held run: nothing it holds is sent.
    Reject(RejectArgs),

    /// Serve the built-in mock of a provider's API, to rehearse a config.
    MockServer(MockServerArgs),

    /// Check the config's [notify] webhook: --test posts a sample notification about a target.
    ///
    /// Exit status: 0 the webhook answered 2xx, 1 it did not (the message says what it
    /// answered), 2 usage or config error (e.g. no [notify] table).
    Notify(NotifyArgs),

    /// Print the JSON Schema of the config file, for editors: a config starting with
    /// `#:schema ./usersync.schema.json` gets completion and checks in taplo-based editors.
    ConfigSchema(ConfigSchemaArgs),

    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    ///
    /// E.g. `usersync completions bash > /etc/bash_completion.d/usersync`, or for zsh a file
    /// named `_usersync` in a folder of `$fpath`.
    Completions(CompletionsArgs),

    /// Print usersync's manual page (roff), e.g. `usersync man > /usr/local/share/man/man1/usersync.1`.
    Man,

    /// Write the report of a run from the ledger: a Markdown summary (md), a JSON document for
    /// scripts (json), the rows to fix as a spreadsheet-safe CSV (csv), or a self-contained page
    /// with charts (html).
    ///
    /// Exit status: 0 written, 2 usage or config error (e.g. no such run), 1 any other error.
    Report(ReportArgs),
}

/// An export and how to read it.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// The HR export: a CSV (.csv, .tsv, .txt), JSONL, or spreadsheet (.xlsx, .xlsm, .xls, .ods)
    /// file.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// The file format [default: from the extension].
    #[arg(long, value_name = "csv|jsonl|xlsx|xls|ods", value_parser = parse_format)]
    pub format: Option<Format>,
    /// The CSV delimiter, e.g. ';' or tab [default: detected among , ; tab | from the header].
    #[arg(long, value_name = "D", value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// The text encoding of a CSV or JSONL file, any WHATWG label: utf-8, windows-1252,
    /// iso-8859-15, windows-1250, utf-16le... [default: utf-8; a UTF-16 or UTF-8 byte order mark
    /// wins].
    #[arg(long, value_name = "E", value_parser = parse_encoding)]
    pub encoding: Option<Encoding>,
    /// The sheet of a workbook to read: its name, or its position counting from 1 (the tabs'
    /// order, hidden sheets included; a sheet named so wins) [default: the config's
    /// `[input] sheet`, else the first worksheet].
    #[arg(long, value_name = "NAME|INDEX")]
    pub sheet: Option<String>,
}

impl InputArgs {
    /// The input settings given on the command line (override the config's `[input]`).
    pub fn settings(&self) -> InputSettings {
        InputSettings {
            format: self.format,
            delimiter: self.delimiter,
            encoding: self.encoding,
            sheet: self.sheet.clone(),
        }
    }
}

/// Which target of the config.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The target (a [targets.NAME] of the config); may be omitted when there is only one.
    #[arg(short, long, value_name = "NAME")]
    pub target: Option<String>,
}

/// Where the ledger is.
#[derive(Debug, Clone, Args)]
pub struct LedgerArgs {
    /// The ledger database [default: the config's `ledger`, relative to the config file].
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
}

/// `usersync validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print one JSON object per rejected row, then a summary object, instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Also write the rejected rows to FILE: a CSV with the original columns plus `_line` and
    /// `_errors`, safe to open in Excel.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
}

/// How a sync decides what to send; shared by `sync` and `plan`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// Send every row, whatever the ledger's snapshot says (a full resync).
    #[arg(long)]
    pub full: bool,
    /// Deactivate users synced before who are missing from this export
    /// [default: the target's `deactivate_missing`].
    #[arg(long)]
    pub deactivate_missing: bool,
    /// Go on even when the export looks truncated (fewer than half the known users) or would
    /// deactivate more than the target's `max_deactivate`.
    #[arg(long)]
    pub force: bool,
}

/// `usersync sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub diff: DiffArgs,
    #[command(flatten)]
    pub send: SendArgs,
    /// Validate and plan, print what would be sent, send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After the run, write its report to FILE (created 0600), in the format its extension
    /// names: .md, .json, .csv or .html.
    #[arg(long, value_name = "FILE", value_parser = parse_report_path, conflicts_with = "dry_run")]
    pub report: Option<PathBuf>,
    /// Mask e-mails, ID numbers and phone numbers in the --report.
    #[arg(long, requires = "report")]
    pub mask_pii: bool,
    /// Stop taking new rows at this local time (its next occurrence, e.g. 05:30): requests in
    /// flight finish, the rest is recorded not attempted for the next run, exit 4.
    #[arg(long, value_name = "HH:MM", value_parser = crate::sync::window::parse_clock)]
    pub deadline: Option<chrono::NaiveTime>,
    /// Stop taking new rows after this long (e.g. 4h, 90m, 1h30m), as --deadline does.
    #[arg(long, value_name = "DURATION", value_parser = crate::sync::window::parse_duration)]
    pub max_duration: Option<std::time::Duration>,
    /// After the run, however it ends, write every target's latest run from the ledger to FILE
    /// in the Prometheus text format, for node_exporter's textfile collector [default: the
    /// config's `metrics_file`].
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    pub metrics_file: Option<PathBuf>,
}

/// Which run a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSelector {
    /// The target's latest run.
    Last,
    /// A run id, as `sync` prints it.
    Id(i64),
}

impl std::str::FromStr for RunSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("last") {
            return Ok(RunSelector::Last);
        }
        match s.parse::<i64>() {
            Ok(id) if id > 0 => Ok(RunSelector::Id(id)),
            _ => Err(format!(
                "{s:?} is not a run: give a run number (as `sync` prints it) or `last`"
            )),
        }
    }
}

/// `usersync report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run: its number, or `last` for the target's latest run.
    #[arg(value_name = "RUN|last", default_value = "last", value_parser = parse_run)]
    pub run: RunSelector,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// The format [default: from the --output file's extension, else md].
    #[arg(long, value_name = "FORMAT", value_parser = ReportFormatParser)]
    pub format: Option<ReportFormat>,
    /// Write the report to FILE (created 0600, replaced whole) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Mask e-mails, ID numbers (DNI/NIE) and phone numbers, user keys included.
    #[arg(long)]
    pub mask_pii: bool,
}

/// `usersync plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub diff: DiffArgs,
    /// One JSON object per operation: {"line","key","op","fields"}, then a summary object.
    #[arg(long)]
    pub json: bool,
    /// Also write the plan to FILE (JSON, no personal data): `usersync apply FILE` then sends
    /// exactly it, or refuses if the export, the config or the ledger changed since.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `usersync apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan written by `usersync plan --out`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub send: SendArgs,
}

/// `usersync approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The held run's id.
    #[arg(value_name = "RUN")]
    pub run: i64,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub send: SendArgs,
    /// Refuse a run held longer ago than this.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub max_age: std::time::Duration,
}

/// `usersync reject`.
#[derive(Debug, Args)]
pub struct RejectArgs {
    /// The held run's id.
    #[arg(value_name = "RUN")]
    pub run: i64,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// `usersync retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The run whose rows to re-send: its id, or `last` (the target's latest run).
    #[arg(value_name = "RUN|last", default_value = "last")]
    pub run: RunChoice,
    /// The target; may be omitted when the config has only one, or when RUN is an id.
    #[arg(short, long, value_name = "NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Also re-send the rows the provider rejected (e.g. after fixing its configuration).
    #[arg(long)]
    pub include_rejected: bool,
    #[command(flatten)]
    pub send: SendArgs,
    /// After the run, however it ends, write every target's latest run from the ledger to FILE
    /// in the Prometheus text format [default: the config's `metrics_file`].
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
}

/// `usersync notify`.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Send a sample notification to the config's [notify] webhook.
    #[arg(long, required = true)]
    pub test: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Where and how fast `sync` and `retry` send: overrides of the target's settings for one run.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Send to this URL instead of the target's `base_url` (e.g. a `usersync mock-server`; give
    /// a rehearsal a ledger of its own with --ledger).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Requests per second [default: the target's `rate_limit`].
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// Requests in flight at once [default: the target's `concurrency`]; a number here turns
    /// `concurrency = "auto"` off for this run.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// The provider moved, with its users, to the endpoint this run sends to (`--base-url` or the
    /// target's `base_url`): keep what the ledger knows of them. Without it, a run to another
    /// endpoint than the target's last one is refused (exit 2).
    #[arg(long)]
    pub endpoint_moved: bool,
}

/// `usersync runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only the runs of this target [default: every target's].
    #[arg(short, long, value_name = "NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// One JSON object per run instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most N runs, the newest; 0 lists them all.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

/// `usersync reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The HR export, to tell the target's unlinked users (matching a row) from the unowned;
    /// read as the config's [input] says.
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
    /// The sheet of a workbook INPUT: its name, or its position counting from 1
    /// [default: the config's `[input] sheet`, else the first worksheet].
    #[arg(long, value_name = "NAME|INDEX", requires = "input")]
    pub sheet: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Link the unlinked users to their rows in the ledger (nothing changes at the target):
    /// the next sync updates them instead of creating them again.
    #[arg(long)]
    pub adopt: bool,
    /// One JSON object per finding, then a summary object.
    #[arg(long)]
    pub json: bool,
}

/// `usersync prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Only the runs of this target [default: every target's].
    #[arg(short, long, value_name = "NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Prune the runs that ended more than N days ago [default: the config's retention_days].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub older_than_days: Option<u32>,
    /// Say which runs would be pruned, and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Then give the freed space back to the file system at once (rewrites the ledger: needs no
    /// sync running and as much free disk as the ledger's size). Without it, the next nights'
    /// rows reuse the space.
    #[arg(long)]
    pub vacuum: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_encoding(s: &str) -> Result<Encoding, String> {
    s.parse()
}

fn parse_run(s: &str) -> Result<RunSelector, String> {
    s.parse()
}

/// `--format`: a [`ReportFormat`] by name, any case; `--help` lists the formats there are.
#[derive(Clone)]
struct ReportFormatParser;

impl clap::builder::TypedValueParser for ReportFormatParser {
    type Value = ReportFormat;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ReportFormat, clap::Error> {
        value.to_string_lossy().parse().map_err(|message: String| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{message}\n"))
                .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ReportFormat::all()
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value),
        ))
    }
}

/// A `--report` file: its extension must name a format.
fn parse_report_path(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match ReportFormat::from_path(&path) {
        Some(_) => Ok(path),
        None => Err(format!(
            "the report's format comes from its extension: name it {}",
            ReportFormat::names(".")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn validate_takes_input_target_and_global_flags_anywhere() {
        let cli = Cli::try_parse_from([
            "usersync",
            "validate",
            "x.csv",
            "-t",
            "lawyers",
            "--delimiter",
            "tab",
            "--encoding",
            "windows-1252",
            "-c",
            "conf.toml",
            "-vv",
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.global.config, PathBuf::from("conf.toml"));
        assert_eq!(cli.global.verbose, 2);
        let Command::Validate(args) = cli.command else {
            panic!("expected validate")
        };
        assert_eq!(args.target.target.as_deref(), Some("lawyers"));
        assert_eq!(args.input.delimiter, Some(b'\t'));
        assert_eq!(args.input.encoding, Some(Encoding::WINDOWS_1252));
        assert!(args.json);
    }

    #[test]
    fn retry_takes_a_run_or_last_and_runs_a_target() {
        let cli = Cli::try_parse_from(["usersync", "retry", "-c", "u.toml"]).unwrap();
        let Command::Retry(args) = cli.command else {
            panic!("expected retry")
        };
        assert_eq!(args.run, RunChoice::Last);
        let cli = Cli::try_parse_from(["usersync", "retry", "7", "--include-rejected"]).unwrap();
        let Command::Retry(args) = cli.command else {
            panic!("expected retry")
        };
        assert_eq!(args.run, RunChoice::Id(crate::ledger::RunId(7)));
        assert!(args.include_rejected);
        assert_eq!(
            Cli::try_parse_from(["usersync", "retry", "yesterday"])
                .unwrap_err()
                .exit_code(),
            2
        );
        let cli = Cli::try_parse_from(["usersync", "runs", "-t", "lawyers", "--json"]).unwrap();
        let Command::Runs(args) = cli.command else {
            panic!("expected runs")
        };
        assert_eq!(args.target.as_deref(), Some("lawyers"));
        assert!(args.json);
        assert_eq!(args.limit, 20);
    }

    #[test]
    fn bad_flag_values_are_usage_errors() {
        let e = Cli::try_parse_from(["usersync", "validate", "x.csv", "--encoding", "ebcdic"])
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
