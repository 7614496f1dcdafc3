//! The `Provider` trait every target API implements, the types it speaks, and the registry.
//!
//! A provider is one folder under `src/provider/`:
//! - `mod.rs`: the adapter (builds each operation's request, classifies every response, and opens
//!   an authenticated [`Session`] from the target's credentials);
//! - `options.rs`: its options struct, parsed once per target when the config is loaded
//!   ([`Provider::parse_options`], [`options`]);
//! - `schema.rs`: its user fields and their rules (used by `validate`; never by its mock);
//! - `session.rs`: authentication from the target's credentials;
//! - `mock.rs`: its side of the built-in mock server (compiled as part of `crate::mock`, which
//!   owns it, so that the adapter and its mock cannot call each other);
//! - `tests.rs`: the adapter's unit tests;
//!
//! and one line in [`registry`] (its mock: one line in `crate::mock::registry`; the whole list is
//! in ARCHITECTURE.md). Dispatch, retry, backoff and rate limiting are shared (`crate::dispatch`);
//! an adapter only knows its own API.

pub mod abitmedia;
pub mod bearer;
pub mod discovered;
pub mod faveo;
pub mod gnoss;
pub mod meetinglawyers;
pub mod options;
pub mod response;
pub mod scim;
pub mod target;
#[cfg(test)]
mod test_support;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

pub use self::discovered::{Bulk, BulkApi, BulkOp, Discovered, RowRules};
pub use self::options::Options;
use crate::payload::Payload;
use crate::validate::{FieldError, Schema};

/// What a request does to a user.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    /// A full update: every field.
    Update,
    /// A partial update: only the fields in the payload.
    Patch,
    Deactivate,
    /// Gives a user whom an earlier run deactivated their access back, as the first step of the
    /// update that sends them whole again (only where [`Provider::reactivation`] is
    /// [`Reactivation::ByRequest`]). The ledger records the row under the update's operation.
    Reactivate,
    /// Reads the user as the provider holds them, where the API can be asked: before adopting a
    /// user a create found already there, after a create whose answer was lost, and before a
    /// deactivation that must send the whole record back (Abitmedia). Answered
    /// [`Outcome::Found`] or [`Outcome::Missing`]; the ledger records the row under the
    /// operation the lookup served.
    Lookup,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Deactivate => "deactivate",
            Operation::Reactivate => "reactivate",
            Operation::Lookup => "lookup",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which user a request is about.
#[derive(Debug, Clone)]
pub struct UserRef {
    /// The value of the target's `key` field (e.g. MeetingLawyers `user_id`).
    pub key: String,
    /// The provider's own id for the user, where it has one (Abitmedia's integer `id`), from the
    /// ledger or from the config's `remote_id_column`.
    pub remote_id: Option<String>,
}

/// A request an adapter wants sent. Authentication is added later, per attempt, by a [`Session`].
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    pub method: http::Method,
    /// Path (and query) relative to the target's base URL, without a leading slash,
    /// e.g. `s2s/v1/users/42`.
    pub path: String,
    /// The JSON body, if any: always an object.
    pub body: Option<Payload>,
    /// The version of the user the request is conditional on (`If-Match`, RFC 9110 section
    /// 13.1.1): the one read just before, so a user changed at the target meanwhile is not
    /// overwritten (a 412 answers it).
    pub if_match: Option<String>,
}

/// A response as the dispatcher received it.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

/// The one outcome of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The provider applied the change. `remote_id` is the provider's id when it returns one.
    Synced { remote_id: Option<String> },
    /// The provider refused the data; retrying the same payload will not help.
    Rejected {
        status: u16,
        errors: Vec<FieldError>,
        detail: String,
    },
    /// The user already exists (create) or a unique value is taken.
    Conflict { status: u16, detail: String },
    /// A passing problem: throttled, server error, timeout, dropped connection.
    Retry {
        status: Option<u16>,
        after: Option<Duration>,
        reason: String,
    },
    /// The credentials were refused: the run must stop.
    AuthFailed { status: u16, detail: String },
    /// A lookup found the user: the provider's id for them, and the record as the provider
    /// answered it (empty where the answer is not needed, e.g. GNOSS).
    Found {
        remote_id: Option<String>,
        record: Payload,
    },
    /// A lookup found no such user.
    Missing,
    /// The user changed at the provider since it was read: the version the request was
    /// conditional on (`If-Match`) is no longer theirs (412). Read again and rebuilt, once.
    Stale { status: u16, detail: String },
}

/// A credential value by its name in the target's `credentials` table (e.g. `api_key`).
/// Values are secrets: `Debug` never shows them.
#[derive(Clone, Default)]
pub struct Credentials {
    values: BTreeMap<String, SecretString>,
}

impl Credentials {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values
            .insert(name.into(), SecretString::from(value.into()));
    }
    /// The secret named `name`, if given.
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.values.get(name)
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.values.keys().map(|k| (k, "[redacted]")))
            .finish()
    }
}

/// Everything an adapter needs to open a session against one target.
#[derive(Debug, Clone)]
pub struct TargetContext {
    /// Base URL, with a trailing slash (so `base.join(path)` keeps its path).
    pub base_url: url::Url,
    pub credentials: Credentials,
    /// The target's `[targets.X.options]`, as its provider parsed them: provider-specific
    /// settings (GNOSS `signing = "gnoss" | "rfc5849"`, Faveo deactivate actions, ...).
    pub options: Options,
}

/// Why a session could not authenticate.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The provider refused the credentials (login answered 401/403/422 "Unauthorized", ...).
    #[error("the provider refused the credentials: {0}")]
    Refused(String),
    /// The login endpoint could not be reached or answered garbage: worth retrying later.
    #[error("could not log in: {0}")]
    Transient(String),
}

/// Authentication state for one target during one run. Shared by every in-flight request.
#[async_trait::async_trait]
pub trait Session: Send + Sync {
    /// Adds authentication to `req` just before it is sent (headers, a fresh OAuth nonce and
    /// timestamp), logging in first when there is no valid token yet.
    async fn authorize(
        &self,
        client: &reqwest::Client,
        req: &mut reqwest::Request,
    ) -> Result<(), AuthError>;

    /// The provider refused the credentials of the last request. Drops a cached token and
    /// returns true when logging in again may help (bearer tokens), false when it cannot
    /// (static keys, signatures).
    fn invalidate(&self) -> bool {
        false
    }
}

/// A provider's problem with a target's config (unknown option, missing credential).
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ProviderConfigError {
    /// The config key, relative to the target (`credentials.api_key`, `options.signing`).
    pub key: String,
    pub message: String,
}

/// How a provider gives a deactivated user their access back (see [`Provider::reactivation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reactivation {
    /// The whole payload, sent as an update, does it: its status field (MeetingLawyers'
    /// `status`, required; Abitmedia's `status`, which defaults to active).
    ByPayload,
    /// A request of its own, [`Operation::Reactivate`], sent before the update (GNOSS
    /// `user/unblock`).
    ByRequest,
    /// The API has no way that usersync knows (Faveo): the user's data is updated, and the sync
    /// warns that their access must be given back by hand.
    Unsupported,
}

/// One target API.
pub trait Provider: Send + Sync + 'static {
    /// The name used in config files (`meetinglawyers`).
    fn name(&self) -> &'static str;

    /// The user fields and their rules.
    fn schema(&self) -> &'static Schema;

    /// The accepted sets of credential names; a target must name every credential of one set
    /// (e.g. Faveo: `[["email","password"], ["user_name","password"], ["token"]]`).
    fn credential_sets(&self) -> &'static [&'static [&'static str]];

    /// Whether this provider supports the operation at all. Every provider usersync knows has
    /// each of create, update and deactivate; the dispatcher's tests use an adapter without a
    /// deactivation. Of [`Operation::Lookup`], false where the API cannot read a user back
    /// (Faveo): `reconcile` refuses such a target unless it can list its users. Not asked of
    /// [`Operation::Reactivate`]: [`Provider::reactivation`] says whether and how.
    fn supports(&self, op: Operation) -> bool {
        let _ = op;
        true
    }

    /// Whether a target with these `options` can deactivate leavers. A leaver has no row: what
    /// a deactivation needs besides the user's key and remote id must come from the target's
    /// options. `Err((option, why))` names the option to set (GNOSS `community_id`).
    fn check_deactivation(&self, options: &Options) -> Result<(), (&'static str, String)> {
        let _ = options;
        Ok(())
    }

    /// The operation used to send a changed user: `Patch` where the API has a partial update,
    /// `Update` where it only has a full one.
    fn update_operation(&self) -> Operation;

    /// Fields every update or patch carries even when unchanged, because the API identifies the
    /// user by them or drops data without them (GNOSS `user_id`/`community_id`, Faveo's
    /// organisation fields).
    fn always_send(&self) -> &'static [&'static str] {
        &[]
    }

    /// How a user whom an earlier run deactivated gets their access back when they are in the
    /// export again (they are always sent whole, as an update).
    fn reactivation(&self) -> Reactivation;

    /// Whether an update can clear a field at all. False where the API skips empty values
    /// (GNOSS `modify-user`): a field's `clear` setting is then a config error.
    fn can_clear_fields(&self) -> bool {
        true
    }

    /// The fields the provider's pages show cleared with `null` (MeetingLawyers'
    /// `description`): an emptied one is sent as `null` without any `clear` setting. Any other
    /// emptied field is left as it is at the provider unless its config says `clear` (the row
    /// carries a `not_cleared` note).
    fn null_clears(&self) -> &'static [&'static str] {
        &[]
    }

    /// Fields an update leaves out whatever the API does with them, because the pages make
    /// their absence clear them (Faveo's organisation links): an emptied one is reported as
    /// cleared, not as left at the provider.
    fn cleared_by_absence(&self) -> &'static [&'static str] {
        &[]
    }

    /// Fields sent only when a user is created, never on an update, unless the field's config
    /// says `create_only = false` (Abitmedia's `password`: resending the HR's initial password
    /// would reset the one the user chose).
    fn create_only(&self) -> &'static [&'static str] {
        &[]
    }

    /// Fields a returning leaver's update adds when the mapping gives no value, so that the
    /// update gives the access back explicitly (Abitmedia `status: 1`).
    fn returning_fields(&self) -> Payload {
        Payload::new()
    }

    /// Fields a row takes from the target's options when the export gives none, before it is
    /// validated (GNOSS `community_id`).
    fn option_fields(&self, options: &Options) -> Payload {
        let _ = options;
        Payload::new()
    }

    /// Checks a target's mapping (the provider fields it fills) and options when the config is
    /// loaded, for every command: what would make every sync harm users at the provider
    /// (a Faveo mapping without the organisation fields). `Ok(Some(warning))`: allowed, because
    /// an option accepts the consequence, which every sync then states once in its log.
    fn check_target(
        &self,
        mapped: &[&str],
        options: &Options,
    ) -> Result<Option<String>, ProviderConfigError> {
        let _ = (mapped, options);
        Ok(None)
    }

    /// Whether a create answered "exists" must look the user up before updating them: the
    /// conflict was on a value (GNOSS's e-mail) that does not name the user's id, so the update
    /// would go to the wrong user or none. False where the conflict is on the key the update
    /// addresses the user by (MeetingLawyers' `user_id`).
    fn conflict_needs_lookup(&self) -> bool {
        false
    }

    /// Whether a create of a user the ledger does not know first looks the user up
    /// ([`Operation::Lookup`]) and, found, adopts them (records their id, updates them) instead
    /// of creating a second one (SCIM, whose targets often hold users before usersync comes).
    fn correlates_before_create(&self, options: &Options) -> bool {
        let _ = options;
        false
    }

    /// The requests that ask the target what it supports, sent once before a run's first row
    /// (SCIM's `/ServiceProviderConfig` and `/Schemas`); none where the API has none.
    fn discovery(&self, options: &Options) -> Vec<ProviderRequest> {
        let _ = options;
        Vec::new()
    }

    /// What the answers to [`Provider::discovery`] (each, or why none came, in the same order)
    /// mean for a run of a target with `options` filling the provider fields `mapped`:
    /// `Err(why)` when the target cannot take what usersync would send (the run stops before
    /// any row); otherwise what the run does differently ([`Discovered`]).
    fn discovered(
        &self,
        options: &Options,
        mapped: &[&str],
        answers: &[Result<RawResponse, String>],
    ) -> Result<Discovered, String> {
        let _ = (options, mapped, answers);
        Ok(Discovered::default())
    }

    /// The request for one page of the target's users, `count` of them from the `start`-th (1
    /// for the first), for `usersync reconcile`; `None` where the API cannot list its users.
    fn list_users(&self, options: &Options, start: u64, count: u64) -> Option<ProviderRequest> {
        let _ = (options, start, count);
        None
    }

    /// Reads a page of users answering [`Provider::list_users`].
    fn read_users(&self, answer: &RawResponse) -> Result<UserPage, String> {
        let _ = answer;
        Err(format!("{} cannot list its users", self.name()))
    }

    /// The fields a user the target has is matched to an export row by, besides the target's
    /// key (SCIM's `match_attributes`).
    fn match_fields(&self, options: &Options) -> Vec<String> {
        let _ = options;
        Vec::new()
    }

    /// The value the provider field `field` has in a `record` the target answered (a lookup's,
    /// a listed user's): what `usersync reconcile` compares with what was last sent.
    fn field_value(&self, record: &Payload, field: &str) -> Option<serde_json::Value> {
        record.get(field).cloned()
    }

    /// Whether `op` with `payload` first reads the user ([`Operation::Lookup`]) and is then
    /// built from the record found with [`Provider::build_from_record`] (Abitmedia's
    /// deactivation, which sends the whole record back; SCIM's changes to typed entries).
    fn reads_first(&self, options: &Options, op: Operation, payload: &Payload) -> bool {
        let _ = (options, op, payload);
        false
    }

    /// The request for `op` once the user's `record` was read (see [`Provider::reads_first`]):
    /// by default the request built from the record (a deactivation sending it back).
    fn build_from_record(
        &self,
        options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
        record: &Payload,
    ) -> Result<ProviderRequest, BuildError> {
        let _ = payload;
        self.build_request(options, op, user, record)
    }

    /// The request for `op` on `user` with `payload` (the validated, canonical fields; for
    /// `Patch`, only the changed ones; for a deactivation after a lookup, the record found;
    /// for a lookup, the row's fields it may search by), for a target whose `options` may change
    /// the request: GNOSS `community_id`, Faveo's deactivate actions, Abitmedia's `id_in`.
    fn build_request(
        &self,
        options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<ProviderRequest, BuildError>;

    /// Classifies a response to a request built for `op`, for a target whose `options` may
    /// change the classification (MeetingLawyers' `conflict_statuses`).
    fn classify(&self, options: &Options, op: Operation, response: &RawResponse) -> Outcome;

    /// Parses the target's `[targets.X.options]` table into the provider's own options struct
    /// (see [`options`]): no unknown key, every value of its type, defaults filled in, and what
    /// requests derive from them computed once. Called when the config is loaded, so every
    /// command reports a bad option the same way; every other method is given its result.
    fn parse_options(&self, options: &toml::Table) -> Result<Options, ProviderConfigError>;

    /// Opens an authenticated session for one run.
    fn session(&self, ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError>;
}

/// One page of a target's users, as [`Provider::read_users`] reads it.
#[derive(Debug, Clone, Default)]
pub struct UserPage {
    /// Each user's id at the provider and record.
    pub users: Vec<(String, Payload)>,
    /// How many users the target holds in all.
    pub total: u64,
}

/// Why an adapter cannot build a request. Nothing is sent; the row fails with the error's
/// code (`crate::dispatch::FailureCode`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// The API has no such request (a Faveo reactivation).
    #[error("{provider} has no {op} request")]
    Unsupported {
        provider: &'static str,
        op: Operation,
    },
    /// The provider identifies the user by its own id, and none is known.
    #[error("{0}")]
    NoRemoteId(String),
    /// The request lacks something it needs, or holds what it cannot send.
    #[error("{0}")]
    Incomplete(String),
}

impl From<ProviderConfigError> for BuildError {
    fn from(error: ProviderConfigError) -> Self {
        BuildError::Incomplete(error.to_string())
    }
}

/// Why an adapter cannot build `op`: its API has no such request.
pub(crate) fn no_request(provider: &'static str, op: Operation) -> BuildError {
    BuildError::Unsupported { provider, op }
}

/// Every provider usersync knows, by config name. A new provider is one line here.
pub fn registry() -> &'static [&'static dyn Provider] {
    &[
        &meetinglawyers::MeetingLawyers,
        &gnoss::Gnoss,
        &faveo::Faveo,
        &abitmedia::Abitmedia,
        &scim::Scim,
    ]
}

/// The provider named `name` in a config file.
pub fn by_name(name: &str) -> Option<&'static dyn Provider> {
    registry().iter().copied().find(|p| p.name() == name)
}

/// The names of all providers, for error messages.
pub fn names() -> Vec<&'static str> {
    registry().iter().map(|p| p.name()).collect()
}
