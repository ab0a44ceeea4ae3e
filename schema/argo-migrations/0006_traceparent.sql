-- Version 5 to 6: the W3C trace context of the span that wrote each outbox row (`argo run`
-- with OTEL_* tracing on; NULL otherwise). Written in the row's own transaction; the relay's
-- send span is its child and forwards it to Alpine.
ALTER TABLE sync_outbox ADD COLUMN traceparent TEXT;
