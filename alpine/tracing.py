"""Alpine's spans: off unless OpenTelemetry's own variables ask for OTLP (Alpine's copy of
`argo.process.tracing`: Alpine imports nothing of Argo's).

`configure` looks at the standard variables only (`OTEL_SDK_DISABLED`,
`OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
Off (the default) it returns `OFF` (`alpine.spans`), whose methods do nothing:
nothing of opentelemetry is imported, so tracing off costs an attribute test per signal
or request. On, it returns the SDK-backed `alpine.otel.OtelTracing` (imported here
lazily), exporting over OTLP/HTTP in batches; the SDK flushes them at exit, and the
app calls `shutdown` when it stops. Log lines then carry `trace_id` and `span_id`.

A span is named by its W3C `traceparent` (`00-<trace id>-<span id>-<flags>`): that text
is what crosses a process (an outbox row's column, an HTTP header).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from alpine.spans import OFF, Tracing


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether OpenTelemetry's variables ask for OTLP trace export.

    `OTEL_SDK_DISABLED=true` or an `OTEL_TRACES_EXPORTER` without `otlp` (e.g. `none`)
    says no; `OTEL_TRACES_EXPORTER=otlp` or an OTLP endpoint (all signals, or traces)
    says yes; nothing set says no: unlike the SDK's own default, tracing is opt-in.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return "otlp" in {name.strip() for name in exporters.split(",")}
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


RecordFactory = Callable[..., logging.LogRecord]

_active: Tracing = OFF


def configure(service_name: str, environ: Mapping[str, str]) -> Tracing:
    """The process's tracing: `OFF`, or spans exported over OTLP as `service_name`
    (unless `OTEL_SERVICE_NAME` names the service). Log lines then carry trace ids."""
    global _active
    if not wanted(environ):
        return OFF
    if _active.on:
        return _active
    from alpine.otel import OtelTracing  # only now: tracing off imports nothing

    _active = OtelTracing(service_name, environ)
    logging.setLogRecordFactory(_traced_records(logging.getLogRecordFactory(), _active))
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_TracedFormatter(handler.formatter or logging.Formatter()))
    return _active


class _TracedFormatter(logging.Formatter):
    """A handler's formatter, then ` trace_id=… span_id=…` when the record has them."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        trace_id = getattr(record, "trace_id", None)
        if trace_id is None:
            return line
        return f"{line} trace_id={trace_id} span_id={getattr(record, 'span_id', '')}"


def _traced_records(factory: RecordFactory, tracing: Tracing) -> RecordFactory:
    """Records that carry `trace_id` and `span_id` when a span is current."""
    ids = getattr(tracing, "current_ids", None)

    def make(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        found = ids() if ids is not None else None
        if found is not None:
            record.trace_id, record.span_id = found
        return record

    return make
