"""Spans of Argo and the relay: off unless OpenTelemetry's own variables ask for OTLP.

`configure` looks at the standard variables only (`OTEL_SDK_DISABLED`,
`OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
Off (the default) it returns `OFF` (`argo.process.spans`), whose methods do nothing:
nothing of opentelemetry is imported, so tracing off costs an attribute test per signal
or POST. On, it returns the SDK-backed `argo.process.otel.OtelTracing` (imported here
lazily), exporting over OTLP/HTTP in batches; the SDK flushes them at exit, and the
composition roots also call `shutdown` when they close.

A span is named by its W3C `traceparent` (`00-<trace id>-<span id>-<flags>`): that text
is what crosses a process (an outbox row's column, an HTTP header).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from argo.process.spans import OFF, Tracing


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
    from argo.process.otel import OtelTracing  # only now: tracing off imports nothing

    _active = OtelTracing(service_name, environ)
    logging.setLogRecordFactory(_traced_records(logging.getLogRecordFactory(), _active))
    return _active


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
