//! Why a job did not succeed, as one stable code: what reports group failed rows by, what the
//! circuit breaker counts, and what the ledger records in `row_outcomes.error_code`. One enum, so
//! that a code is spelt in one place ([`FailureCode::as_str`]).

use std::fmt;

/// The code of a failed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureCode {
    /// The provider has no such request (nothing was sent).
    Unsupported,
    /// The provider identifies the user by its own id, and none is known (nothing was sent).
    NoRemoteId,
    /// The request lacks something it needs, or holds something it cannot send (nothing was
    /// sent): a GNOSS user without a GUID, a community id, a record to send back.
    IncompleteRequest,
    /// A conflict usersync could not resolve (a create whose user exists but cannot be updated
    /// instead, or a conflict on anything but a create).
    Conflict,
    /// A deactivation whose user the provider no longer has (its lookup found no one).
    NotFound,
    /// The credentials were refused.
    AuthFailed,
    /// 429 until the retries ran out.
    Throttled,
    /// 5xx until the retries ran out.
    ServerError,
    /// Another HTTP status until the retries ran out.
    HttpError,
    /// A 2xx that is not the documented success (a page, an empty body) until the retries ran out.
    UnexpectedAnswer,
    /// A passing problem without a status.
    Retry,
    /// No answer within the timeout.
    Timeout,
    /// Could not connect.
    Connect,
    /// The connection was lost.
    Connection,
    /// Could not log in (the login endpoint failed, not the credentials).
    Login,
    /// Abandoned in flight, or cut short: the request may have reached the provider.
    Interrupted,
    /// usersync itself failed (a panicking adapter, a lost task).
    Internal,
}

impl FailureCode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::Unsupported => "unsupported",
            FailureCode::NoRemoteId => "no_remote_id",
            FailureCode::IncompleteRequest => "incomplete_request",
            FailureCode::Conflict => "conflict",
            FailureCode::NotFound => "not_found",
            FailureCode::AuthFailed => "auth_failed",
            FailureCode::Throttled => "throttled",
            FailureCode::ServerError => "server_error",
            FailureCode::HttpError => "http_error",
            FailureCode::UnexpectedAnswer => "unexpected_answer",
            FailureCode::Retry => "retry",
            FailureCode::Timeout => "timeout",
            FailureCode::Connect => "connect",
            FailureCode::Connection => "connection",
            FailureCode::Login => "login",
            FailureCode::Interrupted => "interrupted",
            FailureCode::Internal => "internal",
        }
    }

    /// Whether nothing was sent for the row: the request could not be built.
    pub fn nothing_sent(self) -> bool {
        matches!(
            self,
            FailureCode::Unsupported | FailureCode::NoRemoteId | FailureCode::IncompleteRequest
        )
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for FailureCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for FailureCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<crate::provider::BuildError> for FailureCode {
    fn from(error: crate::provider::BuildError) -> Self {
        use crate::provider::BuildError;
        match error {
            BuildError::Unsupported { .. } => FailureCode::Unsupported,
            BuildError::NoRemoteId(_) => FailureCode::NoRemoteId,
            BuildError::Incomplete(_) => FailureCode::IncompleteRequest,
        }
    }
}
