//! The broken-export guards, decided once a pass has seen the whole export and before the first
//! request leaves: refuse an export that looks truncated, a mass deactivation
//! (`max_deactivate`) and, where the target sets `max_changes`, a mass update, unless `--force`.
//! A first sync (the ledger knows nobody) passes them all. A refused sync is held for a person
//! (`usersync approve`).

use crate::config::Target;

/// How a pass over an export treats the users it lacks, and the broken-export guards.
#[derive(Debug, Clone, Copy)]
pub struct Guards {
    /// `--deactivate-missing` (or the target's `deactivate_missing`).
    pub deactivate_missing: bool,
    /// The target's `max_deactivate`.
    pub max_deactivate: f64,
    /// The target's `max_changes`.
    pub max_changes: Option<f64>,
    /// `--force`: pass the guards.
    pub force: bool,
}

impl Guards {
    /// The guards of a pass over an export for `target`, with the command line's
    /// `--deactivate-missing` (or the target's setting) and `--force`.
    pub fn for_target(target: &Target, deactivate_missing: bool, force: bool) -> Guards {
        Guards {
            deactivate_missing,
            max_deactivate: target.max_deactivate,
            max_changes: target.max_changes,
            force,
        }
    }

    /// What a `retry` uses: kept rows are sent as they are, with no leavers and no guard.
    pub fn none() -> Guards {
        Guards {
            deactivate_missing: false,
            max_deactivate: 1.0,
            max_changes: None,
            force: true,
        }
    }

    /// Checks an export of `in_export` users against a snapshot of `in_snapshot` active users
    /// of whom `leavers` would be deactivated and `updates` updated.
    pub fn check(
        &self,
        in_export: u64,
        in_snapshot: u64,
        leavers: u64,
        updates: u64,
    ) -> Result<(), GuardRefusal> {
        check_guards(
            in_export,
            in_snapshot,
            leavers,
            self.max_deactivate,
            self.force,
        )?;
        match self.max_changes {
            Some(max)
                if !self.force && in_snapshot > 0 && updates as f64 > max * in_snapshot as f64 =>
            {
                Err(GuardRefusal::TooManyChanges {
                    updates,
                    in_snapshot,
                    max_percent: format!("{}", (max * 1000.0).round() / 10.0),
                })
            }
            _ => Ok(()),
        }
    }
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
    #[error(
        "the export changes {updates} of the {in_snapshot} users synced so far; updating them \
         exceeds max_changes = {max_percent}% (use --force if this is intended)"
    )]
    TooManyChanges {
        updates: u64,
        in_snapshot: u64,
        max_percent: String,
    },
}

/// The broken-export guards: refuse a truncated export, and refuse a mass deactivation.
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
        assert!(
            check_guards(50, 100, 0, 0.1, false).is_ok(),
            "exactly half is not truncated"
        );
        let refusal = check_guards(95, 100, 11, 0.1, false).unwrap_err();
        assert!(refusal.to_string().contains("11 of the 100"), "{refusal}");
        assert!(refusal.to_string().contains("10%"), "{refusal}");
        assert!(refusal.to_string().contains("--force"), "{refusal}");
        assert!(check_guards(95, 100, 10, 0.1, false).is_ok());
        assert!(check_guards(95, 100, 11, 0.1, true).is_ok());
        let refusal = check_guards(990, 1000, 126, 0.125, false).unwrap_err();
        assert!(refusal.to_string().contains("12.5%"), "{refusal}");
        assert!(
            check_guards(3, 0, 0, 0.1, false).is_ok(),
            "first sync has no snapshot"
        );
    }

    #[test]
    fn max_changes_holds_a_mass_update_when_set() {
        let guards = Guards {
            deactivate_missing: false,
            max_deactivate: 0.1,
            max_changes: Some(0.25),
            force: false,
        };
        assert!(guards.check(100, 100, 0, 25).is_ok());
        let refusal = guards.check(100, 100, 0, 26).unwrap_err();
        assert!(
            refusal.to_string().contains("max_changes = 25%"),
            "{refusal}"
        );
        let unset = Guards {
            max_changes: None,
            ..guards
        };
        assert!(unset.check(100, 100, 0, 100).is_ok(), "off by default");
        let forced = Guards {
            force: true,
            ..guards
        };
        assert!(forced.check(100, 100, 0, 100).is_ok());
    }
}
