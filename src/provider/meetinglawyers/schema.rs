//! MeetingLawyers user fields and their rules, from the create and update pages
//! (`POST /s2s/v1/users`, `PUT|PATCH /s2s/v1/users/{user_id}`).
//!
//! `user_id` and `status` are the only required fields; a PATCH (partial update) requires
//! nothing. `has_video_call_1to1` is missing from the update page but sent by its example, so it
//! is kept for every operation.

use crate::validate::{FieldDef, FieldType, Required, Rule, Schema};

const ON_OFF: Rule = Rule::Enum(&["0", "1"]);

/// The MeetingLawyers user schema.
pub static SCHEMA: Schema = Schema {
    fields: &[
        FieldDef::new("user_id", FieldType::String, Required::Always, Rule::None),
        // 0: Free (no access), 2: Premium, 4: Freemium.
        FieldDef::new(
            "status",
            FieldType::Integer,
            Required::Always,
            Rule::Enum(&["0", "2", "4"]),
        ),
        FieldDef::new("email", FieldType::String, Required::Optional, Rule::Email),
        FieldDef::new(
            "nid_number",
            FieldType::String,
            Required::Optional,
            Rule::Nid,
        ),
        FieldDef::text("first_name"),
        FieldDef::text("last_name"),
        // 0: Male, 1: Female.
        FieldDef::new("gender", FieldType::Integer, Required::Optional, ON_OFF),
        FieldDef::new("birthdate", FieldType::Date, Required::Optional, Rule::None),
        // "A mobile phone number": the page's example has no country code, so none is demanded.
        FieldDef::text("mobile_phone"),
        FieldDef::text("coverage_name"),
        FieldDef::text("contract_number"),
        FieldDef::new(
            "service_language_code",
            FieldType::String,
            Required::Optional,
            Rule::Language,
        ),
        FieldDef::text("description"),
        FieldDef::new(
            "has_video_call",
            FieldType::Integer,
            Required::Optional,
            ON_OFF,
        ),
        FieldDef::new(
            "has_video_call_1to1",
            FieldType::Integer,
            Required::Optional,
            ON_OFF,
        ),
        FieldDef::new(
            "country_code",
            FieldType::String,
            Required::Optional,
            Rule::Country,
        ),
        FieldDef::text("ml_group_name"),
        FieldDef::text("md_group_name"),
    ],
    cross: |_, _| {},
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Payload;
    use crate::validate::{validate, Context, FieldError};
    use serde_json::{json, Value};

    fn check(v: Value, ctx: &Context<'_>) -> (Payload, Vec<FieldError>) {
        let Value::Object(p) = v else { unreachable!() };
        let mut p = Payload::from(p);
        let errors = validate(&SCHEMA, &mut p, ctx);
        (p, errors)
    }

    /// A row as a CSV export maps it: every value a string.
    fn csv_row() -> Value {
        json!({
            "user_id": "E-10442",
            "status": "2",
            "email": "Lucia.Fernandez@Empresa.es",
            "nid_number": "12345678z",
            "first_name": " Lucía ",
            "last_name": "Fernández Ruiz",
            "gender": "1",
            "birthdate": "1980-12-31",
            "mobile_phone": "600000000",
            "coverage_name": "Premium",
            "contract_number": "123456",
            "service_language_code": "ES",
            "description": "",
            "has_video_call": "1",
            "has_video_call_1to1": "0",
            "country_code": "es",
            "ml_group_name": "demo-lawyers",
            "md_group_name": "demo-doctors",
        })
    }

    #[test]
    fn a_realistic_full_row_validates_clean_and_canonical() {
        let (p, errors) = check(csv_row(), &Context::default());
        assert_eq!(errors, vec![]);
        assert_eq!(p["status"], json!(2));
        assert_eq!(p["gender"], json!(1));
        assert_eq!(p["has_video_call_1to1"], json!(0));
        assert_eq!(p["email"], json!("lucia.fernandez@empresa.es"));
        assert_eq!(p["nid_number"], json!("12345678Z"));
        assert_eq!(p["first_name"], json!("Lucía"));
        assert_eq!(p["service_language_code"], json!("es"));
        assert_eq!(p["country_code"], json!("ES"));
        assert!(!p.contains_key("description"), "empty means absent");
    }

    #[test]
    fn every_documented_rule_is_enforced() {
        let mut row = csv_row();
        row["status"] = json!("1");
        row["nid_number"] = json!("12345678A");
        row["gender"] = json!("F");
        row["birthdate"] = json!("1980-02-30");
        row["service_language_code"] = json!("sp");
        row["has_video_call"] = json!("2");
        row["country_code"] = json!("UK");
        row["email"] = json!("lucia@empresa");
        let (_, errors) = check(row, &Context::default());
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("status", "invalid_enum"),
                ("email", "invalid_email"),
                ("nid_number", "invalid_nid"),
                ("gender", "invalid_type"),
                ("birthdate", "invalid_date"),
                ("service_language_code", "invalid_language"),
                ("has_video_call", "invalid_enum"),
                ("country_code", "invalid_country"),
            ]
        );
        assert_eq!(
            errors[2].message,
            "DNI 12345678A has the wrong check letter (expected Z)"
        );
    }

    #[test]
    fn user_id_and_status_are_required_except_in_a_patch() {
        let (_, errors) = check(json!({"email": "a@b.es"}), &Context::default());
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["user_id", "status"]);
        assert!(errors.iter().all(|e| e.code == "required"));
        let patch = Context {
            partial: true,
            ..Context::default()
        };
        let (_, errors) = check(json!({"status": 0}), &patch);
        assert_eq!(errors, vec![]);
    }
}
