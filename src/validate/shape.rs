//! The shape of nested JSON fields, for schemas' cross-field rules: "a list of objects, each
//! with these keys" (Abitmedia `companies` with `companyId`, Faveo `related` with `org_id` and
//! `org_dept`, GNOSS's collections).

use serde_json::Value;

use super::{code, FieldError};
use crate::payload::Payload;

/// What [`list_of_objects`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape<'p> {
    /// The field is not in the payload.
    Absent,
    /// A well-formed list.
    Valid(&'p [Value]),
    /// Malformed; the error is already reported.
    Invalid,
}

/// Checks that `field`, when present, is a list of objects that each have every key of `keys`,
/// and, when `non_empty`, at least one element. Pushes one `invalid_type` error for the field
/// (naming the first bad element). A scalar value is `Invalid` without a second error: the
/// field's type ([`FieldType::Json`](super::FieldType::Json)) reported it already.
pub fn list_of_objects<'p>(
    payload: &'p Payload,
    field: &str,
    keys: &[&str],
    non_empty: bool,
    errors: &mut Vec<FieldError>,
) -> Shape<'p> {
    let Some(value) = payload.get(field) else {
        return Shape::Absent;
    };
    let mut fail = |message: String| {
        errors.push(FieldError::new(field, code::INVALID_TYPE, message));
        Shape::Invalid
    };
    let items = match value {
        Value::Array(items) => items,
        Value::Object(_) => return fail(format!("{field} must be a list of objects")),
        // Text or a number: its field type (Json) refused it already.
        _ => return Shape::Invalid,
    };
    if non_empty && items.is_empty() {
        return fail(format!("{field} must have at least one element"));
    }
    for (i, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            return fail(format!("element {} of {field} is not an object", i + 1));
        };
        if let Some(missing) = keys.iter().find(|k| !object.contains_key(**k)) {
            return fail(format!("element {} of {field} has no {missing}", i + 1));
        }
    }
    Shape::Valid(items)
}

/// The type a key of a nested object must have (see [`item_types`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    /// A JSON integer (`1`, not `"1"`): what the provider's example shows.
    Integer,
    /// A JSON boolean.
    Boolean,
    /// A GUID, as a string.
    Guid,
}

/// Checks the type of each key of `rules` in every element of a well-formed list (from
/// [`list_of_objects`]) where the element has that key, pushing one error per bad value, named
/// `field[i].key`. Nothing here converts: a nested value reaches the provider as the export
/// wrote it, so it must already be of the right type.
pub fn item_types(
    items: &[Value],
    field: &str,
    rules: &[(&str, ItemType)],
    errors: &mut Vec<FieldError>,
) {
    for (i, item) in items.iter().enumerate() {
        for (key, ty) in rules {
            let Some(value) = item.get(*key) else {
                continue;
            };
            let name = format!("{field}[{i}].{key}");
            let error = match ty {
                ItemType::Integer if !(value.is_i64() || value.is_u64()) => Some((
                    code::INVALID_TYPE,
                    format!("{name} must be an integer, not {value}"),
                )),
                ItemType::Boolean if !value.is_boolean() => Some((
                    code::INVALID_TYPE,
                    format!("{name} must be true or false, not {value}"),
                )),
                ItemType::Guid => match value.as_str().map(super::guid::normalise) {
                    Some(Ok(_)) => None,
                    Some(Err(e)) => Some((code::INVALID_GUID, format!("{name}: {}", e.message))),
                    None => Some((code::INVALID_GUID, format!("{name} must be a GUID string"))),
                },
                _ => None,
            };
            if let Some((code, message)) = error {
                errors.push(FieldError::new(field, code, message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(v: Value, non_empty: bool) -> (bool, Vec<FieldError>) {
        let Value::Object(p) = json!({ "companies": v }) else {
            unreachable!()
        };
        let mut errors = Vec::new();
        let p = Payload::from(p);
        let shape = list_of_objects(&p, "companies", &["companyId"], non_empty, &mut errors);
        (matches!(shape, Shape::Valid(_)), errors)
    }

    #[test]
    fn well_formed_lists_pass() {
        let (ok, errors) = run(
            json!([{"companyId": 1, "isAdmin": true}, {"companyId": 2}]),
            true,
        );
        assert!(ok);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn bad_lists_name_the_problem() {
        for (v, non_empty, want) in [
            (
                json!({"companyId": 1}),
                false,
                "companies must be a list of objects",
            ),
            (json!([]), true, "companies must have at least one element"),
            (
                json!([{"companyId": 1}, 3]),
                false,
                "element 2 of companies is not an object",
            ),
            (
                json!([{"roleId": 1}]),
                false,
                "element 1 of companies has no companyId",
            ),
        ] {
            let (ok, errors) = run(v, non_empty);
            assert!(!ok);
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].code, "invalid_type");
            assert_eq!(errors[0].message, want);
        }
    }

    #[test]
    fn a_scalar_is_left_to_the_type_check() {
        let (ok, errors) = run(json!("plain"), true);
        assert!(!ok);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn an_absent_field_is_not_an_error() {
        let p = Payload::new();
        let mut errors = Vec::new();
        assert_eq!(
            list_of_objects(&p, "companies", &[], true, &mut errors),
            Shape::Absent
        );
        assert!(errors.is_empty());
    }
}
