//! GNOSS authentication: an OAuth 1.0 HMAC-SHA1 `Authorization` header signed per attempt.
//!
//! GNOSS rejects a timestamp older than 10 minutes and any nonce it saw in the last 10 minutes,
//! so every attempt (retries included) is signed with the current time and a fresh random
//! nonce. How the base string is built (GNOSS's way or RFC 5849's) lives in [`super::oauth`].

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};

use super::oauth::{self, OAuthKeys, SigningStyle};
use crate::provider::{target, AuthError, Credentials, ProviderConfigError, Session};

/// Length of the random nonce of each attempt.
pub const NONCE_LEN: usize = 32;

/// Builds the `Authorization` header value: [`oauth::authorization_header`]'s signature.
pub type Signer = fn(SigningStyle, &str, &url::Url, &OAuthKeys<'_>, u64, &str) -> String;

/// The session of a GNOSS target: its four OAuth secrets and how to sign with them.
pub struct OAuthSession {
    style: SigningStyle,
    consumer_key: SecretString,
    consumer_secret: SecretString,
    token: SecretString,
    token_secret: SecretString,
    sign: Signer,
}

impl OAuthSession {
    /// A session from the `consumer_key`, `consumer_secret`, `token` and `token_secret`
    /// credentials, signing in `style`.
    pub fn new(
        credentials: &Credentials,
        style: SigningStyle,
    ) -> Result<Self, ProviderConfigError> {
        Ok(OAuthSession {
            style,
            consumer_key: target::credential(credentials, "consumer_key")?.clone(),
            consumer_secret: target::credential(credentials, "consumer_secret")?.clone(),
            token: target::credential(credentials, "token")?.clone(),
            token_secret: target::credential(credentials, "token_secret")?.clone(),
            sign: oauth::authorization_header,
        })
    }

    /// The same session signing with `sign` (tests observe what each attempt is signed with).
    pub fn with_signer(mut self, sign: Signer) -> Self {
        self.sign = sign;
        self
    }

    /// How this session signs.
    pub fn style(&self) -> SigningStyle {
        self.style
    }
}

/// A fresh random nonce: [`NONCE_LEN`] ASCII letters and digits.
pub fn fresh_nonce() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), NONCE_LEN)
}

/// Seconds since the Unix epoch, now.
fn now_timestamp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[async_trait::async_trait]
impl Session for OAuthSession {
    async fn authorize(
        &self,
        _client: &reqwest::Client,
        req: &mut reqwest::Request,
    ) -> Result<(), AuthError> {
        let keys = OAuthKeys {
            consumer_key: self.consumer_key.expose_secret(),
            consumer_secret: self.consumer_secret.expose_secret(),
            token: self.token.expose_secret(),
            token_secret: self.token_secret.expose_secret(),
        };
        let header = (self.sign)(
            self.style,
            req.method().as_str(),
            req.url(),
            &keys,
            now_timestamp(),
            &fresh_nonce(),
        );
        let mut value = HeaderValue::from_str(&header).map_err(|_| {
            AuthError::Refused("the OAuth keys cannot be sent in an HTTP header".into())
        })?;
        value.set_sensitive(true);
        let headers = req.headers_mut();
        headers.insert(AUTHORIZATION, value);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers
            .entry(CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        Ok(())
    }
}

impl fmt::Debug for OAuthSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSession")
            .field("style", &self.style)
            .field("keys", &"[redacted]")
            .finish_non_exhaustive()
    }
}
