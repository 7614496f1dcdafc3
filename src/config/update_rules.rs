//! What an update sends of each of a target's fields besides those that changed: decided once
//! per target, when the config is loaded, from the provider's pages (`Provider::create_only`,
//! `null_clears`, `cleared_by_absence`, `always_send`, `returning_fields`) and the fields'
//! `create_only` and `clear` settings. `crate::sync::decide` applies it to every changed row.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Clear, FieldSpec};
use crate::payload::Payload;
use crate::provider::{Operation, Provider};
use crate::validate::FieldType;

/// What an update sends of a target's fields besides those that changed, decided once per
/// target from the provider's pages and the fields' config.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRules {
    /// Fields sent only when a user is created: never in an update, never counted as a change.
    pub create_only: Vec<String>,
    /// Fields an emptied value is cleared for, with the value that clears it (`null`, `""`).
    /// Any other emptied field is left as it is at the provider (`uncleared`).
    pub clear: BTreeMap<String, Value>,
    /// Fields a full update clears by leaving them out (Faveo's organisation links): an emptied
    /// one is reported as cleared.
    pub cleared_by_absence: Vec<String>,
    /// Fields a partial update carries even when unchanged.
    pub always_send: Vec<String>,
    /// Fields a returning user's update adds when the payload has no value for them.
    pub returning: Payload,
    /// How a changed user is sent: `Patch` where the provider has a partial update.
    pub update_operation: Operation,
    /// How `--full` sends a known user: the provider's full update where it has one.
    pub full_operation: Operation,
}

impl UpdateRules {
    /// The rules of `provider` as its pages give them, changed by the `create_only` and `clear`
    /// settings of `fields`.
    pub fn new(provider: &dyn Provider, fields: &[FieldSpec]) -> UpdateRules {
        let mut rules = UpdateRules::of(provider);
        let schema = provider.schema();
        for spec in fields {
            let name = &spec.field;
            match spec.create_only {
                Some(true) if !rules.create_only.contains(name) => {
                    rules.create_only.push(name.clone())
                }
                Some(false) => rules.create_only.retain(|f| f != name),
                _ => {}
            }
            let list = schema
                .field(name)
                .is_some_and(|f| matches!(f.ty, FieldType::Array));
            match spec.clear {
                Some(Clear::Null) => {
                    rules.clear.insert(name.clone(), Value::Null);
                }
                Some(Clear::Empty) if list => {
                    rules.clear.insert(name.clone(), Value::Array(Vec::new()));
                }
                Some(Clear::Empty) => {
                    rules
                        .clear
                        .insert(name.clone(), Value::String(String::new()));
                }
                None => {}
            }
        }
        rules.create_only.sort();
        rules
    }

    /// The rules of `provider` as its pages give them.
    pub fn of(provider: &dyn Provider) -> UpdateRules {
        let owned = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        UpdateRules {
            create_only: owned(provider.create_only()),
            clear: provider
                .null_clears()
                .iter()
                .map(|n| (n.to_string(), Value::Null))
                .collect(),
            cleared_by_absence: owned(provider.cleared_by_absence()),
            always_send: owned(provider.always_send()),
            returning: provider.returning_fields(),
            update_operation: provider.update_operation(),
            full_operation: if provider.supports(Operation::Update) {
                Operation::Update
            } else {
                provider.update_operation()
            },
        }
    }

    pub(crate) fn is_create_only(&self, name: &str) -> bool {
        self.create_only.iter().any(|f| f == name)
    }
}
