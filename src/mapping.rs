//! Source columns -> provider fields: the target's `fields` specs, compiled once per file against
//! its header, then applied to every record.
//!
//! Per field: the raw value is the column's value (or the constant `value`); an empty value takes
//! the `default` if one is given and is otherwise absent (an empty cell means "not given", never
//! "invalid"); then the `transform`s in order, then `split` into a JSON array of trimmed,
//! non-empty items, and each item through `map` (a missing value is an `unmapped_value` row error)
//! or `date_format` (output `YYYY-MM-DD`; a failure is an `invalid_date` row error). Everything
//! else stays a string: type coercion and field rules are `validate`'s job. JSONL values that are
//! not strings (numbers, arrays, objects) pass through as JSON unless a `map` or `date_format`
//! needs their text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::Datelike;
use serde_json::Value;

use crate::config::{FieldSpec, Source, Target, Transform};
use crate::input::{Cell, Column, Header, Record};
use crate::payload::{FieldName, Payload};
use crate::validate::FieldError;
use fixed_date::FixedDate;

/// A mapped column that the export does not have: the config does not fit the file.
#[derive(Debug, thiserror::Error)]
#[error("column `{column}` (from `{key}`) is not in the header of {}; its columns are: {columns}", file.display())]
pub struct MappingError {
    pub file: PathBuf,
    /// The missing column.
    pub column: String,
    /// The config key that names it (`targets.lawyers.fields.email.column`).
    pub key: String,
    /// The file's columns, comma-separated.
    pub columns: String,
}

/// A target's field specs, compiled against one file's header.
#[derive(Debug)]
pub struct Mapper {
    fields: Vec<MappedField>,
    /// The fields are sorted by name without repeats (the config sorts them): every payload
    /// can be built in order without comparing names.
    sorted: bool,
}

#[derive(Debug)]
enum MappedSource {
    Column { at: Column, name: String },
    Value(Value),
}

#[derive(Debug)]
struct MappedField {
    /// The provider field: the schema's own name, borrowed, unless it is a wildcard's.
    field: FieldName,
    /// `targets.X.fields.F`, for messages.
    key_path: String,
    source: MappedSource,
    default: Option<Value>,
    transforms: Vec<Transform>,
    split: Option<String>,
    map: Option<BTreeMap<String, Value>>,
    date: Option<DateFormat>,
}

/// A field's `date_format`.
#[derive(Debug)]
struct DateFormat {
    /// As written, for messages.
    text: String,
    /// Parsed once.
    items: Vec<Item<'static>>,
    /// Its fixed layout, when it has one (the usual `%d/%m/%Y`).
    fixed: Option<FixedDate>,
}

/// A raw value before conversion.
enum Raw<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl Mapper {
    /// Compiles `target`'s fields against `header` (of `file`, for the error message). A column
    /// missing from a CSV header is an error naming the column and the config key.
    pub fn compile(target: &Target, header: &Header, file: &Path) -> Result<Mapper, MappingError> {
        let mut fields = Vec::with_capacity(target.fields.len());
        for spec in &target.fields {
            fields.push(compile_field(target, spec, header, file)?);
        }
        let sorted = fields.windows(2).all(|w| w[0].field < w[1].field);
        Ok(Mapper { fields, sorted })
    }

    /// The distinct columns the mapping reads, sorted.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .fields
            .iter()
            .filter_map(|f| match &f.source {
                MappedSource::Column { name, .. } => Some(name.as_str()),
                MappedSource::Value(_) => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Maps `record` to a payload (absent values left out), pushing one error per field that
    /// cannot be mapped.
    pub fn map(&self, record: &Record, errors: &mut Vec<FieldError>) -> Payload {
        // The fields are sorted by name, so the map is built in one go rather than by inserts.
        let mut entries = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            match f.apply(record) {
                Ok(Some(v)) => entries.push((f.field.clone(), v)),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        if self.sorted {
            Payload::from_sorted_unchecked(entries)
        } else {
            Payload::from_sorted(entries)
        }
    }
}

fn compile_field(
    target: &Target,
    spec: &FieldSpec,
    header: &Header,
    file: &Path,
) -> Result<MappedField, MappingError> {
    let key_path = target.key_path(&format!("fields.{}", spec.field));
    let source = match &spec.source {
        Source::Value(v) => MappedSource::Value(v.clone()),
        Source::Column(name) => match header.resolve(name) {
            Some(at) => MappedSource::Column {
                at,
                name: name.clone(),
            },
            None => {
                return Err(MappingError {
                    file: file.to_owned(),
                    column: name.clone(),
                    key: format!("{key_path}.column"),
                    columns: list_columns(header),
                })
            }
        },
    };
    // The format was checked when the config was loaded; an unparsable one maps nothing.
    let date = spec.date_format.as_ref().map(|fmt| {
        let items = StrftimeItems::new(fmt).parse_to_owned().unwrap_or_default();
        DateFormat {
            text: fmt.clone(),
            fixed: FixedDate::compile(&items),
            items,
        }
    });
    Ok(MappedField {
        field: schema_name(target, &spec.field),
        key_path,
        source,
        default: spec.default.clone(),
        transforms: spec.transforms.clone(),
        split: spec.split.clone(),
        map: spec.map.clone(),
        date,
    })
}

/// `field` as a name borrowed from the provider's schema, so that mapping a row does not
/// allocate its field names; owned for a wildcard's field (`custom_3`).
fn schema_name(target: &Target, field: &str) -> FieldName {
    match target.provider.schema().field(field) {
        Some(def) if def.name == field => FieldName::Borrowed(def.name),
        _ => FieldName::Owned(field.to_owned()),
    }
}

impl MappedField {
    /// The provider value for `record`, `None` when absent.
    fn apply(&self, record: &Record) -> Result<Option<Value>, FieldError> {
        let cell = match &self.source {
            MappedSource::Column { at, .. } => record.get(at),
            MappedSource::Value(v) => json_cell(v),
        };
        let raw = match cell {
            Cell::Missing | Cell::Json(Value::Null) => None,
            Cell::Text(s) if s.trim().is_empty() => None,
            Cell::Text(s) => Some(Raw::Text(s)),
            Cell::Json(v) => Some(Raw::Json(v)),
        };
        let raw = match raw.or_else(|| self.default.as_ref().map(|d| raw_of(json_cell(d)))) {
            Some(raw) => raw,
            None => return Ok(None),
        };
        match raw {
            Raw::Text(s) => self.convert_text(s).map(Some),
            Raw::Json(v @ (Value::Number(_) | Value::Bool(_)))
                if self.map.is_some() || self.date.is_some() =>
            {
                self.convert_text(&v.to_string()).map(Some)
            }
            Raw::Json(v) => Ok(Some(v.clone())),
        }
    }

    fn convert_text(&self, s: &str) -> Result<Value, FieldError> {
        let s = self.transform(s);
        match &self.split {
            Some(sep) => s
                .split(sep.as_str())
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| self.convert_item(Cow::Borrowed(item)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            None => self.convert_item(s),
        }
    }

    fn transform<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut s = Cow::Borrowed(s);
        for t in &self.transforms {
            s = match t {
                Transform::Trim => match s {
                    Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                    Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
                },
                Transform::Lowercase => change_case(s, false),
                Transform::Uppercase => change_case(s, true),
            };
        }
        s
    }

    fn convert_item(&self, s: Cow<'_, str>) -> Result<Value, FieldError> {
        if let Some(map) = &self.map {
            return map
                .get(s.trim())
                .cloned()
                .ok_or_else(|| self.unmapped(s.trim(), map));
        }
        if let Some(format) = &self.date {
            let text = s.trim();
            let date = format
                .fixed
                .as_ref()
                .and_then(|fixed| fixed.parse(text))
                .or_else(|| {
                    let mut parsed = Parsed::new();
                    chrono::format::parse(&mut parsed, text, format.items.iter())
                        .ok()
                        .and_then(|()| parsed.to_naive_date().ok())
                });
            return match date {
                Some(d) => Ok(Value::String(iso_date(d))),
                None => Err(FieldError::new(
                    self.field.as_ref(),
                    "invalid_date",
                    format!(
                        "`{text}` {} is not a date in the format `{}` ({}.date_format)",
                        self.origin(),
                        format.text,
                        self.key_path
                    ),
                )),
            };
        }
        Ok(Value::String(s.into_owned()))
    }

    fn unmapped(&self, value: &str, map: &BTreeMap<String, Value>) -> FieldError {
        const SHOWN: usize = 12;
        let mut known: Vec<&str> = map.keys().take(SHOWN).map(String::as_str).collect();
        if map.len() > SHOWN {
            known.push("...");
        }
        FieldError::new(
            self.field.as_ref(),
            "unmapped_value",
            format!(
                "`{value}` {} is not a key of {}.map; known values: {}",
                self.origin(),
                self.key_path,
                known.join(", ")
            ),
        )
    }

    /// Where the value came from, for messages: `(column `plan`)`.
    fn origin(&self) -> String {
        match &self.source {
            MappedSource::Column { name, .. } => format!("(column `{name}`)"),
            MappedSource::Value(_) => format!("(from {}.value)", self.key_path),
        }
    }
}

/// The header's column names for an error message: all of them, or the first 30 and how many
/// more (a hostile export may have 10,000 columns).
pub fn list_columns(header: &Header) -> String {
    const SHOWN: usize = 30;
    let names = header.names().unwrap_or_default();
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(", ... ({} more)", names.len() - SHOWN));
    }
    text
}

/// `s` in upper or lower case, copied only when that changes it (with a byte-wise fast path for
/// ASCII, the common case).
fn change_case(s: Cow<'_, str>, upper: bool) -> Cow<'_, str> {
    if s.is_ascii() {
        let needs = if upper {
            s.bytes().any(|b| b.is_ascii_lowercase())
        } else {
            s.bytes().any(|b| b.is_ascii_uppercase())
        };
        return match (needs, upper) {
            (false, _) => s,
            (true, true) => Cow::Owned(s.to_ascii_uppercase()),
            (true, false) => Cow::Owned(s.to_ascii_lowercase()),
        };
    }
    let needs = if upper {
        s.chars().any(char::is_lowercase)
    } else {
        s.chars().any(char::is_uppercase)
    };
    match (needs, upper) {
        (false, _) => s,
        (true, true) => Cow::Owned(s.to_uppercase()),
        (true, false) => Cow::Owned(s.to_lowercase()),
    }
}

/// `YYYY-MM-DD` (digit by digit: this runs for every date of every row).
fn iso_date(d: chrono::NaiveDate) -> String {
    let Ok(year @ 0..=9999) = u32::try_from(d.year()) else {
        return d.format("%Y-%m-%d").to_string();
    };
    let mut out = String::with_capacity(10);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, d.month(), 2);
    out.push('-');
    push_digits(&mut out, d.day(), 2);
    out
}

/// Appends the last `width` decimal digits of `n`, zero-padded.
fn push_digits(out: &mut String, n: u32, width: u32) {
    for i in (0..width).rev() {
        let digit = n / 10u32.pow(i) % 10;
        out.push(char::from_digit(digit, 10).unwrap_or('0'));
    }
}

fn json_cell(v: &Value) -> Cell<'_> {
    match v {
        Value::String(s) => Cell::Text(s),
        v => Cell::Json(v),
    }
}

fn raw_of(cell: Cell<'_>) -> Raw<'_> {
    match cell {
        Cell::Text(s) => Raw::Text(s),
        Cell::Json(v) => Raw::Json(v),
        Cell::Missing => Raw::Json(&Value::Null),
    }
}

mod fixed_date;
#[cfg(test)]
mod tests;
