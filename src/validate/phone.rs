//! Phone numbers in international form (`+` and the country code), where a provider demands it
//! (Abitmedia's `cellPhoneNumber`, e.g. `+593984535283`). Checked against libphonenumber's
//! numbering plans through the `phonenumber` crate, and normalised to E.164 so that
//! `+34 600 00 00 00` and `+34600000000` are the same value to the ledger's diff.

use phonenumber::Mode;

use super::{code, Invalid};

/// Whether `value` is already E.164: `+`, then 8 to 15 digits, nothing else. Such a value is
/// left as it is when valid (no allocation).
fn is_e164_shape(value: &str) -> bool {
    let Some(digits) = value.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a phone number in international form and returns its E.164 form when that differs
/// from `value` (`None` when `value` is already E.164).
pub fn normalise_international(value: &str) -> Result<Option<String>, Invalid> {
    if !value.starts_with('+') {
        return Err(Invalid::new(
            code::INVALID_PHONE,
            format!(
                "{value} has no country code: write it in international form, starting with + \
                 (e.g. +34600000000)"
            ),
        ));
    }
    let number = phonenumber::parse(None, value)
        .ok()
        .filter(phonenumber::is_valid)
        .ok_or_else(|| {
            Invalid::new(
                code::INVALID_PHONE,
                format!("{value} is not a valid phone number for its country code"),
            )
        })?;
    if is_e164_shape(value) {
        return Ok(None);
    }
    Ok(Some(number.format().mode(Mode::E164).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_numbers_are_valid() {
        for ok in [
            "+34600000000",
            "+593984535283",
            "+593984640145",
            "+442079460000",
        ] {
            assert_eq!(normalise_international(ok), Ok(None), "{ok}");
        }
    }

    #[test]
    fn spaced_numbers_are_normalised_to_e164() {
        assert_eq!(
            normalise_international("+34 600 00 00 00"),
            Ok(Some("+34600000000".to_string()))
        );
        assert_eq!(
            normalise_international("+593 98 453 5283"),
            Ok(Some("+593984535283".to_string()))
        );
    }

    #[test]
    fn numbers_without_country_code_are_refused() {
        for bad in ["600000000", "0034600000000", "984535283"] {
            let err = normalise_international(bad).unwrap_err();
            assert_eq!(err.code, "invalid_phone");
            assert!(err.message.contains("no country code"), "{}", err.message);
        }
    }

    #[test]
    fn numbers_outside_the_numbering_plan_are_refused() {
        for bad in ["+34 12", "+34000000000", "+999123456789", "+34abc", "+"] {
            let err = normalise_international(bad).unwrap_err();
            assert_eq!(err.code, "invalid_phone", "{bad}");
            assert!(err.message.contains("not a valid phone number"), "{bad}");
        }
    }
}
