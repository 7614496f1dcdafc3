//! The config file exactly as written (ripgrep's "low args"): serde types that reject unknown
//! keys, and nothing checked beyond the types. `check.rs` turns them into the validated
//! [`Config`](super::Config).
//!
//! The same types describe the file to editors: `schema.rs` derives the config's JSON Schema
//! from them (schemars), so their `///` docs are what an editor shows on hover. Values with a
//! deserializer of their own carry a hand-written schema beside it.

use std::collections::BTreeMap;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Clear, Concurrency, Transform};
use crate::input::{parse_delimiter, Encoding, Format};

/// A usersync config file: the ledger, how exports are read, and one table per target.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "usersync config")]
pub(super) struct RawConfig {
    /// The SQLite ledger, relative to this file.
    #[schemars(extend("default" = "usersync.db"))]
    pub ledger: Option<String>,
    /// How long the ledger keeps a finished run's row details: a number of days (1 to 36500),
    /// or "forever".
    #[serde(default)]
    #[schemars(schema_with = "retention_schema")]
    pub retention_days: Option<toml::Value>,
    /// Where `sync` and `retry` write the Prometheus metrics file after every run, relative to
    /// this file.
    pub metrics_file: Option<String>,
    /// How exports are read; what is not set is decided from the file.
    #[serde(default)]
    pub input: RawInput,
    /// A webhook posted after the runs whose outcome is one of its `events`.
    pub notify: Option<RawNotify>,
    /// One table per target: a provider, where it is, and how the export fills its fields.
    #[serde(default)]
    pub targets: BTreeMap<String, RawTarget>,
}

/// `[input]`: how exports are read (command-line flags win).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Input")]
pub(super) struct RawInput {
    /// The CSV delimiter: one ASCII character such as `,` `;` `|`, or "tab"; detected from the
    /// header line when not set.
    #[serde(default, deserialize_with = "delimiter")]
    #[schemars(schema_with = "delimiter_schema")]
    pub delimiter: Option<u8>,
    /// The file encoding.
    #[serde(default, deserialize_with = "from_str")]
    #[schemars(schema_with = "encoding_schema")]
    pub encoding: Option<Encoding>,
    /// The file format; from the file's extension when not set.
    #[serde(default, deserialize_with = "from_str")]
    #[schemars(schema_with = "format_schema")]
    pub format: Option<Format>,
    /// A sheet name, or its position counted from 1 (`sheet = 2` or `sheet = "2"`).
    #[serde(default, deserialize_with = "sheet")]
    #[schemars(schema_with = "sheet_schema")]
    pub sheet: Option<String>,
}

/// `[notify]`: a webhook posted after the runs whose outcome is one of its `events`; give `url`
/// or `url_env`, not both (checked in `notify.rs`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Notify")]
pub(super) struct RawNotify {
    /// The webhook's URL (http or https). It carries a token: prefer `url_env`.
    pub url: Option<String>,
    /// The name of an environment variable holding the webhook's URL (or, when it is unset,
    /// `NAME_FILE` naming a file that holds it).
    pub url_env: Option<String>,
    /// The outcomes to post.
    #[schemars(extend("default" = ["failed", "needs_person"]))]
    #[serde(default)]
    #[schemars(schema_with = "notify_events_schema")]
    pub events: Option<Vec<String>>,
    /// How long one notification may take, its attempts together.
    #[schemars(range(min = 1), extend("default" = 10))]
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

/// `[targets.NAME]`: one provider API and how the export fills its users' fields.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target")]
pub(super) struct RawTarget {
    /// The provider: its name in usersync's registry.
    #[schemars(schema_with = "provider_schema")]
    pub provider: String,
    /// "mock" (the built-in mock of the provider, started inside the run) or the http(s) root
    /// of the provider's API.
    #[schemars(schema_with = "base_url_schema")]
    pub base_url: String,
    /// Credential name (e.g. `api_key`) -> the name of the environment variable holding it, or
    /// `{ file = "/run/secrets/..." }`. Must be exactly one of the provider's credential sets.
    #[serde(default)]
    pub credentials: BTreeMap<String, RawCredential>,
    /// Requests per second.
    #[schemars(range(min = 1))]
    pub rate_limit: Option<u32>,
    /// Requests allowed at once above the rate.
    #[schemars(range(min = 1))]
    pub burst: Option<u32>,
    /// Requests in flight: a number, or "auto" (found at run time). Default: 8 with a
    /// `rate_limit`, else "auto".
    pub concurrency: Option<Concurrency>,
    /// A hard ceiling for `concurrency = "auto"`.
    #[schemars(range(min = 1))]
    pub concurrency_max: Option<u32>,
    /// A request quota per run: when spent, the run stops as at `--deadline`.
    #[schemars(range(min = 1))]
    pub max_requests: Option<u64>,
    /// The provider field that identifies a user; must be a mapped field.
    pub key: String,
    /// Provider field -> how to fill it: a column name, or a table.
    #[serde(default)]
    pub fields: BTreeMap<String, RawField>,
    /// Fields to require beyond the provider's own rules (Faveo's "configurable" fields); each
    /// must be mapped.
    #[serde(default)]
    pub required: Vec<String>,
    /// A column holding the provider's own id for users that already exist there.
    pub remote_id_column: Option<String>,
    /// `true` is `mode = "mirror"` (kept for older configs).
    #[serde(default)]
    pub deactivate_missing: bool,
    /// What a run may do.
    #[serde(default)]
    #[schemars(schema_with = "mode_schema")]
    pub mode: Option<String>,
    /// User keys usersync never creates, updates or deactivates, as globs (`svc-*`).
    #[serde(default)]
    pub protect: Vec<String>,
    /// The largest fraction of known users one run may deactivate (0.10 = 10%).
    #[schemars(range(min = 0.0, max = 1.0), extend("default" = 0.10))]
    pub max_deactivate: Option<f64>,
    /// The largest fraction of known users one run may update; more holds the run for a person.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_changes: Option<f64>,
    /// Retries of a row after a passing failure.
    #[schemars(extend("default" = 5))]
    pub max_retries: Option<u32>,
    /// Per-request timeout, in seconds.
    #[schemars(range(min = 1), extend("default" = 30))]
    pub timeout_secs: Option<u64>,
    /// The provider's own settings (see docs/providers/), checked when the config is loaded.
    #[serde(default)]
    #[schemars(schema_with = "table_schema")]
    pub options: toml::Table,
}

/// Where one credential's value comes from: an environment variable's name, or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RawCredential {
    /// `api_key = "ML_API_KEY"`.
    Env(String),
    /// `api_key = { file = "/run/secrets/ml_api_key" }`.
    File(String),
}

/// `{ file = "..." }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    file: String,
}

impl<'de> Deserialize<'de> for RawCredential {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CredentialVisitor;
        impl<'de> Visitor<'de> for CredentialVisitor {
            type Value = RawCredential;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the name of an environment variable, or { file = \"PATH\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCredential, E> {
                Ok(RawCredential::Env(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawCredential, A::Error> {
                CredentialFile::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|c| RawCredential::File(c.file))
            }
        }
        d.deserialize_any(CredentialVisitor)
    }
}

impl JsonSchema for RawCredential {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Credential".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The name of the environment variable holding the credential (when it \
                is unset, NAME_FILE may name a file holding it), or { file = \"PATH\" }: a file \
                holding it, relative to this config file. Never the credential itself.",
            "oneOf": [
                { "type": "string", "minLength": 1, "pattern": "\\S" },
                {
                    "type": "object",
                    "properties": { "file": { "type": "string", "minLength": 1 } },
                    "required": ["file"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A field spec: a bare column name, or a table.
#[derive(Debug)]
pub(super) enum RawField {
    Column(String),
    Spec(RawFieldSpec),
}

impl JsonSchema for RawField {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Field".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let spec = generator.subschema_for::<RawFieldSpec>();
        json_schema!({
            "description": "How a provider field is filled: the name of an export column, or a \
                table with `column` or `value`.",
            "anyOf": [
                { "type": "string", "description": "The export column (CSV header name or JSONL key)." },
                spec
            ]
        })
    }
}

/// How a provider field is filled. Steps, in order: `value` or `default`, `transform`,
/// `split`, then `map` or `date_format` per item.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FieldSpec")]
pub(super) struct RawFieldSpec {
    /// The export column (CSV header name or JSONL key). Exactly one of `column` and `value`.
    pub column: Option<String>,
    /// A constant instead of a column (string, number, boolean, array or table).
    #[serde(default)]
    #[schemars(schema_with = "any_schema")]
    pub value: Option<toml::Value>,
    /// Used when the value is empty.
    #[serde(default)]
    #[schemars(schema_with = "any_schema")]
    pub default: Option<toml::Value>,
    /// Source value (trimmed) -> provider value.
    #[serde(default)]
    #[schemars(schema_with = "table_schema")]
    pub map: Option<toml::Table>,
    /// "trim", "lowercase", "uppercase", or a list of them, applied in order.
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(schema_with = "transforms_schema")]
    pub transform: Vec<Transform>,
    /// The chrono format of the source date (e.g. `%d/%m/%Y`); the output is `YYYY-MM-DD`.
    pub date_format: Option<String>,
    /// A separator: the value becomes a list of the trimmed, non-empty items.
    #[schemars(length(min = 1))]
    pub split: Option<String>,
    /// `true`: sent when a user is created, never on an update; `false` sends a field the
    /// provider makes create-only on updates too.
    pub create_only: Option<bool>,
    /// How an emptied value is cleared at the provider: JSON null, or an empty value.
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

impl JsonSchema for Concurrency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Concurrency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [
                { "type": "integer", "minimum": 1 },
                { "const": "auto", "description": "Found at run time by adaptive concurrency." }
            ]
        })
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

// Schemas of the values that have a deserializer (or a check) of their own. A value that has
// aliases (encodings, formats) lists the usual names for completion but accepts any string: the
// loader's message is better than the editor's.

fn retention_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "oneOf": [
            { "type": "integer", "minimum": 1, "maximum": 36_500 },
            { "const": "forever", "description": "Keep every run's row details." }
        ],
        "default": super::DEFAULT_RETENTION_DAYS
    })
}

fn delimiter_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "examples": [",", ";", "|", "tab"] })
}

fn encoding_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "enum": ["utf-8", "windows-1252", "iso-8859-15", "utf-16le", "utf-16be"] },
            { "type": "string" }
        ],
        "default": "utf-8"
    })
}

fn format_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "enum": ["csv", "tsv", "txt", "jsonl", "ndjson", "xlsx", "xlsm", "xls", "ods"]
    })
}

fn sheet_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [{ "type": "string", "minLength": 1 }, { "type": "integer", "minimum": 1 }]
    })
}

fn notify_events_schema(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = super::NotifyEvent::ALL.iter().map(|(n, _)| *n).collect();
    json_schema!({ "type": "array", "items": { "enum": names } })
}

fn provider_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "enum": crate::provider::names() })
}

fn base_url_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "const": "mock", "description": "The built-in mock of the provider." },
            { "type": "string", "pattern": "^[hH][tT][tT][pP][sS]?://" }
        ]
    })
}

fn mode_schema(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = super::Mode::NAMES.iter().map(|(n, _)| *n).collect();
    json_schema!({ "enum": names, "default": "upsert" })
}

fn transforms_schema(_: &mut SchemaGenerator) -> Schema {
    let one = json_schema!({ "enum": ["trim", "lowercase", "uppercase"] });
    json_schema!({ "anyOf": [one, { "type": "array", "items": one }] })
}

/// A TOML table whose keys are the provider's or the user's own.
fn table_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object" })
}

/// Any TOML value.
fn any_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!(true)
}
