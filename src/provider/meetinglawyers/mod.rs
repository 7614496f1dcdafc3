//! The MeetingLawyers adapter: its server-to-server users API (`s2s/v1/users`).
//!
//! MeetingLawyers identifies a user by the integrator's own `user_id` (in the path for updates),
//! has a full update (`PUT`) and a partial one (`PATCH`), no delete (a leaver gets `status: 0`,
//! "Free (no access)"), and authenticates every request with two static headers
//! (see [`session`]). Its documentation says nothing about error bodies, rate limits or what
//! creating an existing user answers: a create answered with one of the target's
//! `conflict_statuses` (default 409 and 422) is taken as "exists" (the dispatcher then updates).
//!
//! What it sends, and the page lines it rests on:
//! - every update carries `status`: the update table marks it `True` (required) for the full and
//!   the partial update alike, and the partial example is `{"status": 2}`;
//! - an emptied field is cleared with `null` only for `description`, the one field the examples
//!   show as `null`; any other is left as it is unless the field's config says `clear`;
//! - `GET s2s/v1/users/{user_id}` (named in the providers' notes, not on the pages) finds a user
//!   whose create's answer was lost, so it is updated instead of created twice;
//! - success is a 2xx whose body is a JSON object (a 204 to a change): the pages document no
//!   answer body, and an HTML page or an empty 200 from a proxy must not count as synced.

pub mod options;
pub mod schema;
pub mod session;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::Value;

use crate::payload::Payload;
use crate::provider::{
    response, target, BuildError, Operation, Options, Outcome, Provider, ProviderConfigError,
    ProviderRequest, RawResponse, Reactivation, Session, TargetContext, UserRef,
};
use crate::validate::Schema;
pub use options::{MeetingLawyersOptions, DEFAULT_CONFLICT_STATUSES};

/// The MeetingLawyers provider.
pub struct MeetingLawyers;

const USERS: &str = "s2s/v1/users";

impl Provider for MeetingLawyers {
    fn name(&self) -> &'static str {
        "meetinglawyers"
    }

    fn schema(&self) -> &'static Schema {
        &schema::SCHEMA
    }

    fn credential_sets(&self) -> &'static [&'static [&'static str]] {
        &[&["api_key", "secret_key"]]
    }

    /// `status` is required, so the whole payload always sets it.
    fn reactivation(&self) -> Reactivation {
        Reactivation::ByPayload
    }

    fn update_operation(&self) -> Operation {
        Operation::Patch
    }

    /// The update table marks `status` required for both updates.
    fn always_send(&self) -> &'static [&'static str] {
        &["status"]
    }

    /// The create and full-update examples send `"description": null`.
    fn null_clears(&self) -> &'static [&'static str] {
        &["description"]
    }

    fn build_request(
        &self,
        _options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<ProviderRequest, BuildError> {
        let (method, path, body) = match op {
            Operation::Create => {
                let mut body = payload.clone();
                if !body.contains_key("user_id") {
                    body.insert("user_id", Value::String(user.key.clone()));
                }
                (http::Method::POST, USERS.to_string(), body)
            }
            Operation::Update | Operation::Patch => {
                let mut body = payload.clone();
                body.remove("user_id");
                let method = if op == Operation::Update {
                    http::Method::PUT
                } else {
                    http::Method::PATCH
                };
                (method, user_path(user, payload), body)
            }
            Operation::Deactivate => (
                http::Method::PATCH,
                user_path(user, payload),
                Payload::from_iter([("status", Value::from(0))]),
            ),
            Operation::Lookup => (http::Method::GET, user_path(user, payload), Payload::new()),
            Operation::Reactivate => return Err(super::no_request(self.name(), op)),
        };
        if op == Operation::Lookup {
            return Ok(ProviderRequest {
                method,
                path,
                body: None,
                if_match: None,
            });
        }
        Ok(ProviderRequest {
            method,
            path,
            body: Some(body),
            if_match: None,
        })
    }

    fn classify(&self, options: &Options, op: Operation, response: &RawResponse) -> Outcome {
        let statuses = &options.get::<MeetingLawyersOptions>().conflict_statuses;
        classify_with_conflicts(op, response, statuses)
    }

    fn parse_options(&self, options: &toml::Table) -> Result<Options, ProviderConfigError> {
        options::parse(options).map(Options::new)
    }

    fn session(&self, ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError> {
        target::credential_set(&ctx.credentials, self.credential_sets())?;
        Ok(Arc::new(session::HeaderSession::new(&ctx.credentials)?))
    }
}

/// `s2s/v1/users/{user_id}`: the payload's `user_id` when it has one, else the user's key.
fn user_path(user: &UserRef, payload: &Payload) -> String {
    let id = match payload.get("user_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => user.key.clone(),
    };
    format!("{USERS}/{}", target::path_segment(&id))
}

/// The default classification, except that a create answered with one of `conflict_statuses`
/// means the user exists.
fn classify_with_conflicts(
    op: Operation,
    response: &RawResponse,
    conflict_statuses: &[u16],
) -> Outcome {
    if op == Operation::Create && conflict_statuses.contains(&response.status) {
        return Outcome::Conflict {
            status: response.status,
            detail: response::describe(response),
        };
    }
    if op == Operation::Lookup {
        return match response.status {
            200..=299 => match response::json_object(&response.body) {
                Some(record) => Outcome::Found {
                    remote_id: None,
                    record: Payload::from(record),
                },
                None => response::unexpected(response, "the user as a JSON object"),
            },
            404 => Outcome::Missing,
            _ => response::classify(response),
        };
    }
    match response.status {
        204 if op != Operation::Create => Outcome::Synced { remote_id: None },
        200..=299 if response::json_object(&response.body).is_none() => {
            response::unexpected(response, "a JSON object")
        }
        _ => response::classify(response),
    }
}
