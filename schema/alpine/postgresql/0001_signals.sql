-- Alpine 0001: the signals table. CHECKs mirror alpine/validation.py so that no
-- path, API or not, can store a row the API would reject.
CREATE TABLE signals (
    id                BIGSERIAL PRIMARY KEY,
    signal_id         TEXT NOT NULL UNIQUE CHECK (signal_id ~ '^[0-9a-f]{16}$'),
    verification_hash TEXT NOT NULL UNIQUE CHECK (verification_hash ~ '^[0-9a-f]{64}$'),
    symbol            TEXT NOT NULL CHECK (symbol ~ '^[A-Z0-9]{1,10}([.\-/][A-Z0-9]{1,10})?$'),
    action            TEXT NOT NULL CHECK (action IN ('BUY', 'SELL')),
    -- x < 'Infinity' also rejects NaN, which PostgreSQL sorts above every number.
    entry_price       DOUBLE PRECISION NOT NULL CHECK (entry_price > 0 AND entry_price < 'Infinity'),
    target_price      DOUBLE PRECISION NOT NULL CHECK (target_price > 0 AND target_price < 'Infinity'),
    stop_price        DOUBLE PRECISION NOT NULL CHECK (stop_price > 0 AND stop_price < 'Infinity'),
    confidence        DOUBLE PRECISION NOT NULL CHECK (confidence >= 0 AND confidence <= 100),
    strategy          TEXT NOT NULL CHECK (char_length(strategy) BETWEEN 1 AND 64),
    asset_type        TEXT NOT NULL CHECK (asset_type IN ('stock', 'crypto')),
    data_source       TEXT NOT NULL CHECK (char_length(data_source) BETWEEN 1 AND 64),
    "timestamp"       TIMESTAMPTZ NOT NULL,
    reasoning         TEXT CHECK (char_length(reasoning) <= 2000),
    regime            TEXT CHECK (regime IN ('BULL', 'BEAR', 'CHOP', 'CRISIS')),
    outcome           TEXT CHECK (outcome IN ('win', 'loss', 'expired')),
    exit_price        DOUBLE PRECISION CHECK (exit_price > 0 AND exit_price < 'Infinity'),
    profit_loss_pct   DOUBLE PRECISION CHECK (profit_loss_pct > '-Infinity' AND profit_loss_pct < 'Infinity'),
    closed_at         TIMESTAMPTZ,
    api_key_id        TEXT NOT NULL CHECK (char_length(api_key_id) BETWEEN 1 AND 64),
    received_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (
        (action = 'BUY'  AND stop_price < entry_price AND entry_price < target_price)
     OR (action = 'SELL' AND target_price < entry_price AND entry_price < stop_price)
    )
    -- No NUL check needed: PostgreSQL text cannot hold NUL at all.
);

CREATE INDEX signals_timestamp_idx ON signals ("timestamp");
CREATE INDEX signals_symbol_timestamp_idx ON signals (symbol, "timestamp");
CREATE INDEX signals_received_at_idx ON signals (received_at);
