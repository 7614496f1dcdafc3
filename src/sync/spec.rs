//! The run description: the config's target and the command line's flags, resolved once into
//! one value that `plan`, `sync` and `retry` are driven from (the commands build it in
//! `commands/spec.rs`). Nothing downstream reads a flag or the raw config again: the rows to
//! read, how to diff them, the guards, where and how fast to send.

use std::path::PathBuf;
use std::time::Instant;

use super::guard::Guards;
use super::retry::RunChoice;
use crate::config::{BaseUrl, Concurrency, Target};
use crate::dispatch::{AdaptiveSettings, DispatchSettings};
use crate::input::InputOptions;

/// One run of one target, validated.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub target: Target,
    /// The ledger file (`--ledger`, or the config's `ledger`).
    pub ledger: PathBuf,
    /// Where the rows come from.
    pub rows: RowSource,
    /// `--full`: send every row whatever the snapshot says.
    pub full: bool,
    /// Leavers and the broken-export guards (an export only; a retry has neither).
    pub guards: Guards,
    pub send: SendSpec,
    /// A saved plan's fingerprints the run must find (`usersync apply`), checked once the run
    /// holds the target's lock.
    pub expected: Option<PlanExpected>,
}

/// What the export and the ledger must be for a saved plan to be applied.
#[derive(Debug, Clone)]
pub struct PlanExpected {
    /// The plan file, for the refusal's message.
    pub plan: PathBuf,
    pub export_sha256: String,
    pub snapshot_sha256: String,
}

/// Why a saved plan was not applied: what it was made from changed (a usage error, exit 2).
#[derive(Debug, thiserror::Error)]
#[error("the plan {} cannot be applied: {what}; make a new plan", plan.display())]
pub struct PlanStale {
    pub plan: PathBuf,
    pub what: &'static str,
}

/// Where the rows of a run come from.
#[derive(Debug, Clone)]
pub enum RowSource {
    /// An export file, read, mapped and validated row by row (`sync`, `plan`).
    Export {
        input: PathBuf,
        options: InputOptions,
    },
    /// The rows of an earlier run that did not go through, from the payloads the ledger kept
    /// (`retry`; see `retry.rs`).
    Kept {
        run: RunChoice,
        /// `--include-rejected`: also the rows the provider rejected.
        include_rejected: bool,
    },
}

/// Where and how a run sends.
#[derive(Debug, Clone)]
pub struct SendSpec {
    /// `--base-url`, or the target's.
    pub base_url: BaseUrl,
    /// The target's dispatch settings with the command line's `--rate`, `--concurrency` and
    /// window.
    pub dispatch: DispatchSettings,
    /// `--endpoint-moved`: the ledger's users of the target are at `base_url` now (see
    /// [`super::EndpointChanged`]).
    pub endpoint_moved: bool,
    /// The command line, secrets removed, for the ledger.
    pub command_line: String,
    /// `-v`: log how long the run should take once its export is planned.
    pub log_estimate: bool,
}

/// The most requests in flight `concurrency = "auto"` may reach without a `concurrency_max`.
pub const AUTO_MAX_CONCURRENCY: usize = 256;

/// The dispatch settings of a target, with the command line's overrides. `--concurrency N`
/// turns `concurrency = "auto"` into a fixed N.
pub fn dispatch_settings(
    target: &Target,
    rate: Option<f64>,
    concurrency: Option<usize>,
    deadline: Option<Instant>,
) -> DispatchSettings {
    let default = DispatchSettings::default();
    let auto = concurrency.is_none() && target.concurrency == Concurrency::Auto;
    DispatchSettings {
        rate_limit: rate.or(target.rate_limit.map(f64::from)),
        burst: target.burst.unwrap_or(default.burst).max(1),
        concurrency: match (concurrency, target.concurrency) {
            (Some(n), _) => n,
            (None, Concurrency::Fixed(n)) => n,
            // The ceiling the adaptive controller never exceeds.
            (None, Concurrency::Auto) => target
                .concurrency_max
                .map_or(AUTO_MAX_CONCURRENCY, |m| m as usize)
                .max(1),
        },
        adaptive: auto.then(AdaptiveSettings::default),
        max_retries: target.max_retries,
        timeout: target.timeout,
        max_requests: target.max_requests,
        deadline,
        ..default
    }
}

impl RunSpec {
    /// The export's path, for a run that reads one.
    pub fn input(&self) -> Option<&std::path::Path> {
        match &self.rows {
            RowSource::Export { input, .. } => Some(input),
            RowSource::Kept { .. } => None,
        }
    }
}
