//! What the SCIM mock says about itself (RFC 7644 §4): `ServiceProviderConfig` (RFC 7643 §5),
//! `ResourceTypes` (RFC 7643 §6) and `Schemas` (RFC 7643 §7), minimal but valid: the User
//! resource type with the enterprise extension, and the attributes whose characteristics the
//! mock applies (the others a client sends are kept as given).

use serde_json::{json, Value};

use super::filter::{CORE_USER, ENTERPRISE_USER};

/// The most resources one list answer holds (`filter.maxResults`).
pub const MAX_RESULTS: usize = 100;

/// The `schemas` of a list answer (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A ListResponse holding all of `resources`.
pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `GET ServiceProviderConfig`: PATCH, filters and ETags supported; bulk with at most
/// `bulk_max_operations` operations (not supported when 0); sort and password change not; a
/// bearer token (RFC 6750) authenticates.
pub fn service_provider_config(base: &str, bulk_max_operations: usize) -> Value {
    let max_payload = if bulk_max_operations == 0 {
        0
    } else {
        super::bulk::MAX_PAYLOAD
    };
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {
            "supported": bulk_max_operations > 0,
            "maxOperations": bulk_max_operations,
            "maxPayloadSize": max_payload,
        },
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token (the mock's demo token unless one is given)",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}ServiceProviderConfig"),
        },
    })
}

/// `GET ResourceTypes`: the User resource type.
pub fn resource_types(base: &str) -> Value {
    list(vec![json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}ResourceTypes/User")},
    })])
}

/// One attribute definition (RFC 7643 §7), readWrite and returned by default.
fn attribute(name: &str, kind: &str, multi: bool, required: bool, case_exact: bool) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": multi,
        "required": required,
        "caseExact": case_exact,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

fn complex(name: &str, multi: bool, subs: &[&str]) -> Value {
    let mut attr = attribute(name, "complex", multi, false, false);
    attr["subAttributes"] = subs
        .iter()
        .map(|sub| match *sub {
            "primary" => attribute(sub, "boolean", false, false, false),
            _ => attribute(sub, "string", false, false, false),
        })
        .collect();
    attr
}

/// `GET Schemas`: the core User schema and the enterprise extension.
pub fn schemas(base: &str) -> Value {
    let mut user_name = attribute("userName", "string", false, true, false);
    user_name["uniqueness"] = json!("server");
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": CORE_USER,
        "name": "User",
        "description": "User Account",
        "attributes": [
            user_name,
            attribute("externalId", "string", false, false, true),
            attribute("displayName", "string", false, false, false),
            complex("name", false, &["formatted", "familyName", "givenName", "middleName"]),
            complex("emails", true, &["value", "type", "primary"]),
            complex("phoneNumbers", true, &["value", "type", "primary"]),
            attribute("title", "string", false, false, false),
            attribute("active", "boolean", false, false, false),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}Schemas/{CORE_USER}")},
    });
    let enterprise = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE_USER,
        "name": "EnterpriseUser",
        "description": "Enterprise User",
        "attributes": [
            attribute("employeeNumber", "string", false, false, false),
            attribute("costCenter", "string", false, false, false),
            attribute("organization", "string", false, false, false),
            attribute("division", "string", false, false, false),
            attribute("department", "string", false, false, false),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}Schemas/{ENTERPRISE_USER}")},
    });
    list(vec![user, enterprise])
}
