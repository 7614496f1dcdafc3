//! Faveo authentication: a bearer token from `POST v3/api/login`, or a configured `token`.
//!
//! The login takes `email` (or `user_name`) and `password` and answers
//! `{"success": true, "data": {..., "token": "..."}}`. One login serves the whole run (shared by
//! concurrent requests through a [`TokenCache`]); when Faveo refuses the token (its 422 "Please
//! login again", or a 401) the dispatcher calls [`Session::invalidate`] and the next request logs
//! in again. A configured `token` is sent as is and never renewed.

use std::fmt;

use http::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::provider::bearer::{BearerSession, Token, TokenSource};
use crate::provider::{response, target, AuthError, Credentials, ProviderConfigError};

/// The login route, relative to the target's base URL.
pub const LOGIN_PATH: &str = "v3/api/login";

/// The session of a Faveo target: a login, or a configured token.
pub type FaveoSession = BearerSession<FaveoLogin>;

/// How a Faveo token is obtained: the login call and its credentials.
pub struct FaveoLogin {
    url: url::Url,
    /// `email` or `user_name`, whichever the target gives.
    identity_field: &'static str,
    identity: SecretString,
    password: SecretString,
}

impl BearerSession<FaveoLogin> {
    /// A session for the target at `base_url` with `credentials`: the `token` when given,
    /// else a login with `email` (or `user_name`) and `password`.
    pub fn new(
        base_url: &url::Url,
        credentials: &Credentials,
    ) -> Result<Self, ProviderConfigError> {
        if let Some(configured) = BearerSession::configured(credentials)? {
            return Ok(configured);
        }
        let identity_field = if credentials.get("email").is_some() {
            "email"
        } else {
            "user_name"
        };
        let url = base_url.join(LOGIN_PATH).map_err(|e| ProviderConfigError {
            key: "base_url".into(),
            message: format!("cannot address the login route: {e}"),
        })?;
        Ok(BearerSession::login(FaveoLogin {
            url,
            identity_field,
            identity: target::credential(credentials, identity_field)?.clone(),
            password: target::credential(credentials, "password")?.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl TokenSource for FaveoLogin {
    async fn fetch(
        &self,
        client: &reqwest::Client,
        _previous: Option<&Token>,
    ) -> Result<Token, AuthError> {
        let mut body = serde_json::Map::new();
        body.insert(
            self.identity_field.into(),
            Value::String(self.identity.expose_secret().to_string()),
        );
        body.insert(
            "password".into(),
            Value::String(self.password.expose_secret().to_string()),
        );
        let answer = client
            .post(self.url.clone())
            .header(ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| AuthError::Transient(format!("Faveo login: {}", e.without_url())))?;
        let status = answer.status().as_u16();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| AuthError::Transient(format!("Faveo login: {}", e.without_url())))?;
        let text = response::detail(&bytes);
        if status == 408 || status == 429 || status >= 500 {
            return Err(AuthError::Transient(format!(
                "Faveo login answered HTTP {status}: {text}"
            )));
        }
        let json = response::json(&bytes).unwrap_or(Value::Null);
        let succeeded = (200..300).contains(&status)
            && json.get("success").and_then(Value::as_bool) != Some(false);
        let token = response::id_at(
            &json,
            &[&["data", "token"], &["token"], &["data", "access_token"]],
        );
        match token {
            Some(token) if succeeded => {
                tracing::info!(provider = "faveo", "logged in");
                Token::new(&token, None, None)
            }
            _ if succeeded => Err(AuthError::Transient(
                "Faveo login answered without a token".into(),
            )),
            _ => Err(AuthError::Refused(format!(
                "Faveo login answered HTTP {status}: {text}"
            ))),
        }
    }
}

impl fmt::Debug for FaveoLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaveoLogin")
            .field(
                "url",
                &crate::provider::target::without_credentials(self.url.clone()).as_str(),
            )
            .field("identity_field", &self.identity_field)
            .field(self.identity_field, &"[redacted]")
            .field("password", &"[redacted]")
            .finish()
    }
}
