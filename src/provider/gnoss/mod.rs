//! The GNOSS adapter: the GNOSS platform API's `user/` routes, signed with OAuth 1.0.
//!
//! Every GNOSS call is a `POST` relative to the API root the customer is given: `user/create-user`,
//! `user/modify-user` (a partial update: empty fields are skipped, so it serves updates and
//! patches alike), `user/block` for a leaver and `user/unblock` for a leaver who is back. All but
//! `create-user` identify the user by `user_id` and `community_id` (GUIDs). Errors come back as
//! plain text with the status code. Requests are signed per attempt by [`session`], GNOSS's way by default (`signing = "gnoss"`) or
//! the strict RFC 5849 way (`signing = "rfc5849"`).
//!
//! Assumptions where the documentation is silent: `user/block` and `user/unblock` take the same
//! `{"user_id", "community_id"}` body as `modify-user`; `create-user` answers the new user's
//! GUID (a JSON string, plain text, or an object with `user_id`/`id`), and an answer without
//! one is not a success; `GET user/get-by-email?email=` answers the user as a JSON object with
//! its `user_id`, and an unknown e-mail with a 404 or a 400 saying the user does not exist.
//!
//! `user_id` is GNOSS's GUID, never the export's key: the remote id (from a create's answer, or
//! from looking the user up by e-mail when a create finds the e-mail already used), else the
//! row's own `user_id` when it holds a GUID. A user with neither is not sent. A row without a
//! `community_id` takes the target's `options.community_id` before it is validated.

pub mod oauth;
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
use crate::validate::{FieldError, Schema};
pub use options::GnossOptions;

/// The Gnoss provider.
pub struct Gnoss;

impl Provider for Gnoss {
    fn name(&self) -> &'static str {
        "gnoss"
    }

    fn schema(&self) -> &'static Schema {
        &schema::SCHEMA
    }

    fn credential_sets(&self) -> &'static [&'static [&'static str]] {
        &[&["consumer_key", "consumer_secret", "token", "token_secret"]]
    }

    /// `user/unblock` undoes the `user/block` a leaver got.
    fn reactivation(&self) -> Reactivation {
        Reactivation::ByRequest
    }

    fn update_operation(&self) -> Operation {
        Operation::Patch
    }

    /// `user/block` names the community, and a leaver has no row to give it.
    fn check_deactivation(&self, options: &Options) -> Result<(), (&'static str, String)> {
        match options.get::<GnossOptions>().community_id {
            Some(_) => Ok(()),
            None => Err(("community_id", LEAVER_WITHOUT_COMMUNITY.to_string())),
        }
    }

    fn always_send(&self) -> &'static [&'static str] {
        &["user_id", "community_id"]
    }

    /// "The email is already being used" names no GUID: the user is found by e-mail.
    fn conflict_needs_lookup(&self) -> bool {
        true
    }

    /// The page: "community_id ... Optional"; every call is about one community, so a row
    /// without one takes the target's.
    fn option_fields(&self, options: &Options) -> Payload {
        match &options.get::<GnossOptions>().community_id {
            Some(id) => Payload::from_iter([("community_id", Value::String(id.clone()))]),
            None => Payload::new(),
        }
    }

    /// `modify-user` skips empty fields: a field cannot be cleared through the API.
    fn can_clear_fields(&self) -> bool {
        false
    }

    fn build_request(
        &self,
        options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<ProviderRequest, BuildError> {
        let options: &GnossOptions = options.get();
        let (path, body) = match op {
            Operation::Create => ("user/create-user", payload.clone()),
            Operation::Lookup => {
                let email = payload
                    .get("email")
                    .and_then(Value::as_str)
                    .filter(|e| !e.trim().is_empty())
                    .ok_or_else(|| {
                        BuildError::Incomplete(format!(
                            "user {}: GNOSS finds users by e-mail, and the row has none",
                            user.key
                        ))
                    })?;
                let query: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("email", email.trim())
                    .finish();
                return Ok(ProviderRequest {
                    method: http::Method::GET,
                    path: format!("user/get-by-email?{query}"),
                    body: None,
                    if_match: None,
                });
            }
            Operation::Update | Operation::Patch => {
                // GNOSS skips empty fields anyway, and a null may not bind to its typed fields.
                let mut body = payload.clone();
                body.retain(|_, v| !v.is_null());
                body.insert("user_id", Value::String(user_id(user, payload)?));
                body.insert(
                    "community_id",
                    Value::String(community_id(options, payload, op)?),
                );
                ("user/modify-user", body)
            }
            Operation::Deactivate | Operation::Reactivate => {
                let mut body = Payload::new();
                body.insert("user_id", Value::String(user_id(user, payload)?));
                body.insert(
                    "community_id",
                    Value::String(community_id(options, payload, op)?),
                );
                let path = if op == Operation::Deactivate {
                    "user/block"
                } else {
                    "user/unblock"
                };
                (path, body)
            }
        };
        Ok(ProviderRequest {
            method: http::Method::POST,
            path: path.into(),
            body: Some(body),
            if_match: None,
        })
    }

    fn classify(&self, _options: &Options, op: Operation, response: &RawResponse) -> Outcome {
        match (op, response.status) {
            (Operation::Lookup, 200..=299) => {
                let found = response::json_object(&response.body)
                    .and_then(|user| {
                        response::id_at(&Value::Object(user), &[&["user_id"], &["id"]])
                    })
                    .filter(|id| uuid::Uuid::try_parse(id).is_ok());
                match found {
                    Some(id) => Outcome::Found {
                        remote_id: Some(id.to_lowercase()),
                        record: Payload::new(),
                    },
                    None => {
                        response::unexpected(response, "the user as JSON with its user_id GUID")
                    }
                }
            }
            (Operation::Lookup, 404) => Outcome::Missing,
            (Operation::Lookup, 400) if no_such_user(response) => Outcome::Missing,
            (Operation::Create, 200..=299) => match created_id(&response.body) {
                Some(id) => Outcome::Synced {
                    remote_id: Some(id),
                },
                None => response::unexpected(response, "the new user's GUID"),
            },
            // "On success, the response contains 200 code": an empty body, or JSON.
            (_, 200..=299)
                if !response.body.iter().all(u8::is_ascii_whitespace)
                    && response::json(&response.body).is_none() =>
            {
                response::unexpected(response, "an empty 200 or JSON")
            }
            (_, 400) => bad_request(response),
            _ => response::classify(response),
        }
    }

    fn parse_options(&self, options: &toml::Table) -> Result<Options, ProviderConfigError> {
        options::parse(options).map(Options::new)
    }

    fn session(&self, ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError> {
        let style = ctx.options.get::<GnossOptions>().signing;
        target::credential_set(&ctx.credentials, self.credential_sets())?;
        Ok(Arc::new(session::OAuthSession::new(
            &ctx.credentials,
            style,
        )?))
    }
}

/// The GUID GNOSS knows the user by: the remote id when it is one, else the payload's
/// `user_id` when it is one. Never the export's key: a `modify-user` of another id reaches no
/// user (or the wrong one).
fn user_id(user: &UserRef, payload: &Payload) -> Result<String, BuildError> {
    let is_guid = |id: &&str| uuid::Uuid::try_parse(id.trim()).is_ok();
    user.remote_id
        .as_deref()
        .filter(is_guid)
        .or_else(|| {
            payload
                .get("user_id")
                .and_then(Value::as_str)
                .filter(is_guid)
        })
        .map(|id| id.trim().to_lowercase())
        .ok_or_else(|| {
            BuildError::Incomplete(format!(
                "user {}: GNOSS identifies users by their GUID, and none is known for this user \
                 (map a column of GUIDs to user_id, or let usersync create the user or find it \
                 by e-mail)",
                user.key
            ))
        })
}

/// Whether a 400 says the user does not exist (an unknown e-mail's lookup).
fn no_such_user(response: &RawResponse) -> bool {
    response::mentions(
        &response::detail(&response.body),
        &["does not exist", "not exist", "no existe", "not found"],
    )
}

/// Why a leaver cannot be blocked without the `community_id` option.
const LEAVER_WITHOUT_COMMUNITY: &str =
    "GNOSS blocks a user by user_id and community_id, and a leaver has no row to give theirs";

/// The payload's `community_id`, else the target's `community_id` option. A leaver's block
/// has no payload: only the option can give it one, and the error says so.
fn community_id(
    options: &GnossOptions,
    payload: &Payload,
    op: Operation,
) -> Result<String, BuildError> {
    payload
        .get("community_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .or(options.community_id.as_deref())
        .map(str::to_string)
        .ok_or_else(|| {
            BuildError::Incomplete(match op {
            Operation::Deactivate => format!(
                "{LEAVER_WITHOUT_COMMUNITY}: set options.community_id in the target's config"
            ),
            _ => "GNOSS identifies a user by user_id and community_id: map a community_id column \
                 or set options.community_id in the target's config"
                .to_string(),
            })
        })
}

/// The new user's GUID from a `create-user` answer: a JSON string, an object with
/// `user_id`/`id`/`userId`, or plain text; `None` when the answer holds no GUID.
fn created_id(body: &[u8]) -> Option<String> {
    answered_id(body).filter(|id| uuid::Uuid::try_parse(id).is_ok())
}

fn answered_id(body: &[u8]) -> Option<String> {
    match response::json(body) {
        Some(Value::String(id)) if !id.trim().is_empty() => Some(id.trim().to_string()),
        Some(value @ Value::Object(_)) => response::id_at(
            &value,
            &[
                &["user_id"],
                &["id"],
                &["userId"],
                &["data", "user_id"],
                &["data", "id"],
            ],
        ),
        Some(_) => None,
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim().trim_matches('"');
            uuid::Uuid::parse_str(text).ok().map(|_| text.to_string())
        }
    }
}

/// A 400's plain text: "already ..." is a conflict (a unique value, such as the email, is
/// taken); anything else a rejection, with the field guessed from the message where obvious.
fn bad_request(response: &RawResponse) -> Outcome {
    let detail = response::describe(response);
    if response::mentions(&detail, &["already"]) {
        return Outcome::Conflict {
            status: response.status,
            detail,
        };
    }
    let errors = guess_field(&detail)
        .map(|field| {
            vec![FieldError::new(
                field,
                response::PROVIDER_CODE,
                detail.clone(),
            )]
        })
        .unwrap_or_default();
    Outcome::Rejected {
        status: response.status,
        errors,
        detail,
    }
}

/// The field a GNOSS error message is about, where the message names one.
fn guess_field(message: &str) -> Option<&'static str> {
    const WORDS: &[(&str, &str)] = &[
        ("email", "email"),
        ("password", "password"),
        ("community", "community_id"),
        ("last name", "last_name"),
        ("last_name", "last_name"),
        ("born", "born_date"),
        ("birth", "born_date"),
        ("country", "country_id"),
        ("province", "province_id"),
        ("short name", "user_short_name"),
        ("id card", "id_card"),
        ("id_card", "id_card"),
    ];
    let message = message.to_lowercase();
    WORDS
        .iter()
        .find(|(word, _)| message.contains(word))
        .map(|(_, field)| *field)
}
