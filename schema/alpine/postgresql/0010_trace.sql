-- Alpine 0010: the W3C trace context of the ingest span that stored each signal (OTEL_*
-- tracing on; NULL otherwise). The live stream's delivery span links to it, so a signal's
-- trace (Argo's span -> the relay's send -> this ingest) leads to its delivery to subscribers.
ALTER TABLE signals ADD COLUMN IF NOT EXISTS ingest_traceparent TEXT;
