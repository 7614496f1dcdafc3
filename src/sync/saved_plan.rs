//! Saved plans: `plan --out FILE` writes what a sync would do, and `apply FILE` does exactly
//! that, or refuses.
//!
//! A plan holds every operation (line, key, operation, field names: never a value) and the
//! fingerprints of what it was computed from: the SHA-256 of the export's bytes, a hash of the
//! target's definition (provider, key, mapping, options, policy, and the usersync version that
//! reads them), and a hash of the ledger's snapshot of the target (every user's key, remote id,
//! last payload hash and state). The diff is a pure function of those three and of the flags the
//! plan records: `apply` checks all three, refuses (naming which changed) when one differs, and
//! otherwise runs the sync, which then decides exactly the plan's operations.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::preview::{PlanCounts, PlanLine};
use crate::config::Target;
use crate::input::InputOptions;
use crate::ledger::Snapshot;

/// The format's version, for a reader from another usersync.
pub const FORMAT: u32 = 1;

/// A plan as `plan --out` writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub usersync_plan: u32,
    pub target: String,
    pub provider: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub export: PathBuf,
    pub fingerprints: Fingerprints,
    /// The flags the plan was made with, which `apply` runs with.
    pub flags: PlanFlags,
    pub summary: PlanCounts,
    pub operations: Vec<SavedOperation>,
}

/// What a plan was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    /// SHA-256 of the export file's bytes.
    pub export_sha256: String,
    /// SHA-256 of the target's definition and the usersync version.
    pub config_sha256: String,
    /// SHA-256 of the ledger's snapshot of the target.
    pub snapshot_sha256: String,
}

/// The flags that change a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFlags {
    pub full: bool,
    pub deactivate_missing: bool,
    pub force: bool,
}

/// One planned operation: what `plan --json` prints for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedOperation {
    pub line: i64,
    pub key: Option<String>,
    pub op: String,
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl From<&PlanLine> for SavedOperation {
    fn from(line: &PlanLine) -> Self {
        SavedOperation {
            line: line.line,
            key: line.key.clone(),
            op: line.op.to_owned(),
            fields: line.fields.clone(),
            notes: line.notes.clone(),
        }
    }
}

/// The hash of `target`'s definition read with `input` (how the export is read): everything
/// that decides what a row becomes, and the version of usersync that decides it.
pub fn config_sha256(target: &Target, input: &InputOptions) -> String {
    let definition = format!(
        "{}\n{:?}\n{}\n{}\n{:?}\n{:?}\n{}\n{:?}\n{:?}\n{:?}\n{:?}\n{}",
        env!("CARGO_PKG_VERSION"),
        input,
        target.provider.name(),
        target.key,
        target.fields,
        target.required,
        target.options_table,
        target.update_rules,
        target.policy.mode,
        target.policy.patterns,
        target.remote_id_column,
        target.max_deactivate,
    );
    hex::encode(Sha256::digest(definition.as_bytes()))
}

/// The hash of a target's snapshot: every user's key, remote id, last payload hash and state.
pub fn snapshot_sha256(snapshot: &Snapshot) -> String {
    let mut hasher = Sha256::new();
    for user in snapshot.iter() {
        hasher.update(user.key.as_bytes());
        hasher.update([0]);
        hasher.update(user.remote_id.unwrap_or_default().as_bytes());
        hasher.update([0]);
        hasher.update(&user.payload_hash[..]);
        hasher.update([u8::from(user.active)]);
    }
    hex::encode(hasher.finalize())
}

impl SavedPlan {
    /// Reads a plan file.
    pub fn read(path: &Path) -> anyhow::Result<SavedPlan> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the plan {}: {e}", path.display()))?;
        let plan: SavedPlan = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a usersync plan: {e}", path.display()))?;
        if plan.usersync_plan != FORMAT {
            anyhow::bail!(
                "{} is a plan of format {}; this usersync reads format {FORMAT}",
                path.display(),
                plan.usersync_plan
            );
        }
        Ok(plan)
    }

    /// What differs between the plan's fingerprints and `now`'s, in words; empty when nothing
    /// does.
    pub fn changes(&self, now: &Fingerprints) -> Vec<&'static str> {
        let was = &self.fingerprints;
        let mut changed = Vec::new();
        if was.export_sha256 != now.export_sha256 {
            changed.push("the export changed since the plan was made");
        }
        if was.config_sha256 != now.config_sha256 {
            changed.push(
                "the target's config (or the usersync version) changed since the plan was made",
            );
        }
        if was.snapshot_sha256 != now.snapshot_sha256 {
            changed.push("the ledger's users of the target changed since the plan was made");
        }
        changed
    }
}
