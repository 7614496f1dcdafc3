//! The mock's GNOSS body rules, field type by field type.

use serde_json::{json, Value};

use super::*;

const COMMUNITY: &str = "1ede819e-9d0f-41e9-855b-bbebc7f08dd1";
const USER: &str = "50b7615f-e32d-469d-ad93-d5829ab983ef";

fn body(value: Value) -> Payload {
    let Value::Object(map) = value else {
        unreachable!("a test body is an object")
    };
    map.into()
}

/// The fields in error, in order, or the kept body.
fn fields_in_error(value: Value, required: &[&str]) -> Vec<String> {
    match check(&body(value), required) {
        Ok(kept) => panic!("accepted: {kept:?}"),
        Err(errors) => errors.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn create_needs_names_and_a_valid_email() {
    assert_eq!(
        fields_in_error(json!({"name": "Sin", "last_name": " "}), CREATE_REQUIRED),
        ["last_name", "email"]
    );
    for bad in [
        "ana",
        "ana@",
        "@x.es",
        "ana@x",
        "a b@x.es",
        "a@b@x.es",
        "ana@x..es",
    ] {
        let person = json!({"name": "Ana", "last_name": "Ruiz", "email": bad});
        assert_eq!(fields_in_error(person, CREATE_REQUIRED), ["email"], "{bad}");
    }
    let person =
        json!({"name": "Ana", "last_name": "Ruiz", "email": "ana.ruiz@empresa.example.com"});
    assert!(check(&body(person), CREATE_REQUIRED).is_ok());
}

#[test]
fn passwords_have_6_to_12_characters_and_are_never_repeated() {
    for (password, ok) in [
        ("12345", false),
        ("123456", true),
        ("ñandú!", true),
        ("123456789012", true),
        ("1234567890123", false),
    ] {
        let person =
            json!({"name": "A", "last_name": "B", "email": "a@b.es", "password": password});
        match check(&body(person), CREATE_REQUIRED) {
            Ok(_) => assert!(ok, "{password} accepted"),
            Err(errors) => {
                assert!(!ok, "{password} refused");
                assert_eq!(errors[0].field, "password");
                assert!(!errors[0].message.contains(password));
            }
        }
    }
}

#[test]
fn modify_names_the_user_by_guids() {
    assert_eq!(
        fields_in_error(json!({"city": "Madrid"}), MEMBER_REQUIRED),
        ["user_id", "community_id"]
    );
    let kept = check(
        &body(json!({"user_id": "E00001", "community_id": COMMUNITY})),
        MEMBER_REQUIRED,
    )
    .unwrap_err();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].field, "user_id");
    assert_eq!(kept[0].message, "The value is not a valid GUID");
    let upper = USER.to_uppercase();
    let forms = [
        upper.clone(),
        format!("{{{USER}}}"),
        format!("({upper})"),
        USER.replace('-', ""),
    ];
    for form in forms {
        let kept = check(
            &body(json!({"user_id": form, "community_id": COMMUNITY})),
            MEMBER_REQUIRED,
        )
        .unwrap();
        assert_eq!(kept["user_id"], USER, "{form}");
    }
    for bad in [
        &USER[1..],
        "{50b7615fe32d469dad93d5829ab983ef}",
        "50b7615f-e32d-469d-ad93-d5829ab983eg",
        "50b7615f-e32d4-69d-ad93-d5829ab983ef",
    ] {
        assert!(guid(bad).is_none(), "{bad}");
    }
}

#[test]
fn every_page_type_is_checked() {
    let wrong = json!({
        "user_id": USER, "community_id": COMMUNITY,
        "country_id": "Spain", "province_id": 28,
        "born_date": "1985-02-30", "join_community_date": "01/02/2016",
        "last_login": "2024-03-01 08:15:00",
        "sex": "F", "receive_newsletter": "yes", "num_access": 3_000_000_000u64,
        "city": {"name": "Madrid"},
    });
    assert_eq!(
        fields_in_error(wrong, MEMBER_REQUIRED),
        [
            "born_date",
            "country_id",
            "province_id",
            "city",
            "join_community_date",
            "sex",
            "receive_newsletter",
            "num_access",
            "last_login"
        ]
    );
}

#[test]
fn good_values_of_every_type_are_kept() {
    let right = json!({
        "user_id": USER, "community_id": COMMUNITY, "born_date": "1985-02-01",
        "join_community_date": "2016-06-12T00:00:00", "last_login": "2024-02-29T23:59:59",
        "sex": "M", "receive_newsletter": true, "num_access": 7, "postal_code": 28001,
    });
    let kept = check(&body(right), MEMBER_REQUIRED).unwrap();
    assert_eq!(kept["born_date"], "1985-02-01");
    assert_eq!(kept["receive_newsletter"], true);
    assert_eq!(kept["num_access"], 7);
    assert_eq!(
        kept["postal_code"], "28001",
        "a number binds to a string field as its text"
    );
}

#[test]
fn collections_are_lists_of_typed_objects() {
    let lists = json!({
        "user_id": USER, "community_id": COMMUNITY,
        "extra_data": [{"name_id": COMMUNITY, "name": "Departamento", "value_id": USER,
            "value": "Ventas", "short_name": "dept", "colour": "blue"}],
        "user_events": [{"event_id": USER, "name": "Alta", "date": "2024-01-31"}],
        "preferences": [{"category_id": COMMUNITY, "category_name": "Noticias",
            "parent_category_id": ""}],
    });
    let kept = check(&body(lists), MEMBER_REQUIRED).unwrap();
    assert_eq!(
        kept["extra_data"],
        json!([{"name_id": COMMUNITY, "name": "Departamento", "value_id": USER,
            "value": "Ventas", "short_name": "dept"}]),
        "unknown members are not kept"
    );
    assert_eq!(
        kept["user_events"],
        json!([{"event_id": USER, "name": "Alta", "Date": "2024-01-31"}])
    );
    assert_eq!(
        kept["preferences"],
        json!([{"category_id": COMMUNITY, "category_name": "Noticias"}])
    );

    let wrong = json!({
        "user_id": USER, "community_id": COMMUNITY,
        "extra_data": {"name_id": COMMUNITY},
        "user_events": [{"event_id": USER, "Date": "mañana"}],
        "preferences": [{"category_id": "noticias"}],
    });
    assert_eq!(
        fields_in_error(wrong, MEMBER_REQUIRED),
        [
            "extra_data",
            "user_events[0].Date",
            "preferences[0].category_id"
        ]
    );
    let not_objects = json!({"user_id": USER, "community_id": COMMUNITY, "extra_data": ["x"]});
    assert_eq!(
        fields_in_error(not_objects, MEMBER_REQUIRED),
        ["extra_data[0]"]
    );
}

#[test]
fn empty_and_unknown_fields_are_skipped() {
    let sparse = json!({
        "user_id": USER, "community_id": COMMUNITY, "name": "", "address": null,
        "extra_data": [], "country_id": " ", "favourite_colour": "blue", "CITY": "Bilbao",
    });
    let kept = check(&body(sparse), MEMBER_REQUIRED).unwrap();
    let names: Vec<&str> = kept.keys().collect();
    assert_eq!(names, ["city", "community_id", "user_id"]);
    assert_eq!(kept["city"], "Bilbao", "names match whatever their case");
}
