//! The small value checks the providers' mocks apply, written here from the providers' pages
//! rather than borrowed from usersync's own validation (`crate::validate`): a mock that shared
//! usersync's rules would agree with usersync by construction, and no test could show usersync
//! misreading a page. Each check is the plain reading of a page's words ("a valid email", "a
//! valid dni or nie", "ISO8601 Date (YYYY-MM-DD)"), and says why a value fails.

use serde_json::Value;

/// What a JSON value is, for a message ("a number", "null").
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An e-mail address: one `@`, something before it, a dot inside the domain after it, no
/// spaces.
pub fn email(text: &str) -> Result<(), String> {
    let fail = || Err(format!("{text:?} is not a valid email"));
    if text.chars().any(char::is_whitespace) || text.matches('@').count() != 1 {
        return fail();
    }
    let Some((local, domain)) = text.split_once('@') else {
        return fail();
    };
    let dotted = domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    if local.is_empty() || !dotted || domain.contains("..") {
        return fail();
    }
    Ok(())
}

/// A date written `YYYY-MM-DD` that exists in the calendar.
pub fn date(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return Err(format!("{text:?} is not a date written YYYY-MM-DD"));
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let exists = i32::try_from(year)
        .ok()
        .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, month, day))
        .is_some();
    if exists {
        Ok(())
    } else {
        Err(format!("{text:?} is not a day of the calendar"))
    }
}

/// Two ASCII letters, in either case: an ISO 3166-1 alpha-2 country or ISO 639-1 language
/// code, by its shape (the mock keeps no list of the codes in force).
pub fn two_letters(text: &str) -> Result<(), String> {
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(())
    } else {
        Err(format!("{text:?} is not a two-letter ISO code"))
    }
}

/// The check letters of a DNI, by the number modulo 23.
const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// A Spanish DNI (8 digits and their check letter) or NIE (X, Y or Z, 7 digits and the check
/// letter of the number with X, Y, Z read as 0, 1, 2), upper case, with no separators.
pub fn dni_or_nie(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    if !text.is_ascii() {
        return Err(format!("{text:?} is not a DNI or NIE"));
    }
    let (number, kind) = match bytes.first() {
        Some(b'X' | b'Y' | b'Z') if bytes.len() == 9 => {
            let lead = char::from(b'0' + (bytes[0] - b'X'));
            (format!("{lead}{}", &text[1..8]), "NIE")
        }
        Some(b'0'..=b'9') if bytes.len() == 9 => (text[..8].to_string(), "DNI"),
        _ => return Err(format!("{text:?} is not a DNI or NIE")),
    };
    let Ok(n) = number.parse::<u32>() else {
        return Err(format!("{text:?} is not a DNI or NIE"));
    };
    let expected = DNI_LETTERS[(n % 23) as usize];
    if bytes[8] == expected {
        Ok(())
    } else {
        Err(format!(
            "{kind} {text} has the wrong check letter (expected {})",
            char::from(expected)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_one_at_a_dotted_domain_and_no_spaces() {
        assert!(email("ana@example.com").is_ok());
        assert!(email("a.b+c@mail.example.es").is_ok());
        for bad in [
            "",
            "ana",
            "ana@example",
            "@example.com",
            "ana@@example.com",
            "a@b@example.com",
            "ana @example.com",
            "ana@.com",
            "ana@example.",
            "ana@example..com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn dates_must_be_written_yyyy_mm_dd_and_exist() {
        assert!(date("1980-12-31").is_ok());
        assert!(date("2024-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "1980-13-01",
            "1980-00-10",
            "1980-1-5",
            "31/12/1980",
            "1980-12-31T00:00",
            "",
        ] {
            assert!(date(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn iso_codes_are_two_letters_in_either_case() {
        assert!(two_letters("ES").is_ok());
        assert!(two_letters("es").is_ok());
        for bad in ["ESP", "e", "e1", "", "ñs"] {
            assert!(two_letters(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn dni_and_nie_check_letters() {
        assert!(dni_or_nie("12345678Z").is_ok());
        assert!(dni_or_nie("05415506H").is_ok());
        // X1234567 is 01234567, whose letter is L; Y1234567 is 11234567 -> R.
        assert!(dni_or_nie("X1234567L").is_ok());
        assert!(dni_or_nie("Y1234567X").is_ok());
        assert_eq!(
            dni_or_nie("12345678A").unwrap_err(),
            "DNI 12345678A has the wrong check letter (expected Z)"
        );
        for bad in [
            "12345678z",
            "1234567Z",
            "12345678-Z",
            "A1234567L",
            "X123456AL",
            "X12345éL",
            "",
        ] {
            assert!(dni_or_nie(bad).is_err(), "{bad:?} passed");
        }
    }
}
