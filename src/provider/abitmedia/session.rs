//! Abitmedia authentication: a bearer access token from its identity service, or a configured
//! `token`.
//!
//! `GET {auth_url}v1/auth` with HTTP Basic `email:password` answers `{accessToken, refreshToken,
//! expiresIn}` (seconds). The token is shared by the whole run through a [`TokenCache`], renewed
//! shortly before it expires (and after Abitmedia refuses it) with
//! `POST {auth_url}v1/refreshToken {"refreshToken": ...}`, falling back to a full login when the
//! refresh fails. `auth_url` defaults to Abitmedia's identity service; a relative value is
//! resolved against the target's base URL (`"/"` for the built-in mock, which serves both).

use std::fmt;
use std::time::Duration;

use http::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::AbitmediaOptions;
use crate::provider::bearer::{BearerSession, Token, TokenSource};
use crate::provider::options::option_error;
use crate::provider::{response, target, AuthError, Credentials, Options, ProviderConfigError};

/// Abitmedia's identity service, where tokens come from unless the target's `auth_url` says
/// otherwise.
pub const DEFAULT_AUTH_URL: &str = "https://id.abitmedia.app/";

/// The session of an Abitmedia target: a login, or a configured token.
pub type AbitmediaSession = BearerSession<AbitmediaLogin>;

/// How an Abitmedia token is obtained: the identity service and the credentials.
pub struct AbitmediaLogin {
    auth_url: url::Url,
    email: SecretString,
    password: SecretString,
}

/// The identity service's URL for a target: its `auth_url` option resolved against its base
/// URL, with a trailing slash.
pub fn auth_url(base_url: &url::Url, options: &Options) -> Result<url::Url, ProviderConfigError> {
    let configured = options.get::<AbitmediaOptions>().auth_url.as_deref();
    let mut url = base_url
        .join(configured.unwrap_or(DEFAULT_AUTH_URL))
        .map_err(|e| option_error("auth_url", &format!("not a URL: {e}")))?;
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

impl BearerSession<AbitmediaLogin> {
    /// A session with `credentials`: the `token` when given, else `email` and `password`
    /// logging in at `auth_url`.
    pub fn new(auth_url: url::Url, credentials: &Credentials) -> Result<Self, ProviderConfigError> {
        if let Some(configured) = BearerSession::configured(credentials)? {
            return Ok(configured);
        }
        Ok(BearerSession::login(AbitmediaLogin {
            auth_url,
            email: target::credential(credentials, "email")?.clone(),
            password: target::credential(credentials, "password")?.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl TokenSource for AbitmediaLogin {
    async fn fetch(
        &self,
        client: &reqwest::Client,
        previous: Option<&Token>,
    ) -> Result<Token, AuthError> {
        if let Some(refresh) = previous.and_then(Token::refresh_token) {
            match self.refresh(client, refresh).await {
                Ok(token) => return Ok(token),
                Err(e) => {
                    tracing::debug!(provider = "abitmedia", error = %e, "token refresh failed; logging in")
                }
            }
        }
        self.login(client).await
    }
}

impl AbitmediaLogin {
    async fn login(&self, client: &reqwest::Client) -> Result<Token, AuthError> {
        let request = client
            .get(self.url("v1/auth")?)
            .basic_auth(
                self.email.expose_secret(),
                Some(self.password.expose_secret()),
            )
            .header(ACCEPT, "application/json");
        let token = token_from(request, None, "login").await?;
        tracing::info!(provider = "abitmedia", "logged in");
        Ok(token)
    }

    async fn refresh(
        &self,
        client: &reqwest::Client,
        refresh: &SecretString,
    ) -> Result<Token, AuthError> {
        let request = client
            .post(self.url("v1/refreshToken")?)
            .header(ACCEPT, "application/json")
            .json(&serde_json::json!({ "refreshToken": refresh.expose_secret() }));
        let token = token_from(request, Some(refresh), "token refresh").await?;
        tracing::debug!(provider = "abitmedia", "token refreshed");
        Ok(token)
    }

    fn url(&self, path: &str) -> Result<url::Url, AuthError> {
        self.auth_url
            .join(path)
            .map_err(|e| AuthError::Transient(format!("Abitmedia auth URL: {e}")))
    }
}

/// Sends a login or refresh request and reads the token from its answer (at the top level or
/// under `data`). A refresh answer without a new refresh token keeps `previous_refresh`.
async fn token_from(
    request: reqwest::RequestBuilder,
    previous_refresh: Option<&SecretString>,
    what: &str,
) -> Result<Token, AuthError> {
    let answer = request
        .send()
        .await
        .map_err(|e| AuthError::Transient(format!("Abitmedia {what}: {}", e.without_url())))?;
    let status = answer.status().as_u16();
    let bytes = answer
        .bytes()
        .await
        .map_err(|e| AuthError::Transient(format!("Abitmedia {what}: {}", e.without_url())))?;
    let problem = || {
        format!(
            "Abitmedia {what} answered HTTP {status}: {}",
            response::detail(&bytes)
        )
    };
    if status == 408 || status == 429 || status >= 500 {
        return Err(AuthError::Transient(problem()));
    }
    if !(200..300).contains(&status) {
        return Err(AuthError::Refused(problem()));
    }
    let json = response::json(&bytes).unwrap_or(Value::Null);
    let body = json.get("data").filter(|d| d.is_object()).unwrap_or(&json);
    let access =
        response::id_at(body, &[&["accessToken"], &["access_token"]]).ok_or_else(|| {
            AuthError::Transient(format!("Abitmedia {what} answered without an accessToken"))
        })?;
    let refresh = response::id_at(body, &[&["refreshToken"], &["refresh_token"]])
        .map(SecretString::from)
        .or_else(|| previous_refresh.cloned());
    let lifetime = response::id_at(body, &[&["expiresIn"], &["expires_in"]])
        .and_then(|s| s.parse::<f64>().ok())
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
    Token::new(&access, lifetime, refresh)
}

impl fmt::Debug for AbitmediaLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbitmediaLogin")
            .field(
                "auth_url",
                &crate::provider::target::without_credentials(self.auth_url.clone()).as_str(),
            )
            .field("email", &"[redacted]")
            .field("password", &"[redacted]")
            .finish()
    }
}
