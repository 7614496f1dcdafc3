//! What a target says about itself before a run's first row (SCIM's `/ServiceProviderConfig`
//! and `/Schemas`), and what the run does differently because of it: options adjusted to what
//! the target supports, operations sent together in bulk requests, and rules a row must also
//! pass at this target.
//!
//! The dispatcher owns batching (when a batch leaves, how many are in flight, what each
//! operation's answer means to its row); a provider only knows its own bulk wire format
//! ([`BulkApi`]), as it only knows its own single requests.

use std::fmt;
use std::sync::Arc;

use super::{Options, RawResponse};
use crate::payload::Payload;
use crate::validate::FieldError;

/// What a provider read from a target's answers to its discovery requests.
#[derive(Default)]
pub struct Discovered {
    /// Said once in the run's log; the run goes on.
    pub warnings: Vec<String>,
    /// The target's options as they must be for this target (SCIM: updates by `PUT` when it
    /// has no `PATCH`); `None` to keep the configured ones.
    pub options: Option<Options>,
    /// Send writes in bulk requests within these limits; `None` to send each on its own.
    pub bulk: Option<Bulk>,
    /// Rules every row must pass at this target besides the provider's own schema (SCIM: the
    /// attributes the target declares); `None` when it declares nothing more.
    pub rules: Option<Arc<dyn RowRules>>,
}

impl fmt::Debug for Discovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discovered")
            .field("warnings", &self.warnings)
            .field("options", &self.options)
            .field("bulk", &self.bulk)
            .field("rules", &self.rules.is_some())
            .finish()
    }
}

/// A target's bulk requests (RFC 7644 section 3.7) and their limits.
#[derive(Clone)]
pub struct Bulk {
    /// At most this many operations per request (the target's `maxOperations`, or less).
    pub max_operations: usize,
    /// At most this many bytes per request body (the target's `maxPayloadSize`).
    pub max_payload: usize,
    pub api: Arc<dyn BulkApi>,
}

impl fmt::Debug for Bulk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulk")
            .field("max_operations", &self.max_operations)
            .field("max_payload", &self.max_payload)
            .finish()
    }
}

/// One operation of a bulk request: what would have been sent on its own.
#[derive(Debug, Clone, Copy)]
pub struct BulkOp<'a> {
    pub method: &'a http::Method,
    /// Relative to the target's base URL, as the adapter built it (`Users/2819c223`).
    pub path: &'a str,
    /// The JSON body, serialised.
    pub body: Option<&'a [u8]>,
    /// The version the operation is conditional on (`If-Match` on its own).
    pub if_match: Option<&'a str>,
}

/// A provider's bulk wire format.
pub trait BulkApi: Send + Sync {
    /// The path (relative to the base URL) and JSON body of the one request carrying `ops`.
    fn request(&self, ops: &[BulkOp<'_>]) -> (String, Vec<u8>);

    /// The most bytes one operation adds to a bulk body besides its own path and body, so a
    /// batch can be kept within `max_payload` before it is built.
    fn overhead(&self) -> usize;

    /// Each operation's answer, in the order of `ops`, as if it had been sent on its own;
    /// `None` for one the answer does not mention. `Err` when the answer is not a bulk answer
    /// at all.
    fn answers(
        &self,
        answer: &RawResponse,
        count: usize,
    ) -> Result<Vec<Option<RawResponse>>, String>;
}

/// Rules a row must pass at one target, found out at run time.
pub trait RowRules: Send + Sync {
    /// The row's problems with `payload` (its validated, canonical fields).
    fn check(&self, payload: &Payload) -> Vec<FieldError>;
}
