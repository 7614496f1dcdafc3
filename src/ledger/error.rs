//! Everything that can go wrong with the ledger, as one error type whose messages name the file.
//!
//! A ledger problem is always fatal for a run (the ledger is how a crash loses nothing), so each
//! message says which file and what to do; the underlying I/O or SQLite error is the `source`,
//! printed by the CLI as a `Caused by:` line.

use std::path::PathBuf;

use super::runs::RunId;

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger file (or a file beside it) could not be created.
    #[error("cannot create the ledger {path}: {hint}")]
    Create {
        path: PathBuf,
        /// What to check, e.g. "the directory /var/lib/usersync is not writable".
        hint: String,
        #[source]
        source: std::io::Error,
    },

    /// SQLite could not open the file.
    #[error("cannot open the ledger {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// The file was written by a newer usersync, with a schema this version does not know.
    #[error(
        "the ledger {path} has schema version {found}, but this usersync ({ours}) knows versions \
         up to {supported}: it was written by a newer usersync{written_by}. Upgrade usersync, or \
         use another ledger file (--ledger)"
    )]
    TooNew {
        path: PathBuf,
        found: usize,
        supported: usize,
        /// This binary's version.
        ours: &'static str,
        /// ` (0.3.0)` when the newer version left its name in the file, else empty.
        written_by: String,
    },

    /// Applying the migrations failed.
    #[error("cannot bring the ledger {path} to schema version {version}")]
    Migrate {
        path: PathBuf,
        version: usize,
        #[source]
        source: rusqlite_migration::Error,
    },

    /// Another process holds the target's run lock.
    #[error("{}", locked_message(.target, *.pid, .since.as_deref(), .lock_path))]
    Locked {
        target: String,
        /// The holder's process id, when it could be read from the lock file.
        pid: Option<u32>,
        /// When the holder took the lock (RFC 3339), when known.
        since: Option<String>,
        lock_path: PathBuf,
    },

    /// The lock file could not be created or locked for another reason than a holder.
    #[error("cannot lock target {target} with {lock_path}")]
    Lock {
        target: String,
        lock_path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A query failed.
    #[error("ledger {path}: cannot {action}")]
    Sql {
        path: PathBuf,
        /// What was being done, e.g. "record a run".
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    /// The file holds something this code never writes.
    #[error("the ledger {path} is damaged: {detail}")]
    Corrupt { path: PathBuf, detail: String },

    /// A run id that is not in the ledger.
    #[error("run {run} is not in the ledger {path}")]
    UnknownRun { path: PathBuf, run: RunId },

    /// The writer task is gone (it failed earlier, or every handle was closed).
    #[error("the ledger writer for {path} stopped: {reason}")]
    WriterStopped { path: PathBuf, reason: String },
}

fn locked_message(
    target: &str,
    pid: Option<u32>,
    since: Option<&str>,
    lock_path: &std::path::Path,
) -> String {
    let who = match pid {
        Some(pid) => format!("another usersync run (pid {pid})"),
        None => "another usersync run".to_string(),
    };
    let when = match since {
        Some(since) => format!(" since {since}"),
        None => String::new(),
    };
    format!(
        "{who} is syncing target {target}{when}; wait for it to finish (the lock {} is released \
         when that process ends, even if it is killed)",
        lock_path.display()
    )
}

/// Attaches the ledger path and an action to rusqlite errors.
pub(crate) trait SqlContext<T> {
    fn ctx(self, path: &std::path::Path, action: &'static str) -> Result<T, LedgerError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, path: &std::path::Path, action: &'static str) -> Result<T, LedgerError> {
        self.map_err(|source| LedgerError::Sql {
            path: path.to_path_buf(),
            action,
            source,
        })
    }
}
