//! The rules of the diff: what one valid row becomes against what the snapshot knows of its
//! user: a create, an update (with exactly the changed fields), or nothing.
//!
//! Pure functions: no I/O, no SQL. The snapshot's hashes come in as values and closures, so
//! `sync`, `plan` and `sync --dry-run` decide the same way and the rules can be unit-tested.

use serde_json::Value;

use crate::config::UpdateRules;
use crate::ledger::{FieldHashes, Hash, ShortHash};
use crate::payload::Payload;
use crate::provider::Operation;

/// What the snapshot knows of a user: the hash of the payload last synced, and whether the
/// user is still active there (false once a leaver was deactivated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastSynced<'a> {
    /// The first half of the hash last synced (see [`crate::ledger::ShortHash`]).
    pub hash: &'a crate::ledger::ShortHash,
    pub active: bool,
}

/// What a sync does with one valid row.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Not in the snapshot: create the user with the whole payload.
    Create,
    /// In the snapshot with another hash (or deactivated, or `--full`): send `op` (`Patch` or
    /// `Update`) with `payload`. `fields` are the names of the fields that changed (new values,
    /// and cleared fields: see [`UpdateRules::clear`]), never their values. `uncleared` names
    /// fields emptied in the export that stay as they are at the provider: they are not sent. `returning`: the
    /// snapshot holds the user as deactivated (the payload is then whole; see
    /// [`crate::provider::Reactivation`] for how each provider gives the access back).
    Update {
        op: Operation,
        payload: Payload,
        fields: Vec<String>,
        uncleared: Vec<String>,
        returning: bool,
    },
    /// Another hash, but nothing the provider can be sent: only fields it cannot clear were
    /// emptied. No request; the snapshot takes the new payload so the next run is quiet.
    Refresh { uncleared: Vec<String> },
    /// Same hash as last time: no request.
    Unchanged,
}

/// Decides what to send for one valid row.
///
/// - `known`: what the snapshot knows of this user, if it has the user;
/// - `previous_fields`: called only when something must be compared field by field, returns
///   last time's per-field hashes;
/// - `hash_field`: the ledger's keyed hash of one field;
/// - `full`: `--full`, send every row (as a full update of the whole payload where the user
///   exists).
///
/// A user the snapshot holds as deactivated who is back in the export is sent whole, as an
/// update, whatever its hash, marked `returning`: its status fields (MeetingLawyers and
/// Abitmedia `status`) or a reactivation sent first (GNOSS) give the access back.
pub fn decide(
    rules: &UpdateRules,
    payload: &Payload,
    payload_hash: &Hash,
    known: Option<LastSynced<'_>>,
    previous_fields: impl FnOnce() -> FieldHashes,
    hash_field: impl Fn(&str, &Value) -> ShortHash,
    full: bool,
) -> Decision {
    let Some(known) = known else {
        return Decision::Create;
    };
    let returning = !known.active;
    if known.hash[..] == payload_hash[..known.hash.len()] && !full && !returning {
        return Decision::Unchanged;
    }
    let before = previous_fields();
    let changed: Vec<String> = payload
        .iter()
        .filter(|(name, _)| !rules.is_create_only(name))
        .filter(|(name, value)| before.get(name) != Some(&hash_field(name, value)))
        .map(|(name, _)| name.to_owned())
        .collect();
    let (cleared, uncleared): (Vec<String>, Vec<String>) = before
        .keys()
        .filter(|name| !payload.contains_key(name) && !rules.is_create_only(name))
        .map(str::to_owned)
        .partition(|name| {
            rules.clear.contains_key(name) || rules.cleared_by_absence.contains(name)
        });
    let whole = full || returning;
    if !whole && changed.is_empty() && cleared.is_empty() {
        return Decision::Refresh { uncleared };
    }

    let op = if full {
        rules.full_operation
    } else {
        rules.update_operation
    };
    let (mut body, mut fields) = if op == Operation::Patch && !whole {
        let mut body = Payload::new();
        for name in changed
            .iter()
            .chain(rules.always_send.iter())
            .map(String::as_str)
        {
            if let Some(v) = payload.get(name) {
                body.insert(name.to_owned(), v.clone());
            }
        }
        (body, changed)
    } else {
        let mut body = payload.clone();
        body.retain(|name, _| !rules.is_create_only(name));
        let fields = if whole {
            body.keys().map(str::to_owned).collect()
        } else {
            changed
        };
        (body, fields)
    };
    if returning {
        for (name, value) in rules.returning.iter() {
            if !body.contains_key(name) {
                body.insert(name.to_owned(), value.clone());
            }
        }
    }
    for name in &cleared {
        if let Some(value) = rules.clear.get(name) {
            body.insert(name.clone(), value.clone());
        }
    }
    fields.extend(cleared);
    fields.sort();
    fields.dedup();
    Decision::Update {
        op,
        payload: body,
        fields,
        uncleared,
        returning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::PayloadHasher;
    use crate::provider::meetinglawyers::MeetingLawyers;
    use crate::provider::{abitmedia::Abitmedia, faveo::Faveo, gnoss::Gnoss, Provider};
    use serde_json::json;

    fn payload(value: Value) -> Payload {
        value.as_object().unwrap().clone().into()
    }

    /// Decides `now` against a snapshot that synced `before` (active unless `deactivated`).
    fn diff(
        provider: &dyn Provider,
        before: Option<&Payload>,
        now: &Payload,
        full: bool,
        deactivated: bool,
    ) -> Decision {
        let hasher = PayloadHasher::new(&[7; 32]);
        let before_hash = before.map(|b| crate::ledger::short(&hasher.hash_payload(b)));
        let known = before_hash.as_ref().map(|hash| LastSynced {
            hash,
            active: !deactivated,
        });
        decide(
            &UpdateRules::of(provider),
            now,
            &hasher.hash_payload(now),
            known,
            || before.map(|b| hasher.hash_fields(b)).unwrap_or_default(),
            |name, value| hasher.hash_field(name, value),
            full,
        )
    }

    fn update(decision: Decision) -> (Operation, Payload, Vec<String>, Vec<String>) {
        match decision {
            Decision::Update {
                op,
                payload,
                fields,
                uncleared,
                ..
            } => (op, payload, fields, uncleared),
            other => panic!("expected an update, got {other:?}"),
        }
    }

    fn ml_user() -> Payload {
        payload(json!({
            "user_id": "E1", "email": "ana@x.es", "status": 2, "mobile_phone": "+34600000001",
            "first_name": "Ana"
        }))
    }

    #[test]
    fn new_users_are_created_and_same_ones_cost_nothing() {
        let user = ml_user();
        assert_eq!(
            diff(&MeetingLawyers, None, &user, false, false),
            Decision::Create
        );
        assert_eq!(
            diff(&MeetingLawyers, Some(&user), &user, false, false),
            Decision::Unchanged
        );
        let hasher = PayloadHasher::new(&[7; 32]);
        let hash = hasher.hash_payload(&user);
        let unchanged = decide(
            &UpdateRules::of(&MeetingLawyers),
            &user,
            &hash,
            Some(LastSynced {
                hash: &crate::ledger::short(&hash),
                active: true,
            }),
            || panic!("field hashes are not read for an unchanged user"),
            |_, _| panic!("fields are not hashed for an unchanged user"),
            false,
        );
        assert_eq!(unchanged, Decision::Unchanged);
    }

    #[test]
    fn a_patch_carries_the_changed_fields_and_status_and_clears_only_what_the_page_shows() {
        let mut before = ml_user();
        before.insert("description", json!("VIP"));
        let mut now = before.clone();
        now.insert("email", json!("ana.new@x.es"));
        now.remove("mobile_phone");
        now.remove("description");
        let (op, body, fields, uncleared) =
            update(diff(&MeetingLawyers, Some(&before), &now, false, false));
        assert_eq!(op, Operation::Patch);
        assert_eq!(
            body,
            payload(json!({"email": "ana.new@x.es", "status": 2, "description": null})),
            "status is required on every update; only description is shown cleared with null"
        );
        assert_eq!(fields, ["description", "email"]);
        assert_eq!(uncleared, ["mobile_phone"]);
    }

    #[test]
    fn a_field_configured_to_clear_is_sent_empty_or_null() {
        let mut rules = UpdateRules::of(&MeetingLawyers);
        rules.clear.insert("mobile_phone".into(), json!(""));
        let before = ml_user();
        let mut now = before.clone();
        now.remove("mobile_phone");
        let hasher = PayloadHasher::new(&[7; 32]);
        let decision = decide(
            &rules,
            &now,
            &hasher.hash_payload(&now),
            Some(LastSynced {
                hash: &crate::ledger::short(&hasher.hash_payload(&before)),
                active: true,
            }),
            || hasher.hash_fields(&before),
            |name, value| hasher.hash_field(name, value),
            false,
        );
        let (_, body, fields, uncleared) = update(decision);
        assert_eq!(body, payload(json!({"mobile_phone": "", "status": 2})));
        assert_eq!(fields, ["mobile_phone"]);
        assert!(uncleared.is_empty());
    }

    #[test]
    fn create_only_fields_never_reach_an_update() {
        let before =
            payload(json!({"email": "a@x.es", "firstName": "Ana", "password": "Abc#1234"}));
        let mut now = before.clone();
        now.insert("password", json!("New#5678"));
        assert_eq!(
            diff(&Abitmedia, Some(&before), &now, false, false),
            Decision::Refresh { uncleared: vec![] },
            "a new initial password is no reason to send anything"
        );
        now.insert("firstName", json!("Ana María"));
        let (_, body, fields, _) = update(diff(&Abitmedia, Some(&before), &now, false, false));
        assert_eq!(
            body,
            payload(json!({"email": "a@x.es", "firstName": "Ana María"}))
        );
        assert_eq!(fields, ["firstName"]);
        let (_, body, _, _) = update(diff(&Abitmedia, Some(&before), &before, true, false));
        assert!(!body.contains_key("password"), "not even with --full");
    }

    #[test]
    fn a_returning_abitmedia_user_is_sent_active() {
        let before = payload(json!({"email": "a@x.es", "firstName": "Ana"}));
        let (_, body, _, _) = update(diff(&Abitmedia, Some(&before), &before, false, true));
        assert_eq!(body["status"], json!(1));
        let mut mapped = before.clone();
        mapped.insert("status", json!(2));
        let (_, body, _, _) = update(diff(&Abitmedia, Some(&mapped), &mapped, false, true));
        assert_eq!(body["status"], json!(2), "the mapping's status wins");
    }

    #[test]
    fn gnoss_patches_carry_its_identifying_fields_and_cannot_clear() {
        let before = payload(json!({
            "user_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "community_id": "1ede819e-9d0f-41e9-855b-bbebc7f08dd1",
            "name": "Ana", "city": "Bilbao", "address": "Gran Vía 1"
        }));
        let mut now = before.clone();
        now.insert("city", json!("Madrid"));
        now.remove("address");
        let (op, body, fields, uncleared) = update(diff(&Gnoss, Some(&before), &now, false, false));
        assert_eq!(op, Operation::Patch);
        assert_eq!(
            body.keys().collect::<Vec<_>>(),
            ["city", "community_id", "user_id"],
            "changed fields plus always_send, and no null: GNOSS skips empty fields"
        );
        assert_eq!(fields, ["city"]);
        assert_eq!(uncleared, ["address"]);

        // Only an emptied field: nothing GNOSS can be sent, no request.
        let mut only_cleared = before.clone();
        only_cleared.remove("address");
        assert_eq!(
            diff(&Gnoss, Some(&before), &only_cleared, false, false),
            Decision::Refresh {
                uncleared: vec!["address".into()]
            }
        );
    }

    #[test]
    fn full_update_providers_get_the_whole_payload_without_unasked_clears() {
        let before = payload(json!({
            "user_name": "e1", "first_name": "Ana", "last_name": "Ruiz", "mobile": "600",
            "organization": [1]
        }));
        let mut now = before.clone();
        now.insert("last_name", json!("Ruiz Peña"));
        now.remove("mobile");
        now.remove("organization");
        let (op, body, fields, uncleared) = update(diff(&Faveo, Some(&before), &now, false, false));
        assert_eq!(op, Operation::Update);
        assert_eq!(
            body, now,
            "no null for a field the page does not show cleared"
        );
        assert_eq!(
            fields,
            ["last_name", "organization"],
            "an update without organization removes the links: it is a clear"
        );
        assert_eq!(uncleared, ["mobile"]);

        let before = payload(json!({"email": "a@x.es", "firstName": "Ana", "status": 1}));
        let mut now = before.clone();
        now.insert("firstName", json!("Ana María"));
        let (op, body, fields, _) = update(diff(&Abitmedia, Some(&before), &now, false, false));
        assert_eq!(
            (op, body, fields),
            (Operation::Update, now, vec!["firstName".into()])
        );
    }

    #[test]
    fn full_resends_everyone_whole() {
        let user = ml_user();
        let (op, body, fields, _) = update(diff(&MeetingLawyers, Some(&user), &user, true, false));
        assert_eq!(
            op,
            Operation::Update,
            "MeetingLawyers' full update is a PUT"
        );
        assert_eq!(body, user);
        assert_eq!(fields.len(), user.len());
        assert_eq!(
            diff(&MeetingLawyers, None, &user, true, false),
            Decision::Create
        );
    }

    #[test]
    fn a_returning_leaver_is_sent_whole_even_when_unchanged() {
        let user = ml_user();
        let decision = diff(&MeetingLawyers, Some(&user), &user, false, true);
        assert!(matches!(
            decision,
            Decision::Update {
                returning: true,
                ..
            }
        ));
        let mut changed = user.clone();
        changed.insert("first_name", json!("Ana María"));
        assert!(
            matches!(
                diff(&MeetingLawyers, Some(&user), &changed, false, false),
                Decision::Update {
                    returning: false,
                    ..
                }
            ),
            "an active user's change is no return"
        );
        let (op, body, fields, _) = update(decision);
        assert_eq!(op, Operation::Patch);
        assert_eq!(
            body, user,
            "the whole payload, status included, gives access back"
        );
        assert_eq!(fields.len(), user.len());
    }
}
