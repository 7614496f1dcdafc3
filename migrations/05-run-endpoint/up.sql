-- runs.endpoint: where the run sent its requests: "mock" for the built-in mock started inside
-- the run, else the target's base URL (or --base-url) without any user name or password. NULL
-- only for runs recorded before this column.
-- The snapshot in synced_users says what one endpoint holds: a sync to another endpoint with
-- the same ledger is refused unless told the provider moved (--endpoint-moved), so that a
-- rehearsal against a mock cannot make the real provider's users look synced, or the reverse.
ALTER TABLE runs ADD COLUMN endpoint TEXT;
