-- Alpine 0001 for the embedded demo database (SQLite). Same shape and rules as
-- postgresql/0001_signals.sql, in SQLite's dialect; times are UTC ISO-8601 text.
CREATE TABLE signals (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    signal_id         TEXT NOT NULL UNIQUE CHECK (length(signal_id) = 16),
    verification_hash TEXT NOT NULL UNIQUE CHECK (length(verification_hash) = 64),
    symbol            TEXT NOT NULL CHECK (length(symbol) BETWEEN 1 AND 21),
    action            TEXT NOT NULL CHECK (action IN ('BUY', 'SELL')),
    entry_price       REAL NOT NULL CHECK (entry_price > 0 AND entry_price < 1e308),
    target_price      REAL NOT NULL CHECK (target_price > 0 AND target_price < 1e308),
    stop_price        REAL NOT NULL CHECK (stop_price > 0 AND stop_price < 1e308),
    confidence        REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 100),
    strategy          TEXT NOT NULL CHECK (length(strategy) BETWEEN 1 AND 64),
    asset_type        TEXT NOT NULL CHECK (asset_type IN ('stock', 'crypto')),
    data_source       TEXT NOT NULL CHECK (length(data_source) BETWEEN 1 AND 64),
    "timestamp"       TEXT NOT NULL,
    reasoning         TEXT CHECK (length(reasoning) <= 2000),
    regime            TEXT CHECK (regime IN ('BULL', 'BEAR', 'CHOP', 'CRISIS')),
    outcome           TEXT CHECK (outcome IN ('win', 'loss', 'expired')),
    exit_price        REAL CHECK (exit_price > 0 AND exit_price < 1e308),
    profit_loss_pct   REAL,
    closed_at         TEXT,
    api_key_id        TEXT NOT NULL,
    received_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK (
        (action = 'BUY'  AND stop_price < entry_price AND entry_price < target_price)
     OR (action = 'SELL' AND target_price < entry_price AND entry_price < stop_price)
    )
);

CREATE INDEX signals_timestamp_idx ON signals ("timestamp");
CREATE INDEX signals_received_at_idx ON signals (received_at);
