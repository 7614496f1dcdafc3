//! SCIM attribute paths (RFC 7644 section 3.10), as a target's field names: how a flat payload
//! keyed by paths becomes the nested User resource of RFC 7643, and a change becomes PATCH
//! operations (RFC 7644 section 3.5.2).
//!
//! The paths usersync takes are the ones a user is written with:
//! - `userName`, `name.givenName`: an attribute and a sub-attribute;
//! - `emails[type eq "work"].value`: the `value` of the entry of a multi-valued attribute whose
//!   `type` is `work` (the only filter taken: one `type eq "..."`);
//! - `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`: an attribute of an
//!   extension schema, by the schema's URN (RFC 7643 section 3.3), and its sub-attributes
//!   (`...:User:manager.value`).

use serde_json::{Map, Value};

use crate::payload::Payload;

/// The core User schema's URN (RFC 7643 section 4.1).
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The PATCH request's message schema (RFC 7644 section 3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// One parsed attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The extension schema's URN, `None` for the core User schema.
    pub schema: Option<String>,
    /// The attribute (`emails`).
    pub attr: String,
    /// The `type` of the multi-valued entry, when the path selects one.
    pub type_filter: Option<String>,
    /// The sub-attribute (`value`, `givenName`).
    pub sub: Option<String>,
}

/// Why a field name is not an attribute path usersync can send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` is not a SCIM attribute path usersync can send: {why}")]
pub struct PathError {
    pub path: String,
    pub why: &'static str,
}

impl AttrPath {
    /// Parses `path`.
    pub fn parse(path: &str) -> Result<AttrPath, PathError> {
        let error = |why| PathError {
            path: path.to_owned(),
            why,
        };
        // An extension's URN ends at its last `:`; what follows is the attribute path.
        let (schema, rest) = if path.starts_with("urn:") {
            let (urn, rest) = path
                .rsplit_once(':')
                .ok_or_else(|| error("a URN without an attribute"))?;
            if urn == CORE_USER {
                (None, rest)
            } else {
                (Some(urn.to_owned()), rest)
            }
        } else {
            (None, path)
        };
        let (head, sub) = match rest.find(['[', '.']) {
            None => (rest, None),
            Some(at) => (&rest[..at], Some(&rest[at..])),
        };
        if !is_name(head) {
            return Err(error("an attribute name is letters, digits, `_` and `-`"));
        }
        let (type_filter, sub) = match sub {
            None => (None, None),
            Some(tail) if tail.starts_with('[') => {
                let close = tail
                    .find(']')
                    .ok_or_else(|| error("a `[` without its `]`"))?;
                let filter = &tail[1..close];
                let value = filter
                    .strip_prefix("type eq \"")
                    .and_then(|v| v.strip_suffix('"'))
                    .filter(|v| !v.is_empty() && !v.contains('"'))
                    .ok_or_else(|| error("the only filter taken is [type eq \"...\"]"))?;
                let sub = tail[close + 1..]
                    .strip_prefix('.')
                    .ok_or_else(|| error("a filtered path names a sub-attribute (`.value`)"))?;
                (Some(value.to_owned()), Some(sub))
            }
            Some(tail) => (None, Some(&tail[1..])),
        };
        if let Some(sub) = sub {
            if !is_name(sub) {
                return Err(error(
                    "a sub-attribute name is letters, digits, `_` and `-`",
                ));
            }
        }
        Ok(AttrPath {
            schema,
            attr: head.to_owned(),
            type_filter,
            sub: sub.map(str::to_owned),
        })
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The User resource for a payload keyed by attribute paths: nested, with the `schemas` it
/// uses. Fields whose value is `null` are left out (nothing to set).
pub fn resource(payload: &Payload) -> Result<Value, PathError> {
    replaced(payload, Value::Object(Map::new()))
}

/// Sets `path` to `value` in `object` (one schema's attributes).
fn set(object: &mut Map<String, Value>, path: &AttrPath, value: Value) {
    match (&path.type_filter, &path.sub) {
        (None, None) => {
            object.insert(path.attr.clone(), value);
        }
        (None, Some(sub)) => {
            let complex = object
                .entry(path.attr.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(complex) = complex.as_object_mut() {
                complex.insert(sub.clone(), value);
            }
        }
        (Some(kind), sub) => {
            let list = object
                .entry(path.attr.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Some(list) = list.as_array_mut() else {
                return;
            };
            let at = list
                .iter()
                .position(|e| e.get("type").and_then(Value::as_str) == Some(kind.as_str()));
            let entry = match at {
                Some(at) => &mut list[at],
                None => {
                    list.push(serde_json::json!({ "type": kind }));
                    list.last_mut().expect("just pushed")
                }
            };
            if let Some(entry) = entry.as_object_mut() {
                entry.insert(sub.clone().unwrap_or_else(|| "value".into()), value);
            }
        }
    }
}

/// The PATCH request that sets every field of `changes` (RFC 7644 section 3.5.2): a `replace`
/// of each path with its value, a `remove` of each path whose value is `null` (a field the
/// target's config clears).
pub fn patch(changes: &Payload) -> Result<Value, PathError> {
    let mut operations = Vec::new();
    for (name, value) in changes.iter() {
        AttrPath::parse(name)?;
        operations.push(if value.is_null() {
            serde_json::json!({ "op": "remove", "path": name })
        } else {
            serde_json::json!({ "op": "replace", "path": name, "value": value })
        });
    }
    Ok(serde_json::json!({ "schemas": [PATCH_OP], "Operations": operations }))
}

/// The PATCH request that sets every field of `changes` on `user`, the resource as the target
/// holds it now. A typed entry of a multi-valued attribute (`emails[type eq "work"].value`) can
/// only be replaced through its filter when the entry exists: RFC 7644 section 3.5.2.3 answers
/// `noTarget` otherwise. So an entry the user has is changed in place, keeping what usersync
/// does not map (`primary`, `display`); an entry the user lacks is added whole with the values
/// the row gives it; an emptied `value` removes its entry.
pub fn patch_against(changes: &Payload, user: &Value) -> Result<Value, PathError> {
    let mut operations = Vec::new();
    // Entries to add, by attribute and type, with their sub-attributes, in the order met.
    let mut added: Vec<(String, String, Map<String, Value>)> = Vec::new();
    for (name, value) in changes.iter() {
        let path = AttrPath::parse(name)?;
        let Some(kind) = &path.type_filter else {
            operations.push(if value.is_null() {
                serde_json::json!({ "op": "remove", "path": name })
            } else {
                serde_json::json!({ "op": "replace", "path": name, "value": value })
            });
            continue;
        };
        let sub = path.sub.clone().unwrap_or_else(|| "value".into());
        let entry = AttrPath {
            sub: None,
            ..path.clone()
        };
        let exists = entry_of(user, &entry).is_some();
        let attr = match &path.schema {
            Some(urn) => format!("{urn}:{}", path.attr),
            None => path.attr.clone(),
        };
        let filtered = format!("{attr}[type eq \"{kind}\"]");
        match (value.is_null(), exists) {
            (true, false) => {}
            (true, true) if sub == "value" => {
                operations.push(serde_json::json!({ "op": "remove", "path": filtered }));
            }
            (true, true) => operations.push(serde_json::json!({ "op": "remove", "path": name })),
            (false, true) => operations
                .push(serde_json::json!({ "op": "replace", "path": name, "value": value })),
            (false, false) => {
                let at = added.iter().position(|(a, k, _)| *a == attr && k == kind);
                let fields = match at {
                    Some(at) => &mut added[at].2,
                    None => {
                        let mut fields = Map::new();
                        fields.insert("type".into(), Value::from(kind.as_str()));
                        added.push((attr.clone(), kind.clone(), fields));
                        &mut added.last_mut().expect("just pushed").2
                    }
                };
                fields.insert(sub, value.clone());
            }
        }
    }
    for (attr, _, fields) in added {
        operations.push(serde_json::json!({
            "op": "add", "path": attr, "value": [Value::Object(fields)]
        }));
    }
    Ok(serde_json::json!({ "schemas": [PATCH_OP], "Operations": operations }))
}

/// The whole resource a `PUT` sends (RFC 7644 section 3.5.1, "replaces all"), for a target
/// without PATCH: `user` as the target holds it now with every field of `changes` set, and each
/// `null` one removed. What usersync does not map is sent back as it was read, so the PUT
/// changes nothing else; `meta` is the server's and is left out.
pub fn replaced(changes: &Payload, user: Value) -> Result<Value, PathError> {
    let mut root = match user {
        Value::Object(user) => user,
        _ => Map::new(),
    };
    root.remove("meta");
    let mut schemas: Vec<Value> = root
        .get("schemas")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![Value::from(CORE_USER)]);
    for (name, value) in changes.iter() {
        let path = AttrPath::parse(name)?;
        let object = match &path.schema {
            None => &mut root,
            Some(urn) => {
                if value.is_null() && !root.contains_key(urn) {
                    continue;
                }
                if !schemas.iter().any(|s| s == urn.as_str()) {
                    schemas.push(Value::from(urn.as_str()));
                }
                let extension = root
                    .entry(urn.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !extension.is_object() {
                    *extension = Value::Object(Map::new());
                }
                extension.as_object_mut().expect("made an object")
            }
        };
        if value.is_null() {
            unset(object, &path);
        } else {
            set(object, &path, value.clone());
        }
    }
    root.insert("schemas".into(), Value::Array(schemas));
    Ok(Value::Object(root))
}

/// Removes `path` from `object`: the attribute, the sub-attribute, or (for an entry's `value`)
/// the whole typed entry.
fn unset(object: &mut Map<String, Value>, path: &AttrPath) {
    match (&path.type_filter, path.sub.as_deref()) {
        (None, None) => {
            object.remove(&path.attr);
        }
        (None, Some(sub)) => {
            if let Some(complex) = object.get_mut(&path.attr).and_then(Value::as_object_mut) {
                complex.remove(sub);
            }
        }
        (Some(kind), sub) => {
            let Some(list) = object.get_mut(&path.attr).and_then(Value::as_array_mut) else {
                return;
            };
            let of_kind = |e: &Value| e.get("type").and_then(Value::as_str) == Some(kind);
            match sub {
                None | Some("value") => list.retain(|e| !of_kind(e)),
                Some(sub) => list
                    .iter_mut()
                    .filter(|e| of_kind(e))
                    .filter_map(Value::as_object_mut)
                    .for_each(|e| {
                        e.remove(sub);
                    }),
            }
        }
    }
}

/// The entry of a multi-valued attribute that `path` (without a sub-attribute) selects.
fn entry_of<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let object = match &path.schema {
        None => resource,
        Some(urn) => resource.get(urn)?,
    };
    let kind = path.type_filter.as_deref()?;
    object
        .get(&path.attr)?
        .as_array()?
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str) == Some(kind))
}

/// Whether `changes` touch a typed entry of a multi-valued attribute (see [`patch_against`]).
pub fn touches_typed_entries(changes: &Payload) -> bool {
    changes
        .keys()
        .any(|name| AttrPath::parse(name).is_ok_and(|p| p.type_filter.is_some()))
}

/// The value of `path` in `resource` (a User as the target returns it), if it has one.
pub fn value_at<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let object = match &path.schema {
        None => resource,
        Some(urn) => resource.get(urn)?,
    };
    let attr = object.get(&path.attr)?;
    match (&path.type_filter, &path.sub) {
        (None, None) => Some(attr),
        (None, Some(sub)) => attr.get(sub),
        (Some(kind), sub) => attr
            .as_array()?
            .iter()
            .find(|e| e.get("type").and_then(Value::as_str) == Some(kind.as_str()))?
            .get(sub.as_deref().unwrap_or("value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_put_sends_the_user_back_whole_with_the_changes() {
        let user = json!({
            "schemas": [CORE_USER],
            "id": "u1",
            "meta": {"version": "W/\"1\""},
            "userName": "ana",
            "title": "Boss",
            "name": {"givenName": "Ana", "familyName": "Ruiz"},
            "emails": [{"type": "work", "value": "a@x.es", "primary": true},
                       {"type": "home", "value": "a@home.es"}],
            "phoneNumbers": [{"type": "mobile", "value": "+34600000000"}]
        });
        let changes = Payload::from_iter([
            ("name.givenName", json!("Ana María")),
            ("emails[type eq \"work\"].value", json!("am@x.es")),
            ("phoneNumbers[type eq \"mobile\"].value", Value::Null),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                json!("Legal"),
            ),
        ]);
        let put = replaced(&changes, user).unwrap();
        assert_eq!(put.get("meta"), None);
        assert_eq!(put["id"], "u1");
        assert_eq!(put["title"], "Boss", "what is not mapped is sent back");
        assert_eq!(
            put["name"],
            json!({"givenName": "Ana María", "familyName": "Ruiz"})
        );
        assert_eq!(
            put["emails"],
            json!([{"type": "work", "value": "am@x.es", "primary": true},
                   {"type": "home", "value": "a@home.es"}])
        );
        assert_eq!(put["phoneNumbers"], json!([]));
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert_eq!(put[enterprise]["department"], "Legal");
        assert_eq!(put["schemas"], json!([CORE_USER, enterprise]));
    }

    const DEPARTMENT: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";

    fn payload(v: Value) -> Payload {
        v.as_object().unwrap().clone().into()
    }

    #[test]
    fn paths_of_every_kind_parse() {
        assert_eq!(
            AttrPath::parse("emails[type eq \"work\"].value").unwrap(),
            AttrPath {
                schema: None,
                attr: "emails".into(),
                type_filter: Some("work".into()),
                sub: Some("value".into()),
            }
        );
        let dept = AttrPath::parse(DEPARTMENT).unwrap();
        assert_eq!(
            dept.schema.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!((dept.attr.as_str(), dept.sub), ("department", None));
        let core = AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName");
        assert_eq!(core.unwrap(), AttrPath::parse("name.givenName").unwrap());
        for bad in [
            "",
            "emails[value co \"x\"].value",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\".value",
            "name.",
            "1st",
        ] {
            assert!(AttrPath::parse(bad).is_err(), "{bad}");
        }
    }

    /// RFC 7643 section 8.2's full representation, in part: what the paths build.
    #[test]
    fn a_payload_becomes_the_nested_user_with_its_schemas() {
        let p = payload(json!({
            "userName": "bjensen@example.com",
            "externalId": "701984",
            "name.givenName": "Barbara",
            "name.familyName": "Jensen",
            "emails[type eq \"work\"].value": "bjensen@example.com",
            "phoneNumbers[type eq \"mobile\"].value": "+1 555 555 4444",
            "addresses[type eq \"work\"].locality": "Hollywood",
            "addresses[type eq \"work\"].postalCode": "91608",
            "active": true,
            DEPARTMENT: "Tour Operations",
            "title": null,
        }));
        assert_eq!(
            resource(&p).unwrap(),
            json!({
                "schemas": [
                    CORE_USER,
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ],
                "userName": "bjensen@example.com",
                "externalId": "701984",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"type": "work", "value": "bjensen@example.com"}],
                "phoneNumbers": [{"type": "mobile", "value": "+1 555 555 4444"}],
                "addresses": [{"type": "work", "locality": "Hollywood", "postalCode": "91608"}],
                "active": true,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "department": "Tour Operations"
                }
            })
        );
    }

    /// RFC 7644 section 3.5.2's message: `replace` by path, `remove` for a cleared field.
    #[test]
    fn changes_become_replace_and_remove_operations() {
        let p = payload(json!({
            "name.familyName": "Jensen-Smith",
            "emails[type eq \"work\"].value": "bjs@example.com",
            "title": null,
        }));
        assert_eq!(
            patch(&p).unwrap(),
            json!({
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "bjs@example.com"},
                    {"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"},
                    {"op": "remove", "path": "title"}
                ]
            })
        );
    }

    /// A typed entry the user has is replaced through its filter; one the user lacks is added
    /// whole (a filter matching nothing is `noTarget`, RFC 7644 section 3.5.2.3); an emptied
    /// value removes its entry.
    #[test]
    fn typed_entries_are_replaced_where_they_exist_and_added_where_not() {
        let user = json!({
            "emails": [{"type": "work", "value": "b@work", "primary": true}],
            "phoneNumbers": [{"type": "home", "value": "555"}]
        });
        let changes = payload(json!({
            "emails[type eq \"work\"].value": "bj@work",
            "phoneNumbers[type eq \"mobile\"].value": "+34 600",
            "phoneNumbers[type eq \"home\"].value": null,
            "addresses[type eq \"work\"].locality": "Hollywood",
            "addresses[type eq \"work\"].postalCode": "91608",
            "title": "Tour Guide",
        }));
        assert_eq!(
            patch_against(&changes, &user).unwrap()["Operations"],
            json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "bj@work"},
                {"op": "remove", "path": "phoneNumbers[type eq \"home\"]"},
                {"op": "replace", "path": "title", "value": "Tour Guide"},
                {"op": "add", "path": "addresses", "value": [
                    {"type": "work", "locality": "Hollywood", "postalCode": "91608"}
                ]},
                {"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "+34 600"}]}
            ])
        );
        assert!(touches_typed_entries(&changes));
        assert!(!touches_typed_entries(&payload(json!({"title": "x"}))));
    }

    #[test]
    fn values_are_found_where_the_paths_point() {
        let user = json!({
            "name": {"givenName": "Barbara"},
            "emails": [{"type": "home", "value": "b@home"}, {"type": "work", "value": "b@work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours"}
        });
        let at = |p: &str| value_at(&user, &AttrPath::parse(p).unwrap()).cloned();
        assert_eq!(at("name.givenName"), Some(json!("Barbara")));
        assert_eq!(at("emails[type eq \"work\"].value"), Some(json!("b@work")));
        assert_eq!(at(DEPARTMENT), Some(json!("Tours")));
        assert_eq!(at("emails[type eq \"other\"].value"), None);
    }
}
