-- Argo's PostgreSQL database (ARGO_DB=postgresql+psycopg://...): signals and the outbox.
-- Argo's own database and role, never Alpine's. Applied by `argo db upgrade`, which records
-- each file of schema/argo-postgresql/ in argo_schema_migrations and skips it afterwards.
-- `signals` keeps the SQLite text forms (timestamp is hashed as text); the outbox's own
-- times are timestamptz. Leases run on the database server's clock (now()): the one clock
-- every relay on every host shares.

CREATE TABLE IF NOT EXISTS signals (
    id              bigserial PRIMARY KEY,
    signal_id       text             NOT NULL UNIQUE CHECK (length(signal_id) = 16),
    symbol          text             NOT NULL,
    action          text             NOT NULL CHECK (action IN ('BUY', 'SELL')),
    entry_price     double precision NOT NULL CHECK (entry_price > 0),
    target_price    double precision NOT NULL CHECK (target_price > 0),
    stop_price      double precision NOT NULL CHECK (stop_price > 0),
    confidence      double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 100),
    strategy        text             NOT NULL,
    asset_type      text             NOT NULL CHECK (asset_type IN ('stock', 'crypto')),
    data_source     text             NOT NULL,
    timestamp       text             NOT NULL,   -- the signal's own time, as hashed
    outcome         text             CHECK (outcome IN ('win', 'loss', 'expired')),
    exit_price      double precision,
    profit_loss_pct double precision,
    sha256          text             NOT NULL CHECK (length(sha256) = 64),
    order_id        text,
    created_at      text             NOT NULL,   -- commit time, fixed-width UTC text
    reasoning       text,
    regime          text             CHECK (regime IN ('BULL', 'BEAR', 'CHOP', 'CRISIS')),
    closed_at       text                         -- when the outcome was decided
);

CREATE INDEX IF NOT EXISTS idx_signals_symbol ON signals (symbol);
CREATE INDEX IF NOT EXISTS idx_signals_timestamp ON signals (timestamp);
CREATE INDEX IF NOT EXISTS idx_signals_confidence ON signals (confidence);
CREATE INDEX IF NOT EXISTS idx_signals_open ON signals (id) WHERE outcome IS NULL;

CREATE TABLE IF NOT EXISTS sync_outbox (
    id              bigserial   PRIMARY KEY,
    -- The writing transaction: ids become visible out of commit order, so rows are claimed
    -- in (txid, id) order and only below the drain horizon (the oldest transaction still
    -- running), where no earlier row can still appear.
    txid            xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        text        NOT NULL UNIQUE,    -- idempotency key, sent as webhook-id
    event_type      text        NOT NULL CHECK (event_type IN ('signal.created', 'signal.outcome')),
    signal_id       text        NOT NULL REFERENCES signals (signal_id),
    payload         text        NOT NULL,           -- the exact JSON body to send
    created_at      timestamptz NOT NULL,           -- commit time of the announced change
    attempts        integer     NOT NULL DEFAULT 0, -- failures charged to this row alone
    next_attempt_at timestamptz NOT NULL,
    claimed_by      text,                           -- worker id holding the lease (display)
    claimed_until   timestamptz,                    -- the lease end (display)
    claim_token     text,                           -- fencing token of the claim holding it
    lease_expires   timestamptz,                    -- lease end on the server's clock
    delivered_at    timestamptz,
    dead_at         timestamptz,
    last_error      text,
    first_failed_at timestamptz,                    -- first failure charged to the row
    discarded_at    timestamptz,                    -- an operator gave the dead letter up
    CHECK (delivered_at IS NULL OR dead_at IS NULL)
);

-- The claim walks pending rows in (txid, id) order and stops at the batch size.
CREATE INDEX IF NOT EXISTS idx_outbox_pending
    ON sync_outbox (txid, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
-- Ordering rule (an outcome waits for its delivered creation) looks up a signal's events.
CREATE INDEX IF NOT EXISTS idx_outbox_signal ON sync_outbox (signal_id, txid, id);
CREATE INDEX IF NOT EXISTS idx_outbox_dead
    ON sync_outbox (dead_at) WHERE dead_at IS NOT NULL AND discarded_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_outbox_delivered
    ON sync_outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- One row per relay process (any host): what `relay status` reports as running or paused.
CREATE TABLE IF NOT EXISTS relay_workers (
    worker_id       text        PRIMARY KEY,
    host            text        NOT NULL,
    pid             integer     NOT NULL,
    started_at      timestamptz NOT NULL,
    heartbeat_at    timestamptz NOT NULL,
    state           text        NOT NULL CHECK (state IN ('running', 'paused', 'stopped')),
    detail          text
);
