//! A fake provider and session for the dispatcher tests: simple paths, plain status classification.
//!
//! Create is `POST users` (the key in the body), update `PUT users/{key}`, patch
//! `PATCH users/{key}`, reactivate `POST users/{key}`; deactivate cannot be built (to test `unsupported`). 2xx is synced, 401 an
//! auth failure, 409 a conflict, 422 a rejection, 429/5xx a retry (without parsing `Retry-After`:
//! the dispatcher must read it), and 299 makes the adapter panic.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use usersync::payload::Payload;
use usersync::provider::{
    AuthError, Operation, Options, Outcome, Provider, ProviderConfigError, ProviderRequest,
    RawResponse, Reactivation, Session, TargetContext, UserRef,
};
use usersync::validate::{FieldError, Schema};

pub static FAKE: FakeProvider = FakeProvider;

static SCHEMA: Schema = Schema {
    fields: &[],
    cross: |_, _| {},
};

pub struct FakeProvider;

/// The fake takes no options.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeOptions {}

impl Provider for FakeProvider {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn credential_sets(&self) -> &'static [&'static [&'static str]] {
        &[]
    }
    fn supports(&self, op: Operation) -> bool {
        op != Operation::Deactivate
    }
    fn reactivation(&self) -> Reactivation {
        Reactivation::ByRequest
    }
    fn update_operation(&self) -> Operation {
        Operation::Update
    }
    fn build_request(
        &self,
        _options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<ProviderRequest, usersync::provider::BuildError> {
        let (method, path) = match op {
            Operation::Create => (http::Method::POST, "users".to_string()),
            Operation::Update => (http::Method::PUT, format!("users/{}", user.key)),
            Operation::Patch => (http::Method::PATCH, format!("users/{}", user.key)),
            Operation::Reactivate => (http::Method::POST, format!("users/{}", user.key)),
            Operation::Deactivate => {
                return Err(usersync::provider::BuildError::Unsupported {
                    provider: "fake",
                    op,
                })
            }
            Operation::Lookup => {
                return Err(usersync::provider::BuildError::Unsupported {
                    provider: "fake",
                    op,
                })
            }
        };
        let mut body = payload.clone();
        body.insert("key", user.key.clone().into());
        Ok(ProviderRequest {
            method,
            path,
            body: Some(body),
            if_match: None,
        })
    }
    fn classify(&self, _options: &Options, _op: Operation, response: &RawResponse) -> Outcome {
        let text = String::from_utf8_lossy(&response.body).to_string();
        match response.status {
            200..=201 => Outcome::Synced {
                remote_id: serde_json::from_slice::<serde_json::Value>(&response.body)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(String::from)),
            },
            299 => panic!("fake adapter bug"),
            401 => Outcome::AuthFailed {
                status: 401,
                detail: text,
            },
            409 => Outcome::Conflict {
                status: 409,
                detail: text,
            },
            429 | 500..=599 => Outcome::Retry {
                status: Some(response.status),
                after: None,
                reason: text,
            },
            status => Outcome::Rejected {
                status,
                errors: vec![FieldError::new("email", "invalid", "not an email")],
                detail: text,
            },
        }
    }
    fn parse_options(&self, options: &toml::Table) -> Result<Options, ProviderConfigError> {
        usersync::provider::options::parse::<FakeOptions>(options, &[]).map(Options::new)
    }
    fn session(&self, _ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError> {
        Ok(Arc::new(TestSession::with_token("good")))
    }
}

/// Sends `Authorization: Bearer <token>`: the first token until invalidated, then the second.
pub struct TestSession {
    first: &'static str,
    renewed: Option<&'static str>,
    invalidated: AtomicBool,
    refuse_login: bool,
    pub authorizations: AtomicUsize,
}

impl TestSession {
    /// Always this token; `invalidate` cannot help.
    pub fn with_token(token: &'static str) -> TestSession {
        TestSession {
            first: token,
            renewed: None,
            invalidated: AtomicBool::new(false),
            refuse_login: false,
            authorizations: AtomicUsize::new(0),
        }
    }

    /// `stale` until the dispatcher invalidates it, then `fresh` (a bearer token that expired).
    pub fn expiring(stale: &'static str, fresh: &'static str) -> TestSession {
        TestSession {
            renewed: Some(fresh),
            ..TestSession::with_token(stale)
        }
    }

    /// A login that is refused.
    pub fn refusing() -> TestSession {
        TestSession {
            refuse_login: true,
            ..TestSession::with_token("none")
        }
    }
}

#[async_trait::async_trait]
impl Session for TestSession {
    async fn authorize(
        &self,
        _client: &reqwest::Client,
        req: &mut reqwest::Request,
    ) -> Result<(), AuthError> {
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        if self.refuse_login {
            return Err(AuthError::Refused("login answered 403".into()));
        }
        let token = match self.renewed {
            Some(fresh) if self.invalidated.load(Ordering::SeqCst) => fresh,
            _ => self.first,
        };
        req.headers_mut().insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        Ok(())
    }

    fn invalidate(&self) -> bool {
        self.invalidated.store(true, Ordering::SeqCst);
        self.renewed.is_some()
    }
}
