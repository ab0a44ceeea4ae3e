"""The face of tracing that code calls: `Tracing` (off: every method a no-op, nothing of
opentelemetry imported), `Span`, `Kind`. `alpine.tracing.configure` returns `OFF` or the
SDK-backed subclass (`alpine.otel`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from enum import Enum
from typing import Protocol

AttributeValue = str | int | float | bool


class Kind(Enum):
    INTERNAL = "internal"
    CLIENT = "client"
    SERVER = "server"
    PRODUCER = "producer"


class Span(Protocol):
    """One started span: set attributes, end it; `traceparent` names it ("" when off)."""

    @property
    def traceparent(self) -> str: ...

    def set(self, key: str, value: AttributeValue) -> None: ...

    def end(self, end_ns: int | None = None) -> None: ...


class _NoSpan:
    """The span of tracing off: nothing recorded, no context."""

    __slots__ = ()
    traceparent = ""

    def set(self, key: str, value: AttributeValue) -> None:
        pass

    def end(self, end_ns: int | None = None) -> None:
        pass


NO_SPAN: Span = _NoSpan()

Parent = str | Span | None
"""A span's parent: a `traceparent`, a span of this process, or None (a new trace)."""


Current = AbstractContextManager[None]
"""`Tracing.current(span)`: makes `span` this thread's current span within a `with` block
(log lines written meanwhile carry its ids)."""

_NO_CURRENT: Current = nullcontext()


class Tracing:
    """Tracing off: every method a no-op. `on` tells callers whether to bother at all."""

    on = False

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
        """A started span named `name` under `parent` (None: the root of a new trace),
        linked to the `traceparent`s in `links`."""
        return NO_SPAN

    def current(self, span: Span) -> Current:
        """Make `span` current within a `with` block (for log lines and child spans)."""
        return _NO_CURRENT

    def current_traceparent(self) -> str:
        """The `traceparent` of this thread's current span ("" when there is none)."""
        return ""

    def shutdown(self) -> None:
        """Export what is still buffered and stop the exporter (idempotent)."""


OFF = Tracing()
