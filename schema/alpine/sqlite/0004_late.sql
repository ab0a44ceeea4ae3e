-- Alpine 0004 for SQLite: freshness, as 0006 on PostgreSQL. `late` (0 or 1) is decided
-- once, at ingest: received more than late_after_seconds after the signal's timestamp.
-- Rows stored before this migration are judged with the default, 300 seconds.
ALTER TABLE signals ADD COLUMN late INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1));
UPDATE signals SET late = 1
    WHERE (julianday(received_at) - julianday("timestamp")) * 86400.0 > 300;
