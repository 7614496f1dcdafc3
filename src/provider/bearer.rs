//! A bearer token shared by every request of a run: obtained from the provider's login endpoint
//! once, renewed before it expires and again after the provider refuses it.
//!
//! Faveo and Abitmedia hand out tokens from a login call. Dozens of requests start at once, so
//! the first login must be shared: a [`TokenCache`] serialises renewals behind an async mutex
//! and re-checks after taking it, so concurrent callers wait for the one login in progress
//! instead of starting their own. A provider plugs in how a token is obtained as a
//! [`TokenSource`]. Tokens live in sensitive `HeaderValue`s and `SecretString`s; nothing here
//! logs or prints them.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::HeaderValue;
use secrecy::SecretString;

use crate::provider::AuthError;

/// How long before expiry a token is renewed (at most half its lifetime).
pub const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// A token younger than this is not dropped when a request is refused: the refusal came from a
/// request sent with the previous token, which a concurrent request has already replaced.
pub const REFUSAL_GRACE: Duration = Duration::from_secs(2);

/// One access token, ready to be sent.
pub struct Token {
    header: HeaderValue,
    obtained_at: Instant,
    lifetime: Option<Duration>,
    refresh: Option<SecretString>,
}

impl Token {
    /// A token `access`, valid for `lifetime` when the provider says so, renewable with
    /// `refresh` when the provider gave a refresh token.
    pub fn new(
        access: &str,
        lifetime: Option<Duration>,
        refresh: Option<SecretString>,
    ) -> Result<Token, AuthError> {
        let mut header = HeaderValue::from_str(&format!("Bearer {access}")).map_err(|_| {
            AuthError::Transient("the login answer's token is not a valid header value".into())
        })?;
        header.set_sensitive(true);
        Ok(Token {
            header,
            obtained_at: Instant::now(),
            lifetime,
            refresh,
        })
    }

    /// The `Authorization` header value (`Bearer ...`), marked sensitive.
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// The refresh token the provider gave with this token, if any.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh.as_ref()
    }

    /// How long after it was obtained the token should be renewed: `margin` before its expiry,
    /// the margin being at most half its lifetime; never for a token without a known lifetime.
    fn renew_after(&self, margin: Duration) -> Option<Duration> {
        self.lifetime
            .map(|lifetime| lifetime - margin.min(lifetime / 2))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("token", &"[redacted]")
            .field("lifetime", &self.lifetime)
            .field("refreshable", &self.refresh.is_some())
            .finish()
    }
}

/// How a provider obtains a token.
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync + 'static {
    /// A new token. `previous` is the token being replaced (expiring or refused), for
    /// providers that renew with a refresh token; `None` on the first login.
    async fn fetch(
        &self,
        client: &reqwest::Client,
        previous: Option<&Token>,
    ) -> Result<Token, AuthError>;
}

#[derive(Default)]
struct CacheState {
    token: Option<Arc<Token>>,
    /// When, after it was obtained, `token` must be renewed.
    renew_after: Option<Duration>,
    /// The provider refused `token`: renew before using it again.
    refused: bool,
    /// The login endpoint refused the credentials: every caller gets this error, no new login.
    login_refused: Option<String>,
}

/// The current token of a login-based session, shared by all requests of a run.
pub struct TokenCache<S> {
    source: S,
    state: Mutex<CacheState>,
    renewing: tokio::sync::Mutex<()>,
    renew_margin: Duration,
    refusal_grace: Duration,
}

impl<S: TokenSource> TokenCache<S> {
    /// A cache that obtains its tokens from `source`, lazily, on the first request.
    pub fn new(source: S) -> Self {
        TokenCache {
            source,
            state: Mutex::new(CacheState::default()),
            renewing: tokio::sync::Mutex::new(()),
            renew_margin: RENEW_MARGIN,
            refusal_grace: REFUSAL_GRACE,
        }
    }

    /// The same cache with another refusal grace (tests use zero).
    pub fn with_refusal_grace(mut self, grace: Duration) -> Self {
        self.refusal_grace = grace;
        self
    }

    /// The token source (for its settings).
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The `Authorization` header for the next request: the cached token while it is good,
    /// else a new one (one login at a time; callers arriving meanwhile share its result).
    pub async fn header(&self, client: &reqwest::Client) -> Result<HeaderValue, AuthError> {
        if let Some(header) = self.usable()? {
            return Ok(header);
        }
        let _renewing = self.renewing.lock().await;
        if let Some(header) = self.usable()? {
            return Ok(header);
        }
        let previous = self.state().token.clone();
        match self.source.fetch(client, previous.as_deref()).await {
            Ok(token) => {
                let header = token.header.clone();
                let mut state = self.state();
                state.renew_after = token.renew_after(self.renew_margin);
                state.token = Some(Arc::new(token));
                state.refused = false;
                Ok(header)
            }
            Err(AuthError::Refused(message)) => {
                self.state().login_refused = Some(message.clone());
                Err(AuthError::Refused(message))
            }
            Err(transient) => Err(transient),
        }
    }

    /// The provider refused a request's token: the next request renews it (unless the current
    /// token was obtained within the refusal grace, i.e. after that request left). Always true:
    /// logging in again may help.
    pub fn invalidate(&self) -> bool {
        let mut state = self.state();
        let fresh = state
            .token
            .as_ref()
            .is_some_and(|t| t.obtained_at.elapsed() < self.refusal_grace);
        if !fresh {
            state.refused = true;
        }
        true
    }

    fn usable(&self) -> Result<Option<HeaderValue>, AuthError> {
        let state = self.state();
        if let Some(message) = &state.login_refused {
            return Err(AuthError::Refused(message.clone()));
        }
        Ok(state
            .token
            .as_ref()
            .filter(|t| !state.refused && !expiring(t, state.renew_after))
            .map(|t| t.header.clone()))
    }

    fn state(&self) -> MutexGuard<'_, CacheState> {
        // A panic elsewhere cannot leave the state half-written: every update is one assignment.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the current token look `age` older (tests of expiry without waiting).
    #[cfg(test)]
    pub(crate) fn age_token(&self, age: Duration) {
        let mut state = self.state();
        state.renew_after = state.renew_after.map(|d| d.saturating_sub(age));
    }
}

fn expiring(token: &Token, renew_after: Option<Duration>) -> bool {
    renew_after.is_some_and(|after| token.obtained_at.elapsed() >= after)
}

impl<S> fmt::Debug for TokenCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The session of a bearer-token provider (Faveo, Abitmedia): a login whose token the whole run
/// shares and renews, or a token given in the config, sent as is and never renewed.
pub enum BearerSession<S> {
    /// Logs in through `S` with the target's credentials.
    Login(Box<TokenCache<S>>),
    /// A token given in the config.
    Token(http::HeaderValue),
}

impl<S: TokenSource> BearerSession<S> {
    /// The configured `token` credential as a header, if the target gives one (a leading
    /// `Bearer ` is accepted).
    pub fn configured(
        credentials: &crate::provider::Credentials,
    ) -> Result<Option<Self>, crate::provider::ProviderConfigError> {
        use secrecy::ExposeSecret;
        let Some(token) = credentials.get("token") else {
            return Ok(None);
        };
        let token = token.expose_secret().trim();
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        let token =
            Token::new(token, None, None).map_err(|_| crate::provider::ProviderConfigError {
                key: "credentials.token".into(),
                message: "not usable in an HTTP header (control characters or non-ASCII)".into(),
            })?;
        Ok(Some(BearerSession::Token(token.header().clone())))
    }

    /// A session that logs in through `source`.
    pub fn login(source: S) -> Self {
        BearerSession::Login(Box::new(TokenCache::new(source)))
    }

    /// The same session keeping a token younger than `grace` despite a refusal (see
    /// [`REFUSAL_GRACE`]; tests use zero).
    pub fn with_refusal_grace(self, grace: Duration) -> Self {
        match self {
            BearerSession::Login(cache) => {
                BearerSession::Login(Box::new(cache.with_refusal_grace(grace)))
            }
            token => token,
        }
    }

    /// The token cache of a login session (tests age its token).
    #[cfg(test)]
    pub(crate) fn cache(&self) -> Option<&TokenCache<S>> {
        match self {
            BearerSession::Login(cache) => Some(cache),
            BearerSession::Token(_) => None,
        }
    }
}

#[async_trait::async_trait]
impl<S: TokenSource> crate::provider::Session for BearerSession<S> {
    async fn authorize(
        &self,
        client: &reqwest::Client,
        req: &mut reqwest::Request,
    ) -> Result<(), AuthError> {
        use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
        let bearer = match self {
            BearerSession::Login(cache) => cache.header(client).await?,
            BearerSession::Token(header) => header.clone(),
        };
        let headers = req.headers_mut();
        headers.insert(AUTHORIZATION, bearer);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers
            .entry(CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        Ok(())
    }

    fn invalidate(&self) -> bool {
        match self {
            BearerSession::Login(cache) => cache.invalidate(),
            BearerSession::Token(_) => false,
        }
    }
}

impl<S: TokenSource + fmt::Debug> fmt::Debug for BearerSession<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BearerSession::Login(cache) => f
                .debug_struct("BearerSession::Login")
                .field("login", cache.source())
                .finish(),
            BearerSession::Token(_) => f
                .debug_struct("BearerSession::Token")
                .field("token", &"[redacted]")
                .finish(),
        }
    }
}

/// What the unit tests of the bearer-token providers (Faveo, Abitmedia) share: serving their
/// fake login endpoints, and reading the `Authorization` a session puts on a request.
#[cfg(test)]
pub(crate) mod testing {
    use std::net::SocketAddr;

    use crate::provider::{AuthError, Session};

    /// Serves `app` on 127.0.0.1 (listening before this returns); its address.
    pub async fn serve(app: axum::Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// The `Authorization` header `session` puts on a request, checked to be marked sensitive.
    pub async fn authorization(
        session: &dyn Session,
        client: &reqwest::Client,
    ) -> Result<String, AuthError> {
        let mut req =
            reqwest::Request::new(http::Method::POST, "http://127.0.0.1/x".parse().unwrap());
        session.authorize(client, &mut req).await?;
        let value = &req.headers()[http::header::AUTHORIZATION];
        assert!(value.is_sensitive());
        Ok(value.to_str().unwrap().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Hands out `token-1`, `token-2`, ... and counts its calls.
    #[derive(Default)]
    struct Counter {
        calls: AtomicUsize,
        lifetime: Option<Duration>,
    }

    #[async_trait::async_trait]
    impl TokenSource for Counter {
        async fn fetch(
            &self,
            _client: &reqwest::Client,
            _previous: Option<&Token>,
        ) -> Result<Token, AuthError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::task::yield_now().await;
            Token::new(&format!("token-{n}"), self.lifetime, None)
        }
    }

    struct Refuser(AtomicUsize);

    #[async_trait::async_trait]
    impl TokenSource for Refuser {
        async fn fetch(&self, _: &reqwest::Client, _: Option<&Token>) -> Result<Token, AuthError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(AuthError::Refused("bad password".into()))
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_login() {
        let cache = Arc::new(TokenCache::new(Counter::default()));
        let client = reqwest::Client::new();
        let headers = futures::future::join_all((0..16).map(|_| cache.header(&client))).await;
        for header in headers {
            assert_eq!(header.unwrap(), "Bearer token-1");
        }
        assert_eq!(cache.source().calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refused_token_is_renewed_once_outside_the_grace() {
        let client = reqwest::Client::new();
        let cache = TokenCache::new(Counter::default());
        assert_eq!(cache.header(&client).await.unwrap(), "Bearer token-1");
        // Within the grace: the refusal was for an older token; keep this one.
        assert!(cache.invalidate());
        assert_eq!(cache.header(&client).await.unwrap(), "Bearer token-1");
        let cache = cache.with_refusal_grace(Duration::ZERO);
        assert!(cache.invalidate());
        assert!(cache.invalidate());
        assert_eq!(cache.header(&client).await.unwrap(), "Bearer token-2");
        assert_eq!(cache.header(&client).await.unwrap(), "Bearer token-2");
    }

    #[tokio::test]
    async fn an_expiring_token_is_renewed() {
        let client = reqwest::Client::new();
        let cache = TokenCache::new(Counter {
            lifetime: Some(Duration::from_secs(3600)),
            ..Counter::default()
        });
        assert_eq!(cache.header(&client).await.unwrap(), "Bearer token-1");
        cache.age_token(Duration::from_secs(3500));
        assert_eq!(cache.header(&client).await.unwrap(), "Bearer token-1");
        cache.age_token(Duration::from_secs(60));
        assert_eq!(cache.header(&client).await.unwrap(), "Bearer token-2");
    }

    #[tokio::test]
    async fn refused_credentials_are_not_tried_again() {
        let client = reqwest::Client::new();
        let cache = TokenCache::new(Refuser(AtomicUsize::new(0)));
        for _ in 0..3 {
            assert!(matches!(
                cache.header(&client).await,
                Err(AuthError::Refused(m)) if m == "bad password"
            ));
        }
        assert_eq!(cache.source().0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn debug_hides_the_token() {
        let token = Token::new("s3cr3t-token", None, Some(SecretString::from("r3fr3sh"))).unwrap();
        let shown = format!("{token:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("r3fr3sh"),
            "{shown}"
        );
        assert!(token.header().is_sensitive());
    }
}
