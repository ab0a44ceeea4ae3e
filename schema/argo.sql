-- Argo's SQLite database: signals and the transactional outbox.
-- The complete current schema, applied by argo.outbox.schema to a new database, which is then
-- marked with the latest version (PRAGMA user_version). An older database is brought up to date by the files in
-- schema/argo-migrations/ instead (NNNN_name.sql upgrades version NNNN-1 to NNNN).
-- Times are UTC text in one fixed-width form, YYYY-MM-DDTHH:MM:SS.ffffffZ, so they sort as text.

CREATE TABLE IF NOT EXISTS signals (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    signal_id       TEXT    NOT NULL UNIQUE CHECK (length(signal_id) = 16),
    symbol          TEXT    NOT NULL,
    action          TEXT    NOT NULL CHECK (action IN ('BUY', 'SELL')),
    entry_price     REAL    NOT NULL CHECK (entry_price > 0),
    target_price    REAL    NOT NULL CHECK (target_price > 0),
    stop_price      REAL    NOT NULL CHECK (stop_price > 0),
    confidence      REAL    NOT NULL CHECK (confidence >= 0 AND confidence <= 100),
    strategy        TEXT    NOT NULL,
    asset_type      TEXT    NOT NULL CHECK (asset_type IN ('stock', 'crypto')),
    data_source     TEXT    NOT NULL,
    timestamp       TEXT    NOT NULL,
    outcome         TEXT    CHECK (outcome IN ('win', 'loss', 'expired')),
    exit_price      REAL,
    profit_loss_pct REAL,
    sha256          TEXT    NOT NULL CHECK (length(sha256) = 64),
    order_id        TEXT,
    created_at      TEXT    NOT NULL,
    reasoning       TEXT,
    regime          TEXT    CHECK (regime IN ('BULL', 'BEAR', 'CHOP', 'CRISIS')),
    closed_at       TEXT,                               -- when the outcome was decided
    -- Set together with order_id, in the transaction of the signal.executed event:
    fill_price      REAL    CHECK (fill_price IS NULL OR fill_price > 0),  -- the broker's fill
    executed_at     TEXT                                -- when the order filled
);

CREATE INDEX IF NOT EXISTS idx_signals_symbol ON signals (symbol);
CREATE INDEX IF NOT EXISTS idx_signals_timestamp ON signals (timestamp);
CREATE INDEX IF NOT EXISTS idx_signals_confidence ON signals (confidence);
-- The traded signals: the risk book is rebuilt from them when `argo run --auto-execute` starts.
CREATE INDEX IF NOT EXISTS idx_signals_executed ON signals (id) WHERE order_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS sync_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- delivery order
    event_id        TEXT    NOT NULL UNIQUE,            -- idempotency key, sent as webhook-id
    event_type      TEXT    NOT NULL
                    CHECK (event_type IN ('signal.created', 'signal.outcome', 'signal.executed')),
    signal_id       TEXT    NOT NULL REFERENCES signals (signal_id),
    payload         TEXT    NOT NULL,                   -- the exact JSON body to send
    created_at      TEXT    NOT NULL,                   -- commit time of the announced change
    attempts        INTEGER NOT NULL DEFAULT 0,         -- failures charged to this row alone
    next_attempt_at TEXT    NOT NULL,
    claimed_by      TEXT,                               -- worker id holding the lease (display)
    claimed_until   TEXT,                               -- wall-clock lease end (display only)
    delivered_at    TEXT,
    dead_at         TEXT,
    last_error      TEXT,
    claim_token     TEXT,                               -- fencing token of the claim holding it
    lease_expires   REAL,                               -- lease end on the host's boot clock
    lease_epoch     TEXT,                               -- boot id that clock belongs to
    first_failed_at TEXT,                               -- first failure charged to the row
    discarded_at    TEXT,                               -- an operator gave the dead letter up
    traceparent     TEXT,                               -- W3C trace context of Argo's span (tracing on)
    CHECK (delivered_at IS NULL OR dead_at IS NULL)
);

-- The relay's claim query walks pending rows in id order and stops at the batch size.
CREATE INDEX IF NOT EXISTS idx_outbox_pending
    ON sync_outbox (id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
-- Ordering rule (an outcome or execution waits for its delivered creation) looks up a signal's events.
CREATE INDEX IF NOT EXISTS idx_outbox_signal ON sync_outbox (signal_id, id);
-- Dead letters still awaiting a decision (discarded ones are kept, but not counted).
CREATE INDEX IF NOT EXISTS idx_outbox_dead
    ON sync_outbox (dead_at) WHERE dead_at IS NOT NULL AND discarded_at IS NULL;
-- Last success, delivered counts and pruning without scanning the table.
CREATE INDEX IF NOT EXISTS idx_outbox_delivered
    ON sync_outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- One row per relay process: what `relay status` reports as running or paused.
-- Written on start, stop, pause and resume, and as a heartbeat every few seconds.
CREATE TABLE IF NOT EXISTS relay_workers (
    worker_id       TEXT PRIMARY KEY,
    started_at      TEXT NOT NULL,
    heartbeat_at    TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('running', 'paused', 'stopped')),
    detail          TEXT
);

-- Alpine's signed receipts, kept by the relay: one row per delivered event whose
-- acknowledgment carried one, written in the transaction that settles the outbox row
-- delivered; keyed by event id and kept when `relay prune` deletes that row.
CREATE TABLE IF NOT EXISTS outbox_receipts (
    event_id        TEXT    PRIMARY KEY,
    signal_id       TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    receipt         TEXT    NOT NULL,                   -- the receipt's JSON, as Alpine sent it
    verified        INTEGER NOT NULL CHECK (verified IN (0, 1)),  -- checked against pinned keys
    received_at     TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_receipts_signal ON outbox_receipts (signal_id);
CREATE INDEX IF NOT EXISTS idx_receipts_received ON outbox_receipts (received_at);

-- The attempt log: outbox_posts, one row per HTTP POST (when, relay, window, status or
-- transport error class, duration, answer excerpt); outbox_attempts, one row per outbox row
-- in it and its fate; outbox_windows, windows claimed and not yet settled (a killed relay's
-- stay: their rows read as in flight, then unknown). Attempts go with their outbox row.
CREATE TABLE IF NOT EXISTS outbox_posts (
    window_token    TEXT    NOT NULL,                   -- the claim's fencing token
    n               INTEGER NOT NULL,                   -- the POST's place in its window
    relay           TEXT    NOT NULL,                   -- the worker id, host:relay-N
    started_at      TEXT    NOT NULL,
    duration_ms     REAL    NOT NULL,
    http_status     INTEGER,
    error           TEXT,                               -- transport error class, no answer
    answer          TEXT    NOT NULL,                   -- excerpt of the answer or the reason
    events          INTEGER NOT NULL,                   -- rows it carried (a batch: several)
    PRIMARY KEY (window_token, n)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_posts_started ON outbox_posts (started_at);
CREATE TABLE IF NOT EXISTS outbox_attempts (
    outbox_id       INTEGER NOT NULL REFERENCES sync_outbox (id) ON DELETE CASCADE,
    window_token    TEXT    NOT NULL,
    post_n          INTEGER NOT NULL,                   -- outbox_posts (window_token, n)
    fate            TEXT    NOT NULL,
    detail          TEXT,                               -- this row's own answer in a batch
    PRIMARY KEY (outbox_id, window_token, post_n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox_windows (
    window_token    TEXT    PRIMARY KEY,
    relay           TEXT    NOT NULL,
    claimed_at      TEXT    NOT NULL,
    row_ids         TEXT    NOT NULL                    -- JSON array of sync_outbox ids
) WITHOUT ROWID;
