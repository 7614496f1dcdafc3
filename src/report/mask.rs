//! `--mask-pii`: hides e-mail addresses, Spanish ID numbers (DNI/NIE) and phone numbers in any
//! text a report shows (user keys, messages, the command line), so that a report can be
//! mailed to people who need the numbers but not the employees.
//!
//! Masks keep just enough to tell rows apart: an e-mail keeps its first letter and the last
//! label of its domain (`m***@***.com`); a DNI/NIE keeps the digits the Spanish data
//! protection agency (AEPD) allows to publish (`***4567**`); a phone keeps its last three digits.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::{Captures, Regex};

/// Something `@` something, loosely: malformed addresses (the ones reports show most) must be
/// masked too, including one with a stray space around the `@`.
const EMAIL: &str = r#"[^\s@<>"'`,;:()\[\]{}|]+ ?@ ?[^\s@<>"'`,;:()\[\]{}|]+"#;
/// A DNI (8 digits and a letter) or a NIE (X, Y or Z, 7 digits and a letter), with an optional
/// `-` or space before the letter.
const NATIONAL_ID: &str = r"(?i)\b(?:[XYZ]\d{7}|\d{8})[- ]?[A-Z]\b";
/// A run of digits and the separators phone numbers are written with, optionally after a `+`;
/// it is a phone number when it has at least 9 digits.
const PHONE: &str = r"\+?\d[\d \-.()]*\d";

fn email() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(EMAIL).unwrap_or_else(|e| unreachable!("{e}")))
}

fn national_id() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(NATIONAL_ID).unwrap_or_else(|e| unreachable!("{e}")))
}

fn phone() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(PHONE).unwrap_or_else(|e| unreachable!("{e}")))
}

/// `text` with its e-mails, ID numbers and phone numbers masked.
pub fn mask(text: &str) -> Cow<'_, str> {
    let text = email().replace_all(text, |c: &Captures| mask_email(&c[0]));
    let text = match national_id().replace_all(&text, |c: &Captures| mask_id(&c[0])) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => Cow::Owned(s),
    };
    match phone().replace_all(&text, |c: &Captures| mask_phone(&c[0])) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => Cow::Owned(s),
    }
}

/// Masks `text` when `on`, else returns it as it is.
pub fn mask_if(on: bool, text: String) -> String {
    if on {
        mask(&text).into_owned()
    } else {
        text
    }
}

fn mask_email(address: &str) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    let first = local.trim().chars().next().unwrap_or('*');
    let tld = domain
        .trim()
        .rsplit_once('.')
        .map(|(_, tld)| tld)
        .filter(|tld| !tld.is_empty() && tld.chars().all(|c| c.is_ascii_alphabetic()))
        .map(|tld| format!(".{tld}"))
        .unwrap_or_default();
    format!("{first}***@***{tld}")
}

/// The AEPD's rule for publishing an ID number: only the 4th to 7th digits of a DNI (the 5th to
/// 8th characters of a NIE) are shown.
fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let shown = if chars.first().is_some_and(|c| c.is_ascii_alphabetic()) {
        4..8
    } else {
        3..7
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if shown.contains(&i) { *c } else { '*' })
        .collect()
}

fn mask_phone(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    if digits < 9 {
        return number.to_owned();
    }
    let mut seen = 0;
    number
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > digits - 3 {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn emails_keep_a_letter_and_the_top_level_domain() {
        assert_eq!(
            mask("marc.torres@empresa.example.com is taken"),
            "m***@***.com is taken"
        );
        assert_eq!(
            mask("beatriz.iglesias @empresa.example.com is not valid"),
            "b***@***.com is not valid"
        );
        assert_eq!(mask("<x@y>"), "<x***@***>");
    }

    #[test]
    fn id_numbers_show_only_what_the_aepd_allows() {
        assert_eq!(
            mask("DNI 03251847Q has the wrong check letter (expected S)"),
            "DNI ***5184** has the wrong check letter (expected S)"
        );
        assert_eq!(mask("NIE X1234567L"), "NIE ****4567*");
        assert_eq!(mask("12345678-z"), "***4567**");
    }

    #[test]
    fn phones_keep_their_last_three_digits() {
        assert_eq!(mask("+34 610 186 127"), "+** *** *** 127");
        assert_eq!(mask("tel 610186127."), "tel ******127.");
        assert_eq!(mask("(+34) 610-18-61-27"), "(+**) ***-**-*1-27");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "E00001",
            "`30/02/1985` (column `birth_date`) is not a date",
            "HTTP 503: gave up after 2 attempts",
            "user_id: `E00020` is also on line 21, which is kept",
        ] {
            assert_eq!(mask(text), text);
        }
    }
}
