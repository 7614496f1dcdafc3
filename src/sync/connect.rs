//! Where a run sends its requests: the target's real API, or the built-in mock started
//! in-process for `base_url = "mock"`, with the credentials and the authenticated session.
//!
//! For the mock, every credential comes from where the config names it (its environment
//! variable, that variable's `_FILE` twin, or a file) when it is given there, and from the
//! mock's documented demo value otherwise, so the README's first command needs no setup, while
//! an operator rehearsing a config with real secrets still can.
//!
//! The in-process mock lives only as long as one run, but a real provider remembers its users:
//! so the mock's users are saved beside the ledger when a run ends
//! (`<ledger file>.mock-<target>.json`, mode 0600: they are personal data) and loaded when the
//! next run starts. "Sync, edit the export, sync again" then updates the users the first sync
//! created, as it would at the provider.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::config::{BaseUrl, ConfigError, Target};
use crate::mock::{self, MockHandle, MockOptions, StoredUser};
use crate::provider::{Session, TargetContext};

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
                let credentials =
                    target.credentials_or(&mock::demo_credentials(target.provider.name()))?;
                let handle = mock::start(
                    target.provider,
                    MockOptions {
                        credentials: credentials.clone(),
                        ..MockOptions::default()
                    },
                )
                .await
                .context("could not start the built-in mock provider")?;
                if let Some(mock) = mock::for_provider(target.provider.name()) {
                    options = target.options_with(|table| mock.target_options(table))?;
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

impl Connection {
    /// Loads the users the in-process mock saved at the end of an earlier run from `file`
    /// (see [`mock_store_path`]). Nothing to do for a real target, or when there is no file.
    pub fn restore_mock(&self, file: &Path) -> anyhow::Result<()> {
        let Some(mock) = &self.mock else {
            return Ok(());
        };
        let opened = match std::fs::File::open(file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "could not read the built-in mock's users {}",
                        file.display()
                    )
                })
            }
        };
        let users: Vec<StoredUser> =
            serde_json::from_reader(BufReader::new(opened)).with_context(|| {
                format!(
                    "{} is not a saved mock store (delete it to start the mock empty)",
                    file.display()
                )
            })?;
        tracing::debug!(file = %file.display(), users = users.len(), "built-in mock: users restored");
        mock.state.import_users(users);
        Ok(())
    }

    /// Saves the in-process mock's users to `file` (mode 0600), replacing it in one step.
    /// Nothing to do for a real target.
    pub fn keep_mock(&self, file: &Path) -> anyhow::Result<()> {
        let Some(mock) = &self.mock else {
            return Ok(());
        };
        let users = mock.state.export_users();
        crate::private_file::write_atomically(file, "the built-in mock's users", |out| {
            Ok(serde_json::to_writer(out, &users)?)
        })
    }
}

/// Where the in-process mock of `target` keeps its users between runs: beside the ledger,
/// `<ledger file>.mock-<target>.json` (characters other than letters, digits, `-` and `_` in
/// the target's name become `_`).
pub fn mock_store_path(ledger: &Path, target: &str) -> PathBuf {
    let safe: String = target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = ledger.as_os_str().to_owned();
    name.push(format!(".mock-{safe}.json"));
    PathBuf::from(name)
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
