//! The bodies Faveo's mock accepts on create and update: the fields of the "Edit User" table,
//! their types, the configurable required fields and the note on organisation departments.
//! The rules, with the page lines they rest on, are listed in the opening of `mock.rs`.

use serde_json::Value;

use super::ORGANISATION_FIELDS;
use crate::mock::checks::{self, kind_of};
use crate::mock::MockOptions;
use crate::payload::Payload;
use crate::validate::FieldError;

/// The fields every create and update must carry (page:7-8).
const ALWAYS_REQUIRED: &[&str] = &["first_name", "last_name"];
/// The String fields of the table (page:7-12).
const TEXT_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "user_name",
    "phone_number",
    "email",
    "mobile",
];

/// An organisation or department id: a positive integer, or its digits as a string.
fn id_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().filter(|n| *n > 0),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok().filter(|n| *n > 0)
        }
        _ => None,
    }
}

/// The ids of an array field, or why it is not an array of ids.
fn ids(name: &str, value: &Value) -> Result<Vec<u64>, String> {
    let Some(items) = value.as_array() else {
        return Err(format!(
            "{name} must be an array of ids, not {}",
            kind_of(value)
        ));
    };
    items
        .iter()
        .map(|item| id_of(item).ok_or_else(|| format!("{name} holds {item}, which is not an id")))
        .collect()
}

/// The `(org_id, org_dept)` pairs of `related`, or why it is not an array of them.
fn related_pairs(value: &Value) -> Result<Vec<(u64, u64)>, String> {
    let shape = "related must be an array of {org_id, org_dept} objects";
    let items = value.as_array().ok_or_else(|| shape.to_string())?;
    items
        .iter()
        .map(|item| {
            let object = item.as_object().filter(|o| o.len() == 2);
            let id = |key| object.and_then(|o| o.get(key)).and_then(id_of);
            match (id("org_id"), id("org_dept")) {
                (Some(org), Some(dept)) => Ok((org, dept)),
                _ => Err(format!("{shape}, with an id in each; {item} is not one")),
            }
        })
        .collect()
}

/// The note of page:17 on the organisation fields sent in `body` (each already an array).
fn check_organisations(body: &Payload, errors: &mut Vec<FieldError>) {
    let array = |name| body.get(name).filter(|v| !v.is_null());
    let organisations = array("organization").map(|v| ids("organization", v));
    let departments = array("organisation_department").map(|v| ids("organisation_department", v));
    let related = array("related").map(related_pairs);
    let mut fail = |field: &str, message: String| {
        errors.push(FieldError::new(field, "invalid_organisation", message));
    };
    for (name, checked) in [
        ("organization", &organisations),
        ("organisation_department", &departments),
    ] {
        if let Some(Err(message)) = checked {
            fail(name, message.clone());
        }
    }
    let related = match related {
        Some(Err(message)) => return fail("related", message),
        Some(Ok(pairs)) => Some(pairs),
        None => None,
    };
    let departments = match departments {
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => return,
        None => None,
    };
    let organisations = match organisations {
        Some(Ok(o)) => o,
        Some(Err(_)) => return,
        None => Vec::new(),
    };
    match (&departments, &related) {
        (Some(d), None) => {
            return fail(
                "related",
                format!(
                    "organisation_department is passed ({} element(s)), so related is mandatory",
                    d.len()
                ),
            )
        }
        (Some(d), Some(r)) if d.len() != r.len() => {
            return fail(
                "related",
                format!(
                    "related has {} element(s) and organisation_department {}: they must be equal",
                    r.len(),
                    d.len()
                ),
            )
        }
        _ => {}
    }
    let departments = departments.unwrap_or_default();
    for (org, dept) in related.unwrap_or_default() {
        if !organisations.contains(&org) || !departments.contains(&dept) {
            fail(
                "related",
                format!(
                    "related pairs organisation {org} with department {dept}: both must be \
                     passed in organization and organisation_department"
                ),
            );
        }
    }
}

/// Every problem of a create or update `body`, by the rules above.
pub(super) fn check_body(body: &Payload, opts: &MockOptions) -> Vec<FieldError> {
    let required: Vec<&str> = ALWAYS_REQUIRED
        .iter()
        .copied()
        .chain(opts.faveo_required.iter().map(String::as_str))
        .collect();
    let mut errors = Vec::new();
    for (name, value) in body.iter() {
        let custom = name
            .strip_prefix("custom_")
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        let known = custom || TEXT_FIELDS.contains(&name) || ORGANISATION_FIELDS.contains(&name);
        if !known {
            let message = format!("{name} is not a field of this request");
            errors.push(FieldError::new(name, "unknown_field", message));
            continue;
        }
        if value.is_null() {
            if !opts.null_clears || required.contains(&name) {
                let message = format!("{name} cannot be null");
                errors.push(FieldError::new(name, "null", message));
            }
            continue;
        }
        let problem = if custom {
            let strings = value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string));
            (!value.is_string() && !strings)
                .then(|| format!("{name} must be a string or an array of strings"))
        } else if TEXT_FIELDS.contains(&name) {
            match value.as_str() {
                None => Some(format!("{name} must be a string, not {}", kind_of(value))),
                Some(text) if name == "email" => checks::email(text).err(),
                Some(_) => None,
            }
        } else {
            None // the organisation fields: below, together
        };
        if let Some(message) = problem {
            errors.push(FieldError::new(name, "invalid", message));
        }
    }
    check_organisations(body, &mut errors);
    for name in required {
        let blank = match body.get(name) {
            None => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if blank && !errors.iter().any(|e| e.field == name) {
            errors.push(FieldError::new(name, "required", "this field is required"));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(value: Value, opts: &MockOptions) -> Vec<(String, String)> {
        let body: Payload = value.as_object().unwrap().clone().into();
        check_body(&body, opts)
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_string(), code.to_string())
    }

    fn person() -> Value {
        json!({"first_name": "Ana", "last_name": "Ruiz", "user_name": "ana",
            "email": "ana@example.com"})
    }

    #[test]
    fn the_configured_fields_are_required_with_the_names() {
        let strict = MockOptions::default();
        assert!(problems(person(), &strict).is_empty());
        assert_eq!(
            problems(json!({"first_name": "Ana", "last_name": " "}), &strict),
            [
                pair("last_name", "required"),
                pair("email", "required"),
                pair("user_name", "required")
            ]
        );
        let mobile_only = MockOptions {
            faveo_required: vec!["mobile".into()],
            ..MockOptions::default()
        };
        let named = json!({"first_name": "Ana", "last_name": "Ruiz"});
        assert_eq!(problems(named, &mobile_only), [pair("mobile", "required")]);
    }

    #[test]
    fn types_unknown_fields_and_nulls_are_refused() {
        let mut sent = person();
        sent["mobile"] = json!(600000000);
        sent["custom_3"] = json!(["a", "b"]);
        sent["custom_x"] = json!("a");
        sent["phone_number"] = Value::Null;
        let strict = MockOptions::default();
        assert_eq!(
            problems(sent.clone(), &strict),
            [
                pair("custom_x", "unknown_field"),
                pair("mobile", "invalid"),
                pair("phone_number", "null")
            ]
        );
        let clears = MockOptions {
            null_clears: true,
            ..MockOptions::default()
        };
        sent["email"] = Value::Null;
        assert_eq!(
            problems(sent, &clears),
            [
                pair("custom_x", "unknown_field"),
                pair("email", "null"),
                pair("mobile", "invalid")
            ]
        );
    }

    #[test]
    fn departments_need_as_many_related_pairs_of_passed_ids() {
        let strict = MockOptions::default();
        let with = |org: Value, dept: Value, related: Value| {
            let mut sent = person();
            sent["organization"] = org;
            sent["organisation_department"] = dept;
            if !related.is_null() {
                sent["related"] = related;
            }
            problems(sent, &strict)
        };
        let good = json!([{"org_id": 3, "org_dept": "7"}]);
        assert!(with(json!([3]), json!(["7"]), good.clone()).is_empty());
        let related = || vec![pair("related", "invalid_organisation")];
        assert_eq!(with(json!([3]), json!([7]), Value::Null), related());
        assert_eq!(with(json!([3]), json!([7, 8]), good), related());
        let elsewhere = json!([{"org_id": 4, "org_dept": 7}]);
        assert_eq!(with(json!([3]), json!([7]), elsewhere), related());
        let not_ids = json!([{"org_id": 0, "org_dept": 7}]);
        assert_eq!(with(json!([3]), json!([7]), not_ids), related());
        assert_eq!(
            with(
                json!([-3]),
                json!([7]),
                json!([{"org_id": 3, "org_dept": 7}])
            ),
            [pair("organization", "invalid_organisation")]
        );
    }
}
