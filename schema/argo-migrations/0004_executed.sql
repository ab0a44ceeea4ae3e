-- Version 3 to 4: the execution hook (`argo run --auto-execute`).
-- A traded signal keeps its broker's order id (the column existed), fill price and fill time;
-- the outbox accepts the `signal.executed` event. SQLite cannot alter a CHECK constraint, so
-- sync_outbox is rebuilt: created anew, rows copied with their ids, the AUTOINCREMENT counter
-- carried over (pruned ids are never reused), the old table dropped, the new one renamed, its
-- indexes made again. argo.outbox.schema runs this whole file in the one transaction of the
-- upgrade, so a crash leaves version 3 untouched; user_version 4 then keeps it from running twice.
ALTER TABLE signals ADD COLUMN fill_price REAL CHECK (fill_price IS NULL OR fill_price > 0);
ALTER TABLE signals ADD COLUMN executed_at TEXT;
CREATE INDEX IF NOT EXISTS idx_signals_executed ON signals (id) WHERE order_id IS NOT NULL;

CREATE TABLE sync_outbox_v4 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL UNIQUE,
    event_type      TEXT    NOT NULL
                    CHECK (event_type IN ('signal.created', 'signal.outcome', 'signal.executed')),
    signal_id       TEXT    NOT NULL REFERENCES signals (signal_id),
    payload         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    claimed_by      TEXT,
    claimed_until   TEXT,
    delivered_at    TEXT,
    dead_at         TEXT,
    last_error      TEXT,
    claim_token     TEXT,
    lease_expires   REAL,
    lease_epoch     TEXT,
    first_failed_at TEXT,
    discarded_at    TEXT,
    CHECK (delivered_at IS NULL OR dead_at IS NULL)
);
INSERT INTO sync_outbox_v4 (
    id, event_id, event_type, signal_id, payload, created_at, attempts, next_attempt_at,
    claimed_by, claimed_until, delivered_at, dead_at, last_error, claim_token, lease_expires,
    lease_epoch, first_failed_at, discarded_at
)
SELECT
    id, event_id, event_type, signal_id, payload, created_at, attempts, next_attempt_at,
    claimed_by, claimed_until, delivered_at, dead_at, last_error, claim_token, lease_expires,
    lease_epoch, first_failed_at, discarded_at
FROM sync_outbox ORDER BY id;
DELETE FROM sqlite_sequence WHERE name = 'sync_outbox_v4';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'sync_outbox_v4', seq FROM sqlite_sequence WHERE name = 'sync_outbox';
DROP TABLE sync_outbox;
ALTER TABLE sync_outbox_v4 RENAME TO sync_outbox;

CREATE INDEX IF NOT EXISTS idx_outbox_pending
    ON sync_outbox (id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_outbox_signal ON sync_outbox (signal_id, id);
CREATE INDEX IF NOT EXISTS idx_outbox_dead
    ON sync_outbox (dead_at) WHERE dead_at IS NOT NULL AND discarded_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_outbox_delivered
    ON sync_outbox (delivered_at) WHERE delivered_at IS NOT NULL;
