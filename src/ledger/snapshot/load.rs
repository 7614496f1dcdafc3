//! Loading a target's snapshot from `synced_users`, and the per-field hashes the diff asks for
//! the users that changed.

use std::collections::HashMap;

use rusqlite::OptionalExtension;

use super::super::error::{LedgerError, SqlContext};
use super::super::field_hashes::FieldHashes;
use super::super::hash::{Hash, SourceHash};
use super::super::Ledger;
use super::{Snapshot, SnapshotBuilder};

impl Ledger {
    /// Loads `target`'s snapshot (active and deactivated users) from `synced_users`.
    pub fn snapshot(&self, target: &str) -> Result<Snapshot, LedgerError> {
        let action = "load the snapshot";
        // Sized once (regrowing would leave the allocator holding the old copies): the count
        // reads the narrow primary key, a tenth of the load. The text is a guess, grown as needed.
        let users: usize = self
            .conn
            .query_row(
                "SELECT count(*) FROM synced_users WHERE target = ?1",
                [target],
                |row| row.get(0),
            )
            .ctx(&self.path, action)?;
        let mut builder = SnapshotBuilder::of_unique_keys(users, users.saturating_mul(16));
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT user_key, remote_id, payload_hash, active, source_hash FROM synced_users \
                 WHERE target = ?1 ORDER BY user_key",
            )
            .ctx(&self.path, action)?;
        let mut rows = stmt.query([target]).ctx(&self.path, action)?;
        while let Some(row) = rows.next().ctx(&self.path, action)? {
            let key = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .ctx(&self.path, action)?;
            let remote_id = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_str_or_null()?))
                .ctx(&self.path, action)?;
            let hash = row
                .get_ref(2)
                .and_then(|v| Ok(v.as_blob()?))
                .ctx(&self.path, action)?;
            let hash: Hash = hash.try_into().map_err(|_| {
                self.corrupt(format!(
                    "synced_users {key:?}: payload_hash is not 32 bytes"
                ))
            })?;
            let active: bool = row.get(3).ctx(&self.path, action)?;
            // A fingerprint of another size (none is written) is only a shortcut lost.
            let source = row
                .get_ref(4)
                .and_then(|v| Ok(v.as_blob_or_null()?))
                .ctx(&self.path, action)?
                .and_then(|blob| SourceHash::try_from(blob).ok());
            // `(target, user_key)` is the table's primary key: every key comes once.
            builder
                .push_new(key, remote_id, hash, source, active)
                .map_err(|e| self.corrupt(e.to_string()))?;
        }
        let snapshot = builder.finish();
        tracing::debug!(
            target_name = target,
            users = snapshot.len(),
            active = snapshot.active_len(),
            memory_bytes = snapshot.memory_bytes(),
            "snapshot loaded"
        );
        Ok(snapshot)
    }

    /// The per-field hashes last synced for one user (empty if the user is unknown).
    pub fn field_hashes(&self, target: &str, user_key: &str) -> Result<FieldHashes, LedgerError> {
        let bad = || self.corrupt(format!("synced_users {user_key:?}: bad field_hashes"));
        let read = self
            .conn
            .prepare_cached(
                "SELECT field_hashes FROM synced_users WHERE target = ?1 AND user_key = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row([target, user_key], |row| {
                    Ok(FieldHashes::from_column(row.get_ref(0)?))
                })
                .optional()
            })
            .ctx(&self.path, "read field hashes")?;
        match read {
            None => Ok(FieldHashes::default()),
            Some(hashes) => hashes.ok_or_else(bad),
        }
    }

    /// [`Ledger::field_hashes`] for many users at once; unknown users are left out.
    pub fn field_hashes_many<'k>(
        &self,
        target: &str,
        user_keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<HashMap<String, FieldHashes>, LedgerError> {
        let mut all = HashMap::new();
        for key in user_keys {
            let hashes = self.field_hashes(target, key)?;
            if !hashes.is_empty() {
                all.insert(key.to_string(), hashes);
            }
        }
        Ok(all)
    }
}
