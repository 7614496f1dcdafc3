//! The User resource as the SCIM mock stores and shows it: the checks a created, replaced or
//! patched User must pass, the readOnly attributes a request cannot set, and `meta`.
//!
//! A stored user's fields are the resource's attributes, `id` and `meta` (`resourceType`,
//! `created`, `lastModified`, `version`) included; `meta.location` is added when the resource is
//! shown, from the request's `Host` (RFC 7644 §3.1: the URI of the resource).

use serde_json::{json, Map, Value};

use super::filter::{get_ci, key_ci, CORE_USER, ENTERPRISE_USER};
use crate::mock::store::StoredUser;

/// Attributes a client cannot set (RFC 7643 §3.1 `id`, `meta`; §4.1.2 `groups`).
pub const READ_ONLY: &[&str] = &["id", "meta", "groups"];

/// Why a resource is refused: a 400 with this `scimType` (RFC 7644 §3.12).
pub type Invalid = (&'static str, String);

/// Drops the readOnly attributes a create or a replace sent (RFC 7644 §3.3: "attributes whose
/// mutability is readOnly ... SHALL be ignored"; §3.5.1 the same for PUT).
pub fn strip_read_only(resource: &mut Map<String, Value>) {
    resource.retain(|key, _| !READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(key)));
}

/// An attribute, whether a value fits its type, and the type's name for the error.
type TypeRule = (&'static str, fn(&Value) -> bool, &'static str);

fn is_schema(text: &str) -> bool {
    text.eq_ignore_ascii_case(CORE_USER) || text.eq_ignore_ascii_case(ENTERPRISE_USER)
}

/// Checks a User: `schemas` holds the core User schema and only schemas the resource type has
/// (RFC 7643 §3: "MUST only contain values defined as schema and schemaExtensions"), an
/// extension's attributes only with its URN in `schemas`; `userName` a non-empty string (RFC
/// 7643 §4.1.1, required); the attributes the mock knows of the right JSON type (§2.3).
pub fn check(resource: &Map<String, Value>) -> Result<(), Invalid> {
    let schemas: Vec<&str> = match resource.get("schemas") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !schemas.iter().any(|s| s.eq_ignore_ascii_case(CORE_USER)) {
        return Err(("invalidSyntax", format!("schemas must contain {CORE_USER}")));
    }
    if let Some(other) = schemas.iter().find(|s| !is_schema(s)) {
        return Err(("invalidValue", format!("{other} is not a schema of User")));
    }
    for (key, value) in resource {
        if key.len() < 4 || !key[..4].eq_ignore_ascii_case("urn:") {
            continue;
        }
        if !key.eq_ignore_ascii_case(ENTERPRISE_USER) {
            return Err(("invalidValue", format!("{key} is not a schema of User")));
        }
        if !schemas.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            return Err(("invalidValue", format!("{key} is not listed in schemas")));
        }
        if !value.is_object() {
            return Err(("invalidValue", format!("{key} must be an object")));
        }
    }
    match get_ci(resource, "userName") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(("invalidValue", "userName is required".into()))
        }
        Some(_) => return Err(("invalidValue", "userName must be a string".into())),
    }
    let kinds: &[TypeRule] = &[
        ("active", Value::is_boolean, "a boolean"),
        ("externalId", Value::is_string, "a string"),
        ("displayName", Value::is_string, "a string"),
        ("name", Value::is_object, "an object"),
        ("emails", is_list_of_objects, "an array of objects"),
        ("phoneNumbers", is_list_of_objects, "an array of objects"),
        ("addresses", is_list_of_objects, "an array of objects"),
    ];
    for (name, fits, what) in kinds {
        match get_ci(resource, name) {
            Some(value) if !value.is_null() && !fits(value) => {
                return Err(("invalidValue", format!("{name} must be {what}")));
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_list_of_objects(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(Value::is_object))
}

/// Lists the enterprise extension in `schemas` when the resource has its attributes, and only
/// then (a PATCH that adds an extension attribute adds the schema, RFC 7644 §3.5.2.1).
pub fn tidy_schemas(resource: &mut Map<String, Value>) {
    let key = key_ci(resource, ENTERPRISE_USER);
    let has_extension = resource
        .get(&key)
        .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()));
    if !has_extension {
        resource.remove(&key);
    }
    if let Some(Value::Array(schemas)) = resource.get_mut("schemas") {
        let listed = |v: &Value| {
            v.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(ENTERPRISE_USER))
        };
        if has_extension && !schemas.iter().any(listed) {
            schemas.push(Value::String(ENTERPRISE_USER.into()));
        } else if !has_extension {
            schemas.retain(|v| !listed(v));
        }
    }
}

/// Whether the user has access: `active` is not `false` (RFC 7643 §4.1.1 gives no default; an
/// absent `active` counts as active).
pub fn is_active(resource: &Map<String, Value>) -> bool {
    get_ci(resource, "active").and_then(Value::as_bool) != Some(false)
}

/// The time now, as `meta` shows it (RFC 7643 §3.1: a DateTime).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The `meta` of a new User.
pub fn new_meta(now: &str) -> Value {
    json!({"resourceType": "User", "created": now, "lastModified": now, "version": "W/\"1\""})
}

/// The resource's version (its ETag, RFC 7644 §3.14).
pub fn version(resource: &Map<String, Value>) -> String {
    resource
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .unwrap_or("W/\"0\"")
        .to_string()
}

/// `meta` after a change: the next version, modified now (`created` kept).
pub fn touched_meta(old: Option<&Value>, now: &str) -> Value {
    let mut meta = old.cloned().unwrap_or_else(|| new_meta(now));
    let number: u64 = meta
        .get("version")
        .and_then(Value::as_str)
        .and_then(|v| v.trim_start_matches("W/").trim_matches('"').parse().ok())
        .unwrap_or(0);
    meta["version"] = json!(format!("W/\"{}\"", number + 1));
    meta["lastModified"] = json!(now);
    meta
}

/// The user as a SCIM resource, `meta.location` under `base` (the SCIM root, ending in `/`).
pub fn render(user: &StoredUser, base: &str) -> Value {
    let mut resource = user.fields.clone().into_object();
    resource.insert("id".into(), Value::String(user.id.clone()));
    if let Some(Value::Object(meta)) = resource.get_mut("meta") {
        meta.insert(
            "location".into(),
            Value::String(format!("{base}Users/{}", user.id)),
        );
    }
    Value::Object(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_user_needs_its_schema_and_a_user_name() {
        let ok = object(json!({"schemas": [CORE_USER], "userName": "bjensen"}));
        assert_eq!(check(&ok), Ok(()));
        let no_schema = object(json!({"userName": "bjensen"}));
        assert_eq!(check(&no_schema).unwrap_err().0, "invalidSyntax");
        let blank = object(json!({"schemas": [CORE_USER], "userName": "  "}));
        assert_eq!(check(&blank).unwrap_err().0, "invalidValue");
        let typed = object(json!({"schemas": [CORE_USER], "userName": "b", "active": "False"}));
        assert_eq!(check(&typed).unwrap_err().1, "active must be a boolean");
        let unlisted = object(json!({"schemas": [CORE_USER], "userName": "b",
            (ENTERPRISE_USER): {"employeeNumber": "1"}}));
        assert_eq!(check(&unlisted).unwrap_err().0, "invalidValue");
    }

    #[test]
    fn versions_count_up_and_the_extension_schema_follows_its_attributes() {
        let meta = touched_meta(
            Some(&new_meta("2024-01-01T00:00:00Z")),
            "2024-01-02T00:00:00Z",
        );
        assert_eq!(meta["version"], json!("W/\"2\""));
        assert_eq!(meta["created"], json!("2024-01-01T00:00:00Z"));
        let mut resource = object(json!({"schemas": [CORE_USER], "userName": "b",
            (ENTERPRISE_USER): {"department": "R&D"}}));
        tidy_schemas(&mut resource);
        assert_eq!(resource["schemas"], json!([CORE_USER, ENTERPRISE_USER]));
        resource.insert(ENTERPRISE_USER.into(), json!({}));
        tidy_schemas(&mut resource);
        assert_eq!(resource["schemas"], json!([CORE_USER]));
        assert!(!resource.contains_key(ENTERPRISE_USER));
    }
}
