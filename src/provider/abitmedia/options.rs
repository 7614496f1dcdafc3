//! The options an Abitmedia target takes, read once when the config is loaded: where a user's
//! id goes in its URL (`id_in`), where tokens come from (`auth_url`), and whether a deactivation
//! may send `{"status": 0}` alone (`status_only_deactivation`).

use serde::Deserialize;

use crate::provider::options::{self, Choice};
use crate::provider::ProviderConfigError;

/// The option saying the server accepts a deactivation of `{"status": 0}` alone.
pub const STATUS_ONLY: &str = "status_only_deactivation";

/// The names of the options, for the message refusing any other.
pub const OPTIONS: &[&str] = &["id_in", "auth_url", STATUS_ONLY];

/// An Abitmedia target's `[options]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbitmediaOptions {
    #[serde(deserialize_with = "options::choice")]
    pub id_in: IdIn,
    /// The identity service, absolute or relative to the base URL (see `session::auth_url`);
    /// Abitmedia's own when left out.
    #[serde(deserialize_with = "options::string")]
    pub auth_url: Option<String>,
    /// The server accepts `{"status": 0}` alone as a deactivation: no lookup first.
    #[serde(deserialize_with = "options::flag")]
    pub status_only_deactivation: bool,
}

/// Where a user's id goes in the URL of its requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdIn {
    /// `administration/v1/users?id=17`.
    #[default]
    Query,
    /// `administration/v1/users/17`.
    Path,
}

impl Choice for IdIn {
    const NAMES: &'static [(&'static str, Self)] = &[("query", IdIn::Query), ("path", IdIn::Path)];
}

/// Reads a target's options table.
pub fn parse(table: &toml::Table) -> Result<AbitmediaOptions, ProviderConfigError> {
    options::parse(table, OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> String {
        parse(&text.parse().unwrap()).unwrap_err().to_string()
    }

    #[test]
    fn options_are_typed_with_their_defaults() {
        let o = parse(&toml::Table::new()).unwrap();
        assert_eq!(
            (o.id_in, o.auth_url, o.status_only_deactivation),
            (IdIn::Query, None, false)
        );
        let text = "id_in = \"path\"\nauth_url = \"/\"\nstatus_only_deactivation = true";
        let o = parse(&text.parse().unwrap()).unwrap();
        assert_eq!(
            (o.id_in, o.auth_url.as_deref(), o.status_only_deactivation),
            (IdIn::Path, Some("/"), true)
        );
    }

    #[test]
    fn unknown_and_mistyped_options_are_refused_by_key() {
        assert_eq!(
            refusal("idin = \"path\""),
            "options.idin: unknown option: known options are id_in, auth_url, \
             status_only_deactivation"
        );
        assert_eq!(
            refusal("id_in = \"header\""),
            "options.id_in: expected one of \"query\", \"path\""
        );
        assert_eq!(
            refusal("auth_url = 1"),
            "options.auth_url: expected a string"
        );
        assert_eq!(
            refusal("status_only_deactivation = 1"),
            "options.status_only_deactivation: expected true or false"
        );
    }
}
