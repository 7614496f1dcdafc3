//! The SCIM adapter's requests and its reading of answers, against RFC 7644's own examples.

use serde_json::{json, Value};

use super::*;
use crate::provider::response::testing::response;

fn options(text: &str) -> Options {
    Scim.parse_options(&text.parse().unwrap()).unwrap()
}

fn payload(v: Value) -> Payload {
    v.as_object().unwrap().clone().into()
}

fn user(remote_id: Option<&str>) -> UserRef {
    UserRef {
        key: "701984".into(),
        remote_id: remote_id.map(str::to_owned),
    }
}

fn body(request: &ProviderRequest) -> Value {
    Value::from(request.body.clone().expect("a body"))
}

#[test]
fn a_create_posts_the_nested_user() {
    let request = Scim
        .build_request(
            &options(""),
            Operation::Create,
            &user(None),
            &payload(
                json!({"userName": "bjensen", "externalId": "701984", "name.givenName": "Barbara"}),
            ),
        )
        .unwrap();
    assert_eq!(
        (&request.method, request.path.as_str()),
        (&http::Method::POST, "Users")
    );
    assert_eq!(
        body(&request),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bjensen",
            "externalId": "701984",
            "name": {"givenName": "Barbara"}
        })
    );
}

#[test]
fn updates_patch_only_what_changed_and_leavers_are_made_inactive() {
    let o = options("");
    let id = Some("2819c223-7f76-453a-919d-413861904646");
    let request = Scim
        .build_request(
            &o,
            Operation::Patch,
            &user(id),
            &payload(json!({"name.familyName": "Jensen-Smith"})),
        )
        .unwrap();
    assert_eq!(request.method, http::Method::PATCH);
    assert_eq!(request.path, "Users/2819c223-7f76-453a-919d-413861904646");
    assert_eq!(
        body(&request)["Operations"],
        json!([{"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"}])
    );
    let leaver = Scim
        .build_request(&o, Operation::Deactivate, &user(id), &Payload::new())
        .unwrap();
    assert_eq!(
        body(&leaver)["Operations"],
        json!([{"op": "replace", "path": "active", "value": false}])
    );
    let deleted = Scim
        .build_request(
            &options("deactivate = \"delete\""),
            Operation::Deactivate,
            &user(id),
            &Payload::new(),
        )
        .unwrap();
    assert_eq!((deleted.method, deleted.body), (http::Method::DELETE, None));
    let unknown = Scim.build_request(&o, Operation::Patch, &user(None), &Payload::new());
    assert!(matches!(unknown, Err(BuildError::NoRemoteId(_))));
}

#[test]
fn a_lookup_filters_by_any_match_attribute() {
    let p = payload(json!({
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "emails[type eq \"work\"].value": "b\"j@example.com",
    }));
    assert_eq!(
        lookup_filter(options("").get(), &p).unwrap(),
        "externalId eq \"701984\" or userName eq \"bjensen@example.com\""
    );
    let by_email = options("match_attributes = ['emails[type eq \"work\"].value']");
    assert_eq!(
        lookup_filter(by_email.get(), &p).unwrap(),
        "emails[type eq \"work\" and value eq \"b\\\"j@example.com\"]"
    );
    let request = Scim
        .build_request(&options(""), Operation::Lookup, &user(None), &p)
        .unwrap();
    assert_eq!(
        request.path,
        "Users?filter=externalId+eq+%22701984%22+or+userName+eq+%22bjensen%40example.com%22"
    );
    assert!(lookup_filter(options("").get(), &Payload::new()).is_none());
}

#[test]
fn a_lookup_finds_no_one_one_user_or_too_many() {
    let o = options("");
    let list = |resources: Value| {
        response(
            200,
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": resources.as_array().unwrap().len(),
                "Resources": resources
            })
            .to_string(),
        )
    };
    assert_eq!(
        Scim.classify(&o, Operation::Lookup, &list(json!([]))),
        Outcome::Missing
    );
    match Scim.classify(
        &o,
        Operation::Lookup,
        &list(json!([{"id": "a1", "userName": "b"}])),
    ) {
        Outcome::Found { remote_id, .. } => assert_eq!(remote_id.as_deref(), Some("a1")),
        other => panic!("{other:?}"),
    }
    match Scim.classify(
        &o,
        Operation::Lookup,
        &list(json!([{"id": "a1"}, {"id": "a2"}])),
    ) {
        Outcome::Rejected { errors, .. } => {
            assert_eq!(errors[0].code, "ambiguous_match");
            assert!(
                errors[0].message.contains("a1, a2"),
                "{}",
                errors[0].message
            );
        }
        other => panic!("{other:?}"),
    }
}

/// RFC 7644 section 3.12's error shape: `uniqueness` is a conflict, `invalidValue` a rejection
/// on the attribute its detail names.
#[test]
fn scim_errors_are_read_by_their_type() {
    let o = options("");
    let error = |status: u16, kind: &str, detail: &str| {
        response(
            status,
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": status.to_string(),
                "scimType": kind,
                "detail": detail
            })
            .to_string(),
        )
    };
    assert!(matches!(
        Scim.classify(
            &o,
            Operation::Create,
            &error(409, "uniqueness", "userName is taken")
        ),
        Outcome::Conflict { status: 409, .. }
    ));
    match Scim.classify(
        &o,
        Operation::Patch,
        &error(400, "invalidValue", "emails: not an email address"),
    ) {
        Outcome::Rejected { errors, .. } => {
            assert_eq!(
                (errors[0].field.as_str(), errors[0].code.as_str()),
                ("emails", "invalidValue")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Scim.classify(
            &o,
            Operation::Create,
            &response(201, "{\"userName\": \"b\"}")
        ),
        Outcome::Retry { .. }
    ));
    assert_eq!(
        Scim.classify(&o, Operation::Create, &response(201, "{\"id\": \"a1\"}")),
        Outcome::Synced {
            remote_id: Some("a1".into())
        }
    );
    assert_eq!(
        Scim.classify(&o, Operation::Deactivate, &response(204, "")),
        Outcome::Synced { remote_id: None }
    );
}

#[test]
fn a_target_that_cannot_look_users_up_is_refused_unless_it_says_so() {
    let o = options("");
    let refusal = Scim.check_target(&["name.givenName"], &o).unwrap_err();
    assert_eq!(refusal.key, "options.match_attributes");
    assert!(Scim.check_target(&["userName"], &o).is_ok());
    assert!(Scim
        .check_target(&["name.givenName"], &options("correlate = false"))
        .is_ok());
}

#[test]
fn a_change_to_a_typed_entry_reads_the_user_first_and_adds_what_it_lacks() {
    let o = options("");
    let mobile = payload(json!({"phoneNumbers[type eq \"mobile\"].value": "+34 600"}));
    assert!(Scim.reads_first(&o, Operation::Patch, &mobile));
    assert!(!Scim.reads_first(&o, Operation::Patch, &payload(json!({"title": "x"}))));
    assert!(!Scim.reads_first(&o, Operation::Create, &mobile));
    let id = Some("a1");
    let read = Scim
        .build_request(&o, Operation::Lookup, &user(id), &mobile)
        .unwrap();
    assert_eq!(
        (read.method, read.path.as_str()),
        (http::Method::GET, "Users/a1")
    );
    let record = payload(json!({"id": "a1", "userName": "b", "phoneNumbers": []}));
    let request = Scim
        .build_from_record(&o, Operation::Patch, &user(id), &mobile, &record)
        .unwrap();
    assert_eq!(
        body(&request)["Operations"],
        json!([{"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "+34 600"}]}])
    );
    assert_eq!(
        Scim.classify(&o, Operation::Lookup, &response(404, "")),
        Outcome::Missing
    );
}

/// RFC 7643 section 5: a target that says it lacks PATCH, or filters while users are looked up
/// before they are created, stops the run before any row; one without the endpoint is taken at
/// the standard's word.
#[test]
fn what_the_target_says_it_supports_is_heeded() {
    let o = options("");
    let config = |patch: bool, filter: bool, bulk: Value| {
        Ok(response(
            200,
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "patch": {"supported": patch},
                "filter": {"supported": filter, "maxResults": 200},
                "bulk": bulk,
                "etag": {"supported": false}
            })
            .to_string(),
        ))
    };
    let no_bulk = || json!({"supported": false});
    let no_schemas = || Ok(response(404, ""));
    let paths: Vec<String> = Scim.discovery(&o).into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["ServiceProviderConfig", "Schemas"]);
    let read = |o: &Options, answers: &[Result<RawResponse, String>]| {
        Scim.discovered(o, &["userName"], answers)
    };

    let found = read(&o, &[config(true, true, no_bulk()), no_schemas()]).unwrap();
    let scim: &ScimOptions = found.options.as_ref().unwrap().get();
    assert_eq!(scim.update, Update::Patch);
    assert!(!scim.if_match, "no ETags: no If-Match");
    assert!(found.bulk.is_none());

    // No PATCH: users are read and sent whole by PUT.
    let found = read(&o, &[config(false, true, no_bulk()), no_schemas()]).unwrap();
    let scim: &ScimOptions = found.options.as_ref().unwrap().get();
    assert_eq!(scim.update, Update::Put);
    assert!(
        found.warnings.iter().any(|w| w.contains("PUT")),
        "{:?}",
        found.warnings
    );

    let refusal = read(&o, &[config(true, false, no_bulk()), no_schemas()]).unwrap_err();
    assert!(refusal.contains("options.correlate = false"), "{refusal}");
    assert!(read(
        &options("correlate = false"),
        &[config(true, false, no_bulk())]
    )
    .is_ok());

    // Bulk within the target's limits and the option's.
    let bulk = json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 65536});
    let found = read(&o, &[config(true, true, bulk.clone()), no_schemas()]).unwrap();
    let limits = found.bulk.unwrap();
    assert_eq!((limits.max_operations, limits.max_payload), (100, 65536));
    let small = json!({"supported": true, "maxOperations": 7, "maxPayloadSize": 65536});
    let found = read(&o, &[config(true, true, small), no_schemas()]).unwrap();
    assert_eq!(found.bulk.unwrap().max_operations, 7);
    let found = read(&options("bulk = false"), &[config(true, true, bulk)]).unwrap();
    assert!(found.bulk.is_none(), "bulk = false sends each write alone");

    let found = read(&o, &[Ok(response(404, "")), no_schemas()]).unwrap();
    assert!(
        found.warnings[0].contains("assuming"),
        "{:?}",
        found.warnings
    );
}

/// RFC 7643 section 7's attribute characteristics, as a target's `/Schemas` declares them.
fn declared_schemas() -> Result<RawResponse, String> {
    let attr = |name: &str, kind: &str, required: bool, mutability: &str| {
        json!({"name": name, "type": kind, "multiValued": false, "required": required,
               "caseExact": false, "mutability": mutability, "returned": "default",
               "uniqueness": "none"})
    };
    let mut emails = attr("emails", "complex", false, "readWrite");
    emails["multiValued"] = json!(true);
    emails["subAttributes"] = json!([
        attr("value", "string", false, "readWrite"),
        {"name": "type", "type": "string", "canonicalValues": ["work", "home", "other"],
         "mutability": "readWrite"}
    ]);
    let mut user_type = attr("userType", "string", false, "readWrite");
    user_type["canonicalValues"] = json!(["Employee", "Contractor"]);
    Ok(response(
        200,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 1,
            "Resources": [{
                "id": "urn:ietf:params:scim:schemas:core:2.0:User",
                "attributes": [
                    attr("userName", "string", true, "readWrite"),
                    attr("externalId", "string", false, "readWrite"),
                    attr("title", "string", false, "readOnly"),
                    attr("active", "boolean", false, "readWrite"),
                    attr("costCode", "integer", true, "readWrite"),
                    user_type,
                    emails,
                ]
            }]
        })
        .to_string(),
    ))
}

/// What a target declares at /Schemas is checked once against the mapping, then in every row.
#[test]
fn the_attributes_a_target_declares_are_heeded() {
    let o = options("");
    let config = Ok(response(200, r#"{"patch": {"supported": true}}"#));
    let read = |mapped: &[&str]| Scim.discovered(&o, mapped, &[config.clone(), declared_schemas()]);

    let refusal = read(&["userName", "title", "costCode"]).unwrap_err();
    assert!(refusal.contains("`title` is readOnly"), "{refusal}");
    let refusal = read(&["userName"]).unwrap_err();
    assert!(refusal.contains("requires `costCode`"), "{refusal}");

    let found = read(&[
        "userName",
        "costCode",
        "active",
        "userType",
        "nickName",
        "emails[type eq \"office\"].value",
    ])
    .unwrap();
    let warnings = found.warnings.join("\n");
    assert!(warnings.contains("`nickName`"), "{warnings}");
    assert!(warnings.contains("not \"office\""), "{warnings}");
    let rules = found.rules.unwrap();
    let row = |v: Value| rules.check(&payload(v));
    assert!(row(
        json!({"userName": "ana", "costCode": 12, "active": true, "userType": "employee"})
    )
    .is_empty());
    let errors =
        row(json!({"userName": "", "costCode": "12", "active": "yes", "userType": "Boss"}));
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            ("userName", "required"),
            ("costCode", "invalid_type"),
            ("active", "invalid_type"),
            ("userType", "not_canonical")
        ]
    );
}

/// A target that deletes its leavers gets a `DELETE` even where updates are `PUT`s, whether
/// or not the leaver's record was read.
#[test]
fn a_leaver_of_a_target_that_deletes_is_deleted_even_from_a_record() {
    let record = payload(json!({"id": "2819c223", "userName": "b", "active": true}));
    let leaver_from_record = |options: &Options| {
        Scim.build_from_record(
            options,
            Operation::Deactivate,
            &user(Some("2819c223")),
            &Payload::new(),
            &record,
        )
        .unwrap()
    };
    let deletes = options("update = \"put\"\ndeactivate = \"delete\"");
    assert!(!Scim.reads_first(&deletes, Operation::Deactivate, &Payload::new()));
    let request = leaver_from_record(&deletes);
    assert_eq!(
        (
            &request.method,
            request.path.as_str(),
            request.body.is_none()
        ),
        (&http::Method::DELETE, "Users/2819c223", true)
    );
    let puts = options("update = \"put\"");
    assert!(Scim.reads_first(&puts, Operation::Deactivate, &Payload::new()));
    let request = leaver_from_record(&puts);
    assert_eq!(request.method, http::Method::PUT);
    assert_eq!(body(&request)["active"], json!(false));
    assert_eq!(body(&request)["userName"], json!("b"));
}
