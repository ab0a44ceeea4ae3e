-- Version 5: the attempt log (schema/argo-migrations/0007 on SQLite). One row per POST of an
-- outbox row (its share of a batch POST included): when, which relay, the window (claim token),
-- Alpine's HTTP status or the transport error's class, how long it took, a capped excerpt of
-- the answer and the fate it led to. A claim writes an 'in flight' row for each row it leases in
-- its own statement; the window's settle replaces them with what happened. A relay killed in
-- between leaves 'in flight', shown as unknown once the row no longer carries that window.
-- Deleted with the outbox row.
CREATE TABLE IF NOT EXISTS outbox_attempts (
    id              bigserial   PRIMARY KEY,
    outbox_id       bigint      NOT NULL REFERENCES sync_outbox (id) ON DELETE CASCADE,
    relay           text        NOT NULL,
    window_token    text        NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     double precision,
    http_status     integer,
    error           text,
    answer          text,
    fate            text        NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_attempts_outbox ON outbox_attempts (outbox_id);
CREATE INDEX IF NOT EXISTS idx_attempts_in_flight
    ON outbox_attempts (window_token) WHERE fate = 'in flight';
