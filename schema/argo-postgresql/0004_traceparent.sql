-- Version 4: the W3C trace context of the span that wrote each outbox row (`argo run` with
-- OTEL_* tracing on; NULL otherwise). Written in the row's own transaction; the relay's send
-- span is its child and forwards it to Alpine (schema/argo-migrations/0006 on SQLite).
ALTER TABLE sync_outbox ADD COLUMN IF NOT EXISTS traceparent text;
