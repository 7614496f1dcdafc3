-- runs.pruned_at: when the run's row details (its row_outcomes, with any payloads they kept)
-- were deleted because the run had finished longer ago than the ledger's retention
-- (`retention_days` in the config, `usersync prune`). NULL while they are all there.
-- The run itself stays, with its counts, so `usersync runs` keeps the whole history; a pruned
-- run can no longer be reported on row by row or retried.
-- Nothing else is pruned: synced_users, the snapshot every nightly diff needs, refers to runs
-- by id and keeps every user.
ALTER TABLE runs ADD COLUMN pruned_at TEXT;
