-- Alpine 0002 for the embedded demo database (SQLite): subscribers.
CREATE TABLE subscribers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    tier        TEXT NOT NULL CHECK (tier IN ('starter', 'pro', 'elite')),
    token_hash  TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at  TEXT
);

CREATE INDEX signals_visibility_idx ON signals ("timestamp", received_at);
