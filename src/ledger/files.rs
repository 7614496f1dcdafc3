//! The ledger's files on disk: created private (mode 0600) before SQLite touches them, with a
//! clear message naming the path when the directory cannot take them.
//!
//! SQLite creates the `-wal` and `-shm` files with the mode of the database file, so creating
//! the database 0600 ourselves keeps all three private. A ledger made by something else with a
//! wider mode is tightened (and a warning logged): it holds user keys and remote ids.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

use super::error::LedgerError;
use crate::private_file::owner_only;

/// Creates the ledger file (mode 0600) if it does not exist, checks that its directory can
/// hold SQLite's side files, and tightens the mode of existing files.
///
/// An existing ledger is never opened here: closing any descriptor of a file drops every POSIX
/// lock the process holds on it, so a process with the ledger already open (a sync's reader and
/// writer connections) would lose the lock that tells other processes it is using the file; the
/// next of those to close would take itself for the last and remove the write-ahead log under
/// it ("Posix advisory locks canceled by a separate thread doing close()",
/// <https://www.sqlite.org/howtocorrupt.html>).
pub(crate) fn prepare(path: &Path) -> Result<(), LedgerError> {
    let dir = directory_of(path);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    owner_only(&mut options);
    match options.open(path) {
        Ok(_) => {}
        Err(_) if path.is_dir() => {
            let source = io::Error::from(io::ErrorKind::IsADirectory);
            return Err(create_error(path, &dir, source));
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => return Err(create_error(path, &dir, source)),
    }
    probe_directory(path, &dir)?;
    for file in [
        path.to_path_buf(),
        side_file(path, "-wal"),
        side_file(path, "-shm"),
    ] {
        tighten_mode(&file);
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name (`usersync.db-wal`).
pub(crate) fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The directory that holds `path` (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// SQLite must create `-wal` and `-shm` beside the ledger: make sure it will be able to, so the
/// failure names the directory instead of surfacing as "unable to open database file" later.
/// Uses a probe file of its own, never the real `-wal`, which another process may be using.
fn probe_directory(path: &Path, dir: &Path) -> Result<(), LedgerError> {
    let probe = side_file(path, &format!(".probe-{}", std::process::id()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    owner_only(&mut options);
    match options.open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(create_error(path, dir, source)),
    }
}

fn create_error(path: &Path, dir: &Path, source: io::Error) -> LedgerError {
    let dir_shown = dir.display();
    let hint = match source.kind() {
        io::ErrorKind::NotFound => format!("the directory {dir_shown} does not exist"),
        io::ErrorKind::PermissionDenied if path.exists() => format!(
            "the file or its directory {dir_shown} is not writable (SQLite also writes \
             {}-wal and -shm beside it)",
            path.display()
        ),
        io::ErrorKind::PermissionDenied => {
            format!("the directory {dir_shown} is not writable")
        }
        io::ErrorKind::IsADirectory => "it is a directory, not a file".to_string(),
        io::ErrorKind::NotADirectory => {
            format!("{dir_shown} (or a folder above it) is a file, not a directory")
        }
        io::ErrorKind::ReadOnlyFilesystem => {
            format!("the directory {dir_shown} is on a read-only file system")
        }
        _ => format!("could not create a file in {dir_shown}"),
    };
    LedgerError::Create {
        path: path.to_path_buf(),
        hint,
        source,
    }
}

/// Removes group and other permissions from an existing ledger file.
fn tighten_mode(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return;
        }
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => tracing::warn!(
                file = %path.display(),
                old_mode = format!("{mode:o}"),
                "the ledger was readable by other users; its mode is now 600"
            ),
            Err(e) => tracing::warn!(
                file = %path.display(),
                old_mode = format!("{mode:o}"),
                error = %e,
                "the ledger is readable by other users and its mode could not be changed"
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
