//! Email addresses: RFC 5322 syntax through the `email_address` crate, plus what a deliverable
//! work address needs and the RFC allows without it: a domain with a dot, no spaces, no
//! bracketed IP literal and no display name (`Ana <ana@x.es>`).
//!
//! The address is expected lower-cased already (see `coerce::lowercase`).

use email_address::EmailAddress;

use super::{code, Invalid};

/// Checks one address. Allocates only to describe a problem.
pub fn check(value: &str) -> Result<(), Invalid> {
    if is_plain_valid(value) {
        return Ok(());
    }
    match problem(value) {
        None => Ok(()),
        Some(why) => Err(Invalid::new(
            code::INVALID_EMAIL,
            format!("{value} is not a valid email address ({why})"),
        )),
    }
}

/// A one-pass check for the common case, so that a million rows do not each pay for the full
/// parser: a lower-case ASCII dot-atom local part (`ana.garcia+hr`) and a host name of two or
/// more labels of letters, digits and inner hyphens. It accepts a strict subset of what
/// [`problem`] accepts; anything else (upper case, quotes, unusual characters) goes through
/// the full check, which then decides.
fn is_plain_valid(value: &str) -> bool {
    // One pass over the bytes each side of the last `@`.
    let bytes = value.as_bytes();
    let Some(at) = bytes.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    if !(1..=64).contains(&local.len()) || domain.len() > 253 {
        return false;
    }
    // The local part: allowed bytes, and dots only between other bytes. `prev` starts as a dot
    // so that a leading dot fails like a double one.
    let mut prev = b'.';
    for &b in local {
        let ok = b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(b, b'_' | b'-' | b'+' | b'\'')
            || (b == b'.' && prev != b'.');
        if !ok {
            return false;
        }
        prev = b;
    }
    if prev == b'.' {
        return false;
    }
    // The domain: dot-separated labels of 1 to 63 letters, digits and inner hyphens.
    let (mut labels, mut len, mut prev) = (1, 0, b'.');
    for &b in domain {
        if b == b'.' {
            if len == 0 || prev == b'-' {
                return false;
            }
            labels += 1;
            len = 0;
        } else if b.is_ascii_lowercase() || b.is_ascii_digit() || (b == b'-' && len > 0) {
            len += 1;
            if len > 63 {
                return false;
            }
        } else {
            return false;
        }
        prev = b;
    }
    len > 0 && prev != b'-' && labels >= 2
}

/// What is wrong with an address, or `None`.
fn problem(value: &str) -> Option<&'static str> {
    if value.contains(|c: char| c.is_whitespace()) {
        return Some("it contains a space");
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return Some("it has no @");
    };
    if local.is_empty() {
        return Some("nothing before the @");
    }
    if domain.is_empty() {
        return Some("nothing after the @");
    }
    if domain.starts_with('[') || value.contains('<') {
        return Some("only a plain address like name@example.com is accepted");
    }
    if !domain.contains('.') {
        return Some("the domain has no dot");
    }
    if !EmailAddress::is_valid_local_part(local) {
        return Some("the part before the @ has a character not allowed there");
    }
    if !EmailAddress::is_valid_domain(domain) {
        return Some("the domain is not a valid host name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_work_addresses_are_valid() {
        for ok in [
            "ana.garcia@empresa.es",
            "example@meetinglawyers.com",
            "johnvandervar@organization.com",
            "j.o'neil+hr@sub.example.co.uk",
            "maria-jose_93@correo.gob.es",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    /// The fast path as first written (split on `@` and `.`), kept as the reference for the
    /// one-pass version.
    fn plain_valid_reference(value: &str) -> bool {
        let Some((local, domain)) = value.rsplit_once('@') else {
            return false;
        };
        let local_ok = (1..=64).contains(&local.len())
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'-' | b'+' | b'\'')
            });
        if !local_ok || domain.len() > 253 {
            return false;
        }
        let mut labels = 0;
        for label in domain.split('.') {
            let bytes = label.as_bytes();
            let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
                return false;
            };
            let ok = bytes.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
            if !ok {
                return false;
            }
            labels += 1;
        }
        labels >= 2
    }

    #[test]
    fn the_one_pass_fast_path_matches_its_reference() {
        // A local part, an `@` and a domain, each from a few characters that matter.
        const LOCAL: &[char] = &['a', '0', '.', '-', '_', '+', '\'', 'A', '@', ' '];
        const DOMAIN: &[char] = &['a', 'z', '0', '.', '-', '.', '_', 'A', 'é'];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut pick = |from: &[char], max: u64| -> String {
            let r = next();
            (0..r % max)
                .map(|i| from[((r >> (4 + 4 * i)) % from.len() as u64) as usize])
                .collect()
        };
        let mut accepted = 0;
        for _ in 0..200_000 {
            let value = format!("{}@{}", pick(LOCAL, 5), pick(DOMAIN, 9));
            assert_eq!(
                is_plain_valid(&value),
                plain_valid_reference(&value),
                "{value:?}"
            );
            accepted += usize::from(is_plain_valid(&value));
        }
        assert!(accepted > 200, "{accepted}");
        let long_label = format!("a@{}.es", "b".repeat(64));
        assert_eq!(
            is_plain_valid(&long_label),
            plain_valid_reference(&long_label)
        );
        assert!(!is_plain_valid(&long_label));
    }

    #[test]
    fn the_fast_path_never_accepts_what_the_full_check_refuses() {
        for value in [
            "ana.garcia@empresa.es",
            "a@b.co",
            "x+y_z-w'q@sub-1.example.com",
            "ana@empresa",
            "ana..b@empresa.es",
            ".ana@empresa.es",
            "ana.@empresa.es",
            "ana@-empresa.es",
            "ana@empresa-.es",
            "ana@empresa..es",
            "ana@.es",
            "ana@es.",
            "ANA@empresa.es",
            "\"ana b\"@empresa.es",
            "ana@empresa.es ",
            "ñandú@empresa.es",
        ] {
            if is_plain_valid(value) {
                assert_eq!(problem(value), None, "{value}");
            }
        }
        assert!(is_plain_valid("ana.garcia@empresa.es"));
        assert!(!is_plain_valid("ana@empresa"));
    }

    #[test]
    fn quoted_and_unusual_addresses_take_the_full_path() {
        assert_eq!(check("\"ana\"@empresa.es"), Ok(()));
        assert_eq!(check("ana!hr@empresa.es"), Ok(()));
        assert_eq!(check("ana@sub_domain.empresa.es"), Ok(()));
    }

    #[test]
    fn broken_addresses_say_why() {
        let cases = [
            ("ana.garcia", "it has no @"),
            ("ana@empresa", "the domain has no dot"),
            ("ana garcia@empresa.es", "it contains a space"),
            ("@empresa.es", "nothing before the @"),
            ("ana@", "nothing after the @"),
            ("ana@@empresa.es", "the part before the @"),
            ("ana@empresa..es", "the domain is not a valid host name"),
            ("ana@-empresa.es", "the domain is not a valid host name"),
            ("ana@[10.0.0.1]", "only a plain address"),
            ("Ana<ana@empresa.es>", "only a plain address"),
            ("ana(at)empresa.es", "it has no @"),
        ];
        for (bad, why) in cases {
            let err = check(bad).unwrap_err();
            assert_eq!(err.code, "invalid_email", "{bad}");
            assert!(
                err.message.starts_with(bad) && err.message.contains(why),
                "{bad}: {}",
                err.message
            );
        }
    }
}
