//! Email addresses: RFC 5322 syntax through the `email_address` crate, plus what a deliverable
//! work address needs and the RFC allows without it: a domain with a dot, no spaces, no
//! bracketed IP literal and no display name (`Ana <ana@x.es>`).
//!
//! The address is expected lower-cased already (see `coerce::lowercase`).

use email_address::EmailAddress;

use super::{code, Invalid};

/// Checks one address. Allocates only to describe a problem.
pub fn check(value: &str) -> Result<(), Invalid> {
    match problem(value) {
        None => Ok(()),
        Some(why) => Err(Invalid::new(
            code::INVALID_EMAIL,
            format!("{value} is not a valid email address ({why})"),
        )),
    }
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
