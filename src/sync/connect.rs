//! Where a run sends its requests: the target's real API, or the built-in mock started
//! in-process for `base_url = "mock"`, with the credentials and the authenticated session.
//!
//! For the mock, every credential comes from the target's environment variable when it is set
//! and from the mock's documented demo value otherwise, so the README's first command needs no
//! setup, while an operator rehearsing a config with real variable names still can.

use std::sync::Arc;

use anyhow::Context as _;
use secrecy::ExposeSecret;

use crate::config::{BaseUrl, ConfigError, Target};
use crate::mock::{self, MockHandle, MockOptions};
use crate::provider::{Credentials, Session, TargetContext};

/// An open connection to one target for one run.
pub struct Connection {
    pub context: TargetContext,
    pub session: Arc<dyn Session>,
    /// The in-process mock, kept alive for the run (and inspectable by tests).
    pub mock: Option<MockHandle>,
}

impl Connection {
    /// Opens the target: starts the mock if asked, reads the credentials, opens the session.
    /// Errors name the config key to fix and never a credential's value.
    pub async fn open(target: &Target, base_url: &BaseUrl) -> anyhow::Result<Connection> {
        let mut options = target.options.clone();
        let (base, credentials, mock) = match base_url {
            BaseUrl::Url(url) => {
                if sends_in_clear(url) {
                    tracing::warn!(
                        target_name = %target.name,
                        host = url.host_str().unwrap_or_default(),
                        "base_url is plain http:// to another machine: credentials and personal \
                         data will cross the network unencrypted; use https://"
                    );
                }
                (url.clone(), target.credentials_from_env()?, None)
            }
            BaseUrl::Mock => {
                let credentials = mock_credentials(target);
                let handle = mock::start(
                    target.provider,
                    MockOptions {
                        credentials: credentials.clone(),
                        ..MockOptions::default()
                    },
                )
                .await
                .context("could not start the built-in mock provider")?;
                if target.provider.name() == "abitmedia" && !options.contains_key("auth_url") {
                    // The mock serves Abitmedia's login routes on its own root.
                    options.insert("auth_url".into(), toml::Value::String("/".into()));
                }
                (handle.url.clone(), credentials, Some(handle))
            }
        };
        let context = TargetContext {
            base_url: base,
            credentials,
            options,
        };
        let session = target.provider.session(&context).map_err(|e| {
            ConfigError::invalid(&target.config_path, target.key_path(&e.key), e.message)
        })?;
        Ok(Connection {
            context,
            session,
            mock,
        })
    }
}

/// The credentials for the in-process mock: each named variable's value when set, the demo
/// value otherwise (also for names the target does not list, so a set is always complete).
fn mock_credentials(target: &Target) -> Credentials {
    let demo = mock::demo_credentials(target.provider.name());
    let mut out = Credentials::new();
    for name in demo.names() {
        let from_env = target
            .credentials
            .get(name)
            .and_then(|var| std::env::var(var).ok())
            .filter(|v| !v.is_empty());
        match from_env {
            Some(value) => out.insert(name, value),
            None => {
                if let Some(secret) = demo.get(name) {
                    out.insert(name, secret.expose_secret().to_owned());
                }
            }
        }
    }
    out
}

/// Whether requests to `url` leave this machine without TLS (plain `http://` to a host that is
/// not a loopback address or `localhost`, such as a `usersync mock-server` on this machine).
pub fn sends_in_clear(url: &url::Url) -> bool {
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            !(name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost"))
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::sends_in_clear;

    #[test]
    fn only_plain_http_off_this_machine_sends_in_clear() {
        let clear = |u: &str| sends_in_clear(&url::Url::parse(u).unwrap());
        assert!(clear("http://api.example.com/"));
        assert!(clear("http://10.0.0.8:8080/"));
        assert!(!clear("https://api.example.com/"));
        assert!(!clear("http://127.0.0.1:8080/"));
        assert!(!clear("http://[::1]:8080/"));
        assert!(!clear("http://localhost:8080/"));
    }
}
