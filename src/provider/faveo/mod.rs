//! The Faveo adapter: Faveo Helpdesk API v3 users.
//!
//! Faveo creates with `POST v3/user/create/api`, updates with `POST v3/user/update/api/{id}` (a
//! full update only) and deactivates with
//! `POST v3/api/account/deactivate/{id}`, where `{id}` is Faveo's own user id (the remote id).
//! Its answers need care: any `{"success": false, ...}` body is a failure whatever the status,
//! even 200, and a refused token is answered 422 `{"result":{"fails":"Unauthorized! Please login
//! again"}}`, which is an auth failure, not a rejection. Authentication: [`session`].
//!
//! Deactivation must say what happens to the leaver's tickets. Faveo accepts
//! `action_on_owned_tickets` = `close` | `change_owner` (with `set_owner_to`, a user id) and
//! `action_on_assigned_tickets` = `surrender` | `change_assignee` (with `set_assignee_to`);
//! usersync sends the target's options, by default `close` and `surrender` (the only choices that
//! need no other user's id).
//!
//! An update without `organization`, `organisation_department` and `related` removes all of the
//! user's organisation links (the providers' notes; the page lists the three as optional). So a
//! target must map all three, and every update carries them, or say with
//! `options.updates_remove_organisation_links = true` that it accepts the loss; the sync then
//! warns once per run. Success is `{"success": true, ...}` (the page's "Sample JSON Success
//! Response"); any other answer, 200 or not, is not synced, and a create's answer must hold the
//! new user's id. Faveo has no documented way to look a user up.

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
pub use options::{FaveoOptions, REMOVE_LINKS};

/// The Faveo provider.
pub struct Faveo;

/// The fields an update must carry, or Faveo removes the user's organisation links.
pub const ORGANISATION_FIELDS: &[&str] = &["organization", "organisation_department", "related"];

/// Fields whose "has already been taken" means the user (or a user) already exists.
const UNIQUE_FIELDS: &[&str] = &["email", "user_name", "mobile", "mobile_phone"];

impl Provider for Faveo {
    fn name(&self) -> &'static str {
        "faveo"
    }

    fn schema(&self) -> &'static Schema {
        &schema::SCHEMA
    }

    fn credential_sets(&self) -> &'static [&'static [&'static str]] {
        &[
            &["email", "password"],
            &["user_name", "password"],
            &["token"],
        ]
    }

    /// The pages document no way to read a user back.
    fn supports(&self, op: Operation) -> bool {
        op != Operation::Lookup
    }

    /// The pages document a deactivation (`v3/api/account/deactivate/{id}`) and no way back.
    fn reactivation(&self) -> Reactivation {
        Reactivation::Unsupported
    }

    fn update_operation(&self) -> Operation {
        Operation::Update
    }

    fn always_send(&self) -> &'static [&'static str] {
        ORGANISATION_FIELDS
    }

    fn cleared_by_absence(&self) -> &'static [&'static str] {
        ORGANISATION_FIELDS
    }

    fn check_target(
        &self,
        mapped: &[&str],
        options: &Options,
    ) -> Result<Option<String>, ProviderConfigError> {
        let accepted = options
            .get::<FaveoOptions>()
            .updates_remove_organisation_links;
        let missing: Vec<&str> = ORGANISATION_FIELDS
            .iter()
            .copied()
            .filter(|f| !mapped.contains(f))
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        if accepted {
            return Ok(Some(format!(
                "every update sent to Faveo removes the user's organisation links: the mapping \
                 lacks {} and options.{REMOVE_LINKS} = true accepts it",
                missing.join(", ")
            )));
        }
        Err(ProviderConfigError {
            key: "fields".into(),
            message: format!(
                "map all of organization, organisation_department and related (missing: {}): \
                 Faveo removes every organisation link of a user whose update lacks them, so \
                 each update would silently unlink the users from their organisations; if \
                 that is intended, set options.{REMOVE_LINKS} = true",
                missing.join(", ")
            ),
        })
    }

    /// A `Patch` is sent as the full update Faveo has: its payload must hold every field.
    fn build_request(
        &self,
        options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<ProviderRequest, BuildError> {
        let (path, body) = match op {
            Operation::Create => ("v3/user/create/api".to_string(), payload.clone()),
            Operation::Update | Operation::Patch => (
                format!("v3/user/update/api/{}", remote_id(user)?),
                payload.clone(),
            ),
            Operation::Deactivate => (
                format!("v3/api/account/deactivate/{}", remote_id(user)?),
                options.get::<FaveoOptions>().deactivate_body.clone(),
            ),
            Operation::Reactivate | Operation::Lookup => {
                return Err(super::no_request(self.name(), op))
            }
        };
        Ok(ProviderRequest {
            method: http::Method::POST,
            path,
            body: Some(body),
            if_match: None,
        })
    }

    fn classify(&self, _options: &Options, op: Operation, response: &RawResponse) -> Outcome {
        let json = response::json(&response.body).unwrap_or(Value::Null);
        if asks_to_login_again(&json) {
            return Outcome::AuthFailed {
                status: response.status,
                detail: response::describe(response),
            };
        }
        match response.status {
            408 | 429 | 401 | 403 | 500..=599 => return response::classify(response),
            _ => {}
        }
        if json.get("success").and_then(Value::as_bool) == Some(false) {
            return failure(response, &json);
        }
        let succeeded = json.get("success").and_then(Value::as_bool) == Some(true);
        match response.status {
            200..=299 if !succeeded => response::unexpected(response, "\"success\": true"),
            200..=299 if op == Operation::Create => {
                let id = response::id_at(
                    &json,
                    &[
                        &["data", "id"],
                        &["data", "user", "id"],
                        &["id"],
                        &["user", "id"],
                    ],
                );
                match id {
                    Some(id) => Outcome::Synced {
                        remote_id: Some(id),
                    },
                    None => response::unexpected(response, "the new user's id"),
                }
            }
            200..=299 => Outcome::Synced { remote_id: None },
            400 | 412 | 422 => failure(response, &json),
            _ => response::classify(response),
        }
    }

    fn parse_options(&self, options: &toml::Table) -> Result<Options, ProviderConfigError> {
        options::parse(options).map(Options::new)
    }

    fn session(&self, ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError> {
        target::credential_set(&ctx.credentials, self.credential_sets())?;
        Ok(Arc::new(session::FaveoSession::new(
            &ctx.base_url,
            &ctx.credentials,
        )?))
    }
}

/// Faveo's user id, which updates and deactivations need.
fn remote_id(user: &UserRef) -> Result<String, BuildError> {
    match user.remote_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Ok(target::path_segment(id)),
        _ => Err(BuildError::NoRemoteId(format!(
            "user {}: Faveo identifies users by the id it returned on create, and none is known: \
             name the column holding it with `remote_id_column` in the target's config",
            user.key
        ))),
    }
}

/// Faveo's answer to a missing or expired token (`{"result":{"fails":"Unauthorized! Please
/// login again"}}`), in whichever of its usual keys it comes.
fn asks_to_login_again(json: &Value) -> bool {
    [
        json.pointer("/result/fails"),
        json.get("message"),
        json.get("error"),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_str)
    .any(|text| response::mentions(text, &["login again", "unauthorized"]))
}

/// A failure answer: a conflict when a unique field "has already been taken", else a rejection
/// with the field errors of `message`.
fn failure(response: &RawResponse, json: &Value) -> Outcome {
    let detail = response::describe(response);
    let errors = response::field_errors(json);
    let taken = |text: &str| response::mentions(text, &["already been taken"]);
    let conflict = if errors.is_empty() {
        json.get("message")
            .and_then(Value::as_str)
            .is_some_and(taken)
    } else {
        errors
            .iter()
            .any(|e| UNIQUE_FIELDS.contains(&e.field.as_str()) && taken(&e.message))
    };
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
