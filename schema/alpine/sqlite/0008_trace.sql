-- The ingest span's trace context (schema/alpine/postgresql/0010_trace.sql): NULL unless
-- OTEL_* tracing is on; the live stream's delivery span links to it.
ALTER TABLE signals ADD COLUMN ingest_traceparent TEXT;
