//! The Abitmedia adapter: the Abitmedia administration API's users.
//!
//! Abitmedia creates with `POST administration/v1/users`, answering the new user's integer id in
//! `data.id`; every later call needs that id (the remote id, kept in the ledger, or read from the
//! config's `remote_id_column` for users created before usersync). It has only a full update,
//! `PUT administration/v1/users` with the id as a query parameter (`?id=17`, the default) or a
//! path segment (`/17`), chosen with the target option `id_in = "query" | "path"`: the page
//! allows both and does not say which its server prefers. A leaver is deactivated with a `PUT`
//! of `{"status": 0}` alone (status 0 = inactive; assumption: the page lists every field as
//! required on update, but a status-only update is the only way to deactivate without resending
//! a password). Errors: 422 `{"success": false, "data": [{"field", "message"}]}`.
//! Authentication: [`session`].

pub mod mock;
pub mod schema;
pub mod session;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::Value;

use crate::payload::Payload;
use crate::provider::{
    response, target, Credentials, Operation, Outcome, Provider, ProviderConfigError,
    ProviderRequest, RawResponse, Reactivation, Session, TargetContext, UserRef,
};
use crate::validate::Schema;

/// The Abitmedia provider.
pub struct Abitmedia;

/// The options an Abitmedia target takes.
pub const OPTIONS: &[&str] = &["id_in", "auth_url"];

const ID_IN: &[&str] = &["query", "path"];
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

    /// A `Patch` is sent as the full update Abitmedia has: its payload must hold every field.
    fn build_request(
        &self,
        options: &toml::Table,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<ProviderRequest, String> {
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
                Payload::from_iter([("status", Value::from(0))]),
            ),
            Operation::Reactivate => return Err(super::no_request(self.name(), op)),
        };
        Ok(ProviderRequest {
            method,
            path,
            body: Some(body),
        })
    }

    fn classify(&self, _options: &toml::Table, op: Operation, response: &RawResponse) -> Outcome {
        match response.status {
            408 | 429 | 401 | 403 | 500..=599 => return response::classify(response),
            _ => {}
        }
        let json = response::json(&response.body).unwrap_or(Value::Null);
        let failed = json.get("success").and_then(Value::as_bool) == Some(false);
        match response.status {
            200..=299 if !failed => Outcome::Synced {
                remote_id: (op == Operation::Create)
                    .then(|| response::id_at(&json, &[&["data", "id"], &["id"]]))
                    .flatten(),
            },
            409 => response::classify(response),
            _ => failure(response, &json),
        }
    }

    fn session(&self, ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError> {
        target::check_known_options(ctx, OPTIONS)?;
        target::choice_option(&ctx.options, "id_in", ID_IN)?;
        let auth_url = session::auth_url(&ctx.base_url, &ctx.options)?;
        target::credential_set(&ctx.credentials, self.credential_sets())?;
        Ok(Arc::new(session::AbitmediaSession::new(
            auth_url,
            &ctx.credentials,
        )?))
    }

    fn mock_router(&self, state: crate::mock::MockState) -> axum::Router {
        mock::router(state)
    }

    fn mock_credentials(&self) -> Credentials {
        mock::demo_credentials()
    }

    /// The mock serves Abitmedia's login routes on its own root.
    fn mock_options(&self, options: &mut toml::Table) {
        if !options.contains_key("auth_url") {
            options.insert("auth_url".into(), toml::Value::String("/".into()));
        }
    }
}

/// The user's resource: `administration/v1/users?id=17` or `administration/v1/users/17`.
fn user_path(options: &toml::Table, user: &UserRef) -> Result<String, String> {
    let id = match user.remote_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id,
        _ => {
            return Err(format!(
                "user {}: Abitmedia identifies users by the integer id it returned on create, and \
                 none is known: name the column holding it with `remote_id_column` in the \
                 target's config",
                user.key
            ))
        }
    };
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "user {}: Abitmedia ids are integers, and the remote id is {id:?}",
            user.key
        ));
    }
    match target::choice_option(options, "id_in", ID_IN) {
        Ok("path") => Ok(format!("{USERS}/{id}")),
        _ => Ok(format!("{USERS}?id={id}")),
    }
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
