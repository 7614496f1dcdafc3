//! The bodies Abitmedia's mock accepts on create and update: the attributes of the user update
//! page, which of them each request requires, and the checks of each value. The rules, with
//! the page lines they rest on, are listed in the opening of `mock.rs`.

use serde_json::Value;

use crate::mock::checks::{self, kind_of};
use crate::mock::MockOptions;
use crate::payload::Payload;
use crate::validate::FieldError;

/// The fields the page marks required ("Si", page:20-29).
const REQUIRED: &[&str] = &[
    "language",
    "firstName",
    "lastName",
    "email",
    "password",
    "cellPhoneNumber",
    "address",
    "birthday",
    "companies",
];
/// The optional fields (page:28, 30).
const OPTIONAL: &[&str] = &["isAbitmedia", "status"];
/// The response's own attributes (page:164, 181-182), ignored in a request body.
pub(super) const READ_ONLY: &[&str] = &["id", "createdAt", "updateAt"];
/// Which request a body came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Create,
    Update,
}

/// At least 8 characters, with a symbol, a digit and an upper-case letter (page:24).
fn password(text: &str) -> Result<(), String> {
    let mut missing = Vec::new();
    if text.chars().count() < 8 {
        missing.push("8 caracteres");
    }
    if !text
        .chars()
        .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
    {
        missing.push("un símbolo");
    }
    if !text.chars().any(|c| c.is_ascii_digit()) {
        missing.push("un número");
    }
    if !text.chars().any(char::is_uppercase) {
        missing.push("una letra mayúscula");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("la contraseña necesita {}", missing.join(", ")))
    }
}

/// `+`, the country code and the number: digits only, 8 to 15 of them, not starting with 0
/// (page:25, `+593984535283`).
fn cell_phone(text: &str) -> Result<(), String> {
    let digits = text.strip_prefix('+').unwrap_or_default();
    let valid = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{text:?} debe incluir el código del país, p. ej. +593984535283"
        ))
    }
}

/// A non-empty array of `{companyId: integer, roleId: integer, isAdmin: boolean}`.
fn companies(value: &Value) -> Result<(), String> {
    let shape = "companies debe ser un array no vacío de {companyId, roleId, isAdmin}";
    let items = value
        .as_array()
        .filter(|items| !items.is_empty())
        .ok_or_else(|| shape.to_string())?;
    for item in items {
        let object = item.as_object().filter(|o| o.len() == 3);
        let get = |key| object.and_then(|o| o.get(key));
        let integer = |key| get(key).is_some_and(|v| v.is_i64() || v.is_u64());
        let typed = integer("companyId")
            && integer("roleId")
            && get("isAdmin").is_some_and(Value::is_boolean);
        if !typed {
            return Err(format!("{shape}: {item} no lo es"));
        }
    }
    Ok(())
}

/// Why `value` is not a valid `name`.
fn check_value(name: &str, value: &Value) -> Result<(), String> {
    let string = || {
        value
            .as_str()
            .ok_or_else(|| format!("{name} debe ser un string, no {}", kind_of(value)))
    };
    match name {
        "language" => match string()? {
            "es" | "en" => Ok(()),
            other => Err(format!("language debe ser es o en, no {other:?}")),
        },
        "firstName" | "lastName" | "address" => string().map(|_| ()),
        "email" => checks::email(string()?),
        "password" => password(string()?),
        "cellPhoneNumber" => cell_phone(string()?),
        "birthday" => checks::date(string()?),
        "companies" => companies(value),
        "isAbitmedia" if value.is_boolean() => Ok(()),
        "isAbitmedia" => Err(format!(
            "isAbitmedia debe ser boolean, no {}",
            kind_of(value)
        )),
        _ => match value.as_i64().filter(|_| !value.is_f64()) {
            Some(0..=2) => Ok(()),
            _ => Err(format!("status debe ser 0, 1 o 2, no {value}")),
        },
    }
}

/// Every problem of `body` sent on `route`, by the rules above.
pub(super) fn check_body(route: Route, body: &Payload, opts: &MockOptions) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, code: &str, message: String| {
        errors.push(FieldError::new(field, code, message));
    };
    for (name, value) in body.iter() {
        if READ_ONLY.contains(&name) {
            continue;
        }
        if !REQUIRED.contains(&name) && !OPTIONAL.contains(&name) {
            fail(
                name,
                "unknown_field",
                format!("{name} no es un atributo del recurso"),
            );
        } else if value.is_null() {
            if !(opts.null_clears && name == "isAbitmedia") {
                fail(name, "null", format!("{name} no puede ser null"));
            }
        } else if let Err(message) = check_value(name, value) {
            fail(name, "invalid", message);
        }
    }
    let status_only = body.len() == 1 && body.contains_key("status");
    if route == Route::Update && status_only && opts.abitmedia_status_only_update {
        return errors;
    }
    for name in REQUIRED {
        if route == Route::Update && *name == "password" {
            continue;
        }
        let blank = match body.get(name) {
            None => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if blank && !errors.iter().any(|e| e.field == *name) {
            errors.push(FieldError::new(
                *name,
                "required",
                format!("{name} es requerido"),
            ));
        }
    }
    errors
}

/// `body` as stored: without the read-only attributes and the nulls.
pub(super) fn storable(body: &Payload) -> Payload {
    body.iter()
        .filter(|(name, value)| !value.is_null() && !READ_ONLY.contains(name))
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(route: Route, value: Value, opts: &MockOptions) -> Vec<(String, String)> {
        let body: Payload = value.as_object().unwrap().clone().into();
        check_body(route, &body, opts)
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_string(), code.to_string())
    }

    fn person() -> Value {
        json!({"language": "es", "firstName": "Ana", "lastName": "Ruiz",
            "email": "ana@example.com", "cellPhoneNumber": "+593984535283",
            "address": "Av. Amazonas 1", "birthday": "1990-05-15",
            "companies": [{"companyId": 1, "isAdmin": false, "roleId": 2}]})
    }

    #[test]
    fn a_create_needs_the_password_an_update_does_not() {
        let strict = MockOptions::default();
        assert_eq!(
            problems(Route::Create, person(), &strict),
            [pair("password", "required")]
        );
        assert!(problems(Route::Update, person(), &strict).is_empty());
        let mut weak = person();
        weak["password"] = json!("secreta1");
        assert_eq!(
            problems(Route::Update, weak, &strict),
            [pair("password", "invalid")]
        );
    }

    #[test]
    fn a_status_only_update_is_refused_unless_asked_for() {
        let status = || json!({"status": 0});
        let missing = problems(Route::Update, status(), &MockOptions::default());
        assert_eq!(missing.len(), REQUIRED.len() - 1);
        assert!(missing.iter().all(|(_, code)| code == "required"));
        let lenient = MockOptions {
            abitmedia_status_only_update: true,
            ..MockOptions::default()
        };
        assert!(problems(Route::Update, status(), &lenient).is_empty());
        assert_eq!(
            problems(Route::Update, json!({"status": 3}), &lenient),
            [pair("status", "invalid")]
        );
    }

    #[test]
    fn each_field_keeps_its_page_rule() {
        let mut sent = person();
        sent["language"] = json!("ES");
        sent["cellPhoneNumber"] = json!("0984535283");
        sent["birthday"] = json!("1990-02-30");
        sent["companies"] = json!([{"companyId": "1", "isAdmin": false, "roleId": 2}]);
        sent["isAbitmedia"] = json!("no");
        sent["nickname"] = json!("x");
        sent["id"] = json!(1);
        sent["address"] = Value::Null;
        let got = problems(Route::Update, sent, &MockOptions::default());
        assert_eq!(
            got,
            [
                pair("address", "null"),
                pair("birthday", "invalid"),
                pair("cellPhoneNumber", "invalid"),
                pair("companies", "invalid"),
                pair("isAbitmedia", "invalid"),
                pair("language", "invalid"),
                pair("nickname", "unknown_field"),
            ]
        );
        assert!(companies(&json!([])).is_err());
        assert!(password("Secreta-1").is_ok());
        assert!(password("SECRETA-A").is_err());
        assert!(password("Secreta 1").is_err(), "a space is no symbol");
    }
}
