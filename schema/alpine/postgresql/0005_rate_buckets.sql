-- Alpine 0005: token buckets shared by every Alpine process on this database, so a
-- rate limit means the same with one worker, N workers or several hosts
-- (alpine/rate_store.py). UNLOGGED: buckets are cheap to lose in a crash (they
-- refill), and skipping the WAL keeps the per-request update light.
CREATE UNLOGGED TABLE alpine_rate_buckets (
    bucket      TEXT PRIMARY KEY CHECK (char_length(bucket) BETWEEN 1 AND 128),
    tokens      DOUBLE PRECISION NOT NULL,
    -- seconds since the epoch on the database's clock: one clock for every host
    updated_at  DOUBLE PRECISION NOT NULL,
    -- whether the last request taken from this bucket was allowed
    granted     BOOLEAN NOT NULL
);
