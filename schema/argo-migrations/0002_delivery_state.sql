-- Version 1 (the first release) to 2: the relay's explicit delivery state machine.
-- Fencing token and boot-clock lease per claim, the first failure charged to a row (the age
-- limit counts from it), the outcome's own time for replays, and a claim index that walks
-- pending rows in id order.
ALTER TABLE sync_outbox ADD COLUMN claim_token TEXT;
ALTER TABLE sync_outbox ADD COLUMN lease_expires REAL;
ALTER TABLE sync_outbox ADD COLUMN lease_epoch TEXT;
ALTER TABLE sync_outbox ADD COLUMN first_failed_at TEXT;
ALTER TABLE signals ADD COLUMN closed_at TEXT;
DROP INDEX IF EXISTS idx_outbox_due;
CREATE INDEX IF NOT EXISTS idx_outbox_pending
    ON sync_outbox (id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
-- Leases taken before the upgrade had no token: release them (their holders are gone).
UPDATE sync_outbox SET claimed_by = NULL, claimed_until = NULL
    WHERE delivered_at IS NULL AND dead_at IS NULL;
