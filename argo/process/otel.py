"""Tracing on: `argo.process.tracing.Tracing` over the OpenTelemetry SDK, exporting over
OTLP/HTTP with a batch span processor. Imported only by `tracing.configure` when the
`OTEL_*` variables ask for it; its settings (endpoint, headers, sampler, batch delays)
are the SDK's own variables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from argo.process.spans import AttributeValue, Current, Kind, Parent, Span, Tracing

_KINDS = {
    Kind.INTERNAL: trace.SpanKind.INTERNAL,
    Kind.CLIENT: trace.SpanKind.CLIENT,
    Kind.SERVER: trace.SpanKind.SERVER,
    Kind.PRODUCER: trace.SpanKind.PRODUCER,
}
_PROPAGATOR = TraceContextTextMapPropagator()


def traceparent_of(context: trace.SpanContext) -> str:
    """The W3C `traceparent` header value naming `context`."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


class OtelSpan:
    """An SDK span and its `traceparent`."""

    __slots__ = ("span", "traceparent")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.traceparent = traceparent_of(span.get_span_context())

    def set(self, key: str, value: AttributeValue) -> None:
        self.span.set_attribute(key, value)

    def end(self, end_ns: int | None = None) -> None:
        self.span.end(end_ns)


def remote_context(traceparent: str) -> otel_context.Context:
    """A context whose parent is the remote span named by `traceparent` (an empty one,
    a new trace, when the text is not a valid traceparent)."""
    return _PROPAGATOR.extract({"traceparent": traceparent})


def _span_context(traceparent: str) -> trace.SpanContext:
    return trace.get_current_span(remote_context(traceparent)).get_span_context()


class OtelTracing(Tracing):
    """Spans of this process, exported over OTLP/HTTP as `service_name`."""

    on = True

    def __init__(self, service_name: str, environ: Mapping[str, str]) -> None:
        named = "OTEL_SERVICE_NAME" in environ or "service.name=" in environ.get(
            "OTEL_RESOURCE_ATTRIBUTES", ""
        )
        resource = Resource.create({} if named else {SERVICE_NAME: service_name})
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer("argo-alpine")
        self._closed = False

    def start(
        self,
        name: str,
        *,
        parent: Parent = None,
        kind: Kind = Kind.INTERNAL,
        start_ns: int | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
        links: Sequence[str] = (),
    ) -> Span:
        if isinstance(parent, OtelSpan):
            context = trace.set_span_in_context(parent.span)
        elif isinstance(parent, str) and parent:
            context = remote_context(parent)
        else:
            context = otel_context.Context()
        span = self._tracer.start_span(
            name,
            context=context,
            kind=_KINDS[kind],
            attributes=dict(attributes) if attributes else None,
            links=[trace.Link(_span_context(t)) for t in links if t],
            start_time=start_ns,
        )
        return OtelSpan(span)

    def current(self, span: Span) -> Current:
        return _use(span)

    def current_ids(self) -> tuple[str, str] | None:
        """The trace and span id of this thread's current span, if one is."""
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return f"{context.trace_id:032x}", f"{context.span_id:016x}"

    def current_traceparent(self) -> str:
        context = trace.get_current_span().get_span_context()
        return traceparent_of(context) if context.is_valid else ""

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self._provider.shutdown()


@contextmanager
def _use(span: Span) -> Iterator[None]:
    if not isinstance(span, OtelSpan):
        yield
        return
    with trace.use_span(span.span, end_on_exit=False):
        yield
