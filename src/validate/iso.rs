//! ISO code lists: countries as ISO 3166-1 alpha-2 (the `celes` crate's list) and languages as
//! ISO 639-1 (the `isolang` crate's list). Both lookups are perfect-hash tables: no allocation.
//!
//! Values are expected normalised already: countries upper-cased, languages lower-cased.

use celes::Country;
use isolang::Language;

use super::{code, Invalid};

/// Codes people write for a country that are not its ISO code, with the right one.
const COUNTRY_HINTS: &[(&str, &str)] = &[("UK", "GB"), ("EL", "GR"), ("EN", "GB")];

/// Codes people write for a language that are not its ISO 639-1 code, with the right one.
const LANGUAGE_HINTS: &[(&str, &str)] = &[("sp", "es"), ("cat", "ca"), ("esp", "es")];

/// Checks an upper-case ISO 3166-1 alpha-2 country code (`ES`, `GB`).
pub fn check_country(value: &str) -> Result<(), Invalid> {
    if value.len() == 2 && Country::from_alpha2(value).is_ok() {
        return Ok(());
    }
    let mut message = format!("{value} is not an ISO 3166-1 alpha-2 country code");
    match hint(COUNTRY_HINTS, value) {
        Some(right) => message.push_str(&format!(" (did you mean {right}?)")),
        None => message.push_str(" (two letters, e.g. ES or GB)"),
    }
    Err(Invalid::new(code::INVALID_COUNTRY, message))
}

/// Checks a lower-case ISO 639-1 language code (`es`, `en`).
pub fn check_language(value: &str) -> Result<(), Invalid> {
    if Language::from_639_1(value).is_some() {
        return Ok(());
    }
    let mut message = format!("{value} is not an ISO 639-1 language code");
    match hint(LANGUAGE_HINTS, value) {
        Some(right) => message.push_str(&format!(" (did you mean {right}?)")),
        None => message.push_str(" (two letters, e.g. es or en)"),
    }
    Err(Invalid::new(code::INVALID_LANGUAGE, message))
}

fn hint(table: &[(&str, &'static str)], value: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(wrong, _)| *wrong == value)
        .map(|(_, right)| *right)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_country_codes_are_valid() {
        for ok in ["ES", "GB", "FR", "PT", "EC", "US", "DE", "AD"] {
            assert_eq!(check_country(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn made_up_or_long_country_codes_are_invalid() {
        for bad in ["UK", "XX", "ESP", "E", "SPAIN", "724"] {
            let err = check_country(bad).unwrap_err();
            assert_eq!(err.code, "invalid_country", "{bad}");
            assert!(err.message.starts_with(bad), "{}", err.message);
        }
        assert_eq!(
            check_country("UK").unwrap_err().message,
            "UK is not an ISO 3166-1 alpha-2 country code (did you mean GB?)"
        );
    }

    #[test]
    fn real_language_codes_are_valid() {
        for ok in ["es", "en", "ca", "eu", "gl", "fr", "pt"] {
            assert_eq!(check_language(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn made_up_or_three_letter_language_codes_are_invalid() {
        for bad in ["sp", "xx", "spa", "eng", "e", "spanish"] {
            let err = check_language(bad).unwrap_err();
            assert_eq!(err.code, "invalid_language", "{bad}");
        }
        assert_eq!(
            check_language("sp").unwrap_err().message,
            "sp is not an ISO 639-1 language code (did you mean es?)"
        );
    }
}
