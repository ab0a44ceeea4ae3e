-- The published record (schema/alpine/postgresql/0009_record.sql): each feed event becomes a
-- signed entry of a hash chain, sealed in feed order by alpine/record.py.
CREATE TABLE IF NOT EXISTS record_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT OR IGNORE INTO record_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE IF NOT EXISTS record_entries (
    seq        INTEGER PRIMARY KEY REFERENCES feed_events (seq) ON DELETE CASCADE,
    commitment TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    kid        TEXT    NOT NULL,
    sig        TEXT    NOT NULL,
    sealed_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
