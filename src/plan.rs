//! The diff of one input row against the ledger's snapshot: create, update (with exactly the
//! changed fields), or unchanged; and which snapshot users left (deactivate).
//!
//! Pure functions: no I/O, no SQL. The snapshot's hashes come in as values and closures, so
//! `sync`, `plan` and `sync --dry-run` decide the same way and the rules can be unit-tested.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::payload::Payload;
use crate::provider::{Operation, Provider};

/// A keyed hash (HMAC-SHA256) of a payload or of one field, as the ledger computes it.
pub type Hash = [u8; 32];

/// What a sync does with one valid row.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Not in the snapshot: create the user with the whole payload.
    Create,
    /// In the snapshot with another hash: send `op` (`Patch` or `Update`) with `payload`.
    /// `fields` are the names of the fields that changed (new values, and cleared fields sent as
    /// `null`), never their values.
    Update {
        op: Operation,
        payload: Payload,
        fields: Vec<String>,
    },
    /// Same hash as last time: no request.
    Unchanged,
}

/// Decides what to send for one valid row.
///
/// - `previous`: the hash of the payload last synced for this user, if the snapshot has the user;
/// - `previous_fields`: called only when the hashes differ, returns last time's per-field hashes;
/// - `hash_field`: the ledger's keyed hash of one field;
/// - `full`: `--full`, send every row (as an update of the whole payload where the user exists).
pub fn decide(
    provider: &dyn Provider,
    payload: &Payload,
    payload_hash: &Hash,
    previous: Option<&Hash>,
    previous_fields: impl FnOnce() -> BTreeMap<String, Hash>,
    hash_field: impl Fn(&str, &Value) -> Hash,
    full: bool,
) -> Decision {
    let Some(previous) = previous else {
        return Decision::Create;
    };
    if previous == payload_hash && !full {
        return Decision::Unchanged;
    }
    let before = previous_fields();
    let mut changed: Vec<String> = payload
        .iter()
        .filter(|(name, value)| before.get(name.as_str()) != Some(&hash_field(name, value)))
        .map(|(name, _)| name.clone())
        .collect();
    let cleared: Vec<String> = before
        .keys()
        .filter(|name| !payload.contains_key(name.as_str()))
        .cloned()
        .collect();
    if full && changed.is_empty() && cleared.is_empty() {
        // `--full` resends an unchanged user whole.
        changed = payload.keys().cloned().collect();
    }

    let op = if full && provider.supports(Operation::Update) {
        Operation::Update
    } else {
        provider.update_operation()
    };
    let mut body = Payload::new();
    if op == Operation::Patch && !full {
        for name in &changed {
            if let Some(v) = payload.get(name) {
                body.insert(name.clone(), v.clone());
            }
        }
        for name in provider.always_send() {
            if let Some(v) = payload.get(*name) {
                body.insert((*name).to_string(), v.clone());
            }
        }
    } else {
        body = payload.clone();
    }
    for name in &cleared {
        body.insert(name.clone(), Value::Null);
    }
    let mut fields = changed;
    fields.extend(cleared);
    fields.sort();
    Decision::Update {
        op,
        payload: body,
        fields,
    }
}

/// Counts of what a sync would do, for `plan`, `sync --dry-run` and the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlanCounts {
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
    pub deactivate: u64,
    pub rejected: u64,
}

/// Why a run was refused before any request left: a guard against a broken export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardRefusal {
    #[error(
        "the export holds {in_export} users but the last sync of this target knew {in_snapshot}: \
         fewer than half, which looks like a truncated file (use --force if this is intended)"
    )]
    Truncated { in_export: u64, in_snapshot: u64 },
    #[error(
        "{leavers} of the {in_snapshot} users synced so far are missing from the export; \
         deactivating them exceeds max_deactivate = {max_percent}% (use --force if this is intended)"
    )]
    TooManyDeactivations {
        leavers: u64,
        in_snapshot: u64,
        max_percent: String,
    },
}

/// The guards of issue 5: refuse a truncated export, and refuse a mass deactivation.
/// `leavers` counts only users that would actually be deactivated (0 without `--deactivate-missing`).
pub fn check_guards(
    in_export: u64,
    in_snapshot: u64,
    leavers: u64,
    max_deactivate: f64,
    force: bool,
) -> Result<(), GuardRefusal> {
    if force || in_snapshot == 0 {
        return Ok(());
    }
    if in_export * 2 < in_snapshot {
        return Err(GuardRefusal::Truncated {
            in_export,
            in_snapshot,
        });
    }
    if leavers as f64 > max_deactivate * in_snapshot as f64 {
        return Err(GuardRefusal::TooManyDeactivations {
            leavers,
            in_snapshot,
            max_percent: format!("{}", (max_deactivate * 1000.0).round() / 10.0),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_name_the_numbers() {
        assert_eq!(
            check_guards(40, 100, 0, 0.1, false),
            Err(GuardRefusal::Truncated {
                in_export: 40,
                in_snapshot: 100
            })
        );
        assert!(check_guards(40, 100, 0, 0.1, true).is_ok());
        let refusal = check_guards(95, 100, 11, 0.1, false).unwrap_err();
        assert!(refusal.to_string().contains("11 of the 100"), "{refusal}");
        assert!(refusal.to_string().contains("10%"), "{refusal}");
        assert!(check_guards(95, 100, 10, 0.1, false).is_ok());
        assert!(
            check_guards(3, 0, 0, 0.1, false).is_ok(),
            "first sync has no snapshot"
        );
    }
}
