//! The `[notify]` table: where a run's outcome is posted (a chat webhook) and for which outcomes.
//! The webhook's URL is a secret (its path carries the token), so it is never shown whole:
//! messages and `Debug` name only its scheme and host ([`webhook_origin`]).

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::raw::RawNotify;
use super::ConfigError;

/// Default `timeout_secs` of a notification: every attempt of it, together.
pub const DEFAULT_NOTIFY_TIMEOUT_SECS: u64 = 10;

/// What a run's outcome can be, for `[notify] events`, from the most to the least urgent: a run
/// matching several is notified once, as the most urgent of those the config lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotifyEvent {
    /// The run did not get everything through: aborted, interrupted, stopped at its deadline
    /// or quota, or rows failed.
    Failed,
    /// A run held for a person's decision: a broken-export guard tripped (exit 5).
    Held,
    /// Rows went through but need a person (a user to reactivate by hand, a field not cleared).
    NeedsPerson,
    /// Rows were rejected (by validation or by the provider): the source needs fixing.
    RejectedRows,
    /// The run ended with exit code 0.
    Completed,
}

impl NotifyEvent {
    /// Every event, by its name in the config and in a notification's body.
    pub const ALL: [(&'static str, NotifyEvent); 5] = [
        ("failed", NotifyEvent::Failed),
        ("held", NotifyEvent::Held),
        ("needs_person", NotifyEvent::NeedsPerson),
        ("rejected_rows", NotifyEvent::RejectedRows),
        ("completed", NotifyEvent::Completed),
    ];

    /// The default `events`.
    pub const DEFAULT: [NotifyEvent; 2] = [NotifyEvent::Failed, NotifyEvent::NeedsPerson];

    pub fn as_str(self) -> &'static str {
        NotifyEvent::ALL
            .iter()
            .find(|(_, e)| *e == self)
            .map_or("?", |(name, _)| name)
    }
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the webhook's URL comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum WebhookUrl {
    /// `url = "https://..."`, checked when the config loads.
    Fixed(url::Url),
    /// `url_env = "VAR"`: read when a notification is sent (from the file `VAR_FILE` names
    /// when `VAR` is unset).
    Env(String),
}

/// The checked `[notify]` table.
#[derive(Clone, PartialEq, Eq)]
pub struct Notify {
    pub url: WebhookUrl,
    /// The outcomes to post.
    pub events: BTreeSet<NotifyEvent>,
    /// How long one notification may take, every attempt of it together.
    pub timeout: Duration,
    /// The config file, for error messages.
    pub config_path: std::path::PathBuf,
}

impl Notify {
    /// The webhook's URL, reading the environment variable `url_env` names (or, when it is
    /// unset, the file its `_FILE` twin names). The error names the key to fix, never the value.
    pub fn url(&self) -> Result<url::Url, ConfigError> {
        match &self.url {
            WebhookUrl::Fixed(url) => Ok(url.clone()),
            WebhookUrl::Env(var) => {
                let error =
                    |message| ConfigError::invalid(&self.config_path, "notify.url_env", message);
                let file_var = format!("{var}{}", super::FILE_SUFFIX);
                let value = match std::env::var(var).ok().filter(|v| !v.is_empty()) {
                    Some(value) => value,
                    None => {
                        let file = std::env::var(&file_var)
                            .ok()
                            .filter(|v| !v.is_empty())
                            .ok_or_else(|| {
                                error(format!(
                                    "the environment variable `{var}` is not set (or is empty), \
                                     nor is `{file_var}` naming a file that holds it"
                                ))
                            })?;
                        super::read_secret_file(Path::new(&file)).map_err(|why| {
                            error(format!(
                                "`{var}` is not set and `{file_var}` names {file}, which {why}"
                            ))
                        })?
                    }
                };
                parse_webhook(&value).map_err(|message| {
                    ConfigError::invalid(
                        &self.config_path,
                        "notify.url_env",
                        format!("the environment variable `{var}`: {message}"),
                    )
                })
            }
        }
    }
}

/// The scheme and host of a fixed URL, the variable's name otherwise.
impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookUrl::Fixed(url) => write!(f, "Fixed({})", webhook_origin(url)),
            WebhookUrl::Env(var) => write!(f, "Env({var})"),
        }
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("url", &self.url)
            .field("events", &self.events)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What a message may show of a webhook URL: `scheme://host[:port]`, without the path and query
/// that carry its token, nor a user name and password.
pub fn webhook_origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// A webhook URL: http or https, with a host. An error never repeats the URL.
fn parse_webhook(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "not an http(s) URL (scheme `{}`): give the webhook's https:// URL",
            url.scheme()
        ));
    }
    Ok(url)
}

/// Checks the raw `[notify]` table of the config at `path`.
pub(super) fn check(path: &Path, raw: RawNotify) -> Result<Notify, ConfigError> {
    let err =
        |key: &str, message: String| ConfigError::invalid(path, format!("notify.{key}"), message);
    let url = match (raw.url, raw.url_env) {
        (Some(_), Some(_)) => return Err(err("url", "give `url` or `url_env`, not both".into())),
        (None, None) => {
            return Err(ConfigError::invalid(
                path,
                "notify",
                "the table needs the webhook: `url = \"https://...\"`, or `url_env = \"VAR\"` \
                 naming an environment variable that holds it",
            ))
        }
        (Some(url), None) => WebhookUrl::Fixed(parse_webhook(&url).map_err(|m| err("url", m))?),
        (None, Some(var)) if var.is_empty() => {
            return Err(err("url_env", "name an environment variable".into()))
        }
        (None, Some(var)) => WebhookUrl::Env(var),
    };
    let events = match raw.events {
        None => NotifyEvent::DEFAULT.into_iter().collect(),
        Some(names) => {
            let mut events = BTreeSet::new();
            for (i, name) in names.iter().enumerate() {
                let event = NotifyEvent::ALL
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, e)| *e)
                    .ok_or_else(|| {
                        let known: Vec<String> = NotifyEvent::ALL
                            .iter()
                            .map(|(n, _)| format!("\"{n}\""))
                            .collect();
                        err(
                            &format!("events[{i}]"),
                            format!(
                                "unknown event \"{name}\"; expected one of {}",
                                known.join(", ")
                            ),
                        )
                    })?;
                events.insert(event);
            }
            events
        }
    };
    let timeout_secs = raw.timeout_secs.unwrap_or(DEFAULT_NOTIFY_TIMEOUT_SECS);
    if timeout_secs == 0 {
        return Err(err("timeout_secs", "must be at least 1".into()));
    }
    Ok(Notify {
        url,
        events,
        timeout: Duration::from_secs(timeout_secs),
        config_path: path.to_owned(),
    })
}
