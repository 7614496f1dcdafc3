//! Abitmedia user fields and their rules, from the user update page
//! (`PUT /administration/v1/users`; create takes the same fields).
//!
//! Every field but `isAbitmedia` and `status` is required. `cellPhoneNumber` must carry its
//! country code (`+593984535283`); `companies` is a list of objects, each with its `companyId`.

use crate::payload::Payload;
use crate::validate::shape::{item_types, list_of_objects, ItemType, Shape};
use crate::validate::{FieldDef, FieldError, FieldType, Required, Rule, Schema};

/// The Abitmedia user schema.
pub static SCHEMA: Schema = Schema {
    fields: &[
        // es: Spanish, en: English (lower-cased before the comparison).
        FieldDef::new(
            "language",
            FieldType::String,
            Required::Always,
            Rule::Enum(&["es", "en"]),
        ),
        FieldDef::new("firstName", FieldType::String, Required::Always, Rule::None),
        FieldDef::new("lastName", FieldType::String, Required::Always, Rule::None),
        FieldDef::new("email", FieldType::String, Required::Always, Rule::Email),
        FieldDef::new(
            "password",
            FieldType::String,
            Required::Always,
            Rule::AbitmediaPassword,
        ),
        FieldDef::new(
            "cellPhoneNumber",
            FieldType::String,
            Required::Always,
            Rule::PhoneInternational,
        ),
        FieldDef::new("address", FieldType::String, Required::Always, Rule::None),
        FieldDef::new("birthday", FieldType::Date, Required::Always, Rule::None),
        FieldDef::new("companies", FieldType::Json, Required::Always, Rule::None),
        FieldDef::new(
            "isAbitmedia",
            FieldType::Boolean,
            Required::Optional,
            Rule::None,
        ),
        // 0: inactive, 1: active (the default), 2: deleted.
        FieldDef::new(
            "status",
            FieldType::Integer,
            Required::Optional,
            Rule::Enum(&["0", "1", "2"]),
        ),
    ],
    cross: companies_shape,
};

/// `companies`: a non-empty list of objects, each naming its `companyId`; `companyId` and
/// `roleId` integers and `isAdmin` a boolean, as the page's answer shows them.
fn companies_shape(payload: &Payload, errors: &mut Vec<FieldError>) {
    if let Shape::Valid(items) = list_of_objects(payload, "companies", &["companyId"], true, errors)
    {
        item_types(
            items,
            "companies",
            &[
                ("companyId", ItemType::Integer),
                ("roleId", ItemType::Integer),
                ("isAdmin", ItemType::Boolean),
            ],
            errors,
        );
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

    fn row() -> Value {
        json!({
            "language": "ES",
            "firstName": "John",
            "lastName": "Doe",
            "email": "john.doe@example.com",
            "password": "Secreto#2024",
            "cellPhoneNumber": "+593 98 464 0145",
            "address": "123 Main Street, Apt 4B, New York, NY, 10001",
            "birthday": "1990-05-15",
            "isAbitmedia": "no",
            "companies": [{"companyId": 1, "isAdmin": true, "roleId": 1}],
            "status": "1",
        })
    }

    #[test]
    fn a_realistic_full_row_validates_clean_and_canonical() {
        let (p, errors) = check(row());
        assert_eq!(errors, vec![]);
        assert_eq!(p["language"], json!("es"));
        assert_eq!(p["cellPhoneNumber"], json!("+593984640145"));
        assert_eq!(p["isAbitmedia"], json!(false));
        assert_eq!(p["status"], json!(1));
    }

    #[test]
    fn a_csv_cell_may_carry_companies_as_json() {
        let mut r = row();
        r["companies"] = json!(r#"[{"companyId": 7}]"#);
        let (p, errors) = check(r);
        assert_eq!(errors, vec![]);
        assert_eq!(p["companies"], json!([{"companyId": 7}]));
    }

    #[test]
    fn every_documented_rule_is_enforced() {
        let mut r = row();
        r["language"] = json!("fr");
        r["password"] = json!("secreto");
        r["cellPhoneNumber"] = json!("600000000");
        r["birthday"] = json!("2023-02-29");
        r["companies"] = json!([{"roleId": 1}]);
        r["status"] = json!(3);
        let (_, errors) = check(r);
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("language", "invalid_enum"),
                ("password", "weak_password"),
                ("cellPhoneNumber", "invalid_phone"),
                ("birthday", "invalid_date"),
                ("status", "invalid_enum"),
                ("companies", "invalid_type"),
            ]
        );
        assert!(!errors[1].message.contains("secreto"));
    }

    #[test]
    fn all_but_two_fields_are_required() {
        let (_, errors) = check(json!({"status": 0}));
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "language",
                "firstName",
                "lastName",
                "email",
                "password",
                "cellPhoneNumber",
                "address",
                "birthday",
                "companies",
            ]
        );
    }
}
