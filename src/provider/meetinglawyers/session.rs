//! MeetingLawyers authentication: the static `Api-Key` and `Secret-Key` headers on every
//! request, marked sensitive so that no log or `Debug` of a request shows them.

use std::fmt;

use http::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use secrecy::ExposeSecret;

use crate::provider::{target, AuthError, Credentials, ProviderConfigError, Session};

/// The session of a MeetingLawyers target: two fixed headers. A refusal cannot be cured by
/// logging in again, so [`Session::invalidate`] keeps its default (false).
pub struct HeaderSession {
    api_key: HeaderValue,
    secret_key: HeaderValue,
}

impl HeaderSession {
    /// A session from the `api_key` and `secret_key` credentials.
    pub fn new(credentials: &Credentials) -> Result<Self, ProviderConfigError> {
        Ok(HeaderSession {
            api_key: sensitive_header(credentials, "api_key")?,
            secret_key: sensitive_header(credentials, "secret_key")?,
        })
    }
}

/// The credential `name` as a sensitive header value.
fn sensitive_header(
    credentials: &Credentials,
    name: &str,
) -> Result<HeaderValue, ProviderConfigError> {
    let secret = target::credential(credentials, name)?;
    let mut value =
        HeaderValue::from_str(secret.expose_secret().trim()).map_err(|_| ProviderConfigError {
            key: format!("credentials.{name}"),
            message: "not usable in an HTTP header (control characters or non-ASCII)".into(),
        })?;
    value.set_sensitive(true);
    Ok(value)
}

#[async_trait::async_trait]
impl Session for HeaderSession {
    async fn authorize(
        &self,
        _client: &reqwest::Client,
        req: &mut reqwest::Request,
    ) -> Result<(), AuthError> {
        let headers = req.headers_mut();
        headers.insert(HeaderName::from_static("api-key"), self.api_key.clone());
        headers.insert(
            HeaderName::from_static("secret-key"),
            self.secret_key.clone(),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers
            .entry(CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        Ok(())
    }
}

impl fmt::Debug for HeaderSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderSession")
            .field("api_key", &"[redacted]")
            .field("secret_key", &"[redacted]")
            .finish()
    }
}
