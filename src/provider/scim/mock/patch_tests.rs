//! PATCH application checked on RFC 7644 §3.5.2's examples (with a User instead of a Group where
//! the RFC's example patches members).

use serde_json::{json, Map, Value};

use super::*;

fn user() -> Map<String, Value> {
    json!({
        "schemas": [CORE_USER],
        "id": "2819c223",
        "userName": "bjensen",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
    .as_object()
    .unwrap()
    .clone()
}

fn patch(operations: Value) -> Result<Map<String, Value>, PatchError> {
    patch_with(operations, false)
}

fn patch_with(operations: Value, replace_adds: bool) -> Result<Map<String, Value>, PatchError> {
    let body = json!({"schemas": [PATCH_OP], "Operations": operations});
    let ops = read_request(body.as_object().unwrap())?;
    let mut resource = user();
    apply(&mut resource, &ops, replace_adds)?;
    Ok(resource)
}

fn scim_type(result: Result<Map<String, Value>, PatchError>) -> &'static str {
    result.unwrap_err().scim_type
}

#[test]
fn the_body_needs_the_patch_op_schema_and_operations() {
    let read = |body: Value| read_request(body.as_object().unwrap()).map(|ops| ops.len());
    assert_eq!(
        read(json!({"Operations": [{"op": "remove", "path": "title"}]}))
            .unwrap_err()
            .scim_type,
        "invalidSyntax"
    );
    assert_eq!(
        read(json!({"schemas": [PATCH_OP], "Operations": []}))
            .unwrap_err()
            .scim_type,
        "invalidSyntax"
    );
    let move_op = json!({"schemas": [PATCH_OP], "Operations": [{"op": "move", "path": "a"}]});
    assert_eq!(read(move_op).unwrap_err().scim_type, "invalidSyntax");
    let entra = json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "active", "value": false}]});
    assert_eq!(read(entra), Ok(1), "op names in any case");
}

#[test]
fn replace_a_single_value_and_a_sub_attribute() {
    let done = patch(json!([
        {"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"},
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "path": "title", "value": "Tour Guide"}
    ]))
    .unwrap();
    assert_eq!(
        done["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen-Smith"})
    );
    assert_eq!(done["active"], json!(false));
    assert_eq!(
        done["title"],
        json!("Tour Guide"),
        "replace of nothing is an add"
    );
}

#[test]
fn replace_through_a_value_path_changes_only_the_matching_values() {
    let done = patch(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "bj@example.com"}
    ]))
    .unwrap();
    assert_eq!(done["emails"][0]["value"], json!("bj@example.com"));
    assert_eq!(done["emails"][0]["primary"], json!(true));
    assert_eq!(done["emails"][1]["value"], json!("babs@jensen.org"));
}

#[test]
fn replace_matching_nothing_is_no_target_unless_lenient() {
    let ops = json!([
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@example.com"}
    ]);
    assert_eq!(scim_type(patch(ops.clone())), "noTarget");
    let done = patch_with(ops, true).unwrap();
    assert_eq!(
        done["emails"][2],
        json!({"type": "other", "value": "x@example.com"})
    );
    assert_eq!(done["active"], json!(false));
}

#[test]
fn add_appends_to_multi_valued_attributes_and_makes_missing_values() {
    let done = patch(json!([
        {"op": "add", "path": "emails", "value": [{"value": "b@x.org", "type": "other"}]},
        {"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "555-1234"},
        {"op": "add", "value": {"nickName": "Babs",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}}}
    ]))
    .unwrap();
    assert_eq!(done["emails"].as_array().unwrap().len(), 3);
    assert_eq!(
        done["phoneNumbers"],
        json!([{"type": "work", "value": "555-1234"}])
    );
    assert_eq!(done["nickName"], json!("Babs"));
    assert_eq!(
        done[filter::ENTERPRISE_USER],
        json!({"employeeNumber": "7"})
    );
}

#[test]
fn remove_values_attributes_and_sub_attributes() {
    let done = patch(json!([
        {"op": "remove", "path": "emails[type eq \"home\"]"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "title"}
    ]))
    .unwrap();
    assert_eq!(done["emails"].as_array().unwrap().len(), 1);
    assert_eq!(done["name"], json!({"familyName": "Jensen"}));
    let done =
        patch(json!([{"op": "remove", "path": "emails[type eq \"work\" or type eq \"home\"]"}]))
            .unwrap();
    assert!(!done.contains_key("emails"), "no value left: unassigned");
    assert_eq!(
        scim_type(patch(
            json!([{"op": "remove", "path": "emails[type eq \"other\"]"}])
        )),
        "noTarget"
    );
    assert_eq!(scim_type(patch(json!([{"op": "remove"}]))), "noTarget");
}

#[test]
fn read_only_attributes_and_bad_paths_are_refused() {
    for path in ["id", "meta", "meta.version", "ID"] {
        let ops = json!([{"op": "replace", "path": path, "value": "x"}]);
        assert_eq!(scim_type(patch(ops)), "mutability", "{path}");
    }
    let pathless = json!([{"op": "replace", "value": {"id": "other"}}]);
    assert_eq!(scim_type(patch(pathless)), "mutability");
    let ambiguous = json!([{"op": "replace", "path": "emails.value", "value": "x"}]);
    assert_eq!(scim_type(patch(ambiguous)), "invalidPath");
    let bad_filter =
        json!([{"op": "replace", "path": "emails[type xx \"w\"].value", "value": "x"}]);
    assert_eq!(scim_type(patch(bad_filter)), "invalidFilter");
}

#[test]
fn attribute_names_compare_in_any_case() {
    let done = patch(json!([
        {"op": "replace", "path": "NAME.FAMILYNAME", "value": "J"},
        {"op": "replace", "path": "Emails[Type eq \"work\"].Value", "value": "w@x.org"}
    ]))
    .unwrap();
    assert_eq!(done["name"]["familyName"], json!("J"));
    assert_eq!(done["emails"][0]["value"], json!("w@x.org"));
    assert!(!done.contains_key("NAME"));
}
