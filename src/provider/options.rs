//! A target's `[targets.NAME.options]`, parsed once into its provider's own options struct.
//!
//! Each provider reads its options into a typed struct (`GnossOptions`, ...) when the config is
//! loaded ([`crate::provider::Provider::parse_options`]), so every command reports a bad option
//! the same way and no request re-reads TOML. The rest of the code carries them as [`Options`],
//! which only the provider that made them opens again ([`Options::get`]).
//!
//! [`parse`] and the `deserialize_with` helpers below keep the messages a user sees the same for
//! every provider: the key (`options.signing`) and what was expected (`expected true or
//! false`), never serde's wording.

use std::any::{type_name, Any};
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use crate::provider::ProviderConfigError;

/// One target's parsed options, whatever their provider's type. Cheap to clone.
#[derive(Clone)]
pub struct Options(Arc<dyn Value>);

/// What an options struct must be to be carried as [`Options`] (every `Debug + Send + Sync`
/// type is).
trait Value: Any + fmt::Debug + Send + Sync {}

impl<T: Any + fmt::Debug + Send + Sync> Value for T {}

impl Options {
    /// Wraps a provider's parsed options.
    pub fn new<T: Any + fmt::Debug + Send + Sync>(options: T) -> Options {
        Options(Arc::new(options))
    }

    /// The options as the provider's own type `T`.
    ///
    /// # Panics
    /// When they are another provider's (or another type): a target's options are parsed by
    /// its own provider, so only a programming error passes an adapter someone else's.
    pub fn get<T: Any>(&self) -> &T {
        let value: &dyn Any = &*self.0;
        value.downcast_ref().unwrap_or_else(|| {
            panic!(
                "provider options: expected {}, got {:?} (options parsed by another provider?)",
                type_name::<T>(),
                self.0
            )
        })
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Reads `table` into `T`: a key not in `known` is refused first (naming the options there
/// are), then each value through `T`'s `Deserialize`, whose errors name their key.
pub fn parse<T: DeserializeOwned>(
    table: &toml::Table,
    known: &[&str],
) -> Result<T, ProviderConfigError> {
    check_known(table, known)?;
    serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        let key = e.path().to_string();
        option_error(&key, e.into_inner().message())
    })
}

/// Refuses any option not in `known`.
fn check_known(options: &toml::Table, known: &[&str]) -> Result<(), ProviderConfigError> {
    match options.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(ProviderConfigError {
            key: format!("options.{unknown}"),
            message: if known.is_empty() {
                "unknown option: this provider takes no options".into()
            } else {
                format!("unknown option: known options are {}", known.join(", "))
            },
        }),
    }
}

/// An error about `options.<name>`.
pub fn option_error(name: &str, message: &str) -> ProviderConfigError {
    ProviderConfigError {
        key: format!("options.{name}"),
        message: message.into(),
    }
}

/// A closed set of values an option takes, by their names in the config.
pub trait Choice: Sized + Copy + 'static {
    /// Every value with its name.
    const NAMES: &'static [(&'static str, Self)];
}

/// `deserialize_with` for a [`Choice`]: one of its names.
pub fn choice<'de, D: Deserializer<'de>, T: Choice>(d: D) -> Result<T, D::Error> {
    let value = string(d)?.unwrap_or_default();
    T::NAMES
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, choice)| *choice)
        .ok_or_else(|| {
            let names: Vec<String> = T::NAMES.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            D::Error::custom(format!("expected one of {}", names.join(", ")))
        })
}

/// `deserialize_with` for a string option (an `Option<String>` field).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::String(s) => Ok(Some(s)),
        _ => Err(D::Error::custom("expected a string")),
    }
}

/// `deserialize_with` for an integer option (an `Option<i64>` field).
pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::Integer(n) => Ok(Some(n)),
        _ => Err(D::Error::custom("expected an integer")),
    }
}

/// `deserialize_with` for a boolean option (a `bool` field, false when left out).
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::Boolean(b) => Ok(b),
        _ => Err(D::Error::custom("expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    enum Style {
        #[default]
        Plain,
        Strict,
    }

    impl Choice for Style {
        const NAMES: &'static [(&'static str, Self)] =
            &[("plain", Style::Plain), ("strict", Style::Strict)];
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Example {
        #[serde(deserialize_with = "choice")]
        style: Style,
        #[serde(deserialize_with = "string")]
        name: Option<String>,
        #[serde(deserialize_with = "integer")]
        count: Option<i64>,
        #[serde(deserialize_with = "flag")]
        on: bool,
    }

    const KNOWN: &[&str] = &["style", "name", "count", "on"];

    fn parsed(text: &str) -> Result<Example, ProviderConfigError> {
        parse(&text.parse().unwrap(), KNOWN)
    }

    fn refusal(text: &str) -> String {
        parsed(text).unwrap_err().to_string()
    }

    #[test]
    fn values_and_defaults_are_read() {
        let e = parsed("style = \"strict\"\nname = \"n\"\ncount = 3\non = true").unwrap();
        assert_eq!(
            (e.style, e.name.as_deref(), e.count, e.on),
            (Style::Strict, Some("n"), Some(3), true)
        );
        let e = parsed("").unwrap();
        assert_eq!(
            (e.style, e.name, e.count, e.on),
            (Style::Plain, None, None, false)
        );
    }

    #[test]
    fn unknown_and_mistyped_options_name_their_key() {
        assert_eq!(
            refusal("stlye = \"x\""),
            "options.stlye: unknown option: known options are style, name, count, on"
        );
        assert_eq!(
            refusal("style = \"loose\""),
            "options.style: expected one of \"plain\", \"strict\""
        );
        assert_eq!(refusal("style = 1"), "options.style: expected a string");
        assert_eq!(refusal("name = 1"), "options.name: expected a string");
        assert_eq!(
            refusal("count = \"3\""),
            "options.count: expected an integer"
        );
        assert_eq!(
            refusal("on = \"yes\""),
            "options.on: expected true or false"
        );
        let none = parse::<()>(&"x = 1".parse().unwrap(), &[]).unwrap_err();
        assert_eq!(
            none.to_string(),
            "options.x: unknown option: this provider takes no options"
        );
    }

    #[test]
    fn options_open_as_their_own_type() {
        let options = Options::new(parsed("count = 2").unwrap());
        assert_eq!(options.get::<Example>().count, Some(2));
        assert!(format!("{options:?}").contains("count: Some(2)"));
        let cloned = options.clone();
        assert_eq!(cloned.get::<Example>().count, Some(2));
    }

    #[test]
    #[should_panic(expected = "provider options: expected u32")]
    fn options_of_another_type_are_a_bug() {
        let options = Options::new(parsed("").unwrap());
        let _ = options.get::<u32>();
    }
}
