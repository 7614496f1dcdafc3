//! What a SCIM target says it supports (RFC 7644 section 4), read before a run's first row,
//! and what the run does with it:
//! - `/ServiceProviderConfig` (RFC 7643 section 5): no `patch` switches updates to a `PUT` of
//!   the user read first (RFC 7644 section 3.5.1); no `filter` stops a run that must look users
//!   up before creating them; `bulk` with its `maxOperations` and `maxPayloadSize` sends writes
//!   in bulk requests (section 3.7); no `etag` leaves `If-Match` out;
//! - `/Schemas` (RFC 7643 section 7): the attributes the target declares, checked against the
//!   mapping once (see `declared.rs`) and against every row.
//!
//! A target that serves neither is taken at the standard's word (PATCH and filters, no bulk,
//! the core User schema), and the run says so once.

use std::sync::Arc;

use serde_json::Value;

use super::bulk::ScimBulk;
use super::declared::Declared;
use super::options::{ScimOptions, Update};
use crate::provider::{response, Bulk, Discovered, Options, ProviderRequest, RawResponse};

/// The largest bulk body assumed when a target supports bulk without saying how large.
const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

/// `GET /ServiceProviderConfig`, then `GET /Schemas`.
pub fn requests() -> Vec<ProviderRequest> {
    ["ServiceProviderConfig", "Schemas"]
        .into_iter()
        .map(|path| ProviderRequest {
            method: http::Method::GET,
            path: path.into(),
            body: None,
            if_match: None,
        })
        .collect()
}

/// What the answers to [`requests`] mean for a run of a target with `options` mapping the
/// attribute paths `mapped`.
pub fn read(
    options: &ScimOptions,
    mapped: &[&str],
    answers: &[Result<RawResponse, String>],
) -> Result<Discovered, String> {
    let mut found = Discovered::default();
    let mut options = options.clone();
    let config = answers.first().and_then(|a| a.as_ref().ok());
    match config {
        // The run's first request meets the same refusal, and stops the run as usual.
        Some(answer) if matches!(answer.status, 401 | 403) => return Ok(found),
        Some(answer) if answer.status == 200 => {
            let json = response::json(&answer.body).unwrap_or(Value::Null);
            heed_config(&json, &mut options, &mut found)?;
        }
        Some(answer) => found.warnings.push(format!(
            "the target has no /ServiceProviderConfig (HTTP {}): assuming it supports PATCH \
             and filters, as RFC 7644 servers do",
            answer.status
        )),
        None => found.warnings.push(
            "the target's /ServiceProviderConfig could not be read: assuming it supports PATCH \
             and filters, as RFC 7644 servers do"
                .into(),
        ),
    }
    match answers.get(1).and_then(|a| a.as_ref().ok()) {
        Some(answer) if answer.status == 200 => {
            let json = response::json(&answer.body).unwrap_or(Value::Null);
            let declared = Declared::read(&json).map_err(|why| {
                format!("the target's /Schemas cannot be read ({why}); it is RFC 7643 section 7's")
            })?;
            if let Some(declared) = declared {
                found.warnings.extend(declared.check_mapping(mapped)?);
                found.rules = Some(Arc::new(declared.rules_for(mapped)));
            }
        }
        Some(answer) if matches!(answer.status, 401 | 403) => {}
        _ => found.warnings.push(
            "the target serves no /Schemas: rows are checked against RFC 7643's core User \
             schema only"
                .into(),
        ),
    }
    found.options = Some(Options::new(options));
    Ok(found)
}

/// `patch`, `filter`, `bulk` and `etag` of a `/ServiceProviderConfig`.
fn heed_config(
    config: &Value,
    options: &mut ScimOptions,
    found: &mut Discovered,
) -> Result<(), String> {
    let feature = |name: &str| config.get(name).unwrap_or(&Value::Null);
    let supported = |name: &str| feature(name).get("supported").and_then(Value::as_bool);
    if supported("patch") == Some(false) && options.update == Update::Patch {
        options.update = Update::Put;
        found.warnings.push(
            "the target says it does not support PATCH (its /ServiceProviderConfig): each \
             changed user is read and sent back whole by PUT, with If-Match where it has ETags"
                .into(),
        );
    }
    if supported("filter") == Some(false) && options.correlate {
        return Err(
            "the target says it does not support filters (its /ServiceProviderConfig), so users \
             it already has cannot be found before they are created: set options.correlate = \
             false to create them without looking (a user it already has is then looked up \
             only after a 409)"
                .into(),
        );
    }
    if supported("etag") == Some(false) {
        options.if_match = false;
    }
    if supported("bulk") == Some(true) && options.bulk {
        let bulk = feature("bulk");
        let max_operations = bulk
            .get("maxOperations")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(options.bulk_max_operations);
        let max_payload = bulk
            .get("maxPayloadSize")
            .and_then(Value::as_u64)
            .filter(|&n| n > 0)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .unwrap_or(DEFAULT_MAX_PAYLOAD);
        // A bulk request of one operation gains nothing; `maxOperations` is required.
        if max_operations >= 2 {
            found.bulk = Some(Bulk {
                max_operations: usize::try_from(max_operations).unwrap_or(usize::MAX),
                max_payload,
                api: Arc::new(ScimBulk),
            });
        }
    }
    Ok(())
}
