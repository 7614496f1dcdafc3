-- run_responses: how a run's requests were answered, for the metrics file (`metrics_file`):
-- the answers that asked it to slow down (HTTP 429 or a Retry-After), and every attempt by HTTP
-- status class, or none (a timeout, a dropped connection, a login that failed). One row per run
-- that sent through the dispatcher; counts only.
CREATE TABLE run_responses (
    run_id      INTEGER PRIMARY KEY NOT NULL REFERENCES runs (id),
    throttled   INTEGER NOT NULL,
    status_2xx  INTEGER NOT NULL,
    status_3xx  INTEGER NOT NULL,
    status_4xx  INTEGER NOT NULL,
    status_5xx  INTEGER NOT NULL,
    no_answer   INTEGER NOT NULL
);
