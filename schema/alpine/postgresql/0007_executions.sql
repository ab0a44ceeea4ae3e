-- Alpine 0007: which signals Argo traded (POST /api/v1/argo/sync/execution, the
-- `signal.executed` event). The broker's order id, the fill price and the fill time are
-- recorded together, once; elite subscribers see them (docs/subscriber-api.md).
ALTER TABLE signals
    ADD COLUMN order_id text
        CONSTRAINT signals_order_id_pattern CHECK (order_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$'),
    ADD COLUMN executed_at timestamptz
        CONSTRAINT signals_executed_at_range CHECK (
            executed_at >= '1970-01-01T00:00:00Z' AND executed_at <= '9999-12-31T23:59:59.999999Z'
        ),
    ADD COLUMN fill_price double precision
        CONSTRAINT signals_fill_price_finite CHECK (fill_price > 0 AND fill_price < 'Infinity'),
    -- An execution is recorded whole or not at all.
    ADD CONSTRAINT signals_execution_whole CHECK (num_nulls(order_id, executed_at, fill_price) IN (0, 3));
