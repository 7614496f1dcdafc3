//! What the GNOSS mock accepts in a `user/` body, written from the `user/modify-user` page and
//! the provider notes, apart from the adapter's schema, so that a body the adapter lets through
//! but GNOSS would refuse is refused here too.
//!
//! - Types as the page gives them: GUIDs (`community_id`, `user_id`, `country_id`,
//!   `province_id`), dates (`born_date`, `join_community_date`, `last_login`: `YYYY-MM-DD` or
//!   `YYYY-MM-DDTHH:MM:SS`), `sex` `H` or `M`, `receive_newsletter` a JSON boolean, `num_access`
//!   a JSON integer (a .NET `int`), the collections lists of objects with typed members
//!   (`ExtraUserData`, `UserEvent`, `ThesaurusCategory`); every other field a string (a number
//!   or boolean is taken as its text, as the .NET model binder does).
//! - Empty values (`null`, blank strings, empty lists) are skipped: a partial update.
//! - Unknown fields (and unknown members of a collection's objects) are ignored and not kept, as
//!   the .NET model binder ignores unknown properties. Names match whatever their case, as the
//!   binder matches them; they are kept under the page's spelling.
//! - Assumed where the page is silent: a GUID may be written in .NET's `D`, `N`, `B` or `P`
//!   form (kept lower-case and hyphenated); `parent_category_id` is a string (the notes type
//!   only `category_id`); an `email` must be a plausible address and a `password` 6 to 12
//!   characters wherever they are sent.

use serde_json::{Map, Value};

use crate::payload::Payload;
use crate::validate::FieldError;

/// The type of a field or of a collection's member.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Guid,
    Date,
    Sex,
    Boolean,
    Integer,
    Email,
    Password,
    /// A list of objects with these members.
    List(&'static [(&'static str, Kind)]),
}

use Kind::*;

/// `ExtraUserData`.
const EXTRA_DATA: &[(&str, Kind)] = &[
    ("name_id", Guid),
    ("name", Text),
    ("value_id", Guid),
    ("value", Text),
    ("short_name", Text),
];

/// `UserEvent`.
const USER_EVENT: &[(&str, Kind)] = &[("event_id", Guid), ("name", Text), ("Date", Date)];

/// `ThesaurusCategory`.
const THESAURUS_CATEGORY: &[(&str, Kind)] = &[
    ("category_id", Guid),
    ("category_name", Text),
    ("parent_category_id", Text),
];

/// The body parameters of the page, in its order (`provice` and `languaje` spelt as there).
const FIELDS: &[(&str, Kind)] = &[
    ("name", Text),
    ("last_name", Text),
    ("email", Email),
    ("password", Password),
    ("extra_data", List(EXTRA_DATA)),
    ("user_events", List(USER_EVENT)),
    ("aux_data", Text),
    ("community_id", Guid),
    ("community_short_name", Text),
    ("user_short_name", Text),
    ("user_id", Guid),
    ("id_card", Text),
    ("born_date", Date),
    ("country_id", Guid),
    ("country", Text),
    ("province_id", Guid),
    ("provice", Text),
    ("city", Text),
    ("address", Text),
    ("postal_code", Text),
    ("join_community_date", Date),
    ("sex", Sex),
    ("preferences", List(THESAURUS_CATEGORY)),
    ("receive_newsletter", Boolean),
    ("languaje", Text),
    ("photo", Text),
    ("num_access", Integer),
    ("last_login", Date),
];

/// What `create-user` requires.
pub const CREATE_REQUIRED: &[&str] = &["name", "last_name", "email"];
/// What names the user in `modify-user`, `block` and `unblock`.
pub const MEMBER_REQUIRED: &[&str] = &["user_id", "community_id"];

/// The body's known, non-empty fields, typed as the page says, with each of `required` present;
/// else one error for each field that is wrong (one `field: message` line each in the answer).
pub fn check(body: &Payload, required: &[&str]) -> Result<Payload, Vec<FieldError>> {
    let mut kept = Payload::new();
    let mut errors = Vec::new();
    for (name, kind) in FIELDS {
        let given = body
            .iter()
            .rev()
            .find(|(key, _)| key.eq_ignore_ascii_case(name));
        match given.map(|(_, value)| typed(name, *kind, value)) {
            Some(Ok(Some(value))) => {
                kept.insert(*name, value);
            }
            Some(Err(error)) => errors.push(error),
            Some(Ok(None)) | None => {}
        }
    }
    for name in required {
        if !kept.contains_key(name) && !errors.iter().any(|e| e.field == *name) {
            errors.push(FieldError::new(
                *name,
                "required",
                format!("{name} is required"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(kept)
    } else {
        Err(errors)
    }
}

fn error(field: &str, code: &str, message: &str) -> FieldError {
    FieldError::new(field, code, message)
}

/// `value` as kept, `None` when empty (skipped), or why it is not of `kind`. Messages never
/// repeat the value (it may be a password).
fn typed(field: &str, kind: Kind, value: &Value) -> Result<Option<Value>, FieldError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::Array(items) if items.is_empty() => return Ok(None),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    let not_text = || error(field, "invalid_type", "The value must be a string");
    let kept = match kind {
        Text => match value {
            Value::String(_) => value.clone(),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            _ => return Err(not_text()),
        },
        Guid => {
            let text = text.ok_or_else(not_text)?;
            let guid = guid(text)
                .ok_or_else(|| error(field, "invalid_guid", "The value is not a valid GUID"))?;
            Value::String(guid)
        }
        Date => {
            let text = text.ok_or_else(not_text)?;
            if !is_date(text.trim()) {
                return Err(error(
                    field,
                    "invalid_date",
                    "The value is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
                ));
            }
            value.clone()
        }
        Sex => match text {
            Some("H" | "M") => value.clone(),
            _ => return Err(error(field, "invalid_enum", "H for male or M for female")),
        },
        Boolean => match value {
            Value::Bool(_) => value.clone(),
            _ => {
                return Err(error(
                    field,
                    "invalid_type",
                    "The value must be true or false",
                ))
            }
        },
        Integer => match value.as_i64().map(i32::try_from) {
            Some(Ok(_)) => value.clone(),
            _ => return Err(error(field, "invalid_type", "The value must be an integer")),
        },
        Email => {
            let text = text.ok_or_else(not_text)?;
            if !is_email(text.trim()) {
                return Err(error(field, "invalid_email", "The email is not valid"));
            }
            value.clone()
        }
        Password => {
            let text = text.ok_or_else(not_text)?;
            if !(6..=12).contains(&text.chars().count()) {
                return Err(error(
                    field,
                    "invalid_length",
                    "The password must have 6 to 12 characters",
                ));
            }
            value.clone()
        }
        List(members) => Value::Array(list(field, members, value)?),
    };
    Ok(Some(kept))
}

/// A collection: a list of objects, each kept with its known, non-empty members.
fn list(
    field: &str,
    members: &[(&'static str, Kind)],
    value: &Value,
) -> Result<Vec<Value>, FieldError> {
    let Value::Array(items) = value else {
        return Err(error(
            field,
            "invalid_type",
            "The value must be a list of objects",
        ));
    };
    let mut kept = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let Value::Object(object) = item else {
            return Err(error(&at, "invalid_type", "Each item must be an object"));
        };
        let mut out = Map::new();
        for (name, kind) in members {
            let given = object
                .iter()
                .rev()
                .find(|(key, _)| key.eq_ignore_ascii_case(name));
            if let Some((_, value)) = given {
                if let Some(value) = typed(&format!("{at}.{name}"), *kind, value)? {
                    out.insert((*name).to_string(), value);
                }
            }
        }
        kept.push(Value::Object(out));
    }
    Ok(kept)
}

/// A GUID in .NET's `D` (hyphenated), `N` (32 digits), `B` (`{D}`) or `P` (`(D)`) form, as
/// lower-case `D`; `None` when it is not one.
pub fn guid(text: &str) -> Option<String> {
    let text = text.trim();
    let inner = ["{}", "()"]
        .iter()
        .find_map(|pair| {
            let (open, close) = pair.split_at(1);
            text.strip_prefix(open)?.strip_suffix(close)
        })
        .unwrap_or(text);
    let bracketed = inner.len() != text.len();
    let digits: String = match inner.len() {
        36 => {
            let hyphens = [8, 13, 18, 23];
            let bytes = inner.as_bytes();
            if hyphens.iter().any(|&i| bytes[i] != b'-') {
                return None;
            }
            inner.chars().filter(|&c| c != '-').collect()
        }
        32 if !bracketed => inner.to_string(),
        _ => return None,
    };
    if digits.len() != 32 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let d = digits.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &d[..8],
        &d[8..12],
        &d[12..16],
        &d[16..20],
        &d[20..]
    ))
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS`, a real day and time.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let day = (b.len() == 10 || b.len() == 19) && b[4] == b'-' && b[7] == b'-';
    let Some((year, month, date)) = day
        .then(|| Some((number(0..4)?, number(5..7)?, number(8..10)?)))
        .flatten()
    else {
        return false;
    };
    let Ok(year) = i32::try_from(year) else {
        return false;
    };
    if chrono::NaiveDate::from_ymd_opt(year, month, date).is_none() {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    if b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return false;
    }
    matches!(
        (number(11..13), number(14..16), number(17..19)),
        (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60
    )
}

/// A plausible e-mail address: one `@` between a local part and a dotted domain, no spaces,
/// no empty dot-separated parts.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let parts_ok = |s: &str| !s.is_empty() && s.split('.').all(|part| !part.is_empty());
    !domain.contains('@')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && parts_ok(local)
        && parts_ok(domain)
        && domain.contains('.')
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
