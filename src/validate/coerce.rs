//! Turning mapped values into the JSON a provider expects: trimming, case, and CSV strings into
//! numbers, booleans, dates, arrays and objects.
//!
//! A CSV cell is always a string, while a JSONL value already has a type; both end up as the
//! same canonical JSON, so that the ledger's hash of a user does not depend on the input format.
//! Everything here works in place and allocates only when a value actually changes.

use serde_json::{Number, Value};

use super::{code, date, FieldType, Invalid};

/// Trims surrounding whitespace in place, without allocating.
pub fn trim_in_place(s: &mut String) {
    // The usual case, decided on two bytes: nothing to trim.
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (None, _) => return,
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => return,
        _ => {}
    }
    let end = s.trim_end().len();
    s.truncate(end);
    let start = s.len() - s.trim_start().len();
    if start > 0 {
        s.drain(..start);
    }
}

/// Trims a string value in place and tells whether the value counts as absent: JSON null, or a
/// string that is empty once trimmed. An absent field is never invalid, only maybe required.
pub fn trim_and_check_absent(value: &mut Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => {
            trim_in_place(s);
            s.is_empty()
        }
        _ => false,
    }
}

/// Lower-cases in place (in place and allocation-free for ASCII, the usual case).
pub fn lowercase(s: &mut String) {
    if s.is_ascii() {
        s.make_ascii_lowercase();
    } else if s.chars().any(char::is_uppercase) {
        *s = s.to_lowercase();
    }
}

/// Upper-cases in place (in place and allocation-free for ASCII, the usual case).
pub fn uppercase(s: &mut String) {
    if s.is_ascii() {
        s.make_ascii_uppercase();
    } else if s.chars().any(char::is_lowercase) {
        *s = s.to_uppercase();
    }
}

/// Reads a yes/no answer as HR exports write it: true/false, 1/0, yes/no, si/sí, and the
/// one-letter y/s/n, in any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: &[&str] = &["true", "1", "yes", "si", "sí", "y", "s"];
    const FALSE: &[&str] = &["false", "0", "no", "n"];
    let is = |words: &[&str]| words.iter().any(|w| eq_ignore_case(s, w));
    if is(TRUE) {
        Some(true)
    } else if is(FALSE) {
        Some(false)
    } else {
        None
    }
}

/// Case-insensitive equality with a lower-case word, including non-ASCII letters (`SÍ`).
fn eq_ignore_case(s: &str, lower_word: &str) -> bool {
    if s.is_ascii() {
        s.eq_ignore_ascii_case(lower_word)
    } else {
        s.chars()
            .flat_map(char::to_lowercase)
            .eq(lower_word.chars())
    }
}

/// How a value reads in a message about its type.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(expected: &str, value: &Value) -> Invalid {
    Invalid::new(
        code::INVALID_TYPE,
        format!("expected {expected}, got {}", describe(value)),
    )
}

/// Converts `value` to `ty` in place, or says why it cannot be. Strings are expected trimmed.
pub fn to_type(ty: FieldType, value: &mut Value) -> Result<(), Invalid> {
    match ty {
        FieldType::String => to_string(value, "text"),
        FieldType::Integer => to_integer(value),
        FieldType::Boolean => to_boolean(value),
        FieldType::Date => match value {
            Value::String(s) => date::check_date(s),
            other => Err(wrong_type("a date YYYY-MM-DD", other)),
        },
        FieldType::DateTime => match value {
            Value::String(s) => date::normalise_datetime(s),
            other => Err(wrong_type("a date-time YYYY-MM-DDTHH:MM:SS", other)),
        },
        FieldType::Array => to_array(value),
        FieldType::Json => to_json(value),
        FieldType::StringOrArray => match value {
            Value::Array(_) => Ok(()),
            _ => to_string(value, "text or a list"),
        },
    }
}

/// Text; a JSONL number (an id written as `123`) becomes its decimal text.
fn to_string(value: &mut Value, expected: &str) -> Result<(), Invalid> {
    match value {
        Value::String(_) => Ok(()),
        Value::Number(n) => {
            *value = Value::String(n.to_string());
            Ok(())
        }
        other => Err(wrong_type(expected, other)),
    }
}

fn to_integer(value: &mut Value) -> Result<(), Invalid> {
    let not_whole =
        |shown: &str| Invalid::new(code::INVALID_TYPE, format!("{shown} is not a whole number"));
    let n = match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => return Ok(()),
        Value::Number(n) => match n.as_f64() {
            // 2.0 from a JSON export is the integer 2; the cast is exact in this range.
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
            _ => return Err(not_whole(&n.to_string())),
        },
        Value::String(s) => s.parse::<i64>().map_err(|_| not_whole(s))?,
        other => return Err(wrong_type("a whole number", other)),
    };
    *value = Value::Number(Number::from(n));
    Ok(())
}

fn to_boolean(value: &mut Value) -> Result<(), Invalid> {
    let b = match value {
        Value::Bool(_) => return Ok(()),
        Value::Number(n) if n.as_u64() == Some(0) => false,
        Value::Number(n) if n.as_u64() == Some(1) => true,
        Value::String(s) => parse_bool(s).ok_or_else(|| {
            Invalid::new(
                code::INVALID_TYPE,
                format!("{s} is not a yes/no value (true/false, 1/0, yes/no, si/no)"),
            )
        })?,
        other => return Err(wrong_type("true/false", other)),
    };
    *value = Value::Bool(b);
    Ok(())
}

/// Parses a CSV cell that holds JSON (`[1, 2]`, `{"a": 1}`), or `None` if it does not.
fn parse_embedded_json(s: &str) -> Option<Value> {
    if s.starts_with('[') || s.starts_with('{') {
        serde_json::from_str(s).ok()
    } else {
        None
    }
}

fn to_array(value: &mut Value) -> Result<(), Invalid> {
    let parsed = match value {
        Value::Array(_) => return Ok(()),
        Value::String(s) => parse_embedded_json(s).filter(Value::is_array),
        _ => None,
    };
    match parsed {
        Some(array) => {
            *value = array;
            Ok(())
        }
        None => Err(Invalid::new(
            code::INVALID_TYPE,
            format!(
                "expected a list, got {} (use `split` in the field mapping to turn a cell \
                 into a list)",
                describe(value)
            ),
        )),
    }
}

fn to_json(value: &mut Value) -> Result<(), Invalid> {
    let parsed = match value {
        Value::Array(_) | Value::Object(_) => return Ok(()),
        Value::String(s) => parse_embedded_json(s),
        _ => None,
    };
    match parsed {
        Some(json) => {
            *value = json;
            Ok(())
        }
        None => Err(wrong_type("a JSON object or list", value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn coerce(ty: FieldType, v: Value) -> Result<Value, Invalid> {
        let mut v = v;
        to_type(ty, &mut v).map(|()| v)
    }

    #[test]
    fn trimming_happens_in_place() {
        let mut s = "  Ana María \t".to_string();
        trim_in_place(&mut s);
        assert_eq!(s, "Ana María");
        let mut v = json!("   ");
        assert!(trim_and_check_absent(&mut v));
        assert!(trim_and_check_absent(&mut Value::Null));
        assert!(!trim_and_check_absent(&mut json!(0)));
    }

    #[test]
    fn csv_integers_become_json_numbers() {
        assert_eq!(coerce(FieldType::Integer, json!("2")), Ok(json!(2)));
        assert_eq!(coerce(FieldType::Integer, json!("-7")), Ok(json!(-7)));
        assert_eq!(coerce(FieldType::Integer, json!(4)), Ok(json!(4)));
        assert_eq!(coerce(FieldType::Integer, json!(2.0)), Ok(json!(2)));
        for bad in [
            json!("2.5"),
            json!("abc"),
            json!(2.5),
            json!(true),
            json!([1]),
        ] {
            let err = coerce(FieldType::Integer, bad.clone()).unwrap_err();
            assert_eq!(err.code, "invalid_type", "{bad}");
        }
        assert_eq!(
            coerce(FieldType::Integer, json!("2.5"))
                .unwrap_err()
                .message,
            "2.5 is not a whole number"
        );
    }

    #[test]
    fn yes_no_answers_become_booleans() {
        for yes in [
            "true", "TRUE", "1", "yes", "Yes", "si", "SI", "sí", "SÍ", "Sí",
        ] {
            assert_eq!(
                coerce(FieldType::Boolean, json!(yes)),
                Ok(json!(true)),
                "{yes}"
            );
        }
        for no in ["false", "False", "0", "no", "NO"] {
            assert_eq!(
                coerce(FieldType::Boolean, json!(no)),
                Ok(json!(false)),
                "{no}"
            );
        }
        assert_eq!(coerce(FieldType::Boolean, json!(1)), Ok(json!(true)));
        assert_eq!(coerce(FieldType::Boolean, json!(false)), Ok(json!(false)));
        let err = coerce(FieldType::Boolean, json!("maybe")).unwrap_err();
        assert_eq!(err.code, "invalid_type");
        assert!(err.message.starts_with("maybe is not a yes/no value"));
        assert!(coerce(FieldType::Boolean, json!(2)).is_err());
    }

    #[test]
    fn strings_take_jsonl_numbers_as_text() {
        assert_eq!(coerce(FieldType::String, json!(123)), Ok(json!("123")));
        assert_eq!(coerce(FieldType::String, json!("x")), Ok(json!("x")));
        let err = coerce(FieldType::String, json!({"a": 1})).unwrap_err();
        assert_eq!(err.message, "expected text, got an object");
    }

    #[test]
    fn arrays_and_json_accept_structures_and_embedded_json() {
        assert_eq!(coerce(FieldType::Array, json!([1, 2])), Ok(json!([1, 2])));
        assert_eq!(coerce(FieldType::Array, json!("[1, 2]")), Ok(json!([1, 2])));
        let err = coerce(FieldType::Array, json!("1,2")).unwrap_err();
        assert_eq!(err.code, "invalid_type");
        assert!(err.message.contains("split"));
        assert_eq!(
            coerce(FieldType::Json, json!(r#"[{"companyId": 1}]"#)),
            Ok(json!([{"companyId": 1}]))
        );
        assert_eq!(
            coerce(FieldType::Json, json!({"a": 1})),
            Ok(json!({"a": 1}))
        );
        assert!(coerce(FieldType::Json, json!("plain")).is_err());
        assert!(coerce(FieldType::Json, json!(3)).is_err());
    }

    #[test]
    fn string_or_array_takes_either() {
        assert_eq!(coerce(FieldType::StringOrArray, json!("a")), Ok(json!("a")));
        assert_eq!(
            coerce(FieldType::StringOrArray, json!(["a"])),
            Ok(json!(["a"]))
        );
        assert!(coerce(FieldType::StringOrArray, json!({"a": 1})).is_err());
    }

    #[test]
    fn dates_are_checked_and_date_times_normalised() {
        assert_eq!(
            coerce(FieldType::Date, json!("2024-02-29")),
            Ok(json!("2024-02-29"))
        );
        assert_eq!(
            coerce(FieldType::Date, json!("2023-02-29"))
                .unwrap_err()
                .code,
            "invalid_date"
        );
        assert_eq!(
            coerce(FieldType::DateTime, json!("1985-02-01")),
            Ok(json!("1985-02-01T00:00:00"))
        );
        assert_eq!(
            coerce(FieldType::Date, json!(19800101)).unwrap_err().code,
            "invalid_type"
        );
    }

    #[test]
    fn case_changes_handle_accents() {
        let mut s = "ANA@EMPRESA.ES".to_string();
        lowercase(&mut s);
        assert_eq!(s, "ana@empresa.es");
        let mut s = "ÁLVARO@EMPRESA.ES".to_string();
        lowercase(&mut s);
        assert_eq!(s, "álvaro@empresa.es");
        let mut s = "es".to_string();
        uppercase(&mut s);
        assert_eq!(s, "ES");
    }
}
