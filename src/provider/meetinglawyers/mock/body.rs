//! The bodies MeetingLawyers' mock accepts: the create and update tables of its pages as data
//! ([`FIELDS`]) and the checks of each field's value. The rules, with the page lines they rest
//! on, are listed in the opening of `mock.rs`.

use serde_json::Value;

use crate::mock::checks::{self, kind_of};
use crate::mock::MockOptions;
use crate::payload::Payload;
use crate::validate::FieldError;

/// What a field's value must be, by the pages' Type and Value columns.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Email,
    Nid,
    Phone,
    Date,
    /// Two letters: an ISO 3166-1 country or ISO 639-1 language code.
    Code,
    /// A JSON integer, one of these.
    Numeric(&'static [i64]),
}

/// The create table (create:17-34). The update table is the same without `user_id` (and
/// without `has_video_call_1to1`, which its example sends anyway).
const FIELDS: &[(&str, Kind)] = &[
    ("user_id", Kind::Text),
    ("status", Kind::Numeric(&[0, 2, 4])),
    ("email", Kind::Email),
    ("nid_number", Kind::Nid),
    ("first_name", Kind::Text),
    ("last_name", Kind::Text),
    ("gender", Kind::Numeric(&[0, 1])),
    ("birthdate", Kind::Date),
    ("mobile_phone", Kind::Phone),
    ("coverage_name", Kind::Text),
    ("contract_number", Kind::Text),
    ("service_language_code", Kind::Code),
    ("description", Kind::Text),
    ("has_video_call", Kind::Numeric(&[0, 1])),
    ("has_video_call_1to1", Kind::Numeric(&[0, 1])),
    ("country_code", Kind::Code),
    ("ml_group_name", Kind::Text),
    ("md_group_name", Kind::Text),
];

/// Which request a body came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Create,
    Put,
    Patch,
}

/// The field `name` may carry on `route`, and what its value must be.
fn kind(route: Route, name: &str) -> Option<Kind> {
    if route != Route::Create && name == "user_id" {
        return None;
    }
    FIELDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// A mobile phone number: after an optional `+`, digits with spaces or hyphens, 6 to 15 digits.
fn phone(text: &str) -> Result<(), String> {
    let rest = text.strip_prefix('+').unwrap_or(text);
    let digits = rest.bytes().filter(u8::is_ascii_digit).count();
    let charset = rest
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-');
    if charset && (6..=15).contains(&digits) && rest.starts_with(|c: char| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("{text:?} is not a mobile phone number"))
    }
}

/// Why `value` is not a `kind`: (code, message).
fn check_value(name: &str, kind: Kind, value: &Value) -> Result<(), (&'static str, String)> {
    if let Kind::Numeric(allowed) = kind {
        let Some(n) = value.as_i64().filter(|_| !value.is_f64()) else {
            let found = kind_of(value);
            return Err((
                "invalid_type",
                format!("{name} must be Numeric, not {found}"),
            ));
        };
        if allowed.contains(&n) {
            return Ok(());
        }
        let allowed: Vec<String> = allowed.iter().map(i64::to_string).collect();
        let message = format!("{name} must be one of {}, not {n}", allowed.join(", "));
        return Err(("invalid_value", message));
    }
    let Some(text) = value.as_str() else {
        let expected = if matches!(kind, Kind::Date) {
            "a Date"
        } else {
            "a String"
        };
        let found = kind_of(value);
        return Err((
            "invalid_type",
            format!("{name} must be {expected}, not {found}"),
        ));
    };
    let (code, checked) = match kind {
        Kind::Text if name == "user_id" && text.trim().is_empty() => {
            ("required", Err("user_id must not be empty".to_string()))
        }
        Kind::Text | Kind::Numeric(_) => return Ok(()),
        Kind::Email => ("invalid_email", checks::email(text)),
        Kind::Nid => ("invalid_nid", checks::dni_or_nie(text)),
        Kind::Phone => ("invalid_phone", phone(text)),
        Kind::Date => ("invalid_date", checks::date(text)),
        Kind::Code => ("invalid_code", checks::two_letters(text)),
    };
    checked.map_err(|message| (code, format!("{name}: {message}")))
}

/// Every problem of `body` sent on `route`, by the rules above.
pub(super) fn check_body(route: Route, body: &Payload, opts: &MockOptions) -> Vec<FieldError> {
    let mut required = vec!["status"];
    match route {
        Route::Create => required.insert(0, "user_id"),
        Route::Patch if opts.meetinglawyers_patch_without_status => required.clear(),
        Route::Put | Route::Patch => {}
    }
    let mut errors = Vec::new();
    for (name, value) in body.iter() {
        let Some(kind) = kind(route, name) else {
            let message = format!("{name} is not a field of this request");
            errors.push(FieldError::new(name, "unknown_field", message));
            continue;
        };
        if value.is_null() {
            let clearable = opts.null_clears && !matches!(name, "user_id" | "status");
            if name != "description" && !clearable {
                let message = format!("{name} cannot be null (only description can)");
                errors.push(FieldError::new(name, "null", message));
            }
            continue;
        }
        if let Err((code, message)) = check_value(name, kind, value) {
            errors.push(FieldError::new(name, code, message));
        }
    }
    for name in required {
        if !body.contains_key(name) {
            errors.push(FieldError::new(
                name,
                "required",
                format!("{name} is required"),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Payload {
        value.as_object().unwrap().clone().into()
    }

    fn problems(route: Route, value: Value, opts: &MockOptions) -> Vec<(String, String)> {
        check_body(route, &body(value), opts)
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_string(), code.to_string())
    }

    #[test]
    fn types_enums_and_formats_follow_the_tables() {
        let strict = MockOptions::default();
        let got = problems(
            Route::Create,
            serde_json::json!({"user_id": 7, "status": "2", "gender": 2, "birthdate": "1980-02-30",
                "nid_number": "12345678A", "email": "ana@example", "country_code": "ESP",
                "mobile_phone": "call me", "has_video_call": 1.0, "nickname": "x"}),
            &strict,
        );
        assert_eq!(
            got,
            [
                pair("birthdate", "invalid_date"),
                pair("country_code", "invalid_code"),
                pair("email", "invalid_email"),
                pair("gender", "invalid_value"),
                pair("has_video_call", "invalid_type"),
                pair("mobile_phone", "invalid_phone"),
                pair("nickname", "unknown_field"),
                pair("nid_number", "invalid_nid"),
                pair("status", "invalid_type"),
                pair("user_id", "invalid_type"),
            ]
        );
    }

    #[test]
    fn status_is_required_on_every_route_unless_a_patch_is_lenient() {
        let strict = MockOptions::default();
        let lenient = MockOptions {
            meetinglawyers_patch_without_status: true,
            ..MockOptions::default()
        };
        let bare = || serde_json::json!({"first_name": "Ana"});
        assert_eq!(
            problems(Route::Create, bare(), &strict),
            [pair("user_id", "required"), pair("status", "required")]
        );
        assert_eq!(
            problems(Route::Put, bare(), &lenient),
            [pair("status", "required")]
        );
        assert_eq!(
            problems(Route::Patch, bare(), &strict),
            [pair("status", "required")]
        );
        assert!(problems(Route::Patch, bare(), &lenient).is_empty());
    }

    #[test]
    fn null_is_only_for_description_unless_clears_are_allowed() {
        let strict = MockOptions::default();
        let clears = MockOptions {
            null_clears: true,
            ..MockOptions::default()
        };
        let sent = || serde_json::json!({"status": 2, "description": null, "email": null});
        assert_eq!(
            problems(Route::Patch, sent(), &strict),
            [pair("email", "null")]
        );
        assert!(problems(Route::Patch, sent(), &clears).is_empty());
        let no_status = serde_json::json!({"status": null});
        assert_eq!(
            problems(Route::Patch, no_status, &clears),
            [pair("status", "null")]
        );
    }

    #[test]
    fn updates_take_no_user_id_but_do_take_video_calls_one_to_one() {
        let strict = MockOptions::default();
        let sent = serde_json::json!({"status": 2, "user_id": "u1", "has_video_call_1to1": 0});
        assert_eq!(
            problems(Route::Put, sent, &strict),
            [pair("user_id", "unknown_field")]
        );
    }

    #[test]
    fn phones_are_digits_after_an_optional_plus() {
        for good in ["600000000", "+34 600 000 000", "600-00-00-00"] {
            assert!(phone(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "12345",
            "+",
            "600000000x",
            "(600) 000000",
            "+-600000000",
        ] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }
}
