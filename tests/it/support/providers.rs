//! What the `provider_<name>` tests share: an adapter talking to its own built-in mock through
//! its real session, one attempt at a time; creating a user; and the checks every provider
//! passes alike (transient classes, and for the providers with a login, an expired token and
//! refused credentials).

use std::sync::Arc;
use std::time::Duration;

use usersync::mock::{
    self, demo_credentials, Change, FaultConfig, MockHandle, MockOptions, StoredUser,
};
use usersync::payload::Payload;
use usersync::provider::{
    AuthError, Credentials, Operation, Options, Outcome, Provider, RawResponse, Session,
    TargetContext, UserRef,
};

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt {
    /// The provider answered; the adapter's classification.
    Answered(Outcome),
    /// No answer: the connection failed or was dropped.
    Transport(reqwest::Error),
    /// The session could not authenticate (e.g. its login was refused).
    Auth(AuthError),
}

impl Attempt {
    /// The outcome, or a panic naming what happened instead.
    pub fn outcome(self) -> Outcome {
        match self {
            Attempt::Answered(outcome) => outcome,
            other => panic!("expected an answer, got {other:?}"),
        }
    }
}

/// An adapter, its session and a mock of its provider.
pub struct Target {
    pub provider: &'static dyn Provider,
    pub mock: MockHandle,
    pub ctx: TargetContext,
    pub session: Arc<dyn Session>,
    pub client: reqwest::Client,
}

/// The target context of a target at `mock` with `credentials` and `options`.
pub fn context(mock: &MockHandle, credentials: Credentials, options: Options) -> TargetContext {
    TargetContext {
        base_url: mock.url.clone(),
        credentials,
        options,
    }
}

impl Target {
    /// A mock of `name` with `opts`, and the adapter's session for a target at it.
    pub async fn start(
        name: &str,
        opts: MockOptions,
        credentials: Credentials,
        options: toml::Table,
    ) -> Target {
        let provider = usersync::provider::by_name(name).unwrap();
        let mock = mock::start(provider, opts).await.unwrap();
        let options = provider.parse_options(&options).unwrap();
        let ctx = context(&mock, credentials, options);
        let session = provider.session(&ctx).unwrap();
        Target {
            provider,
            mock,
            ctx,
            session,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        }
    }

    /// The same target with another session (wrong credentials, other options).
    pub fn with_session(mut self, session: Arc<dyn Session>) -> Target {
        self.session = session;
        self
    }

    /// One attempt of `op` on `user` with `payload`, as the dispatcher makes it: the adapter's
    /// request, authorised by the session, classified by the adapter.
    pub async fn send(&self, op: Operation, user: &UserRef, payload: &Payload) -> Attempt {
        let built = self
            .provider
            .build_request(&self.ctx.options, op, user, payload)
            .unwrap();
        let url = self.ctx.base_url.join(&built.path).unwrap();
        let mut builder = self.client.request(built.method, url);
        if let Some(body) = &built.body {
            builder = builder.json(body);
        }
        let mut request = builder.build().unwrap();
        if let Err(e) = self.session.authorize(&self.client, &mut request).await {
            return Attempt::Auth(e);
        }
        let response = match self.client.execute(request).await {
            Ok(response) => response,
            Err(e) => return Attempt::Transport(e),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        let raw = RawResponse {
            status,
            headers,
            body,
        };
        Attempt::Answered(self.provider.classify(&self.ctx.options, op, &raw))
    }

    /// Sets the mock's faults.
    pub fn faults(&self, faults: FaultConfig) {
        self.mock.state.set_faults(faults).unwrap();
    }
}

/// A payload from a JSON object.
pub fn payload(value: serde_json::Value) -> Payload {
    value.as_object().unwrap().clone().into()
}

/// A user by key, with the provider's id when known.
pub fn user(key: &str, remote_id: Option<&str>) -> UserRef {
    UserRef {
        key: key.to_string(),
        remote_id: remote_id.map(str::to_string),
    }
}

/// The answer to a create of the user `key` with `body`.
pub async fn create_attempt(target: &Target, key: &str, body: serde_json::Value) -> Outcome {
    target
        .send(Operation::Create, &user(key, None), &payload(body))
        .await
        .outcome()
}

/// Creates the user `key` with `body`; returns the provider's id for it.
pub async fn create(target: &Target, key: &str, body: serde_json::Value) -> String {
    match create_attempt(target, key, body).await {
        Outcome::Synced {
            remote_id: Some(id),
        } => id,
        other => panic!("create: {other:?}"),
    }
}

/// Sends `op` on `user` with `payload` and checks that it went through.
pub async fn assert_synced(target: &Target, op: Operation, user: &UserRef, payload: &Payload) {
    let outcome = target.send(op, user, payload).await.outcome();
    assert!(
        matches!(outcome, Outcome::Synced { .. }),
        "{op}: {outcome:?}"
    );
}

/// Throttling, 5xx and a dropped connection, for `op` (a create of a new user): 429 is a retry
/// after the mock's `Retry-After`, 5xx a retry, and a dropped connection a transport error after
/// which the mock holds the user once, so that the attempt that follows the drop (the client's
/// retry) is a conflict, not a second user; returns that attempt, for a closer look.
pub async fn assert_transient_classes(
    target: &Target,
    op: Operation,
    user: &UserRef,
    payload: &Payload,
) -> Outcome {
    let before = target.mock.state.users().len();
    target.faults(FaultConfig {
        throttle_rate: 1.0,
        retry_after_secs: 3,
        ..FaultConfig::default()
    });
    match target.send(op, user, payload).await.outcome() {
        Outcome::Retry { status, after, .. } => {
            assert_eq!(status, Some(429));
            assert_eq!(after, Some(Duration::from_secs(3)));
        }
        other => panic!("a 429 is a retry, not {other:?}"),
    }
    target.faults(FaultConfig {
        fail_rate: 1.0,
        ..FaultConfig::default()
    });
    match target.send(op, user, payload).await.outcome() {
        Outcome::Retry { status, .. } => {
            assert!(matches!(status, Some(500) | Some(503)), "{status:?}")
        }
        other => panic!("a 5xx is a retry, not {other:?}"),
    }
    assert_eq!(
        target.mock.state.users().len(),
        before,
        "no fault changed the store"
    );

    target.faults(FaultConfig {
        drop_rate: 1.0,
        ..FaultConfig::default()
    });
    match target.send(op, user, payload).await {
        Attempt::Transport(e) => assert!(!e.is_timeout(), "{e:?}"),
        other => panic!("a dropped connection is a transport error, not {other:?}"),
    }
    assert_eq!(
        target.mock.state.users().len(),
        before + 1,
        "the dropped request was applied"
    );
    target.faults(FaultConfig::default());
    let after_drop = target.send(op, user, payload).await.outcome();
    assert!(
        matches!(after_drop, Outcome::Conflict { .. }),
        "{after_drop:?}"
    );
    after_drop
}

/// For a provider with a login: once the mock's tokens expire, `op` is an auth failure with
/// `status`; the session then drops its token, logs in again, and the same request goes
/// through.
pub async fn assert_expired_token_is_renewed(
    target: &Target,
    op: Operation,
    user: &UserRef,
    payload: &Payload,
    status: u16,
) {
    target.mock.state.expire_tokens();
    let refused = target.send(op, user, payload).await.outcome();
    assert!(
        matches!(refused, Outcome::AuthFailed { status: s, .. } if s == status),
        "{refused:?}"
    );
    assert!(target.session.invalidate());
    let again = target.send(op, user, payload).await.outcome();
    assert!(matches!(again, Outcome::Synced { .. }), "{again:?}");
}

/// For a provider with a login, through a session given the wrong `password`: `op` is an auth
/// failure whose message does not show the password.
pub async fn assert_login_refused(
    target: &Target,
    op: Operation,
    user: &UserRef,
    payload: &Payload,
    password: &str,
) {
    match target.send(op, user, payload).await {
        Attempt::Auth(AuthError::Refused(message)) => assert!(!message.contains(password)),
        other => panic!("a refused login is an auth failure, not {other:?}"),
    }
}

/// The mock's demo credentials for `provider`, but with `name` set to the wrong `value`.
pub fn wrong_credentials(provider: &str, name: &str, value: &str) -> Credentials {
    let mut credentials = demo_credentials(provider);
    credentials.insert(name, value);
    credentials
}

/// For a provider that knows users by the id it hands out and takes a patch as a whole update
/// (Abitmedia, Faveo): on a fresh mock, creates the user `key` with `created` (answered with the
/// mock's first id, "1"), updates and then patches it with `full`, and deactivates it, each
/// accepted. Returns the user as the mock then holds it, checked to be inactive after one
/// create, two updates and one deactivation.
pub async fn assert_every_operation_accepted(
    target: &Target,
    key: &str,
    created: serde_json::Value,
    full: serde_json::Value,
) -> StoredUser {
    let id = create(target, key, created).await;
    assert_eq!(id, "1");
    let known = user(key, Some(&id));
    for op in [Operation::Update, Operation::Patch] {
        assert_synced(target, op, &known, &payload(full.clone())).await;
    }
    // As the dispatcher does: a provider whose deactivation sends the record back reads it first.
    let mut deactivation = payload(serde_json::json!({}));
    if target
        .provider
        .reads_first(&target.ctx.options, Operation::Deactivate, &deactivation)
    {
        match target.send(Operation::Lookup, &known, &deactivation).await {
            Attempt::Answered(Outcome::Found { record, .. }) => deactivation = record,
            other => panic!("the lookup before a deactivation: {other:?}"),
        }
    }
    assert_synced(target, Operation::Deactivate, &known, &deactivation).await;

    let stored = target.mock.state.user(&id).unwrap();
    assert!(!stored.active);
    assert_eq!(stored.count(Change::Create), 1);
    assert_eq!(stored.count(Change::Update), 2);
    assert_eq!(stored.count(Change::Deactivate), 1);
    stored
}

/// Whether `outcome` is a rejection naming `field`.
pub fn rejects_field(outcome: &Outcome, field: &str) -> bool {
    matches!(outcome, Outcome::Rejected { errors, .. } if errors.iter().any(|e| e.field == field))
}
