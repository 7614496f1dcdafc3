//! What `usersync reconcile` changes in the ledger, never at the target: a user whose values at
//! the target drifted from what was last sent is marked stale, so that the next sync re-sends
//! the drifted fields; a user the target no longer has is forgotten, so that the next sync
//! creates them again; a user the target has, matching an export row but never linked, is
//! linked (`--adopt`), so that the next sync updates them instead of creating a second one.
//!
//! Both keep the target's values' keyed hashes as the user's field hashes and a payload hash no
//! payload has: the next sync then compares the export with the target field by field and sends
//! what differs, exactly as for a user whose payload changed.

use rusqlite::{params, OptionalExtension};

use super::error::LedgerError;
use super::error::SqlContext;
use super::field_hashes::FieldHashes;
use super::runs::RunId;
use super::{timestamp, Ledger};

/// A payload hash no payload has (an HMAC is zero with a chance of 2^-256).
const STALE: [u8; 32] = [0; 32];

impl Ledger {
    /// Marks `key` of `target` stale: its field hashes become `at_target` (the hashes of the
    /// values the target holds), so the next sync sends the fields the export has otherwise.
    /// Returns false when the ledger has no such user.
    pub fn mark_stale(
        &self,
        target: &str,
        key: &str,
        at_target: &FieldHashes,
    ) -> Result<bool, LedgerError> {
        let changed = self
            .conn
            .execute(
                "UPDATE synced_users SET payload_hash = ?3, field_hashes = ?4, source_hash = NULL \
                 WHERE target = ?1 AND user_key = ?2",
                params![target, key, &STALE[..], at_target.to_blob()],
            )
            .ctx(&self.path, "mark a user stale")?;
        Ok(changed > 0)
    }

    /// Forgets `key` of `target`, a user the target no longer has, so that the next sync
    /// creates them again. Returns false when the ledger has no such user.
    pub fn forget(&self, target: &str, key: &str) -> Result<bool, LedgerError> {
        let deleted = self
            .conn
            .execute(
                "DELETE FROM synced_users WHERE target = ?1 AND user_key = ?2",
                params![target, key],
            )
            .ctx(&self.path, "forget a user")?;
        Ok(deleted > 0)
    }

    /// Links `key` of `target` to the user `remote_id` the target already has, as run `run`
    /// (`reconcile --adopt`), with the hashes of the values the target holds. Returns false
    /// when the ledger already had a user with that key.
    pub fn link(
        &self,
        target: &str,
        key: &str,
        remote_id: &str,
        at_target: &FieldHashes,
        run: RunId,
    ) -> Result<bool, LedgerError> {
        let known: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM synced_users WHERE target = ?1 AND user_key = ?2",
                [target, key],
                |row| row.get(0),
            )
            .optional()
            .ctx(&self.path, "look a user up")?;
        if known.is_some() {
            return Ok(false);
        }
        self.conn
            .execute(
                "INSERT INTO synced_users (target, user_key, remote_id, run_id, synced_at, \
                 payload_hash, field_hashes, active) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
                params![
                    target,
                    key,
                    remote_id,
                    run.0,
                    timestamp(chrono::Utc::now()),
                    &STALE[..],
                    at_target.to_blob()
                ],
            )
            .ctx(&self.path, "link a user")?;
        Ok(true)
    }
}
