//! The config file exactly as written (ripgrep's "low args"): serde types that reject unknown
//! keys, and nothing checked beyond the types. `check.rs` turns them into the validated
//! [`Config`](super::Config).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Clear, Concurrency, Transform};
use crate::input::{parse_delimiter, Encoding, Format};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub ledger: Option<String>,
    /// A number of days, or `"forever"`; checked in `check.rs`.
    pub retention_days: Option<toml::Value>,
    pub metrics_file: Option<String>,
    #[serde(default)]
    pub input: RawInput,
    pub notify: Option<RawNotify>,
    #[serde(default)]
    pub targets: BTreeMap<String, RawTarget>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInput {
    #[serde(default, deserialize_with = "delimiter")]
    pub delimiter: Option<u8>,
    #[serde(default, deserialize_with = "from_str")]
    pub encoding: Option<Encoding>,
    #[serde(default, deserialize_with = "from_str")]
    pub format: Option<Format>,
    /// A sheet name, or its position counted from 1 (`sheet = 2` or `sheet = "2"`).
    #[serde(default, deserialize_with = "sheet")]
    pub sheet: Option<String>,
}

/// `[notify]`; `check` in `notify.rs` wants exactly one of `url` and `url_env`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub url: Option<String>,
    pub url_env: Option<String>,
    pub events: Option<Vec<String>>,
    pub timeout_secs: Option<u64>,
}

/// Without the URL: it is a secret.
impl fmt::Debug for RawNotify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawNotify")
            .field("url_env", &self.url_env)
            .field("events", &self.events)
            .field("timeout_secs", &self.timeout_secs)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub provider: String,
    pub base_url: String,
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    pub rate_limit: Option<u32>,
    pub burst: Option<u32>,
    pub concurrency: Option<Concurrency>,
    pub concurrency_max: Option<u32>,
    pub max_requests: Option<u64>,
    pub key: String,
    #[serde(default)]
    pub fields: BTreeMap<String, RawField>,
    #[serde(default)]
    pub required: Vec<String>,
    pub remote_id_column: Option<String>,
    #[serde(default)]
    pub deactivate_missing: bool,
    pub mode: Option<String>,
    #[serde(default)]
    pub protect: Vec<String>,
    pub max_deactivate: Option<f64>,
    pub max_changes: Option<f64>,
    pub max_retries: Option<u32>,
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub options: toml::Table,
}

/// A field spec: a bare column name, or a table.
#[derive(Debug)]
pub(super) enum RawField {
    Column(String),
    Spec(RawFieldSpec),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFieldSpec {
    pub column: Option<String>,
    pub value: Option<toml::Value>,
    pub default: Option<toml::Value>,
    pub map: Option<toml::Table>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub transform: Vec<Transform>,
    pub date_format: Option<String>,
    pub split: Option<String>,
    pub create_only: Option<bool>,
    pub clear: Option<Clear>,
}

impl<'de> Deserialize<'de> for RawField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = RawField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column name, or a table with `column` or `value`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawField, E> {
                Ok(RawField::Column(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawField, A::Error> {
                RawFieldSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawField::Spec)
            }
        }
        d.deserialize_any(FieldVisitor)
    }
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ConcurrencyVisitor;
        impl Visitor<'_> for ConcurrencyVisitor {
            type Value = Concurrency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of requests in flight, or \"auto\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Concurrency, E> {
                match usize::try_from(v) {
                    Ok(n) if n >= 1 => Ok(Concurrency::Fixed(n)),
                    _ => Err(E::custom(format!(
                        "concurrency must be at least 1 (or \"auto\"), not {v}"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Concurrency, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Concurrency, E> {
                if v == "auto" {
                    Ok(Concurrency::Auto)
                } else {
                    Err(E::custom(format!(
                        "expected a number or \"auto\", not \"{v}\""
                    )))
                }
            }
        }
        d.deserialize_any(ConcurrencyVisitor)
    }
}

/// `transform = "trim"` or `transform = ["trim", "lowercase"]`.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Transform>, D::Error> {
    struct TransformsVisitor;
    impl<'de> Visitor<'de> for TransformsVisitor {
        type Value = Vec<Transform>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("\"trim\", \"lowercase\", \"uppercase\", or a list of them")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<Transform>, E> {
            Transform::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| vec![t])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Transform>, A::Error> {
            let mut out = Vec::new();
            while let Some(t) = seq.next_element()? {
                out.push(t);
            }
            Ok(out)
        }
    }
    d.deserialize_any(TransformsVisitor)
}

/// A value parsed from a string with its `FromStr`, e.g. `encoding = "windows-1252"`.
fn from_str<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    let s = String::deserialize(d)?;
    s.parse().map(Some).map_err(de::Error::custom)
}

fn sheet<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NameOrNumber {
        Name(String),
        Number(u32),
    }
    match NameOrNumber::deserialize(d) {
        Ok(NameOrNumber::Name(name)) if !name.trim().is_empty() => Ok(Some(name)),
        Ok(NameOrNumber::Number(n)) if n > 0 => Ok(Some(n.to_string())),
        _ => Err(de::Error::custom(
            "expected a sheet name, or its position counted from 1",
        )),
    }
}

fn delimiter<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let s = String::deserialize(d)?;
    parse_delimiter(&s).map(Some).map_err(de::Error::custom)
}
