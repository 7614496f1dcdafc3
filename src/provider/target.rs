//! Reading a target's credentials the same way in every adapter (its options: [`super::options`]).
//!
//! `Provider::session` checks a target's credentials once, when the run starts: one complete
//! credential set. The errors name the config key to fix (`credentials`,
//! `credentials.api_key`) and never a credential's value. [`path_segment`] escapes user ids put
//! into URL paths.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use secrecy::SecretString;

use crate::provider::{Credentials, ProviderConfigError};

/// The index of the first set in `sets` whose credentials are all given, or an error listing
/// the accepted sets.
pub fn credential_set(
    credentials: &Credentials,
    sets: &[&[&str]],
) -> Result<usize, ProviderConfigError> {
    sets.iter()
        .position(|set| set.iter().all(|name| credentials.get(name).is_some()))
        .ok_or_else(|| {
            let accepted: Vec<String> = sets.iter().map(|set| set.join(" + ")).collect();
            ProviderConfigError {
                key: "credentials".into(),
                message: format!(
                    "incomplete credentials: give one of these sets: {}",
                    accepted.join(", or ")
                ),
            }
        })
}

/// The credential `name`, which the chosen set guarantees.
pub fn credential<'a>(
    credentials: &'a Credentials,
    name: &str,
) -> Result<&'a SecretString, ProviderConfigError> {
    credentials.get(name).ok_or_else(|| ProviderConfigError {
        key: format!("credentials.{name}"),
        message: "missing".into(),
    })
}

/// `url` without the user name and password it may carry (`https://user:pw@host/`): what the
/// ledger, the logs and the messages may show of it.
pub fn without_credentials(mut url: url::Url) -> url::Url {
    // Both only fail for URLs that cannot have credentials: nothing to remove then.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

/// Characters escaped in one URL path segment (RFC 3986 `pchar`, conservatively).
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'/')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `value` escaped to be one URL path segment (or one query value): `a/b c` -> `a%2Fb%20c`.
pub fn path_segment(value: &str) -> String {
    utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_complete_credential_set_wins() {
        let mut c = Credentials::new();
        c.insert("token", "t");
        let sets: &[&[&str]] = &[&["email", "password"], &["token"]];
        assert_eq!(credential_set(&c, sets).unwrap(), 1);
        let err = credential_set(&Credentials::new(), sets).unwrap_err();
        assert_eq!(err.key, "credentials");
        assert!(err.message.contains("email + password, or token"));
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("a/b c?d#&="), "a%2Fb%20c%3Fd%23%26%3D");
        assert_eq!(path_segment("05415506H"), "05415506H");
    }
}
