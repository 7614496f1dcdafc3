//! The options a SCIM target takes, read once when the config is loaded: how users the target
//! already has are found before a create (`match_attributes`, `correlate`), how a changed user
//! is sent (`update`) and a leaver deactivated (`deactivate`), whether writes go in bulk
//! requests (`bulk`, `bulk_max_operations`), and where an OAuth 2.0 client gets its token
//! (`token_url`). What the target says it supports can change some of them for a run (see
//! `discovery.rs`).

use serde::{Deserialize, Deserializer};

use super::path::AttrPath;
use crate::provider::options::{self, choice, flag, integer, string, Choice};
use crate::provider::ProviderConfigError;

/// The names of the options, for the message refusing any other.
pub const OPTIONS: &[&str] = &[
    "match_attributes",
    "correlate",
    "update",
    "deactivate",
    "bulk",
    "bulk_max_operations",
    "token_url",
];

/// Operations per bulk request unless the target allows fewer: big enough that a nightly run
/// of thousands of changes takes tens of requests, small enough that one refused request
/// (a 5xx, a timeout) costs a hundred rows a retry, not a thousand.
pub const BULK_MAX_OPERATIONS: u64 = 100;

/// How a changed user is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Update {
    /// `PATCH` of the changed attributes only (RFC 7644 section 3.5.2).
    #[default]
    Patch,
    /// `PUT` of the whole user, read first and sent back with the changes (section 3.5.1):
    /// for a target without PATCH, or whose PATCH misbehaves.
    Put,
}

impl Choice for Update {
    const NAMES: &'static [(&'static str, Self)] =
        &[("patch", Update::Patch), ("put", Update::Put)];
}

/// The attributes a user the ledger does not know is looked for by, unless the target says
/// otherwise.
pub const DEFAULT_MATCH: &[&str] = &["externalId", "userName"];

/// How a leaver is deactivated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Deactivate {
    /// `PATCH` `active` to false (RFC 7643 section 4.1.1): the user stays, without access.
    #[default]
    Patch,
    /// `DELETE /Users/{id}` (RFC 7644 section 3.6): the user is gone at the target.
    Delete,
}

impl Choice for Deactivate {
    const NAMES: &'static [(&'static str, Self)] =
        &[("patch", Deactivate::Patch), ("delete", Deactivate::Delete)];
}

/// A SCIM target's `[options]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScimOptions {
    /// The attributes a user the ledger does not know is looked up by before being created,
    /// any of which matching counts (`externalId`, then `userName`, by default).
    #[serde(deserialize_with = "attributes")]
    pub match_attributes: Vec<String>,
    /// Look users up before creating them (default true): a user the target already has is
    /// adopted instead of created twice.
    #[serde(deserialize_with = "flag")]
    pub correlate: bool,
    #[serde(deserialize_with = "choice")]
    pub update: Update,
    #[serde(deserialize_with = "choice")]
    pub deactivate: Deactivate,
    /// Send creates, updates and deactivations in bulk requests (RFC 7644 section 3.7) when
    /// the target says it takes them (default true).
    #[serde(deserialize_with = "flag")]
    pub bulk: bool,
    /// At most this many operations per bulk request (fewer if the target says so).
    #[serde(deserialize_with = "positive")]
    pub bulk_max_operations: u64,
    /// Whether a request built from the user just read carries `If-Match` with the version
    /// read. Not an option: false only when the target says it has no ETags.
    #[serde(skip)]
    pub if_match: bool,
    /// The OAuth 2.0 token endpoint (RFC 6749 section 4.4), for `client_id` and `client_secret`
    /// credentials; relative to the base URL or absolute.
    #[serde(deserialize_with = "string")]
    pub token_url: Option<String>,
}

impl Default for ScimOptions {
    fn default() -> Self {
        ScimOptions {
            match_attributes: DEFAULT_MATCH.iter().map(|s| s.to_string()).collect(),
            correlate: true,
            update: Update::default(),
            deactivate: Deactivate::default(),
            bulk: true,
            bulk_max_operations: BULK_MAX_OPERATIONS,
            if_match: true,
            token_url: None,
        }
    }
}

/// Reads a target's options table.
pub fn parse(table: &toml::Table) -> Result<ScimOptions, ProviderConfigError> {
    options::parse(table, OPTIONS)
}

/// A count of at least 1.
fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    integer(d)?
        .and_then(|n| u64::try_from(n).ok())
        .filter(|&n| n >= 1)
        .ok_or_else(|| serde::de::Error::custom("expected a whole number of at least 1"))
}

/// `match_attributes`: a non-empty list of attribute paths.
fn attributes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let invalid = || {
        serde::de::Error::custom(
            "expected a list of SCIM attribute paths, e.g. [\"externalId\", \"userName\"]",
        )
    };
    let value = toml::Value::deserialize(d)?;
    let items = value
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(invalid)?;
    items
        .iter()
        .map(|item| {
            let path = item.as_str().ok_or_else(invalid)?;
            AttrPath::parse(path).map_err(serde::de::Error::custom)?;
            Ok(path.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> String {
        parse(&text.parse().unwrap()).unwrap_err().to_string()
    }

    #[test]
    fn defaults_look_users_up_by_external_id_then_user_name() {
        let o = parse(&toml::Table::new()).unwrap();
        assert_eq!(o.match_attributes, ["externalId", "userName"]);
        assert!(o.correlate);
        assert_eq!(o.deactivate, Deactivate::Patch);
        let o = parse(
            &"deactivate = \"delete\"\ncorrelate = false"
                .parse()
                .unwrap(),
        )
        .unwrap();
        assert_eq!((o.deactivate, o.correlate), (Deactivate::Delete, false));
    }

    #[test]
    fn unknown_and_mistyped_options_are_refused_by_key() {
        assert_eq!(
            refusal("match = []"),
            "options.match: unknown option: known options are match_attributes, correlate, \
             update, deactivate, bulk, bulk_max_operations, token_url"
        );
        assert_eq!(
            refusal("deactivate = \"remove\""),
            "options.deactivate: expected one of \"patch\", \"delete\""
        );
        assert!(refusal("match_attributes = []").starts_with("options.match_attributes: expected"));
        assert!(refusal("match_attributes = [\"emails[value eq 1]\"]")
            .starts_with("options.match_attributes: `emails[value eq 1]` is not"));
        assert_eq!(
            refusal("bulk_max_operations = 0"),
            "options.bulk_max_operations: expected a whole number of at least 1"
        );
        assert_eq!(
            refusal("update = \"post\""),
            "options.update: expected one of \"patch\", \"put\""
        );
        assert_eq!(
            refusal("correlate = \"yes\""),
            "options.correlate: expected true or false"
        );
    }
}
