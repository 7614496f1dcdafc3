-- held_runs: a run whose broken-export guards tripped, held for a person instead of refused.
-- It sent nothing; plan_json is the saved plan of exactly what it would have sent (operations by
-- line, key and field names, never values, and the fingerprints of the export, the target's
-- config and the ledger's users it was decided from). `usersync approve` sends exactly that plan
-- (as the run approved_run_id) or refuses if anything changed; `usersync reject` closes it.
-- decided_by is the user name of the process that decided.
CREATE TABLE held_runs (
    run_id           INTEGER PRIMARY KEY NOT NULL REFERENCES runs (id),
    plan_json        TEXT NOT NULL,
    held_at          TEXT NOT NULL,
    decision         TEXT CHECK (decision IN ('approved', 'rejected')),
    decided_by       TEXT,
    decided_at       TEXT,
    approved_run_id  INTEGER REFERENCES runs (id)
);
