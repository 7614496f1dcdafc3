//! Faveo user fields and their rules, from the "Edit User" page (`v3/user/update/api/{userId}`;
//! create takes the same fields).
//!
//! Only `first_name` and `last_name` are always required. `user_name`, `phone_number`, `email`
//! and `mobile` are "configurable from backend form settings": a target marks them required in
//! its config (`Context::extra_required`). Custom fields are `custom_<id>`, text or a list.
//! The page's note becomes a cross-field rule: `organisation_department` needs `related`, one
//! `{org_id, org_dept}` object per department.

use crate::payload::Payload;
use crate::validate::shape::{list_of_objects, Shape};
use crate::validate::{code, FieldDef, FieldError, FieldType, Required, Rule, Schema};

/// The Faveo user schema.
pub static SCHEMA: Schema = Schema {
    fields: &[
        FieldDef::new(
            "first_name",
            FieldType::String,
            Required::Always,
            Rule::None,
        ),
        FieldDef::new("last_name", FieldType::String, Required::Always, Rule::None),
        FieldDef::text("user_name"),
        FieldDef::text("phone_number"),
        FieldDef::new("email", FieldType::String, Required::Optional, Rule::Email),
        FieldDef::text("mobile"),
        FieldDef::new(
            "organization",
            FieldType::Array,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "organisation_department",
            FieldType::Array,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new("related", FieldType::Json, Required::Optional, Rule::None),
        FieldDef::new(
            "custom_*",
            FieldType::StringOrArray,
            Required::Optional,
            Rule::None,
        ),
    ],
    cross: related_matches_departments,
};

/// `related` is a list of `{org_id, org_dept}`; given `organisation_department`, it must be
/// there with as many elements.
fn related_matches_departments(payload: &Payload, errors: &mut Vec<FieldError>) {
    let related = list_of_objects(payload, "related", &["org_id", "org_dept"], false, errors);
    let Some(serde_json::Value::Array(departments)) = payload.get("organisation_department") else {
        return;
    };
    let message = match related {
        Shape::Invalid => return,
        Shape::Absent => format!(
            "organisation_department is given ({} element(s)), so related must be given too, \
             with one {{org_id, org_dept}} per department",
            departments.len()
        ),
        Shape::Valid(related) if related.len() != departments.len() => format!(
            "related has {} element(s) but organisation_department has {}: they must match",
            related.len(),
            departments.len()
        ),
        Shape::Valid(_) => return,
    };
    errors.push(FieldError::new("related", code::RELATED_MISMATCH, message));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{validate, Context};
    use serde_json::{json, Value};

    fn check_with(v: Value, ctx: &Context<'_>) -> (Payload, Vec<FieldError>) {
        let Value::Object(p) = v else { unreachable!() };
        let mut p = Payload::from(p);
        let errors = validate(&SCHEMA, &mut p, ctx);
        (p, errors)
    }

    fn check(v: Value) -> (Payload, Vec<FieldError>) {
        check_with(v, &Context::default())
    }

    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    fn row() -> Value {
        json!({
            "first_name": "Marta",
            "last_name": "Soler Puig",
            "user_name": "msoler",
            "email": "MSoler@Empresa.es",
            "phone_number": "932000000",
            "mobile": "600111222",
            "organization": [3, 5],
            "organisation_department": [12, 14],
            "related": [{"org_id": 3, "org_dept": 12}, {"org_id": 5, "org_dept": 14}],
            "custom_7": "Barcelona",
            "custom_8": ["a", "b"],
        })
    }

    #[test]
    fn a_realistic_full_row_validates_clean() {
        let (p, errors) = check(row());
        assert_eq!(errors, vec![]);
        assert_eq!(p["email"], json!("msoler@empresa.es"));
    }

    #[test]
    fn departments_without_related_are_a_mismatch() {
        let mut r = row();
        r.as_object_mut().map(|o| o.remove("related"));
        let (_, errors) = check(r);
        assert_eq!(codes(&errors), [("related", "related_mismatch")]);
        assert!(errors[0].message.contains("related must be given too"));
    }

    #[test]
    fn related_must_have_one_element_per_department() {
        let mut r = row();
        r["related"] = json!([{"org_id": 3, "org_dept": 12}]);
        let (_, errors) = check(r);
        assert_eq!(codes(&errors), [("related", "related_mismatch")]);
        assert_eq!(
            errors[0].message,
            "related has 1 element(s) but organisation_department has 2: they must match"
        );
    }

    #[test]
    fn malformed_related_is_a_type_error_not_a_mismatch() {
        let mut r = row();
        r["related"] = json!([{"org_id": 3}, {"org_id": 5, "org_dept": 14}]);
        let (_, errors) = check(r);
        assert_eq!(codes(&errors), [("related", "invalid_type")]);
        assert_eq!(errors[0].message, "element 1 of related has no org_dept");
    }

    #[test]
    fn a_csv_row_may_give_lists_as_embedded_json() {
        let mut r = row();
        r["organisation_department"] = json!("[12, 14]");
        r["related"] = json!(r#"[{"org_id":3,"org_dept":12},{"org_id":5,"org_dept":14}]"#);
        let (p, errors) = check(r);
        assert_eq!(errors, vec![]);
        assert_eq!(p["organisation_department"], json!([12, 14]));
    }

    #[test]
    fn only_names_are_required_unless_the_config_says_more() {
        let (_, errors) = check(json!({"first_name": "Marta"}));
        assert_eq!(codes(&errors), [("last_name", "required")]);
        let extra = vec!["email".to_string(), "mobile".to_string()];
        let ctx = Context {
            extra_required: &extra,
            ..Context::default()
        };
        let (_, errors) = check_with(json!({"first_name": "Marta", "last_name": "Soler"}), &ctx);
        assert_eq!(
            codes(&errors),
            [("email", "required"), ("mobile", "required")]
        );
    }

    #[test]
    fn custom_fields_are_known_by_prefix() {
        assert_eq!(SCHEMA.field("custom_42").map(|d| d.name), Some("custom_*"));
        let mut r = row();
        r["custom_9"] = json!({"x": 1});
        let (_, errors) = check(r);
        assert_eq!(codes(&errors), [("custom_9", "invalid_type")]);
    }
}
