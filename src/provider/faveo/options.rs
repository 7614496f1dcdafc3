//! The options a Faveo target takes, read once when the config is loaded: what a deactivation
//! does with the leaver's tickets (the body of every deactivation, built here once), and whether
//! the target accepts that its updates remove organisation links.

use serde::Deserialize;
use serde_json::Value;

use crate::payload::Payload;
use crate::provider::options::{self, option_error, Choice};
use crate::provider::ProviderConfigError;

/// The option that accepts that updates remove organisation links (a mapping without the
/// organisation fields).
pub const REMOVE_LINKS: &str = "updates_remove_organisation_links";

/// The names of the options, for the message refusing any other.
pub const OPTIONS: &[&str] = &[
    "action_on_owned_tickets",
    "set_owner_to",
    "action_on_assigned_tickets",
    "set_assignee_to",
    REMOVE_LINKS,
];

/// A Faveo target's `[options]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaveoOptions {
    #[serde(default, deserialize_with = "options::choice")]
    pub action_on_owned_tickets: OwnedTickets,
    /// The user who gets the leaver's tickets, with `change_owner` (and only then).
    #[serde(default, deserialize_with = "options::integer")]
    pub set_owner_to: Option<i64>,
    #[serde(default, deserialize_with = "options::choice")]
    pub action_on_assigned_tickets: AssignedTickets,
    /// The user who gets the leaver's assignments, with `change_assignee` (and only then).
    #[serde(default, deserialize_with = "options::integer")]
    pub set_assignee_to: Option<i64>,
    /// The target accepts that every update removes the users' organisation links.
    #[serde(default, deserialize_with = "options::flag")]
    pub updates_remove_organisation_links: bool,
    /// The body of every deactivation, built by [`parse`] from the four options above.
    #[serde(skip)]
    pub deactivate_body: Payload,
}

/// What happens to the tickets a leaver owns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OwnedTickets {
    #[default]
    Close,
    ChangeOwner,
}

impl Choice for OwnedTickets {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("close", OwnedTickets::Close),
        ("change_owner", OwnedTickets::ChangeOwner),
    ];
}

/// What happens to the tickets assigned to a leaver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AssignedTickets {
    #[default]
    Surrender,
    ChangeAssignee,
}

impl Choice for AssignedTickets {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("surrender", AssignedTickets::Surrender),
        ("change_assignee", AssignedTickets::ChangeAssignee),
    ];
}

/// Reads a target's options table: each transfer's user id is given exactly when its action
/// transfers the tickets.
pub fn parse(table: &toml::Table) -> Result<FaveoOptions, ProviderConfigError> {
    let mut o: FaveoOptions = options::parse(table, OPTIONS)?;
    let mut body = Payload::new();
    for (action, chosen, transfer, target_id, id) in [
        (
            "action_on_owned_tickets",
            name(o.action_on_owned_tickets),
            "change_owner",
            "set_owner_to",
            o.set_owner_to,
        ),
        (
            "action_on_assigned_tickets",
            name(o.action_on_assigned_tickets),
            "change_assignee",
            "set_assignee_to",
            o.set_assignee_to,
        ),
    ] {
        body.insert(action, Value::String(chosen.into()));
        match id {
            Some(id) if chosen == transfer => {
                body.insert(target_id, Value::from(id));
            }
            None if chosen == transfer => {
                return Err(option_error(
                    target_id,
                    &format!("required when {action} = \"{transfer}\" (a Faveo user id)"),
                ));
            }
            Some(_) => {
                return Err(option_error(
                    target_id,
                    &format!("only used when {action} = \"{transfer}\""),
                ));
            }
            None => {}
        }
    }
    o.deactivate_body = body;
    Ok(o)
}

/// The config name of `choice`.
fn name<T: Choice + PartialEq>(choice: T) -> &'static str {
    T::NAMES
        .iter()
        .find(|(_, c)| *c == choice)
        .map_or("", |(n, _)| n)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refusal(text: &str) -> String {
        parse(&text.parse().unwrap()).unwrap_err().to_string()
    }

    fn body(text: &str) -> Value {
        parse(&text.parse().unwrap())
            .unwrap()
            .deactivate_body
            .into()
    }

    #[test]
    fn the_deactivation_body_is_built_once_from_the_options() {
        assert_eq!(
            body(""),
            json!({"action_on_owned_tickets": "close", "action_on_assigned_tickets": "surrender"})
        );
        assert_eq!(
            body("action_on_assigned_tickets = \"change_assignee\"\nset_assignee_to = 9"),
            json!({"action_on_owned_tickets": "close",
                   "action_on_assigned_tickets": "change_assignee", "set_assignee_to": 9})
        );
        assert!(
            !parse(&toml::Table::new())
                .unwrap()
                .updates_remove_organisation_links
        );
    }

    #[test]
    fn unknown_and_mistyped_options_are_refused_by_key() {
        assert_eq!(
            refusal("set_owner = 5"),
            "options.set_owner: unknown option: known options are action_on_owned_tickets, \
             set_owner_to, action_on_assigned_tickets, set_assignee_to, \
             updates_remove_organisation_links"
        );
        assert_eq!(
            refusal("action_on_owned_tickets = \"delete\""),
            "options.action_on_owned_tickets: expected one of \"close\", \"change_owner\""
        );
        assert_eq!(
            refusal("action_on_owned_tickets = \"change_owner\"\nset_owner_to = \"5\""),
            "options.set_owner_to: expected an integer"
        );
        assert_eq!(
            refusal("updates_remove_organisation_links = \"yes\""),
            "options.updates_remove_organisation_links: expected true or false"
        );
        assert_eq!(
            refusal("action_on_assigned_tickets = \"change_assignee\""),
            "options.set_assignee_to: required when action_on_assigned_tickets = \
             \"change_assignee\" (a Faveo user id)"
        );
        assert_eq!(
            refusal("set_owner_to = 3"),
            "options.set_owner_to: only used when action_on_owned_tickets = \"change_owner\""
        );
    }
}
