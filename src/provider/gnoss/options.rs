//! The options a GNOSS target takes, read once when the config is loaded: how requests are
//! signed (`signing`) and the community a row without one belongs to (`community_id`, which a
//! leaver's block needs, since a leaver has no row to give it).

use serde::{Deserialize, Deserializer};

use super::oauth::SigningStyle;
use crate::provider::options::{self, Choice};
use crate::provider::ProviderConfigError;

/// The names of the options, for the message refusing any other.
pub const OPTIONS: &[&str] = &["signing", "community_id"];

/// A GNOSS target's `[options]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GnossOptions {
    /// `signing = "gnoss"` (the default) or `"rfc5849"`.
    #[serde(deserialize_with = "options::choice")]
    pub signing: SigningStyle,
    /// The community's GUID, as written but trimmed.
    #[serde(deserialize_with = "guid")]
    pub community_id: Option<String>,
}

impl Choice for SigningStyle {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("gnoss", SigningStyle::Gnoss),
        ("rfc5849", SigningStyle::Rfc5849),
    ];
}

/// Reads a target's options table.
pub fn parse(table: &toml::Table) -> Result<GnossOptions, ProviderConfigError> {
    options::parse(table, OPTIONS)
}

/// `community_id`: a string holding a GUID.
fn guid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(id) = options::string(d)? else {
        return Ok(None);
    };
    if uuid::Uuid::try_parse(id.trim()).is_err() {
        return Err(serde::de::Error::custom(format!(
            "{id:?} is not a GUID (GNOSS identifies a community by one)"
        )));
    }
    Ok(Some(id.trim().to_string()))
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
        assert_eq!((o.signing, o.community_id), (SigningStyle::Gnoss, None));
        let text =
            "signing = \"rfc5849\"\ncommunity_id = \" 1EDE819E-9D0F-41E9-855B-BBEBC7F08DD1 \"";
        let o = parse(&text.parse().unwrap()).unwrap();
        assert_eq!(o.signing, SigningStyle::Rfc5849);
        assert_eq!(
            o.community_id.as_deref(),
            Some("1EDE819E-9D0F-41E9-855B-BBEBC7F08DD1")
        );
    }

    #[test]
    fn unknown_and_mistyped_options_are_refused_by_key() {
        assert_eq!(
            refusal("sigining = \"gnoss\""),
            "options.sigining: unknown option: known options are signing, community_id"
        );
        assert_eq!(
            refusal("signing = \"hmac\""),
            "options.signing: expected one of \"gnoss\", \"rfc5849\""
        );
        assert_eq!(refusal("signing = 1"), "options.signing: expected a string");
        assert_eq!(
            refusal("community_id = 7"),
            "options.community_id: expected a string"
        );
        assert_eq!(
            refusal("community_id = \"mine\""),
            "options.community_id: \"mine\" is not a GUID (GNOSS identifies a community by one)"
        );
    }
}
