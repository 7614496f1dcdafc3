//! The one error type of the config file: it always names the file, and the key to fix when
//! there is one, so that an operator can go straight to the line.

use std::fmt;
use std::path::PathBuf;

/// A config file that cannot be used. Every command exits with code 2 on it.
#[derive(Debug)]
pub enum ConfigError {
    /// The file cannot be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A key is unknown, has the wrong type, or a value that cannot work.
    Invalid {
        path: PathBuf,
        /// The dotted key path, e.g. `targets.lawyers.fields.gender.map`.
        key: String,
        /// Line and column, when known.
        location: Option<(usize, usize)>,
        message: String,
    },
}

impl ConfigError {
    /// An error about `key` in the file at `path`.
    pub fn invalid(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            path: path.into(),
            key: key.into(),
            location: None,
            message: message.into(),
        }
    }

    /// The dotted key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, .. } => {
                write!(f, "cannot read config file {}", path.display())
            }
            ConfigError::Syntax {
                path,
                line,
                column,
                message,
            } => write!(
                f,
                "{}:{line}:{column}: invalid TOML: {}",
                path.display(),
                one_line(message)
            ),
            ConfigError::Invalid {
                path,
                key,
                location,
                message,
            } => {
                write!(f, "{}", path.display())?;
                if let Some((line, column)) = location {
                    write!(f, ":{line}:{column}")?;
                }
                write!(f, ": `{key}`: {}", one_line(message))
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// toml's messages may span lines; an error line should not.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
