//! ISO code lists: countries as ISO 3166-1 alpha-2 (the `celes` crate's list) and languages as
//! ISO 639-1 (the `isolang` crate's list). Both lookups are perfect-hash tables: no allocation.
//!
//! Values are expected normalised already: countries upper-cased, languages lower-cased. As
//! these checks run for every row, the answers for every two-letter code in that case are
//! asked of the crates once and kept in a bit table; other values ask the crates directly.

use std::sync::OnceLock;

use celes::Country;
use isolang::Language;

use super::{code, Invalid};

/// Codes people write for a country that are not its ISO code, with the right one.
const COUNTRY_HINTS: &[(&str, &str)] = &[("UK", "GB"), ("EL", "GR"), ("EN", "GB")];

/// Codes people write for a language that are not its ISO 639-1 code, with the right one.
const LANGUAGE_HINTS: &[(&str, &str)] = &[("sp", "es"), ("cat", "ca"), ("esp", "es")];

/// Checks an upper-case ISO 3166-1 alpha-2 country code (`ES`, `GB`).
pub fn check_country(value: &str) -> Result<(), Invalid> {
    static KNOWN: OnceLock<TwoLetters> = OnceLock::new();
    let known = KNOWN.get_or_init(|| TwoLetters::new(b'A', |c| Country::from_alpha2(c).is_ok()));
    let valid = known
        .get(value)
        .unwrap_or_else(|| value.len() == 2 && Country::from_alpha2(value).is_ok());
    if valid {
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
    static KNOWN: OnceLock<TwoLetters> = OnceLock::new();
    let known = KNOWN.get_or_init(|| TwoLetters::new(b'a', |c| Language::from_639_1(c).is_some()));
    let valid = known
        .get(value)
        .unwrap_or_else(|| Language::from_639_1(value).is_some());
    if valid {
        return Ok(());
    }
    let mut message = format!("{value} is not an ISO 639-1 language code");
    match hint(LANGUAGE_HINTS, value) {
        Some(right) => message.push_str(&format!(" (did you mean {right}?)")),
        None => message.push_str(" (two letters, e.g. es or en)"),
    }
    Err(Invalid::new(code::INVALID_LANGUAGE, message))
}

/// Which two-letter codes of one case (`AA`..`ZZ` or `aa`..`zz`) are valid: bit `second` of
/// word `first`, counted from `base`.
struct TwoLetters {
    base: u8,
    bits: [u32; 26],
}

impl TwoLetters {
    fn new(base: u8, valid: impl Fn(&str) -> bool) -> TwoLetters {
        let mut bits = [0u32; 26];
        for (first, word) in (0u8..26).zip(bits.iter_mut()) {
            for second in 0u8..26 {
                let code = [base + first, base + second];
                if std::str::from_utf8(&code).is_ok_and(&valid) {
                    *word |= 1 << second;
                }
            }
        }
        TwoLetters { base, bits }
    }

    /// Whether `value` is valid, when it is two letters of the table's case; `None` otherwise.
    fn get(&self, value: &str) -> Option<bool> {
        let &[first, second] = value.as_bytes() else {
            return None;
        };
        let (first, second) = (
            first.wrapping_sub(self.base),
            second.wrapping_sub(self.base),
        );
        if first >= 26 || second >= 26 {
            return None;
        }
        Some(self.bits[usize::from(first)] & (1 << second) != 0)
    }
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
    fn the_tables_give_the_crates_answers() {
        let letters =
            |base: u8| (0u8..26).flat_map(move |a| (0u8..26).map(move |b| [base + a, base + b]));
        for code in letters(b'A').chain(letters(b'a')) {
            let code = std::str::from_utf8(&code).unwrap();
            assert_eq!(
                check_country(code).is_ok(),
                Country::from_alpha2(code).is_ok(),
                "{code}"
            );
            assert_eq!(
                check_language(code).is_ok(),
                Language::from_639_1(code).is_some(),
                "{code}"
            );
        }
        assert!(
            check_country("es").is_ok(),
            "the crate's own case rules still apply"
        );
        assert!(check_language("ES").is_err());
    }

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
