-- Alpine 0006: freshness. `late` is decided once, at ingest: the signal reached Alpine
-- more than late_after_seconds (alpine serve's setting, default 300) after its own
-- timestamp. Stored, not computed on read, so a signal's flag never changes when the
-- setting does. Rows stored before this migration are judged with the default.
ALTER TABLE signals ADD COLUMN late BOOLEAN NOT NULL DEFAULT false;
UPDATE signals SET late = true WHERE received_at - "timestamp" > interval '300 seconds';
