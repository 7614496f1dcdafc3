//! How one provider field is filled from the export: the checked form of a `fields` entry.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::raw::{RawField, RawFieldSpec};

/// Where a field's raw value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A column of the export (CSV header name or JSONL key).
    Column(String),
    /// A constant (`value = "ES"`).
    Value(Value),
}

/// A text transform applied to the raw value, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    Trim,
    Lowercase,
    Uppercase,
}

/// How a field emptied in the export is cleared at the provider (`clear`): by sending JSON
/// `null`, or an empty value (`""`, or `[]` for a list field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Clear {
    /// JSON `null`.
    Null,
    /// `""`, or `[]` for a list field.
    Empty,
}

/// One `[targets.X.fields]` entry, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// The provider field it fills.
    pub field: String,
    pub source: Source,
    /// Used when the source value is empty. A string default goes through the same transforms,
    /// split, map and date format as a source value.
    pub default: Option<Value>,
    pub transforms: Vec<Transform>,
    /// Split the value on this separator into a JSON array of trimmed, non-empty items.
    pub split: Option<String>,
    /// Source value (trimmed) -> provider value.
    pub map: Option<BTreeMap<String, Value>>,
    /// chrono format of the source date; the output is `YYYY-MM-DD`.
    pub date_format: Option<String>,
    /// `create_only`: sent only when the user is created (true), or on updates too (false);
    /// `None` takes the provider's default (`Provider::create_only`).
    pub create_only: Option<bool>,
    /// `clear`: how an emptied value is cleared; `None` leaves it at the provider unless its
    /// pages show how (`Provider::null_clears`).
    pub clear: Option<Clear>,
}

impl FieldSpec {
    /// The column it reads, if it reads one.
    pub fn column(&self) -> Option<&str> {
        match &self.source {
            Source::Column(c) => Some(c),
            Source::Value(_) => None,
        }
    }
}

/// Checks one raw field spec. Errors are `(key suffix under the field, message)`.
pub(super) fn check_field(name: &str, raw: RawField) -> Result<FieldSpec, (String, String)> {
    let spec = match raw {
        RawField::Column(column) => RawFieldSpec {
            column: Some(column),
            ..RawFieldSpec::default()
        },
        RawField::Spec(spec) => spec,
    };
    let source = match (spec.column, spec.value) {
        (Some(_), Some(_)) => {
            return Err((
                String::new(),
                "give either `column` or `value`, not both".into(),
            ))
        }
        (None, None) => {
            return Err((
                String::new(),
                "give a `column` to read (or a constant `value`)".into(),
            ))
        }
        (Some(c), None) if c.trim().is_empty() => {
            return Err(("column".into(), "the column name is empty".into()))
        }
        (Some(c), None) => Source::Column(c),
        (None, Some(v)) => Source::Value(to_json(&v).map_err(|m| ("value".to_owned(), m))?),
    };
    let default = spec
        .default
        .as_ref()
        .map(to_json)
        .transpose()
        .map_err(|m| ("default".to_owned(), m))?;
    if spec.split.as_deref() == Some("") {
        return Err(("split".into(), "the separator is empty".into()));
    }
    let map = match spec.map {
        None => None,
        Some(table) if table.is_empty() => {
            return Err(("map".into(), "the map is empty".into()));
        }
        Some(table) => {
            let mut map = BTreeMap::new();
            for (k, v) in &table {
                let v = to_json(v).map_err(|m| (format!("map.{k}"), m))?;
                map.insert(k.trim().to_owned(), v);
            }
            Some(map)
        }
    };
    if let Some(fmt) = &spec.date_format {
        if map.is_some() {
            return Err((
                "date_format".into(),
                "`date_format` and `map` cannot be combined".into(),
            ));
        }
        check_date_format(fmt).map_err(|m| ("date_format".to_owned(), m))?;
    }
    Ok(FieldSpec {
        field: name.to_owned(),
        source,
        default,
        transforms: spec.transform,
        split: spec.split,
        map,
        date_format: spec.date_format,
        create_only: spec.create_only,
        clear: spec.clear,
    })
}

/// A date format is usable when it can write a date and read it back (so it names a day, a
/// month and a year, and no specifier is broken).
pub fn check_date_format(fmt: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    use std::fmt::Write;

    if StrftimeItems::new(fmt).any(|i| matches!(i, Item::Error)) {
        return Err(format!("`{fmt}` is not a valid chrono format"));
    }
    let sample = chrono::NaiveDate::from_ymd_opt(1987, 11, 23)
        .and_then(|d| d.and_hms_opt(4, 5, 6))
        .ok_or("internal: bad sample date")?;
    let mut text = String::new();
    if write!(text, "{}", sample.format(fmt)).is_err() {
        return Err(format!(
            "`{fmt}` cannot be used for a date (time zone specifiers are not supported)"
        ));
    }
    match chrono::NaiveDate::parse_from_str(&text, fmt) {
        Ok(d) if d == sample.date() => Ok(()),
        _ => Err(format!(
            "`{fmt}` does not identify a date: it needs a day, a month and a year (e.g. %d/%m/%Y)"
        )),
    }
}

/// A TOML value as the JSON value sent to the provider.
pub(super) fn to_json(v: &toml::Value) -> Result<Value, String> {
    Ok(match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number"))?,
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_formats_must_name_a_whole_date() {
        assert!(check_date_format("%d/%m/%Y").is_ok());
        assert!(check_date_format("%Y-%m-%dT%H:%M:%S").is_ok());
        assert!(check_date_format("%d/%m").is_err());
        assert!(check_date_format("%Q").is_err());
        assert!(check_date_format("%d/%m/%Y %z").is_err());
    }

    #[test]
    fn spec_needs_exactly_one_source() {
        let both = RawField::Spec(RawFieldSpec {
            column: Some("a".into()),
            value: Some(toml::Value::from("b")),
            ..Default::default()
        });
        assert_eq!(
            check_field("x", both).unwrap_err().1,
            "give either `column` or `value`, not both"
        );
        let none = RawField::Spec(RawFieldSpec::default());
        assert!(check_field("x", none).is_err());
    }

    #[test]
    fn toml_values_become_json() {
        let v: toml::Value =
            toml::from_str::<toml::Table>("x = [{ companyId = 1, isAdmin = false }]")
                .unwrap()
                .remove("x")
                .unwrap();
        assert_eq!(
            to_json(&v).unwrap(),
            serde_json::json!([{"companyId": 1, "isAdmin": false}])
        );
    }
}
