//! The options a MeetingLawyers target takes, read once when the config is loaded: which
//! statuses answering a create mean "this user exists" (`conflict_statuses`), since its pages
//! do not say.

use serde::{Deserialize, Deserializer};

use crate::provider::options;
use crate::provider::ProviderConfigError;

/// The names of the options, for the message refusing any other.
pub const OPTIONS: &[&str] = &["conflict_statuses"];

/// Statuses that mean "this user exists" on create, unless the target's `conflict_statuses`
/// option says otherwise.
pub const DEFAULT_CONFLICT_STATUSES: &[u16] = &[409, 422];

/// A MeetingLawyers target's `[options]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeetingLawyersOptions {
    /// 4xx statuses that answer a create of a user who exists (default 409 and 422).
    #[serde(deserialize_with = "statuses")]
    pub conflict_statuses: Vec<u16>,
}

impl Default for MeetingLawyersOptions {
    fn default() -> Self {
        MeetingLawyersOptions {
            conflict_statuses: DEFAULT_CONFLICT_STATUSES.to_vec(),
        }
    }
}

/// Reads a target's options table.
pub fn parse(table: &toml::Table) -> Result<MeetingLawyersOptions, ProviderConfigError> {
    options::parse(table, OPTIONS)
}

/// `conflict_statuses`: a list of 4xx HTTP statuses.
fn statuses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    let invalid =
        || serde::de::Error::custom("expected a list of 4xx HTTP statuses, e.g. [409, 422]");
    let value = toml::Value::deserialize(d)?;
    let items = value.as_array().ok_or_else(invalid)?;
    items
        .iter()
        .map(|item| {
            item.as_integer()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (400..500).contains(n))
                .ok_or_else(invalid)
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
    fn conflict_statuses_default_to_409_and_422() {
        let o = parse(&toml::Table::new()).unwrap();
        assert_eq!(o.conflict_statuses, [409, 422]);
        let o = parse(&"conflict_statuses = [400]".parse().unwrap()).unwrap();
        assert_eq!(o.conflict_statuses, [400]);
    }

    #[test]
    fn unknown_and_mistyped_options_are_refused_by_key() {
        assert_eq!(
            refusal("conflict_status = [409]"),
            "options.conflict_status: unknown option: known options are conflict_statuses"
        );
        let expected =
            "options.conflict_statuses: expected a list of 4xx HTTP statuses, e.g. [409, 422]";
        for bad in ["409", "[\"409\"]", "[200]", "[409, 70000]"] {
            assert_eq!(
                refusal(&format!("conflict_statuses = {bad}")),
                expected,
                "{bad}"
            );
        }
    }
}
