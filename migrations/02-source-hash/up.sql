-- A fingerprint of the export row each user was last synced from, so that a nightly re-sync
-- can tell an unchanged row by its bytes alone, without mapping, validating and hashing it.
--
-- `source_hash` is a keyed hash (HMAC-SHA256 with the ledger's key, first 16 bytes) of the
-- row's raw cells in the columns the target's mapping reads, and of that mapping; NULL when
-- the user was last synced from a row without one (a retry from kept payloads, a JSONL export). It is only a
-- shortcut: a row whose fingerprint is unknown takes the full path and is compared by its
-- payload hash, as before.
ALTER TABLE synced_users ADD COLUMN source_hash BLOB;

-- The snapshot is loaded from this index alone (a covering index): it must hold every column
-- the load reads, now including `source_hash`.
DROP INDEX synced_users_snapshot;
CREATE INDEX synced_users_snapshot
    ON synced_users (target, user_key, payload_hash, remote_id, active, source_hash);
