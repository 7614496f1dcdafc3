//! The per-target run lock: one sync of a target at a time, and never a lock that outlives its
//! process.
//!
//! An OS advisory lock (`flock` on Unix, via `File::try_lock`) on a file beside the ledger,
//! `<ledger>.<target>.lock`. The operating system releases it when the holder exits, however it
//! exits (SIGKILL included), so a crashed run never blocks the next one. The file's text says who
//! holds it (pid, since when), for the refusal message; the file itself is left in place, because
//! deleting a lock file lets two processes lock two different files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::error::LedgerError;
use crate::private_file::owner_only;

/// Proof that this process holds a target's run lock. Dropping it releases the lock.
#[derive(Debug)]
pub struct TargetLock {
    target: String,
    path: PathBuf,
    acquired_at: DateTime<Utc>,
    // Held for its lock; closed (and so unlocked) on drop.
    _file: File,
}

impl TargetLock {
    /// Takes the lock for `target` beside the ledger at `ledger_path`, or says who holds it.
    pub(crate) fn acquire(ledger_path: &Path, target: &str) -> Result<TargetLock, LedgerError> {
        let path = lock_path(ledger_path, target);
        let lock_err = |source| LedgerError::Lock {
            target: target.to_string(),
            lock_path: path.clone(),
            source,
        };
        let mut file = {
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            owner_only(&mut options);
            options.open(&path).map_err(lock_err)?
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let (pid, since) = read_holder(&mut file);
                return Err(LedgerError::Locked {
                    target: target.to_string(),
                    pid,
                    since,
                    lock_path: path,
                });
            }
            Err(TryLockError::Error(e)) => return Err(lock_err(e)),
        }
        let acquired_at = Utc::now();
        let text = format!(
            "pid={}\nsince={}\ntarget={}\n",
            std::process::id(),
            super::timestamp(acquired_at),
            target
        );
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .map_err(lock_err)?;
        tracing::debug!(target_name = target, lock = %path.display(), "target lock taken");
        Ok(TargetLock {
            target: target.to_string(),
            path,
            acquired_at,
            _file: file,
        })
    }

    /// The locked target.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When this process took the lock.
    pub fn acquired_at(&self) -> DateTime<Utc> {
        self.acquired_at
    }
}

/// `<ledger>.<target>.lock`, with any character that is not safe in a file name replaced by `_`.
pub(crate) fn lock_path(ledger_path: &Path, target: &str) -> PathBuf {
    let safe: String = target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = ledger_path.as_os_str().to_owned();
    name.push(format!(".{safe}.lock"));
    PathBuf::from(name)
}

/// The holder's pid and start time from the lock file's text, when it wrote them.
fn read_holder(file: &mut File) -> (Option<u32>, Option<String>) {
    let mut text = String::new();
    // A small file written by usersync; anything unreadable just means "unknown holder".
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(4096).read_to_string(&mut text));
    if read.is_err() {
        return (None, None);
    }
    let mut pid = None;
    let mut since = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("pid=") {
            pid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("since=") {
            since = Some(v.trim().to_string());
        }
    }
    (pid, since)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_sits_beside_the_ledger_with_a_safe_name() {
        let p = lock_path(Path::new("/var/lib/usersync.db"), "ml prod/1");
        assert_eq!(p, PathBuf::from("/var/lib/usersync.db.ml_prod_1.lock"));
    }
}
