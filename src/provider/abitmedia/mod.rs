//! The Abitmedia adapter: the Abitmedia administration API's users.
//!
//! Abitmedia creates with `POST administration/v1/users`, answering the new user's integer id in
//! `data.id`; every later call needs that id (the remote id, kept in the ledger, or read from the
//! config's `remote_id_column` for users created before usersync). It has only a full update,
//! `PUT administration/v1/users` with the id as a query parameter (`?id=17`, the default) or a
//! path segment (`/17`), chosen with the target option `id_in = "query" | "path"`: the page
//! allows both and does not say which its server prefers. Errors: 422 `{"success": false,
//! "data": [{"field", "message"}]}`. Authentication: [`session`].
//!
//! What it sends, and the page lines it rests on:
//! - `password` only on create: the page marks it required on update too, but resending the
//!   HR's initial password would reset the one the user chose, every night. A field's
//!   `create_only = false` sends it on updates anyway.
//! - A leaver: the page marks every field required on update and lists `GET` among the
//!   endpoint's other actions, so the user is read first (`GET administration/v1/users?id=`) and
//!   the record found is sent back whole, without a password, with `status: 0` ("0:inactivo").
//!   `options.status_only_deactivation = true` sends `{"status": 0}` alone, for a server known to
//!   accept it.
//! - A returning leaver's update carries `status: 1` ("1:activo") when the mapping gives none.
//! - Success is `{"success": true, "data": {...}}` as the page's 200 answer shows, and a create's
//!   `data.id`; any other answer, 200 or not, is not synced.
//! - No documented way to find a user without its id: a user that exists at Abitmedia but not
//!   in the ledger needs `remote_id_column`.

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
use options::IdIn;
pub use options::{AbitmediaOptions, STATUS_ONLY};

/// The Abitmedia provider.
pub struct Abitmedia;

/// Fields of a user's record that a `PUT` does not send back: its id (in the URL), its
/// timestamps, and a password (never resent).
const NOT_SENT_BACK: &[&str] = &["id", "password", "createdAt", "updateAt", "updatedAt"];

const USERS: &str = "administration/v1/users";

/// Words of an Abitmedia (Spanish or English) message saying a value is already used.
const TAKEN: &[&str] = &[
    "ya existe",
    "ya est",
    "ya se encuentra",
    "en uso",
    "duplicad",
    "already",
    "taken",
    "exists",
];

impl Provider for Abitmedia {
    fn name(&self) -> &'static str {
        "abitmedia"
    }

    fn schema(&self) -> &'static Schema {
        &schema::SCHEMA
    }

    fn credential_sets(&self) -> &'static [&'static [&'static str]] {
        &[&["email", "password"], &["token"]]
    }

    /// The whole update sets `status`, or leaves it out, which the page says means 1 (active).
    fn reactivation(&self) -> Reactivation {
        Reactivation::ByPayload
    }

    fn update_operation(&self) -> Operation {
        Operation::Update
    }

    fn create_only(&self) -> &'static [&'static str] {
        &["password"]
    }

    fn returning_fields(&self) -> Payload {
        Payload::from_iter([("status", Value::from(1))])
    }

    /// A leaver's record is read and sent back whole, unless the target's server takes
    /// `{"status": 0}` alone.
    fn reads_first(&self, options: &Options, op: Operation, _payload: &Payload) -> bool {
        op == Operation::Deactivate && !options.get::<AbitmediaOptions>().status_only_deactivation
    }

    /// A `Patch` is sent as the full update Abitmedia has: its payload must hold every field.
    fn build_request(
        &self,
        options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<ProviderRequest, BuildError> {
        let options: &AbitmediaOptions = options.get();
        let (method, path, body) = match op {
            Operation::Create => (http::Method::POST, USERS.to_string(), payload.clone()),
            Operation::Update | Operation::Patch => (
                http::Method::PUT,
                user_path(options, user)?,
                payload.clone(),
            ),
            Operation::Deactivate => (
                http::Method::PUT,
                user_path(options, user)?,
                deactivation(options, user, payload)?,
            ),
            Operation::Lookup => {
                return Ok(ProviderRequest {
                    method: http::Method::GET,
                    path: user_path(options, user)?,
                    body: None,
                    if_match: None,
                })
            }
            Operation::Reactivate => return Err(super::no_request(self.name(), op)),
        };
        Ok(ProviderRequest {
            method,
            path,
            body: Some(body),
            if_match: None,
        })
    }

    fn classify(&self, _options: &Options, op: Operation, response: &RawResponse) -> Outcome {
        match response.status {
            408 | 429 | 401 | 403 | 500..=599 => return response::classify(response),
            _ => {}
        }
        let json = response::json(&response.body).unwrap_or(Value::Null);
        let succeeded = json.get("success").and_then(Value::as_bool) == Some(true);
        let data = json.get("data").and_then(Value::as_object);
        match (response.status, data) {
            (404, _) if op == Operation::Lookup => Outcome::Missing,
            (200..=299, Some(data)) if succeeded => {
                let id = response::id_at(&json, &[&["data", "id"]]);
                match op {
                    Operation::Create if id.is_none() => {
                        response::unexpected(response, "the new user's data.id")
                    }
                    Operation::Lookup => Outcome::Found {
                        remote_id: id,
                        record: Payload::from(data.clone()),
                    },
                    Operation::Create => Outcome::Synced { remote_id: id },
                    _ => Outcome::Synced { remote_id: None },
                }
            }
            (200..=299, _) if json.get("success").and_then(Value::as_bool) != Some(false) => {
                response::unexpected(response, "\"success\": true with the user's data")
            }
            (409, _) => response::classify(response),
            _ => failure(response, &json),
        }
    }

    fn parse_options(&self, options: &toml::Table) -> Result<Options, ProviderConfigError> {
        options::parse(options).map(Options::new)
    }

    fn session(&self, ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError> {
        let auth_url = session::auth_url(&ctx.base_url, &ctx.options)?;
        target::credential_set(&ctx.credentials, self.credential_sets())?;
        Ok(Arc::new(session::AbitmediaSession::new(
            auth_url,
            &ctx.credentials,
        )?))
    }
}

/// The user's resource: `administration/v1/users?id=17` or `administration/v1/users/17`.
fn user_path(options: &AbitmediaOptions, user: &UserRef) -> Result<String, BuildError> {
    let id = match user.remote_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id,
        _ => {
            return Err(BuildError::NoRemoteId(format!(
                "user {}: Abitmedia identifies users by the integer id it returned on create, and \
                 none is known: name the column holding it with `remote_id_column` in the \
                 target's config",
                user.key
            )))
        }
    };
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BuildError::Incomplete(format!(
            "user {}: Abitmedia ids are integers, and the remote id is {id:?}",
            user.key
        )));
    }
    match options.id_in {
        IdIn::Path => Ok(format!("{USERS}/{id}")),
        IdIn::Query => Ok(format!("{USERS}?id={id}")),
    }
}

/// The body that deactivates a user: the `record` a lookup found, sent back with `status: 0`
/// and without what a `PUT` does not take; `{"status": 0}` alone where the target allows it.
fn deactivation(
    options: &AbitmediaOptions,
    user: &UserRef,
    record: &Payload,
) -> Result<Payload, BuildError> {
    if options.status_only_deactivation {
        return Ok(Payload::from_iter([("status", Value::from(0))]));
    }
    if record.is_empty() {
        return Err(BuildError::Incomplete(format!(
            "user {}: Abitmedia requires the whole record on update, and it was not read first",
            user.key
        )));
    }
    let mut body = record.clone();
    body.retain(|name, _| !NOT_SENT_BACK.contains(&name));
    body.insert("status", Value::from(0));
    Ok(body)
}

/// A failure answer: a conflict when the email (or another unique value) is already used,
/// else a rejection with the field errors of `data`.
fn failure(response: &RawResponse, json: &Value) -> Outcome {
    let detail = response::describe(response);
    let errors = response::field_errors(json);
    let conflict = errors.iter().any(|e| {
        (e.field == "email" || response::mentions(&e.message, &["email", "correo"]))
            && response::mentions(&e.message, TAKEN)
    });
    if conflict {
        Outcome::Conflict {
            status: response.status,
            detail,
        }
    } else {
        Outcome::Rejected {
            status: response.status,
            errors,
            detail,
        }
    }
}
