//! The SQLite ledger: every run, every row's outcome, and the last state each target
//! acknowledged, so that a crash loses nothing and the next run sends only what changed.
//!
//! [`Ledger`] owns a connection and all the SQL; callers never write SQL. Its parts:
//! - `files`: the database file created 0600, with a clear error when its directory is unusable;
//! - `lock`: the per-target run lock ([`TargetLock`]);
//! - `hash`: keyed hashes of payloads and fields ([`PayloadHasher`]);
//! - `runs`: runs, their counts, and recovery of runs a crashed process left `running`;
//! - `latest`: a target's latest ended and latest clean runs (what the metrics file shows);
//! - `target_state`: the limits adaptive concurrency learned per target;
//! - `outcomes`: the row outcome types and their queries (`retryable`, `outcomes`);
//! - `report`: the read queries of `usersync report` (outcomes by operation, latencies, rows
//!   over time, problems grouped by cause, problem rows);
//! - `snapshot`: the compact in-memory `synced_users` of a target, for the diff ([`Snapshot`]);
//! - `writer`: the one task that writes intents and outcomes in batched transactions
//!   ([`LedgerWriter`], [`LedgerHandle`]).
//!
//! The schema is `migrations/NN-name/up.sql`, embedded at build time and applied on open,
//! tracked by `PRAGMA user_version`; connection pragmas (WAL, foreign keys, busy timeout,
//! `synchronous = NORMAL`) are set here, outside the migrations. A commit is durable when the
//! process is killed; `NORMAL` may lose the last commits on power loss, which the next run
//! repairs like a crash (the rows are sent again and a create meeting a conflict becomes an
//! update).

mod error;
mod field_hashes;
mod files;
mod hash;
mod held;
mod latest;
mod lock;
mod outcomes;
mod prune;
mod reconcile;
mod record;
mod report;
mod responses;
mod runs;
mod snapshot;
mod target_state;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use include_dir::{include_dir, Dir};
use rand::RngCore;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use rusqlite_migration::{Migrations, SchemaVersion};

pub use error::LedgerError;
pub use field_hashes::FieldHashes;
pub use hash::{short, Hash, PayloadHasher, ShortHash, SourceHash, SourceHasher};
pub use held::{Decision, HeldRun};
pub use lock::TargetLock;
pub use outcomes::{
    Intent, NoteCode, OutcomeKind, RetryCounts, RowNote, RowOutcome, SnapshotChange, StoredOutcome,
    GUARD_REFUSED,
};
pub use prune::PrunableRun;
pub use report::{
    ErrorGroup, FieldErrorGroup, NoteCount, OperationOutcomeCount, RunActivity, TimeSlice,
};
pub use responses::Responses;
pub use runs::{NewRun, RecoveredRun, RunCounts, RunId, RunRecord, RunStatus};
pub use snapshot::{Snapshot, SnapshotBuilder, SnapshotTooLarge, SnapshotUser};
pub use target_state::LearnedLimit;
pub use writer::{LedgerHandle, LedgerWriter, WriterConfig, WriterStats};

use error::SqlContext;

static MIGRATIONS_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// How long a connection waits for another one's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema version this build writes (the number of migrations).
pub fn schema_version() -> usize {
    MIGRATIONS_DIR.dirs().count()
}

/// The embedded migrations, in order.
pub fn migrations() -> Result<Migrations<'static>, rusqlite_migration::Error> {
    Migrations::from_directory(&MIGRATIONS_DIR)
}

/// An open ledger: one SQLite connection and every query usersync makes.
///
/// Not shared between threads (a `rusqlite::Connection` is not `Sync`): the reading side of a
/// command owns one, and the [`LedgerWriter`] task opens its own.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    hasher: PayloadHasher,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

impl Ledger {
    /// Opens the ledger at `path`, creating it (mode 0600) and bringing its schema up to date.
    ///
    /// Refuses a ledger written by a newer usersync ([`LedgerError::TooNew`]) and names the
    /// directory when it cannot hold the file ([`LedgerError::Create`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Ledger, LedgerError> {
        let path = path.as_ref().to_path_buf();
        files::prepare(&path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut conn =
            Connection::open_with_flags(&path, flags).map_err(|source| LedgerError::Open {
                path: path.clone(),
                source,
            })?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .ctx(&path, "set the busy timeout")?;
        refuse_newer(&conn, &path)?;
        set_pragmas(&conn, &path)?;
        migrate(&mut conn, &path)?;
        let key = load_or_create_key(&conn, &path)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Ledger {
            conn,
            path,
            hasher: PayloadHasher::new(&key),
        })
    }

    /// Tunes this connection for the writer of a run, which commits thousands of rows a second:
    /// the WAL is copied back into the database every 32 MB instead of every 4 MB (fewer
    /// checkpoints, each page written back once for many commits). Durability is unchanged: a
    /// commit is in the WAL either way. The page cache keeps SQLite's default (2 MB): 16 MB
    /// saved no measurable CPU and cost 15 MB of a nightly re-sync's peak memory (BENCHMARKS.md).
    pub fn tune_for_writing(&self) -> Result<(), LedgerError> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 8192)
            .ctx(&self.path, "set wal_autocheckpoint")?;
        Ok(())
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hasher keyed with this ledger's secret.
    pub fn hasher(&self) -> PayloadHasher {
        self.hasher.clone()
    }

    /// Takes the run lock of `target`: a second concurrent sync of the same target gets
    /// [`LedgerError::Locked`] naming the holder. Released when the returned value is dropped,
    /// or by the OS when the process dies.
    pub fn lock_target(&self, target: &str) -> Result<TargetLock, LedgerError> {
        TargetLock::acquire(&self.path, target)
    }

    /// Runs `PRAGMA integrity_check` and the foreign key check; `Corrupt` lists the problems.
    pub fn integrity_check(&self) -> Result<(), LedgerError> {
        let mut problems: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("PRAGMA integrity_check")
                .ctx(&self.path, "check the ledger's integrity")?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .ctx(&self.path, "check the ledger's integrity")?;
            rows.collect::<Result<_, _>>()
                .ctx(&self.path, "check the ledger's integrity")?
        };
        problems.retain(|p| p != "ok");
        let fk_problems: usize = self
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
                row.get(0)
            })
            .ctx(&self.path, "check the ledger's foreign keys")?;
        if fk_problems > 0 {
            problems.push(format!("{fk_problems} rows point at missing rows"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt(problems.join("; ")))
        }
    }

    fn corrupt(&self, detail: impl Into<String>) -> LedgerError {
        LedgerError::Corrupt {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }
}

/// Refuses a file whose schema is newer than this build's migrations, before touching it.
fn refuse_newer(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|source| LedgerError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    let found = usize::try_from(found).unwrap_or(usize::MAX);
    let supported = schema_version();
    if found <= supported {
        return Ok(());
    }
    // Best effort: a newer schema may have changed `meta`; then we just do not say which version.
    let written_by: Option<String> = conn
        .query_row(
            "SELECT CAST(value AS TEXT) FROM meta WHERE name = 'written_by'",
            [],
            |row| row.get(0),
        )
        .ok();
    Err(LedgerError::TooNew {
        path: path.to_path_buf(),
        found,
        supported,
        ours: env!("CARGO_PKG_VERSION"),
        written_by: written_by
            .filter(|w| !w.ends_with(env!("CARGO_PKG_VERSION")))
            .map(|w| format!(" ({w})"))
            .unwrap_or_default(),
    })
}

fn set_pragmas(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .ctx(path, "switch to WAL mode")?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            ledger = %path.display(),
            journal_mode = %mode,
            "the ledger's file system does not support WAL; writes will be slower"
        );
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .ctx(path, "set synchronous = NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .ctx(path, "turn on foreign keys")?;
    Ok(())
}

/// Applies the migrations. Two processes opening a fresh ledger at once race here: the loser
/// sees the schema already current, or retries after a busy error.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LedgerError> {
    let version = schema_version();
    let migrations = migrations().map_err(|source| LedgerError::Migrate {
        path: path.to_path_buf(),
        version,
        source,
    })?;
    let current = |conn: &Connection| migrations.current_version(conn).ok();
    let latest = SchemaVersion::Inside(
        std::num::NonZeroUsize::new(version).unwrap_or(std::num::NonZeroUsize::MIN),
    );
    let mut attempt = 0;
    loop {
        if current(conn) == Some(latest) {
            return Ok(());
        }
        match migrations.to_latest(conn) {
            Ok(()) => break,
            Err(_) if current(conn) == Some(latest) => break,
            Err(_) if attempt < 5 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(20 * attempt));
            }
            Err(source) => {
                return Err(LedgerError::Migrate {
                    path: path.to_path_buf(),
                    version,
                    source,
                })
            }
        }
    }
    tracing::info!(ledger = %path.display(), schema_version = version, "ledger schema updated");
    Ok(())
}

/// The ledger's HMAC key, created (32 random bytes) with the ledger; also records which
/// usersync created the file and last wrote its schema.
fn load_or_create_key(conn: &Connection, path: &Path) -> Result<[u8; 32], LedgerError> {
    let mut fresh = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut fresh);
    let version = format!("usersync {}", env!("CARGO_PKG_VERSION"));
    conn.execute_batch("BEGIN IMMEDIATE")
        .ctx(path, "create the ledger key")?;
    let result = (|| {
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('hmac_key', ?1), \
             ('created_at', ?2), ('created_by', ?3)",
            rusqlite::params![&fresh[..], timestamp(Utc::now()), version],
        )?;
        conn.execute(
            "INSERT INTO meta (name, value) VALUES ('written_by', ?1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value \
             WHERE value IS NOT excluded.value",
            [&version],
        )?;
        conn.query_row(
            "SELECT value FROM meta WHERE name = 'hmac_key'",
            [],
            |row| row.get::<_, Vec<u8>>(0),
        )
        .optional()
    })();
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end).ctx(path, "create the ledger key")?;
    let key = result.ctx(path, "create the ledger key")?;
    match key.as_deref().map(<[u8; 32]>::try_from) {
        Some(Ok(key)) => Ok(key),
        _ => Err(LedgerError::Corrupt {
            path: path.to_path_buf(),
            detail: "meta.hmac_key is missing or is not 32 bytes".into(),
        }),
    }
}

/// The text form of every time in the ledger: UTC RFC 3339 with milliseconds.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a time written by [`timestamp`].
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_validate() {
        migrations().unwrap().validate().unwrap();
        assert!(schema_version() >= 1);
    }

    #[test]
    fn timestamps_round_trip() {
        let now = Utc::now();
        let back = parse_timestamp(&timestamp(now)).unwrap();
        assert!((now - back).num_milliseconds().abs() <= 1);
    }
}
