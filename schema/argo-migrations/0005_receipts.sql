-- Version 4 to 5: Alpine's signed receipts, kept by the relay.
-- One row per delivered event whose acknowledgment carried a receipt (Alpine's Ed25519
-- signature over the event, the SHA-256 it stored, its feed position and time stored). Written
-- in the transaction that settles the outbox row delivered; keyed by event id and kept when
-- `relay prune` deletes the outbox row, so a dispute months later still has its proof.
CREATE TABLE IF NOT EXISTS outbox_receipts (
    event_id        TEXT    PRIMARY KEY,
    signal_id       TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    receipt         TEXT    NOT NULL,                   -- the receipt's JSON, as Alpine sent it
    verified        INTEGER NOT NULL CHECK (verified IN (0, 1)),  -- checked against pinned keys
    received_at     TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_receipts_signal ON outbox_receipts (signal_id);
CREATE INDEX IF NOT EXISTS idx_receipts_received ON outbox_receipts (received_at);
