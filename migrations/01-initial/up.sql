-- The usersync ledger, schema version 1.
--
-- Append-only: never edit this file once released; add `migrations/NN-name/up.sql` instead.
-- Connection settings (WAL, foreign keys, busy timeout, synchronous) are set by the code on
-- open, not here. Times are UTC RFC 3339 text (`2024-05-01T02:00:00.000Z`), hashes are
-- HMAC-SHA256 keyed with `meta.hmac_key`. No credential is ever stored in any table.

-- meta: facts about the ledger file itself.
--   hmac_key   32 random bytes created with the ledger; the key of every hash below.
--   created_at / created_by   when, and by which usersync version, the ledger was created.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

-- runs: one row per command that sent (or planned to send) rows to a target.
--   status        running | completed | interrupted | aborted
--   parent_run_id the run a `retry` re-sends rows from
--   command_line  as typed, with secrets already removed by the caller
--   counts        rows (every input row), then one count per outcome, the successful
--                 creates/updates/deactivations, HTTP requests sent and retries among them
CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    target         TEXT NOT NULL,
    provider       TEXT NOT NULL,
    command        TEXT NOT NULL,
    parent_run_id  INTEGER REFERENCES runs (id),
    input_path     TEXT,
    input_sha256   TEXT,
    command_line   TEXT,
    note           TEXT,
    pid            INTEGER,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'completed', 'interrupted', 'aborted')),
    exit_code      INTEGER,
    rows           INTEGER NOT NULL DEFAULT 0,
    synced         INTEGER NOT NULL DEFAULT 0,
    unchanged      INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    not_attempted  INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL DEFAULT 0,
    updated        INTEGER NOT NULL DEFAULT 0,
    deactivated    INTEGER NOT NULL DEFAULT 0,
    requests       INTEGER NOT NULL DEFAULT 0,
    retries        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_target ON runs (target, id);

-- row_outcomes: exactly one row per input row per run, unique by (run_id, line).
--   line        the row's line in the input (1-based); leavers, which have no line, get
--               negative numbers (-1, -2, ...) in the run that deactivates them
--   operation   create | update | patch | deactivate; NULL when validation rejected the row
--   outcome     synced | unchanged | rejected | failed | not_attempted, or in_flight while a
--               request may be on its way (an intent recorded before the request left)
--   errors_json the field errors of a rejected row: [{"field", "code", "message"}, ...]
--   payload     the canonical JSON sent, kept only while the row has not succeeded
--               (in flight, failed, not attempted, rejected); NULL once synced or unchanged
CREATE TABLE row_outcomes (
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    line          INTEGER NOT NULL,
    user_key      TEXT,
    -- (OR chains rather than IN lists: SQLite builds a temporary table for an IN list of more
    -- than two values on every insert, which halves the writer's speed.)
    operation     TEXT CHECK (operation = 'create' OR operation = 'update'
                              OR operation = 'patch' OR operation = 'deactivate'),
    outcome       TEXT NOT NULL
                  CHECK (outcome = 'synced' OR outcome = 'unchanged' OR outcome = 'rejected'
                         OR outcome = 'failed' OR outcome = 'not_attempted'
                         OR outcome = 'in_flight'),
    http_status   INTEGER,
    error_code    TEXT,
    error_detail  TEXT,
    errors_json   TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    latency_ms    INTEGER,
    payload       TEXT,
    recorded_at   TEXT NOT NULL,
    PRIMARY KEY (run_id, line)
) WITHOUT ROWID;
CREATE INDEX row_outcomes_in_flight ON row_outcomes (run_id) WHERE outcome = 'in_flight';

-- synced_users: the last state each target acknowledged, per user (the diff's snapshot).
--   payload_hash  HMAC of the canonical payload last sent successfully (32 bytes)
--   field_hashes  JSON object: field name -> hex HMAC of that field's value
--   active        0 once the user was deactivated (deactivated_at says when)
-- Values are never stored, only their keyed hashes; user keys and remote ids are kept.
CREATE TABLE synced_users (
    target          TEXT NOT NULL,
    user_key        TEXT NOT NULL,
    remote_id       TEXT,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    synced_at       TEXT NOT NULL,
    payload_hash    BLOB NOT NULL,
    field_hashes    TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    deactivated_at  TEXT,
    PRIMARY KEY (target, user_key)
);
-- Covers the snapshot query, so loading a million users never reads the field hashes.
CREATE INDEX synced_users_snapshot
    ON synced_users (target, user_key, payload_hash, remote_id, active);

-- target_state: what adaptive concurrency learned about a target, where the next run starts.
CREATE TABLE target_state (
    target               TEXT PRIMARY KEY NOT NULL,
    learned_rate         REAL,
    learned_concurrency  INTEGER,
    updated_at           TEXT NOT NULL
);
