//! What the providers' unit tests (`src/provider/<name>/tests.rs`) share, so that each of them
//! shows only what is its provider's own: the inputs an adapter takes (a payload, a user, a
//! target context), and the checks every session passes alike (a token shared by concurrent
//! first requests, a refused login that shows no secret, a configured token sent as is, a
//! `Debug` that hides the credentials).

use std::fmt::Debug;

use serde_json::Value;

use super::bearer::testing::authorization;
use super::{
    AuthError, Credentials, Options, Payload, Provider, ProviderConfigError, Session,
    TargetContext, UserRef,
};

/// `provider`'s options from `text` (a TOML table's body); panics when it refuses them.
pub fn options(provider: &dyn Provider, text: &str) -> Options {
    provider
        .parse_options(&text.parse().unwrap())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Why `provider` refuses the options in `text`.
pub fn refusal(provider: &dyn Provider, text: &str) -> ProviderConfigError {
    match provider.parse_options(&text.parse().unwrap()) {
        Ok(parsed) => panic!("{text}: accepted as {parsed:?}"),
        Err(e) => e,
    }
}

/// A payload from a JSON object; panics on any other value.
pub fn payload(value: Value) -> Payload {
    match value {
        Value::Object(map) => map.into(),
        _ => panic!("not an object"),
    }
}

/// The user `key`, with the provider's id when known.
pub fn user(key: &str, remote_id: Option<&str>) -> UserRef {
    UserRef {
        key: key.into(),
        remote_id: remote_id.map(str::to_string),
    }
}

/// A target of `provider` at `base_url` with `credentials` (name and value pairs) and `options`
/// (TOML text).
pub fn context<V: Into<String>>(
    provider: &dyn Provider,
    base_url: &str,
    credentials: impl IntoIterator<Item = (&'static str, V)>,
    options: &str,
) -> TargetContext {
    let mut values = Credentials::new();
    for (name, value) in credentials {
        values.insert(name, value);
    }
    TargetContext {
        base_url: url::Url::parse(base_url).unwrap(),
        credentials: values,
        options: self::options(provider, options),
    }
}

/// Asserts that the next request through `session` carries `Authorization: Bearer {token}`.
pub async fn assert_bearer(session: &dyn Session, client: &reqwest::Client, token: &str) {
    assert_eq!(
        authorization(session, client).await.unwrap(),
        format!("Bearer {token}")
    );
}

/// Ten first requests at once through a fresh `session`: each carries `Bearer {token}` (the
/// caller then checks that one login served them all).
pub async fn assert_concurrent_first_requests_get(session: &dyn Session, token: &str) {
    let client = reqwest::Client::new();
    let tokens = futures::future::join_all((0..10).map(|_| authorization(session, &client))).await;
    for got in tokens {
        assert_eq!(got.unwrap(), format!("Bearer {token}"));
    }
}

/// Asks `session`, whose login the server refuses, for a token `attempts` times: each time an
/// [`AuthError::Refused`] whose message names each of `shows` and never shows `secret`.
pub async fn assert_login_refused(
    session: &dyn Session,
    attempts: usize,
    shows: &[&str],
    secret: &str,
) {
    let client = reqwest::Client::new();
    for _ in 0..attempts {
        let err = authorization(session, &client).await.unwrap_err();
        let AuthError::Refused(message) = &err else {
            panic!("not refused: {err}");
        };
        for shown in shows {
            assert!(message.contains(shown), "{message}");
        }
        assert!(!message.contains(secret));
    }
}

/// A session opened with a configured `token` sends it as is, and cannot renew it after a
/// refusal.
pub async fn assert_configured_token_sent_as_is(session: &dyn Session, token: &str) {
    assert_bearer(session, &reqwest::Client::new(), token).await;
    assert!(!session.invalidate());
}

/// Asserts that `value`'s `Debug` shows none of `secrets`.
#[track_caller]
pub fn assert_debug_hides(value: &impl Debug, secrets: &[&str]) {
    let shown = format!("{value:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "{shown}");
    }
}
