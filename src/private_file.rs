//! Files that hold personal data (reports, the `--rejects` CSV, the in-process mock's users, the
//! ledger and its lock): created readable and writable by their owner only (mode 0600), and,
//! where something may read them while they are written, written beside their final name and
//! renamed into place, so that a reader (a web server, a mail job, the next run) never sees half
//! a file and a failed write leaves the previous one intact.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;

/// Makes `options` create files readable and writable by their owner only.
pub(crate) fn owner_only(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// Creates (or truncates) `path` readable and writable by its owner only. An existing file
/// keeps its mode on open, so it is tightened.
pub fn create(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    owner_only(&mut options);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Writes `path` (mode 0600) with what `write` produces, atomically: into a temporary file of
/// an unpredictable name beside it, created exclusively (`tempfile`), then renamed into place.
/// `what` names the file in error messages ("the report").
pub fn write_atomically(
    path: &Path,
    what: &str,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    replace(path, what, 0o600, write)
}

/// [`write_atomically`] for a file others must read (`mode`, e.g. 0644 for the metrics file
/// node_exporter reads as its own user): never for personal data.
pub fn replace(
    path: &Path,
    what: &str,
    mode: u32,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let failed = || format!("cannot write {what} {}", path.display());
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    // tempfile creates the file with O_EXCL and mode 0600, and removes it if anything fails.
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create {what} {}", path.display()))?;
    let mut out = BufWriter::new(temp);
    write(&mut out)?;
    let temp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(failed)?;
    temp.as_file().sync_all().with_context(failed)?;
    #[cfg(unix)]
    if mode != 0o600 {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(failed)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.md");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, "the report", |out| Ok(out.write_all(b"new")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let failed = write_atomically(&path, "the report", |_| anyhow::bail!("boom"));
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn an_existing_file_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejects.csv");
        std::fs::write(&path, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            drop(create(&path).unwrap());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "truncated");
    }
}
