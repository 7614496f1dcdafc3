//! Password policies a provider states. Abitmedia: at least 8 characters, with a symbol, a digit
//! and an upper-case letter.
//!
//! A password is a secret: messages say what is missing, never what was given.

use super::{code, Invalid};

/// Abitmedia's minimum length, in characters.
const ABITMEDIA_MIN_CHARS: usize = 8;

/// Checks a password against Abitmedia's policy. The message lists everything missing at once.
pub fn check_abitmedia(value: &str) -> Result<(), Invalid> {
    let mut chars = 0;
    let (mut symbol, mut digit, mut upper) = (false, false, false);
    for c in value.chars() {
        chars += 1;
        if c.is_numeric() {
            digit = true;
        } else if c.is_uppercase() {
            upper = true;
        } else if !c.is_alphabetic() && !c.is_whitespace() {
            symbol = true;
        }
    }
    let mut missing = Vec::new();
    if chars < ABITMEDIA_MIN_CHARS {
        missing.push(format!(
            "at least {ABITMEDIA_MIN_CHARS} characters (it has {chars})"
        ));
    }
    if !symbol {
        missing.push("a symbol".to_string());
    }
    if !digit {
        missing.push("a digit".to_string());
    }
    if !upper {
        missing.push("an upper-case letter".to_string());
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Invalid::new(
        code::WEAK_PASSWORD,
        format!("the password needs {}", missing.join(", ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_passwords_pass() {
        for ok in ["Secreto#2024", "Abcdef1!", "Ñandú_2024", "P4ss w0rd!X"] {
            assert_eq!(check_abitmedia(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn weak_passwords_say_what_is_missing_without_quoting_them() {
        let cases = [
            (
                "Abc1!",
                "the password needs at least 8 characters (it has 5)",
            ),
            ("abcdefg1!", "the password needs an upper-case letter"),
            ("Abcdefgh!", "the password needs a digit"),
            ("Abcdefgh1", "the password needs a symbol"),
            (
                "abc",
                "the password needs at least 8 characters (it has 3), a symbol, a digit, \
                 an upper-case letter",
            ),
        ];
        for (bad, want) in cases {
            let err = check_abitmedia(bad).unwrap_err();
            assert_eq!(err.code, "weak_password");
            assert_eq!(err.message, want);
            assert!(!err.message.contains(bad));
        }
    }
}
