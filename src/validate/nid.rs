//! Spanish identity numbers: the DNI (citizens: 8 digits and a check letter) and the NIE
//! (foreigners: X, Y or Z, 7 digits and a check letter).
//!
//! Hand-rolled on purpose: the only Rust crate for it (`dni` 0.1) is a single fresh release that
//! allocates on every call, and the algorithm is a dozen lines. The check letter is
//! `TRWAGMYFPDXBNJZSQVHLCKE[n % 23]`, where `n` is the DNI's number, or the NIE's with its first
//! letter replaced by 0, 1 or 2.

use super::{code, Invalid};

/// The check letters, indexed by the number modulo 23.
const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// The two kinds of number, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dni,
    Nie,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Dni => "DNI",
            Kind::Nie => "NIE",
        }
    }
}

/// The check letter of a DNI number (0..=99_999_999) or an NIE's number with its prefix digit.
pub fn check_letter(number: u32) -> char {
    char::from(LETTERS[(number % 23) as usize])
}

/// Splits an upper-case, separator-free value into its kind, its number and its letter, or
/// `None` when it does not have the shape of a DNI or an NIE.
fn parse(value: &str) -> Option<(Kind, u32, u8)> {
    let bytes = value.as_bytes();
    if bytes.len() != 9 || !bytes[8].is_ascii_uppercase() {
        return None;
    }
    let (kind, first) = match bytes[0] {
        b'X' => (Kind::Nie, 0),
        b'Y' => (Kind::Nie, 1),
        b'Z' => (Kind::Nie, 2),
        d @ b'0'..=b'9' => (Kind::Dni, u32::from(d - b'0')),
        _ => return None,
    };
    let mut number = first;
    for &b in &bytes[1..8] {
        if !b.is_ascii_digit() {
            return None;
        }
        number = number * 10 + u32::from(b - b'0');
    }
    Some((kind, number, bytes[8]))
}

/// Whether an upper-cased value has the shape of a DNI or NIE (whatever its letter). GNOSS's
/// `id_card` also takes passport numbers, which are only checked when they look like this.
pub fn looks_like(value: &str) -> bool {
    parse(value).is_some()
}

/// Checks an upper-cased DNI or NIE, without separators, and its check letter.
pub fn check(value: &str) -> Result<Kind, Invalid> {
    let Some((kind, number, letter)) = parse(value) else {
        return Err(Invalid::new(
            code::INVALID_NID,
            format!(
                "{value} is not a DNI (8 digits and a letter) or an NIE (X, Y or Z, 7 digits \
                 and a letter)"
            ),
        ));
    };
    let expected = LETTERS[(number % 23) as usize];
    if letter == expected {
        Ok(kind)
    } else {
        Err(Invalid::new(
            code::INVALID_NID,
            format!(
                "{} {value} has the wrong check letter (expected {})",
                kind.as_str(),
                char::from(expected)
            ),
        ))
    }
}

/// Whether a value written by a person (`12.345.678-z`) holds separators to remove: dots,
/// dashes and spaces.
pub fn has_separators(value: &str) -> bool {
    value.bytes().any(|b| matches!(b, b'.' | b'-' | b' '))
}

/// Removes separators and upper-cases, in place, so that `12.345.678-z` becomes `12345678Z`.
/// Allocates nothing.
pub fn normalise(value: &mut String) {
    if has_separators(value) {
        value.retain(|c| !matches!(c, '.' | '-' | ' '));
    }
    value.make_ascii_uppercase();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_dnis_with_their_letter_are_valid() {
        assert_eq!(check("12345678Z"), Ok(Kind::Dni));
        assert_eq!(check("00000000T"), Ok(Kind::Dni));
        assert_eq!(check("99999999R"), Ok(Kind::Dni));
        // The user_id in MeetingLawyers' own example is a real-shaped DNI.
        assert_eq!(check("05415506H"), Ok(Kind::Dni));
    }

    #[test]
    fn a_wrong_letter_names_the_expected_one() {
        let err = check("12345678A").unwrap_err();
        assert_eq!(err.code, "invalid_nid");
        assert_eq!(
            err.message,
            "DNI 12345678A has the wrong check letter (expected Z)"
        );
    }

    #[test]
    fn nies_use_their_prefix_as_a_digit() {
        assert_eq!(check("X1234567L"), Ok(Kind::Nie));
        // Y0000000 is 10000000; 10000000 % 23 = 14 -> 'Z'.
        assert_eq!(check("Y0000000Z"), Ok(Kind::Nie));
        let err = check("Y0000000L").unwrap_err();
        assert_eq!(
            err.message,
            "NIE Y0000000L has the wrong check letter (expected Z)"
        );
        // Z1234567 is 21234567; % 23 = 1 -> 'R'.
        assert_eq!(check("Z1234567R"), Ok(Kind::Nie));
        assert!(check("X1234567A").is_err());
    }

    #[test]
    fn other_shapes_are_not_nids() {
        for bad in [
            "1234567Z",
            "123456789",
            "A1234567L",
            "X123456L",
            "X12345678",
            "12345678",
            "PAA123456",
            "",
        ] {
            let err = check(bad).unwrap_err();
            assert_eq!(err.code, "invalid_nid", "{bad}");
            assert!(
                err.message.contains("is not a DNI"),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn looks_like_spots_the_shape_only() {
        assert!(looks_like("12345678A"));
        assert!(looks_like("X1234567L"));
        assert!(!looks_like("PAA123456"));
        assert!(!looks_like("123456789"));
        assert!(!looks_like("AB1234567"));
    }

    #[test]
    fn normalise_removes_separators_and_upper_cases() {
        let mut v = "12.345.678-z".to_string();
        normalise(&mut v);
        assert_eq!(v, "12345678Z");
        let mut v = "x 1234567 l".to_string();
        normalise(&mut v);
        assert_eq!(v, "X1234567L");
        assert_eq!(check_letter(12345678), 'Z');
    }
}
