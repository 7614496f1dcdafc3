//! Secrets kept in files: `credentials = { api_key = { file = "/run/secrets/ml_api_key" } }`, or
//! the `NAME_FILE` convention of container platforms (Docker and Kubernetes secrets, systemd's
//! `LoadCredential=`), where a variable names the file instead of holding the value.
//!
//! A file is read once, when a run opens its target, and its surrounding whitespace (the final
//! newline an editor adds) is trimmed. What goes wrong is said without the file's content: the
//! message names the path, and the caller adds the config key.

use std::io::Read;
use std::path::Path;

/// The suffix of the variable that names a file holding what the variable would hold
/// (`ML_API_KEY_FILE` for `ML_API_KEY`).
pub const FILE_SUFFIX: &str = "_FILE";

/// The largest secret file read: a credential is a few hundred bytes, and a path pointing at a
/// device or a log file must not be read whole into memory.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// The secret in the file at `path`, trimmed. The error completes a sentence starting with the
/// file ("the file X ..."): why it cannot be used, never what it holds.
pub fn read_secret_file(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read ({e})"))?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "is larger than {} KiB: not a credential",
            MAX_SECRET_FILE_BYTES / 1024
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err("is empty".into());
    }
    Ok(secret.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_is_read_trimmed_and_its_problems_never_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, "  s3cret-value\r\n\n").unwrap();
        assert_eq!(read_secret_file(&good).unwrap(), "s3cret-value");

        let blank = dir.path().join("blank");
        std::fs::write(&blank, " \n\t\n").unwrap();
        assert_eq!(read_secret_file(&blank).unwrap_err(), "is empty");

        let binary = dir.path().join("binary");
        std::fs::write(&binary, b"s3cret\xff\xfe").unwrap();
        let why = read_secret_file(&binary).unwrap_err();
        assert_eq!(why, "is not UTF-8 text");

        let huge = dir.path().join("huge");
        std::fs::write(&huge, "s3cret".repeat(20_000)).unwrap();
        let why = read_secret_file(&huge).unwrap_err();
        assert!(
            why.contains("larger than 64 KiB") && !why.contains("s3cret"),
            "{why}"
        );

        let why = read_secret_file(&dir.path().join("gone")).unwrap_err();
        assert!(why.starts_with("cannot be read ("), "{why}");
        // A folder is no file either.
        assert!(read_secret_file(dir.path()).is_err());
    }
}
