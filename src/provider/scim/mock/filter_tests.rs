//! Filters and PATCH paths read and matched on RFC 7644 §3.4.2.2's and §3.5.2's examples.

use super::*;
use serde_json::json;

fn user() -> Map<String, Value> {
    json!({
        "userName": "bjensen@example.com",
        "externalId": "E00042",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"},
        "x-level": 3
    })
    .as_object()
    .unwrap()
    .clone()
}

fn matches(filter: &str) -> bool {
    parse_filter(filter).unwrap().matches(&user())
}

#[test]
fn eq_on_core_sub_and_extension_attributes() {
    // RFC 7644 §3.4.2.2's examples, with this user's values.
    assert!(matches(r#"userName eq "bjensen@example.com""#));
    assert!(matches(r#"name.familyName eq "Jensen""#));
    assert!(matches(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#
    ));
    assert!(matches(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(matches("active eq true") && !matches("active eq false"));
    assert!(matches("x-level eq 3.0"));
    assert!(
        !matches(r#"externalId eq "e00042""#),
        "externalId is case-exact"
    );
    assert!(matches(r#"USERNAME EQ "BJensen@Example.com""#));
}

#[test]
fn multi_valued_attributes_match_on_any_value() {
    assert!(matches(r#"emails.value eq "BABS@jensen.org""#));
    assert!(matches(
        r#"emails[type eq "work" and value eq "bjensen@example.com"]"#
    ));
    assert!(!matches(
        r#"emails[type eq "home" and value eq "bjensen@example.com"]"#
    ));
    assert!(matches(
        r#"emails[type eq "home" and value eq "Babs@Jensen.org"]"#
    ));
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_group() {
    assert!(matches(
        r#"externalId eq "x" or userName eq "bjensen@example.com""#
    ));
    assert!(matches(
        r#"userName eq "nobody" and active eq true or externalId eq "E00042""#
    ));
    assert!(!matches(
        r#"userName eq "nobody" and (active eq true or externalId eq "E00042")"#
    ));
}

#[test]
fn unsupported_filters_are_refused() {
    for bad in [
        r#"userName ne "x""#,
        r#"title pr"#,
        r#"not (userName eq "x")"#,
        r#"userName eq null"#,
        r#"userName eq "x" and"#,
        r#"(userName eq "x""#,
        r#"emails[type eq "work""#,
        r#"userName eq "unclosed"#,
        r#"a.b.c eq "x""#,
        r#"emails[value eq "x"].type eq "y""#,
    ] {
        assert!(parse_filter(bad).is_err(), "{bad}");
    }
}

#[test]
fn patch_paths_from_rfc_7644_figure_8() {
    let path = parse_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(path.attr.name, "emails");
    assert_eq!(path.attr.sub.as_deref(), Some("value"));
    assert_eq!(
        path.filter.unwrap().eq_terms().unwrap(),
        json!({"type": "work"}).as_object().unwrap().clone()
    );
    assert_eq!(
        parse_path("name.familyName").unwrap().attr.sub.as_deref(),
        Some("familyName")
    );
    let ext =
        parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
            .unwrap();
    assert_eq!(ext.attr.schema.as_deref(), Some(ENTERPRISE_USER));
    assert!(matches!(
        parse_path("emails[type zz \"work\"]"),
        Err(PathError::Filter(_))
    ));
    assert!(matches!(
        parse_path("emails[type eq \"work\"]value"),
        Err(PathError::Path(_))
    ));
    assert!(matches!(parse_path("name..x"), Err(PathError::Path(_))));
}
