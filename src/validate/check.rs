//! Running a provider's [`Schema`] over one mapped payload: drop absent values, convert each
//! present field to its type, normalise and check it against its rule, report missing required
//! fields, then run the schema's cross-field rules. Every problem of the row is collected.
//!
//! This runs once per input row (a million rows in the benchmark), so it walks the payload once,
//! works on it in place and allocates only for values that change and for errors.

use serde_json::Value;

use super::{
    code, coerce, email, guid, index, iso, nid, password, phone, Context, FieldDef, FieldError,
    Invalid, Required, Rule, Schema,
};
use crate::payload::Payload;

/// Normalises `payload` in place and checks it against `schema`. Returns every error of the row,
/// in schema order, then the cross-field ones.
///
/// - Strings are trimmed; an empty string or JSON null is absent: its key is removed, and it is
///   only an error if the field is required.
/// - Present fields are converted to their [`FieldType`](super::FieldType) (CSV `"2"` becomes
///   `2`), then normalised and checked by their [`Rule`].
/// - [`Required::Always`] and [`Required::OnCreate`] fields, and `ctx.extra_required`, must be
///   present unless `ctx.partial`.
/// - Fields the schema does not know are only trimmed (and dropped when empty), never checked:
///   the config layer refuses unknown mapped fields earlier.
pub fn validate(schema: &Schema, payload: &mut Payload, ctx: &Context<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    // Bit i: the schema's field i is present (fields past the 64th are looked up instead).
    let mut seen: u64 = 0;
    let mut absent = false;
    let index = index::of(schema);
    // One pass over the payload, in key order; each key's definition is found through the
    // schema's name index, which is cheaper than looking every schema field up in the map.
    for (name, value) in payload.iter_mut() {
        if coerce::trim_and_check_absent(value) {
            absent = true;
            continue;
        }
        if let Some(i) = index.position(schema, name) {
            if i < 64 {
                seen |= 1 << i;
            }
            check_field(&schema.fields[i], name, value, &mut errors);
        }
    }
    if absent {
        // Trimmed already: absent values are now null or "".
        payload.retain(|_, value| !coerce::trim_and_check_absent(value));
    }

    if !ctx.partial {
        for (i, def) in schema.fields.iter().enumerate() {
            if def.wildcard_prefix().is_some() || !is_required(def, ctx) {
                continue;
            }
            let present = if i < 64 {
                seen & (1 << i) != 0
            } else {
                payload.contains_key(def.name)
            };
            if !present {
                errors.push(required(def.name));
            }
        }
        // Config-marked fields the loop above did not see: wildcard ones (`custom_3`), or names
        // the schema lacks (the config layer normally refuses those).
        for name in ctx.extra_required {
            let seen = schema
                .field(name)
                .is_some_and(|d| d.wildcard_prefix().is_none());
            if !seen && !payload.contains_key(name) {
                errors.push(required(name));
            }
        }
    }

    if errors.len() > 1 {
        // Schema order reads best (the key and the status first); the sort is stable.
        errors.sort_by_key(|e| schema.position(&e.field).unwrap_or(usize::MAX));
    }
    (schema.cross)(payload, &mut errors);
    errors
}

fn is_required(def: &FieldDef, ctx: &Context<'_>) -> bool {
    if ctx.partial {
        return false;
    }
    match def.required {
        Required::Always | Required::OnCreate => true,
        Required::Optional => ctx.extra_required.iter().any(|n| n == def.name),
    }
}

fn required(name: &str) -> FieldError {
    FieldError::new(
        name,
        code::REQUIRED,
        format!("{name} is required, but the row has no value for it"),
    )
}

/// Converts, normalises and checks one present field.
fn check_field(def: &FieldDef, name: &str, value: &mut Value, errors: &mut Vec<FieldError>) {
    let result = coerce::to_type(def.ty, value).and_then(|()| apply_rule(def.rule, value));
    if let Err(invalid) = result {
        errors.push(invalid.on(name));
    }
}

/// Normalises `value` for `rule` (case, separators, canonical forms) and checks it. Values of
/// another JSON type than the rule reads were refused by their type already.
fn apply_rule(rule: Rule, value: &mut Value) -> Result<(), Invalid> {
    if let Rule::Enum(allowed) = rule {
        return check_enum(allowed, value);
    }
    let Value::String(s) = value else {
        return Ok(());
    };
    match rule {
        Rule::None | Rule::Enum(_) => Ok(()),
        Rule::Email => {
            coerce::lowercase(s);
            email::check(s)
        }
        Rule::Nid => {
            nid::normalise(s);
            nid::check(s).map(drop)
        }
        Rule::NidIfLike => {
            coerce::uppercase(s);
            if nid::has_separators(s) {
                let mut compact = s.clone();
                nid::normalise(&mut compact);
                if nid::looks_like(&compact) {
                    *s = compact;
                }
            }
            if nid::looks_like(s) {
                nid::check(s).map(drop)
            } else {
                Ok(())
            }
        }
        Rule::Country => {
            coerce::uppercase(s);
            iso::check_country(s)
        }
        Rule::Language => {
            coerce::lowercase(s);
            iso::check_language(s)
        }
        Rule::PhoneInternational => {
            if let Some(e164) = phone::normalise_international(s)? {
                *s = e164;
            }
            Ok(())
        }
        Rule::Guid => {
            if let Some(canonical) = guid::normalise(s)? {
                *s = canonical;
            }
            Ok(())
        }
        Rule::AbitmediaPassword => password::check_abitmedia(s),
        Rule::Length { min, max } => check_length(s, min, max),
    }
}

/// Whether every allowed value reads the same lower-cased (`es`, `en`, `0`).
fn all_lower(allowed: &[&str]) -> bool {
    allowed
        .iter()
        .all(|a| !a.bytes().any(|b| b.is_ascii_uppercase()))
}

/// Whether every allowed value reads the same upper-cased (`H`, `M`).
fn all_upper(allowed: &[&str]) -> bool {
    allowed
        .iter()
        .all(|a| !a.bytes().any(|b| b.is_ascii_lowercase()))
}

/// One of `allowed`: text compared after matching the allowed values' case, numbers by value.
fn check_enum(allowed: &'static [&'static str], value: &mut Value) -> Result<(), Invalid> {
    let ok = match value {
        Value::String(s) => {
            if all_lower(allowed) {
                coerce::lowercase(s);
            } else if all_upper(allowed) {
                coerce::uppercase(s);
            }
            allowed.contains(&s.as_str())
        }
        Value::Number(n) => match n.as_i64() {
            Some(n) => allowed.iter().any(|a| a.parse::<i64>() == Ok(n)),
            None => false,
        },
        Value::Bool(b) => allowed.contains(&if *b { "true" } else { "false" }),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Err(Invalid::new(
        code::INVALID_ENUM,
        format!(
            "{shown} is not one of the allowed values: {}",
            allowed.join(", ")
        ),
    ))
}

/// A length in characters. The message never quotes the value: this guards passwords too.
fn check_length(s: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let chars = s.chars().count();
    if (min..=max).contains(&chars) {
        return Ok(());
    }
    Err(Invalid::new(
        code::INVALID_LENGTH,
        format!("must be {min} to {max} characters long (it has {chars})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::FieldType;
    use serde_json::json;

    const fn def(name: &'static str, ty: FieldType, required: Required, rule: Rule) -> FieldDef {
        FieldDef {
            name,
            ty,
            required,
            rule,
        }
    }

    static TEST: Schema = Schema {
        fields: &[
            def("id", FieldType::String, Required::Always, Rule::None),
            def("email", FieldType::String, Required::OnCreate, Rule::Email),
            def(
                "level",
                FieldType::Integer,
                Required::Optional,
                Rule::Enum(&["0", "2", "4"]),
            ),
            def(
                "sex",
                FieldType::String,
                Required::Optional,
                Rule::Enum(&["H", "M"]),
            ),
            def(
                "lang",
                FieldType::String,
                Required::Optional,
                Rule::Enum(&["es", "en"]),
            ),
            def(
                "id_card",
                FieldType::String,
                Required::Optional,
                Rule::NidIfLike,
            ),
            def("nid", FieldType::String, Required::Optional, Rule::Nid),
            def(
                "pin",
                FieldType::String,
                Required::Optional,
                Rule::Length { min: 6, max: 12 },
            ),
            def("phone", FieldType::String, Required::Optional, Rule::None),
            def(
                "custom_*",
                FieldType::StringOrArray,
                Required::Optional,
                Rule::None,
            ),
            def(
                "custom_email",
                FieldType::String,
                Required::Optional,
                Rule::Email,
            ),
        ],
        cross: |_, _| {},
    };

    fn payload(v: serde_json::Value) -> Payload {
        match v {
            serde_json::Value::Object(map) => map.into(),
            other => panic!("not an object: {other}"),
        }
    }

    fn run(v: serde_json::Value, ctx: &Context<'_>) -> (Payload, Vec<FieldError>) {
        let mut p = payload(v);
        let errors = validate(&TEST, &mut p, ctx);
        (p, errors)
    }

    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn empty_and_null_are_absent_not_invalid() {
        let (p, errors) = run(
            json!({"id": " 7 ", "email": "a@b.es", "level": "  ", "nid": null, "sex": ""}),
            &Context::default(),
        );
        assert_eq!(errors, vec![]);
        assert_eq!(p, payload(json!({"id": "7", "email": "a@b.es"})));
    }

    #[test]
    fn required_fields_are_reported_unless_partial() {
        let (_, errors) = run(json!({"id": "", "level": "2"}), &Context::default());
        assert_eq!(codes(&errors), [("id", "required"), ("email", "required")]);
        assert_eq!(
            errors[0].message,
            "id is required, but the row has no value for it"
        );

        let partial = Context {
            partial: true,
            ..Context::default()
        };
        let (_, errors) = run(json!({"level": "2"}), &partial);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn config_marked_fields_are_required_too() {
        let extra = vec!["phone".to_string(), "custom_9".to_string()];
        let ctx = Context {
            extra_required: &extra,
            ..Context::default()
        };
        let (_, errors) = run(json!({"id": "1", "email": "a@b.es"}), &ctx);
        assert_eq!(
            codes(&errors),
            [("phone", "required"), ("custom_9", "required")]
        );
        let (_, errors) = run(
            json!({"id": "1", "email": "a@b.es", "phone": "1", "custom_9": "x"}),
            &ctx,
        );
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn every_error_of_the_row_is_returned_at_once() {
        let (_, errors) = run(
            json!({
                "email": "not-an-email",
                "level": "3",
                "sex": "x",
                "nid": "12345678A",
                "pin": "12345",
            }),
            &Context::default(),
        );
        assert_eq!(
            codes(&errors),
            [
                ("id", "required"),
                ("email", "invalid_email"),
                ("level", "invalid_enum"),
                ("sex", "invalid_enum"),
                ("nid", "invalid_nid"),
                ("pin", "invalid_length"),
            ]
        );
        assert_eq!(
            errors[2].message,
            "3 is not one of the allowed values: 0, 2, 4"
        );
        assert_eq!(
            errors[3].message,
            "X is not one of the allowed values: H, M"
        );
        assert_eq!(
            errors[5].message,
            "must be 6 to 12 characters long (it has 5)"
        );
    }

    #[test]
    fn values_are_normalised_in_place() {
        let (p, errors) = run(
            json!({
                "id": 42,
                "email": " Ana.Garcia@Empresa.ES ",
                "level": "4",
                "sex": "h",
                "lang": "EN",
                "nid": "12.345.678-z",
            }),
            &Context::default(),
        );
        assert_eq!(errors, vec![]);
        assert_eq!(
            p,
            payload(json!({
                "id": "42",
                "email": "ana.garcia@empresa.es",
                "level": 4,
                "sex": "H",
                "lang": "en",
                "nid": "12345678Z",
            }))
        );
    }

    #[test]
    fn nid_if_like_checks_only_what_looks_like_a_dni_or_nie() {
        let base = || json!({"id": "1", "email": "a@b.es"});
        for (card, want) in [
            ("PAA123456", None),
            ("x1234567l", None),
            ("12345678-Z", None),
            ("12345678A", Some("invalid_nid")),
        ] {
            let mut v = base();
            v["id_card"] = json!(card);
            let (_, errors) = run(v, &Context::default());
            assert_eq!(errors.first().map(|e| e.code.as_str()), want, "{card}");
        }
        let mut v = base();
        v["id_card"] = json!("12345678-z");
        let (p, _) = run(v, &Context::default());
        assert_eq!(p["id_card"], json!("12345678Z"));
    }

    #[test]
    fn wildcard_fields_match_by_prefix_and_exact_names_win() {
        assert_eq!(TEST.field("custom_12").map(|d| d.name), Some("custom_*"));
        assert_eq!(
            TEST.field("custom_email").map(|d| d.name),
            Some("custom_email")
        );
        assert!(TEST.field("custom_").is_none());
        assert!(TEST.field("nope").is_none());
        let (p, errors) = run(
            json!({
                "id": "1",
                "email": "a@b.es",
                "custom_1": " x ",
                "custom_2": ["a", "b"],
                "custom_3": {"no": 1},
                "custom_email": "broken",
            }),
            &Context::default(),
        );
        assert_eq!(
            codes(&errors),
            [
                ("custom_3", "invalid_type"),
                ("custom_email", "invalid_email")
            ]
        );
        assert_eq!(p["custom_1"], json!("x"));
    }

    #[test]
    fn unknown_fields_are_left_alone() {
        let (p, errors) = run(
            json!({"id": "1", "email": "a@b.es", "other": {"x": 1}, "n": 5}),
            &Context::default(),
        );
        assert_eq!(errors, vec![]);
        assert_eq!(p["other"], json!({"x": 1}));
        assert_eq!(p["n"], json!(5));
    }

    #[test]
    fn a_type_error_skips_the_rule() {
        let (_, errors) = run(
            json!({"id": "1", "email": "a@b.es", "level": "two"}),
            &Context::default(),
        );
        assert_eq!(codes(&errors), [("level", "invalid_type")]);
        assert_eq!(errors[0].message, "two is not a whole number");
    }
}
