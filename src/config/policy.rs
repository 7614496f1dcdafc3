//! What a run may do to a target's users: its mode (`mirror`, `upsert`, `create_only`,
//! `update_only`) and its protected users (`protect`, globs over user keys), checked when each
//! row is decided, so `plan` shows the same as a sync does.
//!
//! An operation a mode or a protection forbids is not sent, and never silently: the row's
//! outcome carries a note (`protected`, `not_in_mode`) naming what was left undone. A protected
//! user is never created, updated or deactivated.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::provider::Operation;

/// What a run may do: `upsert` (the default) creates and updates, `mirror` also deactivates the
/// users the export lacks, `create_only` and `update_only` do only that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    Mirror,
    #[default]
    Upsert,
    CreateOnly,
    UpdateOnly,
}

impl Mode {
    /// The modes by their names in the config.
    pub const NAMES: &'static [(&'static str, Mode)] = &[
        ("mirror", Mode::Mirror),
        ("upsert", Mode::Upsert),
        ("create_only", Mode::CreateOnly),
        ("update_only", Mode::UpdateOnly),
    ];

    pub fn as_str(self) -> &'static str {
        Mode::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("upsert", |(n, _)| n)
    }

    /// Whether a run in this mode may send `op` (a lookup or a reactivation goes with the
    /// operation it serves). Deactivations are `mirror`'s, or a run's given
    /// `--deactivate-missing`, which [`Mode::allows_deactivation`] says the mode permits.
    pub fn allows(self, op: Operation) -> bool {
        match op {
            Operation::Create => matches!(self, Mode::Mirror | Mode::Upsert | Mode::CreateOnly),
            Operation::Update | Operation::Patch => {
                matches!(self, Mode::Mirror | Mode::Upsert | Mode::UpdateOnly)
            }
            Operation::Deactivate => self.allows_deactivation(),
            Operation::Reactivate | Operation::Lookup => true,
        }
    }

    /// Whether leavers may be deactivated: by `mirror` always, by `upsert` when the run is given
    /// `--deactivate-missing`; never by `create_only` or `update_only`.
    pub fn allows_deactivation(self) -> bool {
        matches!(self, Mode::Mirror | Mode::Upsert)
    }
}

/// A target's mode and protected users.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub mode: Mode,
    protect: Option<GlobSet>,
    /// The `protect` globs as written.
    pub patterns: Vec<String>,
}

impl Policy {
    /// The policy of `mode` protecting the keys `patterns` match; `Err((index, why))` names a
    /// glob that is not one.
    pub fn new(mode: Mode, patterns: Vec<String>) -> Result<Policy, (usize, String)> {
        if patterns.is_empty() {
            return Ok(Policy {
                mode,
                protect: None,
                patterns,
            });
        }
        let mut set = GlobSetBuilder::new();
        for (i, pattern) in patterns.iter().enumerate() {
            let glob = Glob::new(pattern).map_err(|e| (i, e.kind().to_string()))?;
            set.add(glob);
        }
        let set = set.build().map_err(|e| (0, e.to_string()))?;
        Ok(Policy {
            mode,
            protect: Some(set),
            patterns,
        })
    }

    /// Whether the user `key` is protected.
    pub fn is_protected(&self, key: &str) -> bool {
        self.protect.as_ref().is_some_and(|set| set.is_match(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_allows_its_operations() {
        use Operation::*;
        let allowed = |mode: Mode| -> Vec<Operation> {
            [Create, Update, Deactivate]
                .into_iter()
                .filter(|op| mode.allows(*op))
                .collect()
        };
        assert_eq!(allowed(Mode::Mirror), [Create, Update, Deactivate]);
        assert_eq!(allowed(Mode::Upsert), [Create, Update, Deactivate]);
        assert_eq!(allowed(Mode::CreateOnly), [Create]);
        assert_eq!(allowed(Mode::UpdateOnly), [Update]);
        assert!(Mode::UpdateOnly.allows(Patch));
    }

    #[test]
    fn protected_keys_match_their_globs() {
        let policy = Policy::new(Mode::Mirror, vec!["svc-*".into(), "admin".into()]).unwrap();
        assert!(policy.is_protected("svc-backup"));
        assert!(policy.is_protected("admin"));
        assert!(!policy.is_protected("administrator"));
        assert!(!policy.is_protected("E001"));
        assert!(!Policy::default().is_protected("svc-x"));
        assert_eq!(
            Policy::new(Mode::Upsert, vec!["a[".into()]).unwrap_err().0,
            0
        );
    }
}
