-- Alpine 0003 for SQLite: the rules of alpine/timestamps.py and alpine/validation.py
-- that 0001 did not mirror. SQLite cannot add a CHECK to a table, so the table is
-- rebuilt (https://sqlite.org/lang_altertable.html#otheralter) with the same columns.
-- Patterns use GLOB (SQLite has no regular expressions built in).
CREATE TABLE signals_0003 (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    signal_id         TEXT NOT NULL UNIQUE
                      CHECK (length(signal_id) = 16 AND signal_id NOT GLOB '*[^0-9a-f]*'),
    verification_hash TEXT NOT NULL UNIQUE
                      CHECK (length(verification_hash) = 64 AND verification_hash NOT GLOB '*[^0-9a-f]*'),
    symbol            TEXT NOT NULL
                      CHECK (length(symbol) BETWEEN 1 AND 21 AND symbol NOT GLOB '*[^A-Z0-9./-]*'),
    action            TEXT NOT NULL CHECK (action IN ('BUY', 'SELL')),
    entry_price       REAL NOT NULL CHECK (entry_price > 0 AND entry_price < 1e308),
    target_price      REAL NOT NULL CHECK (target_price > 0 AND target_price < 1e308),
    stop_price        REAL NOT NULL CHECK (stop_price > 0 AND stop_price < 1e308),
    confidence        REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 100),
    strategy          TEXT NOT NULL CHECK (
                          length(strategy) BETWEEN 1 AND 64
                          AND strategy GLOB '[A-Za-z0-9]*' AND strategy NOT GLOB '*[^A-Za-z0-9 _.:/+-]*'),
    asset_type        TEXT NOT NULL CHECK (asset_type IN ('stock', 'crypto')),
    data_source       TEXT NOT NULL CHECK (
                          length(data_source) BETWEEN 1 AND 64
                          AND data_source GLOB '[A-Za-z0-9]*' AND data_source NOT GLOB '*[^A-Za-z0-9 _.:/+-]*'),
    -- UTC text as alpine/tables.py writes it; the four-digit year keeps it in 1970..9999.
    "timestamp"       TEXT NOT NULL CHECK (
                          "timestamp" GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
                          AND "timestamp" >= '1970-01-01T'),
    reasoning         TEXT CHECK (length(reasoning) <= 2000),
    regime            TEXT CHECK (regime IN ('BULL', 'BEAR', 'CHOP', 'CRISIS')),
    outcome           TEXT CHECK (outcome IN ('win', 'loss', 'expired')),
    exit_price        REAL CHECK (exit_price > 0 AND exit_price < 1e308),
    profit_loss_pct   REAL CHECK (profit_loss_pct > -1e308 AND profit_loss_pct < 1e308),
    closed_at         TEXT CHECK (
                          closed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
                          AND closed_at >= '1970-01-01T'),
    api_key_id        TEXT NOT NULL CHECK (length(api_key_id) BETWEEN 1 AND 64),
    received_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK (
        (action = 'BUY'  AND stop_price < entry_price AND entry_price < target_price)
     OR (action = 'SELL' AND target_price < entry_price AND entry_price < stop_price)
    ),
    -- A long position loses at most everything; a short gains at most everything.
    CHECK (
        (action = 'BUY' AND profit_loss_pct >= -100) OR (action = 'SELL' AND profit_loss_pct <= 100)
    ),
    -- An outcome is recorded whole or not at all.
    CHECK (
        (outcome IS NULL) = (exit_price IS NULL)
        AND (outcome IS NULL) = (profit_loss_pct IS NULL)
        AND (outcome IS NULL) = (closed_at IS NULL)
    )
);

INSERT INTO signals_0003 SELECT * FROM signals;
DROP TABLE signals;
ALTER TABLE signals_0003 RENAME TO signals;

CREATE INDEX signals_timestamp_idx ON signals ("timestamp");
CREATE INDEX signals_received_at_idx ON signals (received_at);
CREATE INDEX signals_visibility_idx ON signals ("timestamp", received_at);
