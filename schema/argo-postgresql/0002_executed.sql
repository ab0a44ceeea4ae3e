-- Version 2: the execution hook (`argo run --auto-execute`), as schema/argo-migrations/0004 on
-- SQLite. A traded signal keeps its broker's order id (the column existed), fill price and fill
-- time, and the outbox accepts the `signal.executed` event. `argo db upgrade` applies this file
-- once, in one transaction.
ALTER TABLE signals
    ADD COLUMN IF NOT EXISTS fill_price double precision CHECK (fill_price IS NULL OR fill_price > 0),
    ADD COLUMN IF NOT EXISTS executed_at text;
CREATE INDEX IF NOT EXISTS idx_signals_executed ON signals (id) WHERE order_id IS NOT NULL;

ALTER TABLE sync_outbox DROP CONSTRAINT IF EXISTS sync_outbox_event_type_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_event_type_check
    CHECK (event_type IN ('signal.created', 'signal.outcome', 'signal.executed'));
