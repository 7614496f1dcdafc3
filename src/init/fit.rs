//! Whether a column's values fit a provider field: a name is only a hint (an `employee_id`
//! column is not GNOSS's GUID `user_id`, a `sex` of `M`/`F` is not MeetingLawyers' `0`/`1`), so
//! `init --from` proposes a column only when most of its sampled values pass the field's own
//! rule, run by `crate::validate` exactly as `usersync validate` runs it.
//!
//! A column may need a shape to fit: dates in another layout get the `date_format` that reads
//! them (`20/11/1979`: `%d/%m/%Y`), and a list field a `split` on the separator its values use
//! (`1|2`). A share of failing values is allowed, since exports carry bad rows that `validate`
//! is there to report.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::payload::Payload;
use crate::validate::{validate, Context, FieldDef, FieldType, Rule, Schema};

/// The date layouts tried, Spanish (day first) before American: a column whose days never
/// pass 12 reads both ways, and an export from a Spanish HR system means day first.
const DATE_FORMATS: &[&str] = &["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%m/%d/%Y"];

/// The list separators tried, in this order when no value shows one.
const SEPARATORS: &[&str] = &["|", ";", ","];

/// The largest share of a column's sampled values that may fail the field's rule for the
/// column still to be proposed: a wrong column fails most of its values.
const MAX_FAILING: f64 = 0.2;

/// How a column's values are read into the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// As they are.
    Plain,
    /// Dates in this layout (`date_format`).
    Date(&'static str),
    /// A list, split on this separator (`split`).
    Split(&'static str),
}

/// Why a column whose name fits a field was not proposed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// Sampled values that failed, of those checked.
    pub failing: usize,
    pub checked: usize,
    /// The validation code of the first failure (`invalid_enum`).
    pub code: String,
    /// The column's distinct values, for a field that takes a few fixed values: what a `map`
    /// must translate. `None` for other fields, whose values may be personal data.
    pub values: Option<Vec<String>>,
}

/// Whether `values` (a column's sampled cells) fit the field `def` of `schema`, and how.
pub fn judge(schema: &Schema, def: &FieldDef, values: &[Value]) -> Result<Shape, Misfit> {
    let given: Vec<&Value> = values.iter().filter(|v| !is_empty(v)).collect();
    if given.is_empty() {
        // Nothing contradicts the name.
        return Ok(Shape::Plain);
    }
    let mut first_misfit = None;
    for shape in shapes(def, &given) {
        let mut failing = 0;
        let mut code = None;
        for value in &given {
            if let Err(c) = check(schema, def, shape, value) {
                failing += 1;
                code.get_or_insert(c);
            }
        }
        if failing as f64 <= MAX_FAILING * given.len() as f64 {
            return Ok(shape);
        }
        first_misfit.get_or_insert(Misfit {
            failing,
            checked: given.len(),
            code: code.unwrap_or_default(),
            values: categories(def, &given),
        });
    }
    Err(first_misfit.expect("at least the plain shape is tried"))
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The shapes worth trying for `def`, the plain one first.
fn shapes(def: &FieldDef, given: &[&Value]) -> Vec<Shape> {
    let mut shapes = vec![Shape::Plain];
    match def.ty {
        FieldType::Date | FieldType::DateTime => {
            shapes.extend(DATE_FORMATS.iter().map(|f| Shape::Date(f)));
        }
        FieldType::Array => {
            let used = |sep: &str| {
                given
                    .iter()
                    .filter(|v| v.as_str().is_some_and(|s| s.contains(sep)))
                    .count()
            };
            let mut separators = SEPARATORS.to_vec();
            // Stable: separators no value shows keep their order.
            separators.sort_by_key(|sep| std::cmp::Reverse(used(sep)));
            shapes.extend(separators.into_iter().map(Shape::Split));
        }
        _ => {}
    }
    shapes
}

/// `value` read with `shape` and validated as the field `def`; `Err(code)` when it fails.
fn check(schema: &Schema, def: &FieldDef, shape: Shape, value: &Value) -> Result<(), String> {
    let mapped = match (shape, value) {
        (Shape::Plain, _) => value.clone(),
        (Shape::Date(format), Value::String(s)) => {
            match chrono::NaiveDate::parse_from_str(s.trim(), format) {
                Ok(date) => Value::String(date.format("%Y-%m-%d").to_string()),
                Err(_) => return Err(crate::validate::code::INVALID_DATE.into()),
            }
        }
        (Shape::Split(separator), Value::String(s)) => Value::Array(
            s.split(separator)
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        ),
        _ => return Err(crate::validate::code::INVALID_TYPE.into()),
    };
    let mut payload = Payload::new();
    payload.insert(def.name, mapped);
    // Partial: only this field's own rule counts, not the fields the row lacks here.
    let context = Context {
        partial: true,
        ..Context::default()
    };
    match validate(schema, &mut payload, &context)
        .into_iter()
        .find(|e| e.field == def.name)
    {
        Some(error) => Err(error.code),
        None => Ok(()),
    }
}

/// The distinct values of a column offered to a field of a few fixed values, when they are few
/// and short (categories such as `M`/`F`, not people's data).
fn categories(def: &FieldDef, given: &[&Value]) -> Option<Vec<String>> {
    if !matches!(def.rule, Rule::Enum(_)) {
        return None;
    }
    let distinct: BTreeSet<String> = given
        .iter()
        .map(|v| match v {
            Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        })
        .collect();
    let few = distinct.len() <= 12 && distinct.iter().all(|v| v.chars().count() <= 24);
    few.then(|| distinct.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(provider: &str, name: &str) -> (&'static Schema, &'static FieldDef) {
        let schema = crate::provider::by_name(provider).unwrap().schema();
        (schema, schema.field(name).unwrap())
    }

    fn strings(values: &[&str]) -> Vec<Value> {
        values.iter().map(|v| json!(v)).collect()
    }

    #[test]
    fn dates_get_the_layout_that_reads_them() {
        let (schema, def) = field("meetinglawyers", "birthdate");
        let days = strings(&[
            "20/11/1979",
            "12/07/1993",
            "",
            "01/02/1990",
            "28/02/1985",
            "30/02/1985",
        ]);
        assert_eq!(judge(schema, def, &days), Ok(Shape::Date("%d/%m/%Y")));
        let iso = strings(&["1979-11-20", "1993-07-12"]);
        assert_eq!(judge(schema, def, &iso), Ok(Shape::Plain));
    }

    #[test]
    fn a_list_field_is_split_on_the_separator_its_values_use() {
        let (schema, def) = field("faveo", "organization");
        assert_eq!(
            judge(schema, def, &strings(&["1;2", "3"])),
            Ok(Shape::Split(";"))
        );
        assert_eq!(
            judge(schema, def, &strings(&["1", "3"])),
            Ok(Shape::Split("|"))
        );
    }

    #[test]
    fn values_that_fail_the_rule_are_a_misfit_naming_categories_never_people() {
        let (schema, def) = field("meetinglawyers", "gender");
        let misfit = judge(schema, def, &strings(&["M", "F", "F"])).unwrap_err();
        assert_eq!(misfit.failing, 3);
        assert_eq!(misfit.values, Some(vec!["F".to_owned(), "M".to_owned()]));

        let (schema, def) = field("gnoss", "user_id");
        let misfit = judge(schema, def, &strings(&["E00001", "E00002"])).unwrap_err();
        assert_eq!(misfit.code, "invalid_guid");
        assert_eq!(misfit.values, None);
    }

    #[test]
    fn a_few_bad_rows_do_not_hide_a_good_column() {
        let (schema, def) = field("meetinglawyers", "nid_number");
        let mut dnis = strings(&["07702456D"; 9]);
        dnis.push(json!("12345678A"));
        assert_eq!(judge(schema, def, &dnis), Ok(Shape::Plain));
    }
}
