//! PATCH semantics of the SCIM mock (RFC 7644 §3.5.2), applied to a copy of the resource so that
//! a failing operation leaves the stored user as it was (§3.5.2: "the original SCIM resource MUST
//! be restored").
//!
//! - The body: `schemas` holds the PatchOp URN and `Operations` is a non-empty array (§3.5.2);
//!   else 400 `invalidSyntax`. `op` is `add`, `remove` or `replace` in any case (Entra ID sends
//!   `Replace`; the RFC lists lower case only, but case is the one leniency taken by default).
//! - `add` (§3.5.2.1): without a path, `value` holds attributes to add; a multi-valued attribute
//!   gets the new values (those it already holds are not added twice); a complex one gets the
//!   sub-attributes; anything else is set. With a `valuePath` that matches nothing, a new value is
//!   made of the filter's `eq` terms (the RFC is silent; "the attribute and value are added").
//! - `replace` (§3.5.2.3): as `add` on an attribute that has no value; a multi-valued attribute
//!   is replaced whole; a complex one gets the sub-attributes given, the others kept; a
//!   `valuePath` replaces every matching value (or its sub-attribute), and when nothing matches
//!   the answer is 400 `noTarget` — unless `replace_adds`, which adds the value as `add` does.
//! - `remove` (§3.5.2.2): without a path, 400 `noTarget`; a `valuePath` removes the matching
//!   values (or their sub-attribute), and matching nothing is 400 `noTarget` (§3.12's reading of
//!   noTarget: "a filter that yields no match"); removing an attribute that has no value is a
//!   success. A `null` value on `add`/`replace` removes too (RFC 7643 §2.5: null is unassigned).
//! - `id`, `meta` and `groups` are readOnly (RFC 7643 §3.1, §4.1.2): an operation on them is 400
//!   `mutability`. Attribute names compare case-insensitively (RFC 7643 §2.1).
//! - A sub-attribute of a multi-valued attribute without a filter (`emails.value`) is 400
//!   `invalidPath`: the mock cannot tell which value is meant.

use serde_json::{Map, Value};

use super::filter::{self, get_ci, key_ci, AttrPath, PatchPath, PathError, CORE_USER};

/// The `schemas` of a PATCH body (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Why a PATCH is refused: a 400 with this `scimType` (RFC 7644 §3.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    pub scim_type: &'static str,
    pub detail: String,
}

fn refuse(scim_type: &'static str, detail: impl Into<String>) -> PatchError {
    PatchError {
        scim_type,
        detail: detail.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// One PATCH operation as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// The operations of a PATCH body, or why the body is not one.
pub fn read_request(body: &Map<String, Value>) -> Result<Vec<Operation>, PatchError> {
    let schemas = body.get("schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|u| u.as_str() == Some(PATCH_OP))) {
        return Err(refuse(
            "invalidSyntax",
            format!("schemas must contain {PATCH_OP}"),
        ));
    }
    let operations = match body.get("Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(refuse(
                "invalidSyntax",
                "Operations must be a non-empty array",
            ))
        }
    };
    operations
        .iter()
        .map(|operation| {
            let operation = operation
                .as_object()
                .ok_or_else(|| refuse("invalidSyntax", "each operation must be an object"))?;
            let name = operation.get("op").and_then(Value::as_str).unwrap_or("");
            let op = match name.to_ascii_lowercase().as_str() {
                "add" => Op::Add,
                "remove" => Op::Remove,
                "replace" => Op::Replace,
                _ => {
                    return Err(refuse(
                        "invalidSyntax",
                        format!("op {name:?} is not add, remove or replace"),
                    ))
                }
            };
            let path = match operation.get("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(path)) => Some(path.clone()),
                Some(_) => return Err(refuse("invalidPath", "path must be a string")),
            };
            let value = operation.get("value").cloned();
            if op != Op::Remove && value.is_none() {
                return Err(refuse("invalidValue", format!("{name} needs a value")));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// Applies `operations` in order to `resource`; on an error the caller drops the copy.
pub fn apply(
    resource: &mut Map<String, Value>,
    operations: &[Operation],
    replace_adds: bool,
) -> Result<(), PatchError> {
    for operation in operations {
        apply_one(resource, operation, replace_adds)?;
    }
    Ok(())
}

const READ_ONLY: &[&str] = &["id", "meta", "groups"];

fn guard(path: &AttrPath) -> Result<(), PatchError> {
    if path.schema.is_none() && READ_ONLY.iter().any(|n| n.eq_ignore_ascii_case(&path.name)) {
        return Err(refuse("mutability", format!("{} is readOnly", path.name)));
    }
    Ok(())
}

fn read_path(text: &str) -> Result<PatchPath, PatchError> {
    let path = filter::parse_path(text).map_err(|e| match e {
        PathError::Path(detail) => refuse("invalidPath", detail),
        PathError::Filter(detail) => refuse("invalidFilter", detail),
    })?;
    guard(&path.attr)?;
    Ok(path)
}

fn apply_one(
    resource: &mut Map<String, Value>,
    operation: &Operation,
    replace_adds: bool,
) -> Result<(), PatchError> {
    let value = operation.value.clone().unwrap_or(Value::Null);
    let Some(text) = &operation.path else {
        if operation.op == Op::Remove {
            return Err(refuse("noTarget", "remove needs a path"));
        }
        let Value::Object(attributes) = value else {
            return Err(refuse(
                "invalidValue",
                "without a path, value must be an object of attributes",
            ));
        };
        for (key, value) in attributes {
            let whole_schema = key.eq_ignore_ascii_case(CORE_USER)
                || key.eq_ignore_ascii_case(filter::ENTERPRISE_USER);
            match value {
                Value::Object(members) if whole_schema => {
                    for (name, value) in members {
                        let path = format!("{key}:{name}");
                        set(resource, operation.op, &read_path(&path)?, value, false)?;
                    }
                }
                value => set(resource, operation.op, &read_path(&key)?, value, false)?,
            }
        }
        return Ok(());
    };
    let path = read_path(text)?;
    match operation.op {
        Op::Remove => remove(resource, &path),
        op => set(resource, op, &path, value, replace_adds),
    }
}

/// The object holding `path`'s attribute: the resource, or its extension (made if missing).
fn holder_mut<'a>(
    resource: &'a mut Map<String, Value>,
    path: &AttrPath,
) -> Result<&'a mut Map<String, Value>, PatchError> {
    let Some(urn) = &path.schema else {
        return Ok(resource);
    };
    let key = key_ci(resource, urn);
    match resource
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(extension) => Ok(extension),
        _ => Err(refuse("invalidValue", format!("{urn} is not an object"))),
    }
}

/// The object holding `path`'s attribute, if there is one.
fn holder<'a>(
    resource: &'a mut Map<String, Value>,
    path: &AttrPath,
) -> Option<&'a mut Map<String, Value>> {
    match &path.schema {
        None => Some(resource),
        Some(urn) => {
            let key = key_ci(resource, urn);
            resource.get_mut(&key).and_then(Value::as_object_mut)
        }
    }
}

fn merge(into: &mut Map<String, Value>, members: Map<String, Value>) {
    for (name, value) in members {
        let key = key_ci(into, &name);
        if value.is_null() {
            into.remove(&key);
        } else {
            into.insert(key, value);
        }
    }
}

fn set(
    resource: &mut Map<String, Value>,
    op: Op,
    path: &PatchPath,
    value: Value,
    replace_adds: bool,
) -> Result<(), PatchError> {
    if value.is_null() && path.filter.is_none() {
        return remove(resource, path);
    }
    let attr = &path.attr;
    let holder = holder_mut(resource, attr)?;
    let key = key_ci(holder, &attr.name);
    if let Some(filter) = &path.filter {
        let items = holder
            .entry(key.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(items) = items else {
            return Err(refuse(
                "invalidPath",
                format!("{} is not multi-valued", attr.name),
            ));
        };
        let hits: Vec<usize> = (0..items.len())
            .filter(|&i| filter.matches_value(&items[i], &attr.name))
            .collect();
        if hits.is_empty() {
            if op == Op::Replace && !replace_adds {
                return Err(refuse(
                    "noTarget",
                    format!("no value of {} matches the filter", attr.name),
                ));
            }
            let mut made = filter.eq_terms().ok_or_else(|| {
                refuse(
                    "noTarget",
                    "no value matches, and the filter does not say what to add",
                )
            })?;
            put(&mut made, attr.sub.as_deref(), value, Op::Add)?;
            items.push(Value::Object(made));
            return Ok(());
        }
        for i in hits {
            let Value::Object(item) = &mut items[i] else {
                continue;
            };
            put(item, attr.sub.as_deref(), value.clone(), op)?;
        }
        return Ok(());
    }
    match (&attr.sub, holder.get_mut(&key), value) {
        (Some(_), Some(Value::Array(_)), _) => Err(refuse(
            "invalidPath",
            format!("{0}.x needs a filter: {0}[...].x", attr.name),
        )),
        (Some(sub), Some(Value::Object(object)), value) => {
            merge(object, Map::from_iter([(sub.clone(), value)]));
            Ok(())
        }
        (Some(sub), _, value) => {
            holder.insert(key, Value::Object(Map::from_iter([(sub.clone(), value)])));
            Ok(())
        }
        (None, Some(Value::Array(items)), Value::Array(new)) if op == Op::Add => {
            for value in new {
                if !items.contains(&value) {
                    items.push(value);
                }
            }
            Ok(())
        }
        (None, Some(Value::Array(items)), value) if op == Op::Add && !value.is_object() => {
            if !items.contains(&value) {
                items.push(value);
            }
            Ok(())
        }
        (None, Some(Value::Array(items)), value) if op == Op::Add => {
            items.push(value);
            Ok(())
        }
        (None, Some(Value::Object(object)), Value::Object(members)) => {
            merge(object, members);
            Ok(())
        }
        (None, _, value) => {
            holder.insert(key, value);
            Ok(())
        }
    }
}

/// Sets a matched (or new) value of a multi-valued attribute: its sub-attribute `sub`, or the
/// whole value (`replace`) or its members (`add`).
fn put(
    item: &mut Map<String, Value>,
    sub: Option<&str>,
    value: Value,
    op: Op,
) -> Result<(), PatchError> {
    match (sub, value) {
        (Some(sub), value) => merge(item, Map::from_iter([(sub.to_string(), value)])),
        (None, Value::Object(members)) if op == Op::Add => merge(item, members),
        (None, Value::Object(members)) => *item = members,
        (None, _) => {
            return Err(refuse(
                "invalidValue",
                "a value chosen by a filter is replaced by an object",
            ))
        }
    }
    Ok(())
}

fn remove(resource: &mut Map<String, Value>, path: &PatchPath) -> Result<(), PatchError> {
    let attr = &path.attr;
    let Some(holder) = holder(resource, attr) else {
        return Ok(());
    };
    let key = key_ci(holder, &attr.name);
    if let Some(filter) = &path.filter {
        let hits = match holder.get_mut(&key) {
            Some(Value::Array(items)) => {
                let before = items.len();
                match &attr.sub {
                    None => {
                        items.retain(|item| !filter.matches_value(item, &attr.name));
                        before - items.len()
                    }
                    Some(sub) => {
                        let mut hits = 0;
                        for item in items.iter_mut() {
                            if filter.matches_value(item, &attr.name) {
                                hits += 1;
                                if let Value::Object(object) = item {
                                    let sub = key_ci(object, sub);
                                    object.remove(&sub);
                                }
                            }
                        }
                        hits
                    }
                }
            }
            _ => 0,
        };
        if hits == 0 {
            return Err(refuse(
                "noTarget",
                format!("no value of {} matches the filter", attr.name),
            ));
        }
    } else {
        match (&attr.sub, holder.get_mut(&key)) {
            (Some(_), Some(Value::Array(_))) => {
                return Err(refuse(
                    "invalidPath",
                    format!("{0}.x needs a filter: {0}[...].x", attr.name),
                ))
            }
            (Some(sub), Some(Value::Object(object))) => {
                let sub = key_ci(object, sub);
                object.remove(&sub);
            }
            (Some(_), _) => {}
            (None, _) => {
                holder.remove(&key);
            }
        }
    }
    // An attribute left without values is unassigned (§3.5.2.2).
    let empty = match holder.get(&key) {
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(object)) => object.is_empty(),
        _ => false,
    };
    if empty {
        holder.remove(&key);
    }
    if let Some(urn) = &attr.schema {
        let key = key_ci(resource, urn);
        if get_ci(resource, &key).is_some_and(|e| e.as_object().is_some_and(Map::is_empty)) {
            resource.remove(&key);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;
