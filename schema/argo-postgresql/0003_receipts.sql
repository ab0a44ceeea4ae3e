-- Version 3: Alpine's signed receipts, kept by the relay (schema/argo-migrations/0005 on SQLite).
-- One row per delivered event whose acknowledgment carried a receipt, written in the transaction
-- that settles the outbox row delivered; kept when `relay prune` deletes that row.
CREATE TABLE IF NOT EXISTS outbox_receipts (
    event_id        text        PRIMARY KEY,
    signal_id       text        NOT NULL,
    event_type      text        NOT NULL,
    receipt         text        NOT NULL,
    verified        boolean     NOT NULL,
    received_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_receipts_signal ON outbox_receipts (signal_id);
CREATE INDEX IF NOT EXISTS idx_receipts_received ON outbox_receipts (received_at);
