//! GNOSS user fields and their rules, from the `user/modify-user` page and what the README adds
//! about `create-user`.
//!
//! - `community_id` is required: every user call is about one community. `user_id` is not:
//!   GNOSS assigns it on create, and the adapter sends the remote id from the ledger.
//! - `create-user` needs `name`, `last_name` and `email` (so: required on create), and a
//!   `password` of 6 to 12 characters.
//! - `id_card` takes DNIs, NIEs and passports: the check letter is checked only when the value
//!   looks like a DNI or NIE.
//! - `provice` and `languaje` are spelt as the API spells them.
//! - `extra_data`, `user_events` and `preferences` are lists of objects (ExtraUserData,
//!   UserEvent, ThesaurusCategory).

use crate::payload::Payload;
use crate::validate::shape::{item_types, list_of_objects, ItemType, Shape};
use crate::validate::{FieldDef, FieldError, FieldType, Required, Rule, Schema};

/// The fields GNOSS documents as collections of objects.
const COLLECTIONS: &[&str] = &["extra_data", "user_events", "preferences"];

/// The GNOSS user schema.
pub static SCHEMA: Schema = Schema {
    fields: &[
        FieldDef::new("user_id", FieldType::String, Required::Optional, Rule::Guid),
        FieldDef::new(
            "community_id",
            FieldType::String,
            Required::Always,
            Rule::Guid,
        ),
        FieldDef::new("name", FieldType::String, Required::OnCreate, Rule::None),
        FieldDef::new(
            "last_name",
            FieldType::String,
            Required::OnCreate,
            Rule::None,
        ),
        FieldDef::new("email", FieldType::String, Required::OnCreate, Rule::Email),
        FieldDef::new(
            "password",
            FieldType::String,
            Required::Optional,
            Rule::Length { min: 6, max: 12 },
        ),
        FieldDef::new(
            "extra_data",
            FieldType::Json,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "user_events",
            FieldType::Json,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::text("aux_data"),
        FieldDef::text("community_short_name"),
        FieldDef::text("user_short_name"),
        FieldDef::new(
            "id_card",
            FieldType::String,
            Required::Optional,
            Rule::NidIfLike,
        ),
        FieldDef::new(
            "born_date",
            FieldType::DateTime,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "country_id",
            FieldType::String,
            Required::Optional,
            Rule::Guid,
        ),
        FieldDef::text("country"),
        FieldDef::new(
            "province_id",
            FieldType::String,
            Required::Optional,
            Rule::Guid,
        ),
        FieldDef::text("provice"),
        FieldDef::text("city"),
        FieldDef::text("address"),
        FieldDef::text("postal_code"),
        FieldDef::new(
            "join_community_date",
            FieldType::DateTime,
            Required::Optional,
            Rule::None,
        ),
        // H: male (hombre), M: female (mujer).
        FieldDef::new(
            "sex",
            FieldType::String,
            Required::Optional,
            Rule::Enum(&["H", "M"]),
        ),
        FieldDef::new(
            "preferences",
            FieldType::Json,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "receive_newsletter",
            FieldType::Boolean,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "languaje",
            FieldType::String,
            Required::Optional,
            Rule::Language,
        ),
        FieldDef::text("photo"),
        FieldDef::new(
            "num_access",
            FieldType::Integer,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "last_login",
            FieldType::DateTime,
            Required::Optional,
            Rule::None,
        ),
    ],
    cross: collections_shape,
};

/// The collections are lists of objects, whose ids are GUIDs (ExtraUserData `name_id` and
/// `value_id`, UserEvent `event_id`, ThesaurusCategory `category_id`; its
/// `parent_category_id` is not documented as one).
fn collections_shape(payload: &Payload, errors: &mut Vec<FieldError>) {
    for field in COLLECTIONS {
        let guids: &[(&str, ItemType)] = match *field {
            "extra_data" => &[("name_id", ItemType::Guid), ("value_id", ItemType::Guid)],
            "user_events" => &[("event_id", ItemType::Guid)],
            _ => &[("category_id", ItemType::Guid)],
        };
        if let Shape::Valid(items) = list_of_objects(payload, field, &[], false, errors) {
            item_types(items, field, guids, errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{validate, Context};
    use serde_json::{json, Value};

    fn check(v: Value) -> (Payload, Vec<FieldError>) {
        let Value::Object(p) = v else { unreachable!() };
        let mut p = Payload::from(p);
        let errors = validate(&SCHEMA, &mut p, &Context::default());
        (p, errors)
    }

    /// The page's sample request, plus the fields it leaves out, as a JSONL export gives them.
    fn row() -> Value {
        json!({
            "name": "John",
            "last_name": "Vander Var",
            "email": "johnvandervar@organization.com",
            "password": "s3cret!",
            "community_id": "1ede819e-9d0f-41e9-855b-bbebc7f08dd1",
            "community_short_name": "developers",
            "user_short_name": "john-vander-var",
            "user_id": "50B7615F-E32D-469D-AD93-D5829AB983EF",
            "id_card": "x1234567l",
            "born_date": "1985-02-01",
            "country_id": "98d604b4-3141-4499-bde1-c320f09ef45c",
            "country": "Spain",
            "province_id": "96f4fe28-a136-4423-ae60-36edd3261600",
            "provice": "Madrid",
            "city": "Madrid",
            "address": "456 Moreno Avenue",
            "postal_code": "28001",
            "join_community_date": "2016-06-12T00:00:00",
            "sex": "h",
            "receive_newsletter": "false",
            "languaje": "ES",
            "num_access": "0",
            "last_login": "2024-03-01 08:15:00",
            "extra_data": [{
                "name_id": "0b1e2f3a-0000-4000-8000-000000000001",
                "name": "Departamento",
                "value_id": "0b1e2f3a-0000-4000-8000-000000000002",
                "value": "Ventas",
                "short_name": "dept"
            }],
            "user_events": [],
            "preferences": [{"category_id": "0b1e2f3a-0000-4000-8000-000000000003"}],
        })
    }

    #[test]
    fn a_realistic_full_row_validates_clean_and_canonical() {
        let (p, errors) = check(row());
        assert_eq!(errors, vec![]);
        assert_eq!(p["user_id"], json!("50b7615f-e32d-469d-ad93-d5829ab983ef"));
        assert_eq!(p["id_card"], json!("X1234567L"));
        assert_eq!(p["born_date"], json!("1985-02-01T00:00:00"));
        assert_eq!(p["last_login"], json!("2024-03-01T08:15:00"));
        assert_eq!(p["sex"], json!("H"));
        assert_eq!(p["receive_newsletter"], json!(false));
        assert_eq!(p["languaje"], json!("es"));
        assert_eq!(p["num_access"], json!(0));
    }

    #[test]
    fn passports_pass_and_dni_lookalikes_are_checked() {
        let mut r = row();
        r["id_card"] = json!("PAA123456");
        assert_eq!(check(r).1, vec![]);
        let mut r = row();
        r["id_card"] = json!("12345678A");
        let errors = check(r).1;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "invalid_nid");
    }

    #[test]
    fn every_documented_rule_is_enforced() {
        let mut r = row();
        r["community_id"] = json!("developers");
        r["password"] = json!("12345");
        r["born_date"] = json!("1985-02-30");
        r["sex"] = json!("F");
        r["receive_newsletter"] = json!("quizás");
        r["extra_data"] = json!({"name": "x"});
        let (_, errors) = check(r);
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("community_id", "invalid_guid"),
                ("password", "invalid_length"),
                ("born_date", "invalid_date"),
                ("sex", "invalid_enum"),
                ("receive_newsletter", "invalid_type"),
                ("extra_data", "invalid_type"),
            ]
        );
        assert!(!errors[1].message.contains("12345"));
    }

    #[test]
    fn create_needs_names_and_email_but_not_a_user_id() {
        let (_, errors) = check(json!({"community_id": "1ede819e-9d0f-41e9-855b-bbebc7f08dd1"}));
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "last_name", "email"]);
    }
}
