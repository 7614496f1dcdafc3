//! Raw config -> validated [`Config`] (ripgrep's "high args"): every rule that needs more than a
//! type, each failure naming its key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::field::check_field;
use super::raw::{RawConfig, RawCredential, RawTarget};
use super::{BaseUrl, Concurrency, Config, ConfigError, InputSettings, Retention, Target};
use super::{Mode, Policy, UpdateRules};
use crate::provider::{self, Provider};

/// Concurrency used when a target sets a `rate_limit` but no `concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Default `max_deactivate`: the share of the snapshot one run may deactivate.
pub const DEFAULT_MAX_DEACTIVATE: f64 = 0.10;
/// Default `max_retries` per row.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// Default `timeout_secs` per request.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Default ledger file name, next to the config file.
pub const DEFAULT_LEDGER: &str = "usersync.db";
/// Default `retention_days`: a quarter of row details, enough to look back on and to retry,
/// without keeping a year of nights (and of failed rows' payloads) in the ledger.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The largest `retention_days` (a century): beyond it, say `"forever"`.
const MAX_RETENTION_DAYS: i64 = 36_500;

pub(super) fn check(path: &Path, raw: RawConfig) -> Result<Config, ConfigError> {
    if raw.targets.is_empty() {
        return Err(ConfigError::invalid(
            path,
            "targets",
            "the config defines no target: add a [targets.NAME] table",
        ));
    }
    let dir = dir_of(path);
    let ledger = dir.join(raw.ledger.as_deref().unwrap_or(DEFAULT_LEDGER));
    let metrics_file = raw.metrics_file.map(|file| dir.join(file));
    let notify = raw
        .notify
        .map(|notify| super::notify::check(path, notify))
        .transpose()?;
    let retention = retention(raw.retention_days)
        .map_err(|message| ConfigError::invalid(path, "retention_days", message))?;
    let mut targets = BTreeMap::new();
    for (name, raw_target) in raw.targets {
        let target = check_target(path, &name, raw_target)?;
        targets.insert(name, target);
    }
    Ok(Config {
        path: path.to_owned(),
        ledger,
        retention,
        metrics_file,
        notify,
        input: InputSettings {
            format: raw.input.format,
            delimiter: raw.input.delimiter,
            encoding: raw.input.encoding,
            sheet: raw.input.sheet,
        },
        targets,
    })
}

/// `retention_days`: a whole number of days, or `"forever"`.
fn retention(value: Option<toml::Value>) -> Result<Retention, String> {
    match value {
        None => Ok(Retention::Days(DEFAULT_RETENTION_DAYS)),
        Some(toml::Value::String(s)) if s == "forever" => Ok(Retention::Forever),
        Some(toml::Value::Integer(days)) if (1..=MAX_RETENTION_DAYS).contains(&days) => {
            Ok(Retention::Days(days as u32))
        }
        Some(other) => Err(format!(
            "expected a number of days from 1 to {MAX_RETENTION_DAYS}, or \"forever\" to keep \
             every run's row details, not {other}"
        )),
    }
}

fn check_target(path: &Path, name: &str, raw: RawTarget) -> Result<Target, ConfigError> {
    let err = |key: &str, message: String| {
        ConfigError::invalid(path, format!("targets.{name}.{key}"), message)
    };
    let provider = provider::by_name(&raw.provider).ok_or_else(|| {
        err(
            "provider",
            format!(
                "unknown provider `{}`; known providers: {}",
                raw.provider,
                provider::names().join(", ")
            ),
        )
    })?;
    let base_url = parse_base_url(&raw.base_url).map_err(|m| err("base_url", m))?;
    // A rehearsal on the built-in mock may leave the credentials out entirely.
    if !(base_url == BaseUrl::Mock && raw.credentials.is_empty()) {
        check_credentials(provider, &raw.credentials).map_err(|(k, m)| err(&k, m))?;
    }
    let (credentials, credential_files) = credential_sources(dir_of(path), raw.credentials);
    for (key, value) in [
        ("rate_limit", raw.rate_limit),
        ("burst", raw.burst),
        ("concurrency_max", raw.concurrency_max),
    ] {
        if value == Some(0) {
            return Err(err(key, "must be at least 1".into()));
        }
    }
    if raw.max_requests == Some(0) {
        return Err(err("max_requests", "must be at least 1".into()));
    }
    if raw.timeout_secs == Some(0) {
        return Err(err("timeout_secs", "must be at least 1".into()));
    }
    let mode = match raw.mode.as_deref() {
        None if raw.deactivate_missing => Mode::Mirror,
        None => Mode::default(),
        Some(name) => {
            let names = || {
                Mode::NAMES
                    .iter()
                    .map(|(n, _)| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mode = Mode::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, m)| *m)
                .ok_or_else(|| err("mode", format!("expected one of {}", names())))?;
            if raw.deactivate_missing && mode != Mode::Mirror {
                return Err(err(
                    "deactivate_missing",
                    format!(
                        "deactivate_missing = true is mode = \"mirror\", and the target says                          mode = \"{name}\": keep one of them"
                    ),
                ));
            }
            mode
        }
    };
    let policy = Policy::new(mode, raw.protect)
        .map_err(|(i, why)| err(&format!("protect[{i}]"), format!("not a glob: {why}")))?;
    if let Some(max_changes) = raw.max_changes {
        if !(0.0..=1.0).contains(&max_changes) {
            return Err(err(
                "max_changes",
                format!("must be a fraction between 0 and 1 (0.25 = 25%), not {max_changes}"),
            ));
        }
    }
    let max_deactivate = raw.max_deactivate.unwrap_or(DEFAULT_MAX_DEACTIVATE);
    if !(0.0..=1.0).contains(&max_deactivate) {
        return Err(err(
            "max_deactivate",
            format!("must be a fraction between 0 and 1 (0.10 = 10%), not {max_deactivate}"),
        ));
    }
    let schema = provider.schema();
    let mut fields = Vec::with_capacity(raw.fields.len());
    for (field, raw_field) in raw.fields {
        if !schema.fields.is_empty() && schema.field(&field).is_none() {
            return Err(err(
                &format!("fields.{field}"),
                format!(
                    "{} has no field `{field}`; its fields are: {}",
                    provider.name(),
                    schema
                        .fields
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let spec = check_field(&field, raw_field).map_err(|(suffix, m)| {
            let key = if suffix.is_empty() {
                format!("fields.{field}")
            } else {
                format!("fields.{field}.{suffix}")
            };
            err(&key, m)
        })?;
        fields.push(spec);
    }
    let mapped = |f: &str| fields.iter().any(|s| s.field == f);
    let mapped_list = || {
        fields
            .iter()
            .map(|s| s.field.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !mapped(&raw.key) {
        return Err(err(
            "key",
            format!(
                "the key `{}` is not a mapped field; mapped fields: {}",
                raw.key,
                mapped_list()
            ),
        ));
    }
    for (i, field) in raw.required.iter().enumerate() {
        if !mapped(field) {
            return Err(err(
                &format!("required[{i}]"),
                format!(
                    "`{field}` is marked required but is not mapped in [targets.{name}.fields]; mapped fields: {}",
                    mapped_list()
                ),
            ));
        }
    }
    for spec in &fields {
        let field = &spec.field;
        if spec.clear.is_some() && !provider.can_clear_fields() {
            return Err(err(
                &format!("fields.{field}.clear"),
                format!(
                    "{} cannot clear a field: its update skips empty values, so the old value \
                     stays whatever is sent",
                    provider.name()
                ),
            ));
        }
        if spec.create_only == Some(true) && *field == raw.key {
            return Err(err(
                &format!("fields.{field}.create_only"),
                "the key identifies the user on every request: it cannot be sent on create only"
                    .into(),
            ));
        }
    }
    let mapped_names: Vec<&str> = fields.iter().map(|s| s.field.as_str()).collect();
    let options = provider
        .parse_options(&raw.options)
        .map_err(|e| err(&e.key, e.message))?;
    let warning = provider
        .check_target(&mapped_names, &options)
        .map_err(|e| err(&e.key, e.message))?;
    let update_rules = UpdateRules::new(provider, &fields);
    if raw
        .remote_id_column
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        return Err(err("remote_id_column", "the column name is empty".into()));
    }
    let concurrency = raw.concurrency.unwrap_or(match raw.rate_limit {
        Some(_) => Concurrency::Fixed(DEFAULT_CONCURRENCY),
        None => Concurrency::Auto,
    });
    Ok(Target {
        name: name.to_owned(),
        config_path: path.to_owned(),
        provider,
        base_url,
        credentials,
        credential_files,
        rate_limit: raw.rate_limit,
        burst: raw.burst,
        concurrency,
        concurrency_max: raw.concurrency_max,
        max_requests: raw.max_requests,
        key: raw.key,
        fields,
        required: raw.required,
        remote_id_column: raw.remote_id_column,
        policy,
        max_deactivate,
        max_changes: raw.max_changes,
        max_retries: raw.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS)),
        options,
        options_table: raw.options,
        update_rules,
        warning,
    })
}

/// `"mock"`, or an http(s) URL normalised with a trailing slash (so joining a relative path
/// keeps the URL's own path, e.g. a GNOSS API root).
pub fn parse_base_url(s: &str) -> Result<BaseUrl, String> {
    if s == "mock" {
        return Ok(BaseUrl::Mock);
    }
    let shown = without_userinfo(s);
    let mut url = url::Url::parse(s)
        .map_err(|e| format!("`{shown}` is not a URL ({e}); use \"mock\" or an https:// URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "`{shown}` is not an http(s) URL; use \"mock\" or an https:// URL"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{shown}` must not have a query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(BaseUrl::Url(url))
}

/// `s` as an error message may show it: a `user:password@` after the scheme becomes `…@`
/// (textually, since a URL in an error may not parse).
fn without_userinfo(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = s.find("://").map(|i| i + 3) else {
        return s.into();
    };
    let authority_end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| start + i);
    match s[start..authority_end].rfind('@') {
        Some(at) => format!("{}…@{}", &s[..start], &s[start + at + 1..]).into(),
        None => s.into(),
    }
}

/// The folder of the config file, against which its relative paths resolve.
fn dir_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

/// The credentials split by where their values come from: environment variable names, and
/// files (resolved against `dir`, the config file's folder, as the ledger is).
fn credential_sources(
    dir: &Path,
    creds: BTreeMap<String, RawCredential>,
) -> (BTreeMap<String, String>, BTreeMap<String, PathBuf>) {
    let mut vars = BTreeMap::new();
    let mut files = BTreeMap::new();
    for (name, source) in creds {
        match source {
            RawCredential::Env(var) => {
                vars.insert(name, var);
            }
            RawCredential::File(file) => {
                files.insert(name, dir.join(file));
            }
        }
    }
    (vars, files)
}

/// The credential names must be exactly one of the provider's accepted sets (extra names are
/// a typo). Errors are `(key under the target, message)`.
fn check_credentials(
    provider: &dyn Provider,
    creds: &BTreeMap<String, RawCredential>,
) -> Result<(), (String, String)> {
    for (name, source) in creds {
        let (given, what) = match source {
            RawCredential::Env(var) => (
                var,
                "give the name of the environment variable that holds this credential",
            ),
            RawCredential::File(file) => {
                (file, "give the path of the file that holds this credential")
            }
        };
        if given.trim().is_empty() {
            return Err((format!("credentials.{name}"), what.into()));
        }
    }
    let sets = provider.credential_sets();
    if sets.is_empty() {
        return Ok(());
    }
    let describe = || {
        sets.iter()
            .map(|s| s.join(" + "))
            .collect::<Vec<_>>()
            .join(", or ")
    };
    for name in creds.keys() {
        if !sets.iter().any(|set| set.contains(&name.as_str())) {
            return Err((
                format!("credentials.{name}"),
                format!(
                    "{} has no credential `{name}`; it takes {}",
                    provider.name(),
                    describe()
                ),
            ));
        }
    }
    let matches =
        |set: &&[&str]| set.len() == creds.len() && set.iter().all(|n| creds.contains_key(*n));
    if !sets.iter().any(matches) {
        return Err((
            "credentials".into(),
            format!(
                "{} needs the environment variable names of {} (given: {})",
                provider.name(),
                describe(),
                if creds.is_empty() {
                    "none".to_owned()
                } else {
                    creds.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised() {
        assert_eq!(parse_base_url("mock"), Ok(BaseUrl::Mock));
        let BaseUrl::Url(u) = parse_base_url("https://api.example.com/gnoss/api").unwrap() else {
            panic!("not a url")
        };
        assert_eq!(u.as_str(), "https://api.example.com/gnoss/api/");
        assert_eq!(
            u.join("user/modify-user").unwrap().path(),
            "/gnoss/api/user/modify-user"
        );
        assert!(parse_base_url("ftp://x.example.com").is_err());
        assert!(parse_base_url("api.example.com").is_err());
    }

    #[test]
    fn a_refused_base_url_is_shown_without_its_password() {
        for bad in [
            "https://ops:pw-123@api.example.com/x?y=1",
            "ftp://ops:pw-123@x.example.com/",
            "https://ops:pw-123@[::1/",
        ] {
            let message = parse_base_url(bad).unwrap_err();
            assert!(!message.contains("pw-123"), "{message}");
            assert!(message.contains("…@"), "{message}");
        }
        assert_eq!(
            without_userinfo("https://a.example/p@x"),
            "https://a.example/p@x"
        );
        let debug = format!(
            "{:?}",
            parse_base_url("https://ops:pw-123@a.example/").unwrap()
        );
        assert_eq!(debug, "BaseUrl(https://a.example/)");
    }
}
