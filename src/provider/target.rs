//! Reading a target's credentials and options the same way in every adapter.
//!
//! `Provider::session` checks a target once, when the run starts: one complete credential set,
//! no unknown option, every option of the right type. The errors name the config key to fix
//! (`credentials`, `options.signing`) and never a credential's value. The same option readers are
//! used, leniently, when requests are built and classified, so a value means one thing
//! everywhere. [`path_segment`] escapes user ids put into URL paths.

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

/// Refuses any option not in `known`.
pub fn check_known_options(
    options: &toml::Table,
    known: &[&str],
) -> Result<(), ProviderConfigError> {
    match options.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(ProviderConfigError {
            key: format!("options.{unknown}"),
            message: if known.is_empty() {
                "unknown option: this provider takes no options".into()
            } else {
                format!("unknown option: known options are {}", known.join(", "))
            },
        }),
    }
}

/// The string option `name`, if set.
pub fn string_option<'a>(
    options: &'a toml::Table,
    name: &str,
) -> Result<Option<&'a str>, ProviderConfigError> {
    match options.get(name) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(option_error(name, "expected a string")),
    }
}

/// The string option `name`, which must be one of `allowed` (default `allowed[0]`).
pub fn choice_option<'a>(
    options: &'a toml::Table,
    name: &str,
    allowed: &[&'a str],
) -> Result<&'a str, ProviderConfigError> {
    let default = allowed.first().copied().unwrap_or_default();
    match string_option(options, name)? {
        None => Ok(default),
        Some(value) => allowed
            .iter()
            .copied()
            .find(|a| *a == value)
            .ok_or_else(|| option_error(name, &format!("expected one of {}", quoted(allowed)))),
    }
}

/// The integer option `name`, if set.
pub fn integer_option(
    options: &toml::Table,
    name: &str,
) -> Result<Option<i64>, ProviderConfigError> {
    match options.get(name) {
        None => Ok(None),
        Some(toml::Value::Integer(n)) => Ok(Some(*n)),
        Some(_) => Err(option_error(name, "expected an integer")),
    }
}

/// The boolean option `name`, if set.
pub fn bool_option(options: &toml::Table, name: &str) -> Result<Option<bool>, ProviderConfigError> {
    match options.get(name) {
        None => Ok(None),
        Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
        Some(_) => Err(option_error(name, "expected true or false")),
    }
}

/// `url` without the user name and password it may carry (`https://user:pw@host/`): what the
/// ledger, the logs and the messages may show of it.
pub fn without_credentials(mut url: url::Url) -> url::Url {
    // Both only fail for URLs that cannot have credentials: nothing to remove then.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

/// An error about `options.<name>`.
pub fn option_error(name: &str, message: &str) -> ProviderConfigError {
    ProviderConfigError {
        key: format!("options.{name}"),
        message: message.into(),
    }
}

fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
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

    fn options(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

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
    fn unknown_and_mistyped_options_name_their_key() {
        let err = check_known_options(&options("sigining = \"x\""), &["signing"]).unwrap_err();
        assert_eq!(err.key, "options.sigining");
        let c = options("signing = \"oauth2\"");
        let err = choice_option(&c, "signing", &["gnoss", "rfc5849"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "options.signing: expected one of \"gnoss\", \"rfc5849\""
        );
        assert_eq!(
            choice_option(&options(""), "signing", &["gnoss", "rfc5849"]).unwrap(),
            "gnoss"
        );
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("a/b c?d#&="), "a%2Fb%20c%3Fd%23%26%3D");
        assert_eq!(path_segment("05415506H"), "05415506H");
    }
}
