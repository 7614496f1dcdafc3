//! The SCIM 2.0 adapter: any application that provisions users over SCIM (RFC 7643 for the
//! resource, RFC 7644 for the protocol), as identity platforms do.
//!
//! A target's fields are SCIM attribute paths (`name.givenName`, `emails[type eq "work"].value`,
//! an enterprise extension attribute by its URN; see `path.rs`), and the payload becomes the
//! nested User resource with its `schemas`. What it sends, and the RFC lines it rests on:
//! - create: `POST /Users` (RFC 7644 section 3.3); the answer's `id` is the remote id;
//! - update: `PATCH /Users/{id}` with a `replace` of each changed attribute and a `remove` of
//!   each one the config clears (section 3.5.2): nothing the export does not map is touched,
//!   which a blind `PUT` (section 3.5.1, "replaces all") could not promise. A change to a typed
//!   entry (`emails[type eq "work"].value`) reads the user first: an entry it has is replaced
//!   through its filter, one it lacks is added (a filter matching nothing is `noTarget`,
//!   3.5.2.3). A target without PATCH gets the user read and sent back whole by `PUT`. A
//!   request built from a read carries `If-Match` with the version read (section 3.14);
//!   a 412 is read again and rebuilt once (`dispatch/job.rs`);
//! - deactivate: `PATCH` `active` to false (RFC 7643 section 4.1.1); `DELETE /Users/{id}`
//!   (section 3.6) only with `options.deactivate = "delete"`. A returning leaver's update
//!   carries `active: true` when the mapping gives none;
//! - a user the ledger does not know is looked up before it is created
//!   (`GET /Users?filter=externalId eq "..." or userName eq "..."`, section 3.4.2.2, the
//!   attributes from `options.match_attributes`): one match is adopted (its `id` recorded, then
//!   updated to the export's values), several reject the row (`ambiguous_match`, naming their
//!   ids), none is created. A create answered 409 (`uniqueness`, section 3.12) is looked up the
//!   same way. So one person never becomes two users;
//! - writes go in bulk requests where the target takes them (section 3.7, `bulk.rs`); what the
//!   target supports and declares is read before the first row (`discovery.rs`,
//!   `declared.rs`);
//! - errors are read in the section 3.12 shape (`status`, `scimType`, `detail`); 401 and 403 stop
//!   the run, 429 and 5xx are retried, as for every provider.
//!
//! usersync only ever deactivates users its ledger links to the target (created or adopted):
//! a user someone else created at the target is never touched.

pub mod bulk;
pub mod declared;
pub mod discovery;
pub mod options;
pub mod path;
pub mod schema;
pub mod session;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::Value;

use crate::payload::Payload;
use crate::provider::{
    response, target, BuildError, Discovered, Operation, Options, Outcome, Provider,
    ProviderConfigError, ProviderRequest, RawResponse, Reactivation, Session, TargetContext,
    UserPage, UserRef,
};
use crate::validate::{FieldError, Schema};
use options::{Deactivate, ScimOptions, Update};
use path::{AttrPath, PATCH_OP};

/// The SCIM 2.0 provider.
pub struct Scim;

const USERS: &str = "Users";

/// The pseudo-field of a problem with the whole row (as `prepare::ROW_FIELD`).
const ROW: &str = "_row";

/// The `schemas` of a list answer (RFC 7644 section 3.4.2).
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

impl Provider for Scim {
    fn name(&self) -> &'static str {
        "scim"
    }

    fn schema(&self) -> &'static Schema {
        &schema::SCHEMA
    }

    fn credential_sets(&self) -> &'static [&'static [&'static str]] {
        &[&["token"], &["client_id", "client_secret"]]
    }

    fn update_operation(&self) -> Operation {
        Operation::Patch
    }

    /// A returning user's whole payload is sent, with `active: true` unless mapped.
    fn reactivation(&self) -> Reactivation {
        Reactivation::ByPayload
    }

    fn returning_fields(&self) -> Payload {
        Payload::from_iter([("active", Value::Bool(true))])
    }

    /// A 409 names the attribute that is taken, not the user: look them up.
    fn conflict_needs_lookup(&self) -> bool {
        true
    }

    fn correlates_before_create(&self, options: &Options) -> bool {
        options.get::<ScimOptions>().correlate
    }

    /// A change to a typed entry (`emails[type eq "work"].value`) depends on whether the user
    /// has that entry (see `path::patch_against`), and a `PUT` sends the whole user back: the
    /// user is read first.
    fn reads_first(&self, options: &Options, op: Operation, payload: &Payload) -> bool {
        let options: &ScimOptions = options.get();
        match op {
            Operation::Update | Operation::Patch => {
                options.update == Update::Put || path::touches_typed_entries(payload)
            }
            Operation::Deactivate => deactivates_by_put(options),
            _ => false,
        }
    }

    /// The request built from `record`, the user as the target holds them now, carrying
    /// `If-Match` with the version read (RFC 7644 section 3.14) where the target has ETags:
    /// a user changed at the target meanwhile is answered 412, read again and rebuilt.
    fn build_from_record(
        &self,
        options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
        record: &Payload,
    ) -> Result<ProviderRequest, BuildError> {
        let scim: &ScimOptions = options.get();
        let if_match = scim
            .if_match
            .then(|| record.get("meta")?.get("version")?.as_str())
            .flatten()
            .map(str::to_owned);
        // The one copy of the record: a PUT's body is made of it.
        let record = Value::from(record.clone());
        let incomplete = |e: path::PathError| BuildError::Incomplete(e.to_string());
        let (method, body) = match (op, scim.update) {
            (Operation::Update | Operation::Patch, Update::Patch) => (
                http::Method::PATCH,
                path::patch_against(payload, &record).map_err(incomplete)?,
            ),
            (Operation::Update | Operation::Patch, Update::Put) => (
                http::Method::PUT,
                path::replaced(payload, record).map_err(incomplete)?,
            ),
            (Operation::Deactivate, _) if deactivates_by_put(scim) => {
                let inactive = Payload::from_iter([("active", Value::Bool(false))]);
                (
                    http::Method::PUT,
                    path::replaced(&inactive, record).map_err(incomplete)?,
                )
            }
            _ => return self.build_request(options, op, user, payload),
        };
        Ok(ProviderRequest {
            method,
            path: user_path(user)?,
            body: match body {
                Value::Object(body) => Some(Payload::from(body)),
                _ => None,
            },
            if_match,
        })
    }

    /// With `correlate` on (the default), users are looked up by the match attributes: at least
    /// one of them must be mapped, or every lookup would find no one and every user the target
    /// already has would be created twice.
    fn check_target(
        &self,
        mapped: &[&str],
        options: &Options,
    ) -> Result<Option<String>, ProviderConfigError> {
        let options: &ScimOptions = options.get();
        if options.correlate
            && !options
                .match_attributes
                .iter()
                .any(|a| mapped.contains(&a.as_str()))
        {
            return Err(ProviderConfigError {
                key: "options.match_attributes".into(),
                message: format!(
                    "none of {} is mapped, so no user could be found before it is created: \
                     map one of them in `fields`, name mapped ones here, or set \
                     options.correlate = false",
                    options.match_attributes.join(", ")
                ),
            });
        }
        Ok(None)
    }

    /// RFC 7644 section 4: what the service provider supports (see `discovery.rs`).
    fn discovery(&self, _options: &Options) -> Vec<ProviderRequest> {
        discovery::requests()
    }

    fn discovered(
        &self,
        options: &Options,
        mapped: &[&str],
        answers: &[Result<RawResponse, String>],
    ) -> Result<Discovered, String> {
        discovery::read(options.get(), mapped, answers)
    }

    /// RFC 7644 section 3.4.2.4: `startIndex` and `count`.
    fn list_users(&self, _options: &Options, start: u64, count: u64) -> Option<ProviderRequest> {
        Some(ProviderRequest {
            method: http::Method::GET,
            path: format!("{USERS}?startIndex={start}&count={count}"),
            body: None,
            if_match: None,
        })
    }

    fn read_users(&self, answer: &RawResponse) -> Result<UserPage, String> {
        if answer.status != 200 {
            return Err(format!(
                "listing the users answered {}",
                response::describe(answer)
            ));
        }
        let json = response::json(&answer.body).unwrap_or(Value::Null);
        let total = json
            .get("totalResults")
            .and_then(Value::as_u64)
            .ok_or("listing the users answered no totalResults (RFC 7644 section 3.4.2)")?;
        let users = json
            .get("Resources")
            .and_then(Value::as_array)
            .map(|r| r.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|user| {
                let id = user.get("id")?.as_str()?.to_owned();
                Some((id, Payload::from(user.as_object()?.clone())))
            })
            .collect();
        Ok(UserPage { users, total })
    }

    fn match_fields(&self, options: &Options) -> Vec<String> {
        options.get::<ScimOptions>().match_attributes.clone()
    }

    fn field_value(&self, record: &Payload, field: &str) -> Option<Value> {
        let path = AttrPath::parse(field).ok()?;
        path::value_at(&Value::from(record.clone()), &path).cloned()
    }

    fn build_request(
        &self,
        options: &Options,
        op: Operation,
        user: &UserRef,
        payload: &Payload,
    ) -> Result<ProviderRequest, BuildError> {
        let options: &ScimOptions = options.get();
        let incomplete = |e: path::PathError| BuildError::Incomplete(e.to_string());
        let (method, path, body) = match op {
            Operation::Create => (
                http::Method::POST,
                USERS.to_owned(),
                Some(path::resource(payload).map_err(incomplete)?),
            ),
            Operation::Update | Operation::Patch => (
                http::Method::PATCH,
                user_path(user)?,
                Some(path::patch(payload).map_err(incomplete)?),
            ),
            Operation::Deactivate => match options.deactivate {
                Deactivate::Patch => (
                    http::Method::PATCH,
                    user_path(user)?,
                    Some(serde_json::json!({
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": "active", "value": false}]
                    })),
                ),
                Deactivate::Delete => (http::Method::DELETE, user_path(user)?, None),
            },
            // A user whose id is known is read by it; any other is searched for.
            Operation::Lookup => match user_path(user) {
                Ok(path) => (http::Method::GET, path, None),
                Err(_) => (
                    http::Method::GET,
                    lookup_path(options, user, payload)?,
                    None,
                ),
            },
            Operation::Reactivate => return Err(super::no_request(self.name(), op)),
        };
        let body = match body {
            Some(Value::Object(object)) => Some(Payload::from(object)),
            _ => None,
        };
        Ok(ProviderRequest {
            method,
            path,
            body,
            if_match: None,
        })
    }

    fn classify(&self, options: &Options, op: Operation, response: &RawResponse) -> Outcome {
        match response.status {
            401 | 403 | 408 | 429 | 500..=599 => return response::classify(response),
            _ => {}
        }
        let json = response::json(&response.body).unwrap_or(Value::Null);
        match (op, response.status) {
            (Operation::Lookup, 200) => found(options.get(), response, &json),
            (Operation::Create, 200..=299) => match json.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => Outcome::Synced {
                    remote_id: Some(id.to_owned()),
                },
                _ => response::unexpected(response, "the new user with its id"),
            },
            // The user is gone at the target (or was never there): not the row's data.
            (Operation::Lookup, 404) => Outcome::Missing,
            (_, 404) => response::classify(response),
            (_, 204) if op != Operation::Create && op != Operation::Lookup => {
                Outcome::Synced { remote_id: None }
            }
            (_, 200..=299) if json.is_object() => Outcome::Synced { remote_id: None },
            (_, 200..=299) => response::unexpected(response, "a SCIM resource"),
            (_, 412) => Outcome::Stale {
                status: 412,
                detail: scim_detail(response, &json),
            },
            (_, 409) => Outcome::Conflict {
                status: 409,
                detail: scim_detail(response, &json),
            },
            (_, 400..=499) => rejection(response, &json),
            _ => response::classify(response),
        }
    }

    fn parse_options(&self, options: &toml::Table) -> Result<Options, ProviderConfigError> {
        options::parse(options).map(Options::new)
    }

    fn session(&self, ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError> {
        target::credential_set(&ctx.credentials, self.credential_sets())?;
        Ok(Arc::new(session::ScimSession::new(
            &ctx.base_url,
            &ctx.credentials,
            &ctx.options,
        )?))
    }
}

/// Whether a leaver is sent back whole with `active: false` (`PUT`): a target updated by `PUT`
/// that deactivates by setting `active`. One deleting its leavers sends `DELETE`, whatever it
/// updates by.
fn deactivates_by_put(options: &ScimOptions) -> bool {
    options.update == Update::Put && options.deactivate == Deactivate::Patch
}

/// `Users/{id}`, by the id the target gave the user.
fn user_path(user: &UserRef) -> Result<String, BuildError> {
    match user.remote_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Ok(format!("{USERS}/{}", target::path_segment(id))),
        _ => Err(BuildError::NoRemoteId(format!(
            "user {}: a SCIM target addresses users by the id it gave them, and none is known \
             (the user was neither created nor adopted by usersync)",
            user.key
        ))),
    }
}

/// `Users?filter=...`: the users whose match attributes hold the row's values (any of them).
fn lookup_path(
    options: &ScimOptions,
    user: &UserRef,
    payload: &Payload,
) -> Result<String, BuildError> {
    let filter = lookup_filter(options, payload).ok_or_else(|| {
        BuildError::Incomplete(format!(
            "user {}: none of the match attributes ({}) has a value to look the user up by",
            user.key,
            options.match_attributes.join(", ")
        ))
    })?;
    let encoded: String =
        url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>();
    Ok(format!("{USERS}?filter={encoded}"))
}

/// The filter (RFC 7644 section 3.4.2.2) matching any of the row's match attributes, `None`
/// when the row has a value for none of them.
pub fn lookup_filter(options: &ScimOptions, payload: &Payload) -> Option<String> {
    let terms: Vec<String> = options
        .match_attributes
        .iter()
        .filter_map(|name| {
            let value = payload.get(name)?;
            let value = match value {
                Value::String(s) if !s.is_empty() => Value::String(s.clone()),
                Value::Number(_) | Value::Bool(_) => value.clone(),
                _ => return None,
            };
            // A JSON string is the filter grammar's compValue (section 3.4.2.2).
            let literal = value.to_string();
            let path = AttrPath::parse(name).ok()?;
            let prefix = path
                .schema
                .as_ref()
                .map(|urn| format!("{urn}:"))
                .unwrap_or_default();
            Some(match (&path.type_filter, &path.sub) {
                (Some(kind), sub) => format!(
                    "{prefix}{}[type eq \"{kind}\" and {} eq {literal}]",
                    path.attr,
                    sub.as_deref().unwrap_or("value")
                ),
                (None, Some(sub)) => format!("{prefix}{}.{sub} eq {literal}", path.attr),
                (None, None) => format!("{prefix}{} eq {literal}", path.attr),
            })
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" or "))
}

/// A lookup's list answer: no one, one user (adopted), or several (the row is rejected).
fn found(options: &ScimOptions, response: &RawResponse, json: &Value) -> Outcome {
    // A user read by its id (`GET /Users/{id}`) is the resource itself.
    if let Some(id) = json.get("id").and_then(Value::as_str) {
        return Outcome::Found {
            remote_id: Some(id.to_owned()),
            record: json
                .as_object()
                .map(|o| Payload::from(o.clone()))
                .unwrap_or_default(),
        };
    }
    let is_list = json
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s == LIST_RESPONSE))
        || json.get("totalResults").is_some();
    if !is_list {
        return response::unexpected(response, "a SCIM list of users");
    }
    let users: Vec<&Value> = json
        .get("Resources")
        .and_then(Value::as_array)
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let ids: Vec<&str> = users
        .iter()
        .filter_map(|u| u.get("id").and_then(Value::as_str))
        .collect();
    match (users.len(), ids.len()) {
        (0, _) => Outcome::Missing,
        (1, 1) => Outcome::Found {
            remote_id: Some(ids[0].to_owned()),
            record: users[0]
                .as_object()
                .map(|o| Payload::from(o.clone()))
                .unwrap_or_default(),
        },
        (1, _) => response::unexpected(response, "the user found, with its id"),
        _ => {
            let field = options
                .match_attributes
                .first()
                .cloned()
                .unwrap_or_else(|| "externalId".into());
            let message = format!(
                "{} users at the target match this row ({}): usersync adopts only one; link \
                 the right one by hand or make the match attributes unique",
                users.len(),
                ids.join(", ")
            );
            Outcome::Rejected {
                status: response.status,
                errors: vec![FieldError::new(field, "ambiguous_match", message.clone())],
                detail: message,
            }
        }
    }
}

/// A SCIM error's `detail`, with its `scimType`, else the answer described.
fn scim_detail(response: &RawResponse, json: &Value) -> String {
    let detail = json.get("detail").and_then(Value::as_str);
    let kind = json.get("scimType").and_then(Value::as_str);
    match (kind, detail) {
        (Some(kind), Some(detail)) => format!("HTTP {} {kind}: {detail}", response.status),
        (None, Some(detail)) => format!("HTTP {}: {detail}", response.status),
        _ => response::describe(response),
    }
}

/// A 4xx: a rejection of the row, on the attribute the `detail` names when it names one of the
/// schema's, with the `scimType` as its code.
fn rejection(response: &RawResponse, json: &Value) -> Outcome {
    let detail = scim_detail(response, json);
    let said = json.get("detail").and_then(Value::as_str).unwrap_or("");
    let field = schema::SCHEMA
        .fields
        .iter()
        .filter_map(|f| AttrPath::parse(f.name).ok())
        .map(|p| p.attr)
        .find(|attr| said.contains(attr.as_str()))
        .unwrap_or_else(|| ROW.to_owned());
    let code = json
        .get("scimType")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("http_{}", response.status));
    Outcome::Rejected {
        status: response.status,
        errors: vec![FieldError::new(field, code, detail.clone())],
        detail,
    }
}
