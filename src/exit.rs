//! The process exit codes, in one place, so that every command and the README agree.
//!
//! Cron jobs and integration scripts branch on these numbers; never reuse one for a new meaning.

use std::process::ExitCode;

/// How a command ended, as the number a shell script sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every row valid / synced / unchanged.
    Ok = 0,
    /// A fatal error other than usage: aborted run (auth failure, circuit breaker), I/O.
    Fatal = 1,
    /// Bad command line or bad config file.
    Usage = 2,
    /// The run finished but some rows were rejected or failed.
    RowErrors = 3,
    /// The run stopped at its deadline or quota; the next run picks up the rest.
    Deadline = 4,
    /// A broken-export guard tripped: the run is held, nothing was sent, until a person runs
    /// `usersync approve RUN` or `usersync reject RUN`.
    Held = 5,
    /// Interrupted by SIGINT/SIGTERM.
    Interrupted = 130,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}
