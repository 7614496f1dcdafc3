//! SCIM authentication: a bearer token (RFC 6750), the scheme RFC 7644 section 2 names and
//! every SaaS SCIM endpoint takes. Either the `token` credential as it is, or one obtained with
//! OAuth 2.0 client credentials (RFC 6749 section 4.4: `client_id` and `client_secret` sent
//! with HTTP Basic to the target's `token_url`), renewed before it expires and after a refusal
//! (`provider/bearer.rs`). Requests carry SCIM's media type, `application/scim+json` (RFC 7644
//! section 8.1).

use std::fmt;
use std::time::Duration;

use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::options::ScimOptions;
use crate::provider::bearer::{BearerSession, Token, TokenSource};
use crate::provider::options::option_error;
use crate::provider::{
    response, target, AuthError, Credentials, Options, ProviderConfigError, Session,
};

/// SCIM's media type.
pub const SCIM_JSON: &str = "application/scim+json";

/// The session of a SCIM target.
#[derive(Debug)]
pub struct ScimSession {
    bearer: BearerSession<ClientCredentials>,
}

impl ScimSession {
    /// A session with `credentials`: `token`, or `client_id` and `client_secret` with the
    /// target's `token_url`.
    pub fn new(
        base_url: &url::Url,
        credentials: &Credentials,
        options: &Options,
    ) -> Result<ScimSession, ProviderConfigError> {
        if let Some(bearer) = BearerSession::configured(credentials)? {
            return Ok(ScimSession { bearer });
        }
        let configured = options.get::<ScimOptions>().token_url.as_deref();
        let token_url = configured.ok_or_else(|| {
            option_error(
                "token_url",
                "client_id and client_secret need the OAuth 2.0 token endpoint to ask",
            )
        })?;
        let token_url = base_url
            .join(token_url)
            .map_err(|e| option_error("token_url", &format!("not a URL: {e}")))?;
        Ok(ScimSession {
            bearer: BearerSession::login(ClientCredentials {
                token_url,
                client_id: target::credential(credentials, "client_id")?.clone(),
                client_secret: target::credential(credentials, "client_secret")?.clone(),
            }),
        })
    }
}

#[async_trait::async_trait]
impl Session for ScimSession {
    async fn authorize(
        &self,
        client: &reqwest::Client,
        req: &mut reqwest::Request,
    ) -> Result<(), AuthError> {
        let has_body = req.body().is_some();
        self.bearer.authorize(client, req).await?;
        let headers = req.headers_mut();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/scim+json, application/json"),
        );
        if has_body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        }
        Ok(())
    }

    fn invalidate(&self) -> bool {
        self.bearer.invalidate()
    }
}

/// How a token is obtained with OAuth 2.0 client credentials.
pub struct ClientCredentials {
    token_url: url::Url,
    client_id: SecretString,
    client_secret: SecretString,
}

#[async_trait::async_trait]
impl TokenSource for ClientCredentials {
    async fn fetch(
        &self,
        client: &reqwest::Client,
        _previous: Option<&Token>,
    ) -> Result<Token, AuthError> {
        let answer = client
            .post(self.token_url.clone())
            .basic_auth(
                self.client_id.expose_secret(),
                Some(self.client_secret.expose_secret()),
            )
            .header(ACCEPT, "application/json")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| AuthError::Transient(format!("SCIM token: {}", e.without_url())))?;
        let status = answer.status().as_u16();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| AuthError::Transient(format!("SCIM token: {}", e.without_url())))?;
        if status == 408 || status == 429 || status >= 500 {
            return Err(AuthError::Transient(format!(
                "the SCIM token endpoint answered HTTP {status}"
            )));
        }
        let json = response::json(&bytes).unwrap_or(Value::Null);
        let token = json.get("access_token").and_then(Value::as_str);
        match token {
            Some(token) if (200..300).contains(&status) => {
                let lifetime = json
                    .get("expires_in")
                    .and_then(Value::as_u64)
                    .map(Duration::from_secs);
                tracing::info!(provider = "scim", "obtained an access token");
                Token::new(token, lifetime, None)
            }
            // RFC 6749 section 5.2: the error code says why, never a secret.
            _ => Err(AuthError::Refused(format!(
                "the SCIM token endpoint answered HTTP {status}: {}",
                json.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no access_token")
            ))),
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field(
                "token_url",
                &target::without_credentials(self.token_url.clone()).as_str(),
            )
            .field("client_id", &"[redacted]")
            .field("client_secret", &"[redacted]")
            .finish()
    }
}
