//! One run of one target: the pipeline, read top to bottom as the data flows.
//!
//! ```text
//!  spec.rs      the run, described once (target, flags, rows, guards, where and how to send)
//!  read.rs      reader thread: read → map → validate (`crate::prepare`), rows in batches
//!  diff.rs      planner thread: each row against the snapshot (`decide.rs`: the rules)
//!  hold.rs        requests held until the leavers and the guards (`guard.rs`) are decided
//!  send.rs      intents committed ──► requests, each carrying its row's context ──► dispatcher
//!  record.rs    outcomes (unchanged, rejected, results) ──► ledger writer
//!  pipeline.rs  the stages wired, joined, and settled into one summary
//! ```
//! Every stage is a bounded channel, so memory stays flat however large the file (the pass
//! holds at most `hold::HOLD_LIMIT` requests). Before a request leaves, its intent is
//! committed; every row read ends with exactly one outcome. A `retry` runs the same pipeline
//! on rows the ledger kept (`retry.rs`); `plan` runs the pass alone (`preview.rs`). A thread or
//! task that panics or fails ends the run `aborted`, sending nothing more (`breakdown.rs`).

mod breakdown;
pub mod connect;
pub mod decide;
pub mod diff;
pub mod endpoint;
pub mod estimate;
pub mod guard;
pub mod hold;
mod learned;
pub mod pipeline;
pub mod preview;
mod read;
pub mod record;
pub mod retry;
pub mod saved_plan;
pub mod scan;
pub mod send;
pub mod spec;
mod tally;
pub mod window;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::dispatch::{AbortReason, DispatchReport};
use crate::exit::Exit;
use crate::ledger::{NewRun, RunCounts, RunId};
use hold::{Opened, PassInput};
use pipeline::{execute, open_ledger, Launch};

pub use connect::Connection;
pub use endpoint::EndpointChanged;
pub use guard::{GuardRefusal, Guards};
pub use pipeline::Controls;
pub use record::OUTCOME_BATCH;
pub use retry::{RetrySummary, RunChoice};
pub use scan::Scan;
pub use send::INTENT_BATCH;
pub use spec::{PlanExpected, PlanStale, RowSource, RunSpec, SendSpec};
pub use tally::Tally;

/// How a sync ended.
pub struct SyncSummary {
    pub run: RunId,
    pub counts: RunCounts,
    pub aborted: Option<AbortReason>,
    pub exit: Exit,
    pub elapsed: Duration,
    pub dispatch: DispatchReport,
    /// Whether what adaptive concurrency settled on was stored for the next run.
    pub learned: bool,
    /// The in-process mock, when the target is `base_url = "mock"` (for tests and demos).
    pub mock: Option<crate::mock::MockHandle>,
    /// The rows that went through but need a person (see `crate::notes`), by note code.
    pub noted: BTreeMap<crate::ledger::NoteCode, Noted>,
    /// Why the run is held for a person (a broken-export guard tripped): nothing was sent, and
    /// `usersync approve RUN` sends what it holds.
    pub held: Option<String>,
}

/// The rows of one note code: how many, and the first [`Noted::KEYS`] user keys (a summary
/// line, not a list: the reports and the log name every one).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Noted {
    pub count: u64,
    pub keys: Vec<String>,
}

impl Noted {
    pub const KEYS: usize = 10;
}

impl SyncSummary {
    /// Whether a person should read this run's summary: it did not end cleanly, or rows that
    /// went through need a person (a user to reactivate by hand, a field not cleared; not a
    /// protected user left alone, which the config asked for). `-q` prints the summary only
    /// then.
    pub fn needs_a_person(&self) -> bool {
        self.exit != Exit::Ok || self.noted.keys().any(|code| code.needs_a_person())
    }
}

/// Runs one sync of an export (`spec.rows` is [`RowSource::Export`]). Errors are fatal
/// problems before or outside the rows (ledger, file, guards); row problems end up in the
/// ledger and in the summary's counts.
pub async fn run(spec: &RunSpec, controls: Controls) -> anyhow::Result<SyncSummary> {
    let started = Instant::now();
    let RowSource::Export { input, options } = &spec.rows else {
        anyhow::bail!("a sync reads an export; a retry's rows go through `sync::retry::run`");
    };
    let target = &spec.target;
    // The file opens and the mapping fits its header (else a usage error, before anything);
    // the pass reads on from there.
    let opened = Opened::open(input, target, options)?;
    // The file's SHA-256 is read beside the snapshot's loading.
    let hashing = {
        let input = input.clone();
        std::thread::spawn(move || scan::sha256_file(&input))
    };
    let (ledger, lock) = open_ledger(spec)?;
    let snapshot = ledger.snapshot(&target.name)?;
    let input_sha256 = hashing
        .join()
        .map_err(|_| anyhow::anyhow!("the thread hashing the export failed"))?
        .with_context(|| format!("could not read {}", input.display()))?;
    if let Some(expected) = &spec.expected {
        let what = if expected.export_sha256 != input_sha256 {
            Some("the export changed since the plan was made")
        } else if expected.snapshot_sha256 != saved_plan::snapshot_sha256(&snapshot) {
            Some("the ledger's users of the target changed since the plan was made")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(PlanStale {
                plan: expected.plan.clone(),
                what,
            }
            .into());
        }
    }
    let new_run = NewRun {
        target: target.name.clone(),
        provider: target.provider.name().to_owned(),
        command: "sync".into(),
        parent_run_id: None,
        input_path: Some(input.display().to_string()),
        input_sha256: Some(input_sha256),
        command_line: Some(spec.send.command_line.clone()),
        note: None,
        // Checked against the ledger, then filled in, when the run starts (`execute`).
        endpoint: None,
    };
    let launch = Launch {
        started,
        ledger,
        lock,
        snapshot,
        input: PassInput::Export {
            input: input.clone(),
            options: options.clone(),
            opened: Some(Box::new(opened)),
        },
        new_run,
    };
    execute(spec, launch, controls).await
}
