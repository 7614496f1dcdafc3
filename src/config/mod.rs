//! The config file (`usersync.toml`) turned into one validated value.
//!
//! Following ripgrep's low/high args split: `raw.rs` holds the file exactly as written (serde,
//! unknown keys rejected), `check.rs` checks everything that needs more than a type (the provider
//! exists, every mapped field is one of its fields, the key is mapped, credentials name one of
//! its accepted sets, numbers are positive, date formats work) and resolves paths. Nothing
//! downstream re-reads the file. Every error names the file and the key (see [`ConfigError`]).
//!
//! Credentials are only *named* in the file (environment variables, or files holding them); they
//! are read by [`Target::credentials_from_env`], which only commands that send call
//! (`secret_file.rs` reads the files). `schema.rs` describes the file as a JSON Schema for
//! editors.

mod check;
mod error;
mod field;
mod notify;
mod policy;
mod raw;
mod schema;
mod secret_file;
mod update_rules;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use check::{
    parse_base_url, DEFAULT_CONCURRENCY, DEFAULT_LEDGER, DEFAULT_MAX_DEACTIVATE,
    DEFAULT_MAX_RETRIES, DEFAULT_RETENTION_DAYS, DEFAULT_TIMEOUT_SECS,
};
pub use error::ConfigError;
pub use field::{check_date_format, Clear, FieldSpec, Source, Transform};
pub use notify::{webhook_origin, Notify, NotifyEvent, WebhookUrl, DEFAULT_NOTIFY_TIMEOUT_SECS};
pub use policy::{Mode, Policy};
pub use schema::{json_schema, json_schema_text};
pub use secret_file::{read_secret_file, FILE_SUFFIX, MAX_SECRET_FILE_BYTES};
pub use update_rules::UpdateRules;

use crate::input::{Encoding, Format, InputOptions};
use crate::provider::{Credentials, Options, Provider};

/// A validated config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it was read from.
    pub path: PathBuf,
    /// The ledger database, resolved relative to the config file (default `usersync.db`).
    pub ledger: PathBuf,
    /// How long the ledger keeps a finished run's row details (`retention_days`).
    pub retention: Retention,
    /// Where `sync` and `retry` write the Prometheus metrics after each run (`metrics_file`,
    /// resolved relative to the config file); `--metrics-file` wins.
    pub metrics_file: Option<PathBuf>,
    /// The `[notify]` table: the webhook a run's outcome is posted to.
    pub notify: Option<Notify>,
    /// The `[input]` table.
    pub input: InputSettings,
    /// Every `[targets.NAME]`, by name.
    pub targets: BTreeMap<String, Target>,
}

/// How long the ledger keeps the row details of a finished run (`retention_days`; see
/// `crate::ledger::Ledger::prunable_runs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Delete the row details of runs that finished more than this many days ago.
    Days(u32),
    /// Keep every run's row details (`retention_days = "forever"`).
    Forever,
}

impl Retention {
    /// The end time before which a run's row details go, seen at `now`; `None`: none go.
    pub fn cutoff(
        self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Retention::Days(days) => Some(now - chrono::Duration::days(i64::from(days))),
            Retention::Forever => None,
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retention::Days(1) => f.write_str("1 day"),
            Retention::Days(days) => write!(f, "{days} days"),
            Retention::Forever => f.write_str("forever"),
        }
    }
}

/// How to read exports, from the config's `[input]` table or the command line. `None` = not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSettings {
    pub format: Option<Format>,
    pub delimiter: Option<u8>,
    pub encoding: Option<Encoding>,
    /// A workbook's sheet: a name, or a position counted from 1.
    pub sheet: Option<String>,
}

impl InputSettings {
    /// The options to read with: `flags` (the command line) win over `self` (the config file);
    /// what neither sets is decided from the file (format from the extension, delimiter from the
    /// header line, sheet: the first) or defaults (UTF-8).
    pub fn options(&self, flags: &InputSettings) -> InputOptions {
        InputOptions {
            format: flags.format.or(self.format),
            delimiter: flags.delimiter.or(self.delimiter),
            encoding: flags.encoding.or(self.encoding).unwrap_or_default(),
            sheet: flags.sheet.clone().or_else(|| self.sheet.clone()),
        }
    }
}

/// Where a target's API is. `Debug` shows it without credentials ([`BaseUrl::endpoint`]).
#[derive(Clone, PartialEq, Eq)]
pub enum BaseUrl {
    /// The built-in mock provider (`base_url = "mock"`).
    Mock,
    /// A real API root, always with a trailing slash.
    Url(url::Url),
}

impl BaseUrl {
    /// Where requests go, as the ledger records it (`runs.endpoint`) and messages name it:
    /// `mock`, or the URL without the user name and password a base URL may carry (they are
    /// secrets).
    pub fn endpoint(&self) -> String {
        match self {
            BaseUrl::Mock => "mock".to_owned(),
            BaseUrl::Url(url) => without_credentials(url.clone()).to_string(),
        }
    }
}

impl std::fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BaseUrl({})", self.endpoint())
    }
}

pub use crate::provider::target::without_credentials;

/// How many requests a target may have in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    Fixed(usize),
    /// Found at run time by the adaptive controller (`concurrency = "auto"`); the default when no
    /// `rate_limit` is set.
    Auto,
}

/// One `[targets.NAME]` table, checked.
#[derive(Clone)]
pub struct Target {
    /// The table name (`lawyers`).
    pub name: String,
    /// The config file, for error messages.
    pub config_path: PathBuf,
    pub provider: &'static dyn Provider,
    pub base_url: BaseUrl,
    /// Credential name (`api_key`) -> environment variable name (`ML_API_KEY`); when the
    /// variable is unset, `ML_API_KEY_FILE` may name a file holding the value.
    pub credentials: BTreeMap<String, String>,
    /// Credential name -> the file holding it (`api_key = { file = "..." }`), resolved against
    /// the config file's folder.
    pub credential_files: BTreeMap<String, PathBuf>,
    /// Requests per second; `None` = no static limit.
    pub rate_limit: Option<u32>,
    /// Requests allowed at once above the rate; `None` = the rate limiter's default.
    pub burst: Option<u32>,
    pub concurrency: Concurrency,
    /// A hard ceiling for `concurrency = "auto"`.
    pub concurrency_max: Option<u32>,
    /// A request quota per run.
    pub max_requests: Option<u64>,
    /// The provider field that identifies a user (`user_id`); always a mapped field.
    pub key: String,
    /// How each provider field is filled, sorted by field name.
    pub fields: Vec<FieldSpec>,
    /// Fields required in addition to the provider's schema (Faveo's "configurable" fields).
    pub required: Vec<String>,
    /// A column holding the provider's own id for users that already exist there.
    pub remote_id_column: Option<String>,
    /// What a run may do, and the users it never touches (`mode`, `protect`).
    pub policy: Policy,
    /// The largest share of the snapshot one run may deactivate (default 0.10).
    pub max_deactivate: f64,
    /// The largest fraction of known users one run may update (`max_changes`); none by default.
    pub max_changes: Option<f64>,
    /// Attempts after the first for a row that hits a passing problem (default 5).
    pub max_retries: u32,
    /// Per-request timeout (default 30 s).
    pub timeout: Duration,
    /// The `[targets.NAME.options]`, parsed by the target's provider.
    pub options: Options,
    /// The same table as written: a run on the built-in mock adds what the mock needs to it
    /// (Abitmedia's `auth_url`, see `crate::mock::MockProvider::target_options`) and parses it
    /// again, since `--base-url mock` can choose the mock after the config is loaded.
    pub options_table: toml::Table,
    /// What an update sends besides the changed fields (create-only fields, clears).
    pub update_rules: UpdateRules,
    /// What every sync of the target states once in its log: a consequence its options accept
    /// (Faveo updates that remove organisation links).
    pub warning: Option<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("provider", &self.provider.name())
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("credential_files", &self.credential_files)
            .field("key", &self.key)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    from_str(&text, path)
}

/// Validates config `text` as if read from `path` (relative paths resolve against its folder).
pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: raw::RawConfig = serde_path_to_error::deserialize(toml::Deserializer::new(text))
        .map_err(|e| deserialize_error(text, path, e))?;
    check::check(path, raw)
}

/// Turns a serde/toml error into a ConfigError naming the key (and line:column where toml knows).
fn deserialize_error(
    text: &str,
    path: &Path,
    e: serde_path_to_error::Error<toml::de::Error>,
) -> ConfigError {
    let mut key = e.path().to_string();
    let inner = e.into_inner();
    let location = inner.span().map(|span| line_column(text, span.start));
    let message = inner.message().to_owned();
    // Name an unknown key itself, where the path stops at its parent.
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some(name) = rest.split('`').next() {
            if key == "." {
                key = name.to_owned();
            } else if !key.ends_with(&format!(".{name}")) && key != name {
                key = format!("{key}.{name}");
            }
        }
    }
    if key == "." {
        let (line, column) = location.unwrap_or((1, 1));
        return ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message,
        };
    }
    ConfigError::Invalid {
        path: path.to_owned(),
        key,
        location,
        message,
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

impl Config {
    /// The target named `name`, or the only target when `name` is `None` and there is one.
    pub fn target(&self, name: Option<&str>) -> Result<&Target, ConfigError> {
        let known = || self.targets.keys().cloned().collect::<Vec<_>>().join(", ");
        match name {
            Some(name) => self.targets.get(name).ok_or_else(|| {
                ConfigError::invalid(
                    &self.path,
                    "targets",
                    format!("no target `{name}`; the config defines: {}", known()),
                )
            }),
            None => match self.targets.values().next() {
                Some(only) if self.targets.len() == 1 => Ok(only),
                _ => Err(ConfigError::invalid(
                    &self.path,
                    "targets",
                    format!(
                        "the config defines several targets ({}): choose one with -t/--target",
                        known()
                    ),
                )),
            },
        }
    }
}

impl Target {
    /// Whether every run deactivates the users missing from the export: `mode = "mirror"` (or
    /// its older spelling, `deactivate_missing = true`).
    pub fn deactivate_missing(&self) -> bool {
        self.policy.mode == Mode::Mirror
    }

    /// The full key path of `suffix` in this target, e.g. `targets.lawyers.fields.gender.map`.
    pub fn key_path(&self, suffix: &str) -> String {
        format!("targets.{}.{suffix}", self.name)
    }

    /// The target's options parsed again after `fill` added to its table what the config
    /// leaves out (the built-in mock's own `auth_url`); a refusal names the key to fix.
    pub fn options_with(
        &self,
        fill: impl FnOnce(&mut toml::Table),
    ) -> Result<Options, ConfigError> {
        let mut table = self.options_table.clone();
        fill(&mut table);
        self.provider
            .parse_options(&table)
            .map_err(|e| ConfigError::invalid(&self.config_path, self.key_path(&e.key), e.message))
    }

    /// The spec of provider field `field`, if mapped.
    pub fn field(&self, field: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.field == field)
    }

    /// Reads the credentials, each once: from the environment variable the config names (or,
    /// when it is unset or empty, from the file its `_FILE` twin names), or from the file the
    /// config names. A missing variable, or an unreadable or empty file, is an error naming the
    /// key (and the variable or the file); values never appear in errors.
    pub fn credentials_from_env(&self) -> Result<Credentials, ConfigError> {
        self.credentials_with(env_var)
    }

    /// [`Target::credentials_from_env`] with another source of variables (tests, a vault).
    pub fn credentials_with(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, ConfigError> {
        let mut creds = Credentials::new();
        for name in self.credentials.keys().chain(self.credential_files.keys()) {
            let Some(value) = self.credential(name, &lookup)? else {
                // Only a variable can be unset: a named file is read or is an error.
                let var = &self.credentials[name];
                return Err(self.credential_error(
                    name,
                    format!(
                        "the environment variable `{var}` is not set (or is empty or not valid \
                         Unicode), nor is `{var}{FILE_SUFFIX}` naming a file that holds it"
                    ),
                ));
            };
            creds.insert(name.clone(), value);
        }
        Ok(creds)
    }

    /// The credentials for a rehearsal against the built-in mock: each one the config names
    /// from wherever it names it (the variable, its `_FILE` twin, the file) when it is given
    /// there, else `fallback`'s (the mock's demo value), for every name `fallback` has. A
    /// file named but unreadable is still an error: the rehearsal must fail as the real run
    /// would.
    pub fn credentials_or(&self, fallback: &Credentials) -> Result<Credentials, ConfigError> {
        use secrecy::ExposeSecret;
        let mut out = Credentials::new();
        for name in fallback.names() {
            match self.credential(name, &env_var)? {
                Some(value) => out.insert(name, value),
                None => {
                    if let Some(secret) = fallback.get(name) {
                        out.insert(name, secret.expose_secret().to_owned());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Credential `name` from wherever the config names it: the variable (through `lookup`),
    /// else the file its `_FILE` twin names, or the file the config names. `None` only when
    /// nothing is set (or the config names no source); a named file that cannot be read is an
    /// error.
    fn credential(
        &self,
        name: &str,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<String>, ConfigError> {
        let set = |var: &str| lookup(var).filter(|v| !v.is_empty());
        if let Some(var) = self.credentials.get(name) {
            if let Some(value) = set(var) {
                return Ok(Some(value));
            }
            let file_var = format!("{var}{FILE_SUFFIX}");
            let Some(file) = set(&file_var) else {
                return Ok(None);
            };
            return read_secret_file(Path::new(&file)).map(Some).map_err(|why| {
                self.credential_error(
                    name,
                    format!("`{var}` is not set and `{file_var}` names {file}, which {why}"),
                )
            });
        }
        let Some(file) = self.credential_files.get(name) else {
            return Ok(None);
        };
        read_secret_file(file).map(Some).map_err(|why| {
            self.credential_error(name, format!("the file {} {why}", file.display()))
        })
    }

    /// An error at `credentials.NAME` of this target.
    fn credential_error(&self, name: &str, message: String) -> ConfigError {
        ConfigError::invalid(
            &self.config_path,
            self.key_path(&format!("credentials.{name}")),
            message,
        )
    }

    /// Where the credentials come from, for messages: "the environment variables A, B" and
    /// "the files X" (never a value); empty without credentials.
    pub fn credential_origins(&self) -> String {
        let list = |what: &str, items: Vec<String>| match items.len() {
            0 => None,
            1 => Some(format!("the {what} {}", items[0])),
            _ => Some(format!("the {what}s {}", items.join(", "))),
        };
        let vars = list(
            "environment variable",
            self.credentials.values().cloned().collect(),
        );
        let files = list(
            "file",
            self.credential_files
                .values()
                .map(|f| f.display().to_string())
                .collect(),
        );
        vars.into_iter()
            .chain(files)
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// The process environment's variable `var`, when it is set and valid Unicode.
fn env_var(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

#[cfg(test)]
mod tests;
