//! The built-in mock provider server: a product feature, not only a test helper.
//!
//! It is what `base_url = "mock"` syncs to, what `usersync mock-server` serves for operators
//! rehearsing a config, and what the tests and benches run against. For one provider it serves
//! that provider's routes (`provider/<name>/mock.rs`), checks credentials as the provider does,
//! validates bodies by its own reading of the provider's pages ([`checks`]; GNOSS's mock also
//! verifies OAuth signatures with its own RFC 5849 code), keeps users in memory ([`store`]),
//! injects seeded faults ([`faults`], [`inject`]), counts everything ([`stats`]) and shows it
//! under `/__mock/` ([`admin`]).
//!
//! Where a page is ambiguous, a mock takes the strictest reading, so that a rehearsal shows what
//! the real API might refuse; a [`MockOptions`] field (and a `usersync mock-server` flag) lets
//! the lenient reading through.
//!
//! [`start`] binds the listener before it returns, so a caller can send requests at once.

pub mod admin;
pub mod auth;
// Each provider's side of the mock lives in the provider's folder, but belongs here: the
// adapter never reaches its mock, nor the mock its adapter's rules.
#[path = "../provider/abitmedia/mock.rs"]
pub mod abitmedia;
pub mod checks;
pub mod faults;
#[path = "../provider/faveo/mock.rs"]
pub mod faveo;
#[path = "../provider/gnoss/mock.rs"]
pub mod gnoss;
pub mod inject;
#[path = "../provider/meetinglawyers/mock.rs"]
pub mod meetinglawyers;
pub mod request;
#[path = "../provider/scim/mock.rs"]
pub mod scim;
pub mod server;
pub mod stats;
pub mod store;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::Router;
use http::StatusCode;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::provider::gnoss::oauth::SigningStyle;
use crate::provider::{Credentials, Provider};

pub use faults::{FaultConfig, Latency};
pub use stats::StatsSnapshot;
pub use store::{Change, StoredUser};

use auth::{NonceBook, TokenBook};
use faults::FaultEngine;
use stats::{Ending, Stats};
use store::Store;

/// How a mock server behaves.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Where to listen; `None` is 127.0.0.1 on a free port.
    pub listen: Option<SocketAddr>,
    /// The credentials it accepts, by their names in a target's `credentials` table; a name not
    /// given takes the provider's documented demo default.
    pub credentials: Credentials,
    /// How GNOSS signatures are checked.
    pub signing: SigningStyle,
    /// How long a Faveo or Abitmedia token lives.
    pub token_ttl: Duration,
    pub faults: FaultConfig,
    /// Accept JSON `null` as "clear this field" where a provider's page shows no null
    /// (everywhere but MeetingLawyers' `description`). Off: such a null is refused.
    pub null_clears: bool,
    /// MeetingLawyers: accept a `PATCH` without `status` (the update table marks it required).
    pub meetinglawyers_patch_without_status: bool,
    /// Faveo: which of the fields its page calls "configurable" (`user_name`, `phone_number`,
    /// `email`, `mobile`) a create or an update must carry. Default: `email` and `user_name`.
    pub faveo_required: Vec<String>,
    /// Abitmedia: accept an update whose body is `status` alone (the page requires every field
    /// but the password on an update).
    pub abitmedia_status_only_update: bool,
    /// SCIM: a PATCH `replace` whose valuePath filter matches no value adds one (made of the
    /// filter's `eq` terms) instead of answering 400 `noTarget` (RFC 7644 section 3.5.2.3).
    pub scim_replace_adds: bool,
    /// SCIM: the most operations a bulk request may hold (`maxOperations`, RFC 7644 section
    /// 3.7); 0 says bulk is not supported.
    pub scim_bulk_max_operations: usize,
    /// SCIM: another client changes each user once, just before the first write conditional on
    /// the user's version (`If-Match`), which is then answered 412 (RFC 7644 section 3.14).
    pub scim_concurrent_edit: bool,
}

/// The SCIM mock's `maxOperations` unless told otherwise: scim2-server's default.
pub const SCIM_BULK_MAX_OPERATIONS: usize = 1000;

/// The fields Faveo's page calls "configurable from backend form settings".
pub const FAVEO_CONFIGURABLE: &[&str] = &["user_name", "phone_number", "email", "mobile"];

impl MockOptions {
    /// Checks the settings [`start`] cannot serve with.
    pub fn check(&self) -> Result<(), String> {
        self.faults.check()?;
        if let Some(unknown) = self
            .faveo_required
            .iter()
            .find(|name| !FAVEO_CONFIGURABLE.contains(&name.as_str()))
        {
            return Err(format!(
                "faveo required field {unknown:?} is not one of {}",
                FAVEO_CONFIGURABLE.join(", ")
            ));
        }
        Ok(())
    }
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            listen: None,
            credentials: Credentials::new(),
            signing: SigningStyle::default(),
            token_ttl: Duration::from_secs(3600),
            faults: FaultConfig::default(),
            null_clears: false,
            meetinglawyers_patch_without_status: false,
            faveo_required: vec!["email".into(), "user_name".into()],
            abitmedia_status_only_update: false,
            scim_replace_adds: false,
            scim_bulk_max_operations: SCIM_BULK_MAX_OPERATIONS,
            scim_concurrent_edit: false,
        }
    }
}

/// One provider's side of the built-in mock server: implemented in the provider's folder
/// (`provider/<name>/mock.rs`), compiled as part of this module.
pub trait MockProvider: Send + Sync + 'static {
    /// The provider's name in config files (`meetinglawyers`).
    fn name(&self) -> &'static str;

    /// The provider's routes.
    fn router(&self, state: MockState) -> axum::Router;

    /// The documented demo credentials, by their names in a target's `credentials` table: what
    /// the mock accepts when the target's environment variables are not set.
    fn demo_credentials(&self) -> Credentials;

    /// Sets the target options a target on the built-in mock (`base_url = "mock"`) needs, where
    /// the config leaves them out (Abitmedia: its login routes are on the mock's own root).
    fn target_options(&self, options: &mut toml::Table) {
        let _ = options;
    }
}

/// The mock of every provider usersync knows. A new provider's mock is one line here.
pub fn registry() -> &'static [&'static dyn MockProvider] {
    &[
        &meetinglawyers::Mock,
        &gnoss::Mock,
        &faveo::Mock,
        &abitmedia::Mock,
        &scim::Mock,
    ]
}

/// The mock of the provider named `provider`.
pub fn for_provider(provider: &str) -> Option<&'static dyn MockProvider> {
    registry().iter().copied().find(|m| m.name() == provider)
}

/// The documented demo credentials of the provider named `provider` (empty for an unknown one):
/// what the mock accepts when none are given.
pub fn demo_credentials(provider: &str) -> Credentials {
    for_provider(provider)
        .map(|m| m.demo_credentials())
        .unwrap_or_default()
}

struct Shared {
    options: MockOptions,
    credentials: Credentials,
    signing: SigningStyle,
    token_ttl: Duration,
    store: Mutex<Store>,
    faults: Mutex<FaultEngine>,
    stats: Stats,
    tokens: Mutex<TokenBook>,
    nonces: Mutex<NonceBook>,
}

/// Shared state of one mock server: its store, its accepted credentials, its fault settings.
/// Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct MockState {
    shared: Arc<Shared>,
}

impl Default for MockState {
    fn default() -> Self {
        MockState::new(&MockOptions::default())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MockState {
    /// The state of a new server with `opts` (faults as given; [`start`] checks them).
    pub fn new(opts: &MockOptions) -> Self {
        let seed = opts.faults.seed.unwrap_or_else(rand::random);
        MockState {
            shared: Arc::new(Shared {
                options: opts.clone(),
                credentials: opts.credentials.clone(),
                signing: opts.signing,
                token_ttl: opts.token_ttl,
                store: Mutex::new(Store::new(&[], seed)),
                faults: Mutex::new(FaultEngine::new(opts.faults.clone())),
                stats: Stats::default(),
                tokens: Mutex::new(TokenBook::default()),
                nonces: Mutex::new(NonceBook::default()),
            }),
        }
    }

    /// The accepted value of the credential `name`, or `default` when none was given.
    /// A secret: compare it, never log it.
    pub fn credential<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.shared
            .credentials
            .get(name)
            .map_or(default, |secret| secret.expose_secret())
    }

    /// Whether the credential `name` was given (not defaulted).
    pub fn has_credential(&self, name: &str) -> bool {
        self.shared.credentials.get(name).is_some()
    }

    /// The options this server was started with (which readings of the pages it applies).
    pub fn options(&self) -> &MockOptions {
        &self.shared.options
    }

    /// How GNOSS signatures are checked.
    pub fn signing(&self) -> SigningStyle {
        self.shared.signing
    }

    /// How long an issued token lives.
    pub fn token_ttl(&self) -> Duration {
        self.shared.token_ttl
    }

    /// Every stored user, in creation order.
    pub fn users(&self) -> Vec<StoredUser> {
        self.store().users()
    }

    /// Every stored user, to be given to [`MockState::import_users`] of a later server (how the
    /// in-process mock of `base_url = "mock"` keeps its users between runs).
    pub fn export_users(&self) -> Vec<StoredUser> {
        self.store().export()
    }

    /// Replaces the stored users with `users`, as [`MockState::export_users`] gave them.
    pub fn import_users(&self, users: Vec<StoredUser>) {
        self.store().import(users);
    }

    /// The stored user with the provider's id `id`.
    pub fn user(&self, id: &str) -> Option<StoredUser> {
        self.store().get(id).cloned()
    }

    /// The request counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// The fault settings in force.
    pub fn faults(&self) -> FaultConfig {
        self.faults_engine().config().clone()
    }

    /// Replaces the fault settings (the generator restarts from the new seed).
    pub fn set_faults(&self, config: FaultConfig) -> Result<(), String> {
        config.check()?;
        *self.faults_engine() = FaultEngine::new(config);
        Ok(())
    }

    /// Every bearer token issued so far expires now (to test renewal without waiting).
    pub fn expire_tokens(&self) {
        lock(&self.shared.tokens).expire_all();
    }

    /// The users, locked. Keep the guard short; never hold it across an `await`.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.shared.store)
    }

    /// The issued bearer tokens, locked.
    pub fn tokens(&self) -> MutexGuard<'_, TokenBook> {
        lock(&self.shared.tokens)
    }

    /// The OAuth nonces seen, locked.
    pub fn nonces(&self) -> MutexGuard<'_, NonceBook> {
        lock(&self.shared.nonces)
    }

    pub(crate) fn stats_ref(&self) -> &Stats {
        &self.shared.stats
    }

    pub(crate) fn faults_engine(&self) -> MutexGuard<'_, FaultEngine> {
        lock(&self.shared.faults)
    }
}

/// Wraps a provider's API routes with request counting and fault injection.
pub fn api_routes(routes: Router<MockState>, state: &MockState) -> Router<MockState> {
    routes.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        inject::inject,
    ))
}

/// Wraps a provider's login and token routes with request counting (and faults only when
/// [`FaultConfig::include_auth`] is set).
pub fn auth_routes(routes: Router<MockState>, state: &MockState) -> Router<MockState> {
    routes.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        inject::inject_auth,
    ))
}

/// A running mock server. Dropping it (or [`MockHandle::stop`]) stops the server and closes
/// every connection.
pub struct MockHandle {
    /// The server's root URL, with a trailing slash (`http://127.0.0.1:PORT/`).
    pub url: url::Url,
    pub addr: SocketAddr,
    pub state: MockState,
    shutdown: Option<watch::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockHandle {
    /// The URL of `path` (relative, without a leading slash) on this server.
    pub fn join(&self, path: &str) -> url::Url {
        self.url
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| self.url.clone())
    }

    /// Stops the server and waits until it no longer accepts connections.
    pub async fn stop(mut self) {
        self.shutdown.take();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        // Dropping the sender wakes the accept loop and every connection.
        self.shutdown.take();
    }
}

/// Starts a mock of `provider` with `opts`. The listener is bound before this returns, so the
/// server can be used at once, without waiting.
pub async fn start(
    provider: &'static dyn Provider,
    opts: MockOptions,
) -> anyhow::Result<MockHandle> {
    opts.check()
        .map_err(|message| anyhow::anyhow!("invalid mock settings: {message}"))?;
    let addr = opts
        .listen
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("the mock server cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let state = MockState::new(&opts);
    let fallback_state = state.clone();
    let mock = for_provider(provider.name())
        .ok_or_else(|| anyhow::anyhow!("{} has no built-in mock", provider.name()))?;
    let app = mock
        .router(state.clone())
        .merge(admin::router(state.clone()))
        .fallback(move |request: Request| not_found(fallback_state.clone(), request));
    let (shutdown, stop) = watch::channel(());
    let task = server::spawn(listener, app, state.clone(), stop);
    let url = url::Url::parse(&format!("http://{local}/"))?;
    tracing::info!(provider = provider.name(), url = %url, "mock provider listening");
    Ok(MockHandle {
        url,
        addr: local,
        state,
        shutdown: Some(shutdown),
        task: Some(task),
    })
}

async fn not_found(state: MockState, request: Request) -> impl IntoResponse {
    let stats = state.stats_ref();
    let second = stats.begin(request.method().as_str(), "unmatched");
    stats.end(second, Ending::Answered(404));
    stats.leave();
    (StatusCode::NOT_FOUND, "Not Found")
}
