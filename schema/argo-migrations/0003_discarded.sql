-- Version 2 to 3: dead letters an operator discarded are kept and marked, never deleted.
ALTER TABLE sync_outbox ADD COLUMN discarded_at TEXT;
DROP INDEX IF EXISTS idx_outbox_dead;
CREATE INDEX IF NOT EXISTS idx_outbox_dead
    ON sync_outbox (dead_at) WHERE dead_at IS NOT NULL AND discarded_at IS NULL;
