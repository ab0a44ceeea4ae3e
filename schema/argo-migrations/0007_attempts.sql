-- Version 6 to 7: the attempt log. One row per POST of an outbox row (its share of a batch POST
-- included): when, which relay, the window (claim token), Alpine's HTTP status or the transport
-- error's class, how long it took, a capped excerpt of the answer and the fate it led to. A claim
-- writes an 'in flight' row for each row it leases, in its own transaction; the window's settle
-- replaces them with what happened, in its own. A relay killed in between leaves 'in flight',
-- shown as unknown once the row no longer carries that window. Deleted with the outbox row.
CREATE TABLE IF NOT EXISTS outbox_attempts (
    id              INTEGER PRIMARY KEY,
    outbox_id       INTEGER NOT NULL REFERENCES sync_outbox (id) ON DELETE CASCADE,
    relay           TEXT    NOT NULL,                   -- the worker id, host:relay-N
    window_token    TEXT    NOT NULL,                   -- the claim's fencing token
    started_at      TEXT    NOT NULL,
    duration_ms     REAL,
    http_status     INTEGER,
    error           TEXT,                               -- transport error class, no answer
    answer          TEXT,                               -- excerpt of the answer or the reason
    fate            TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_attempts_outbox ON outbox_attempts (outbox_id);
CREATE INDEX IF NOT EXISTS idx_attempts_in_flight
    ON outbox_attempts (window_token) WHERE fate = 'in flight';
