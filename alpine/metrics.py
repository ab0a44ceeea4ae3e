"""Every Prometheus metric of Alpine, on one injectable registry.

With `alpine serve --workers N` each worker writes its samples to files in
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode, set up by
alpine/cli.py before the workers start), and whichever worker answers /metrics
sums them all: counters and histograms over every worker, dead ones included.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine, event
from starlette.types import ASGIApp, Receive, Scope, Send

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class AlpineMetrics:
    """Alpine's metrics (names fixed by ARCHITECTURE.md)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.signals_received = Counter(
            "alpine_signals_received",
            "Ingested signals by result (created, duplicate, conflict, invalid, hash_mismatch).",
            ["result"],
            registry=self.registry,
        )
        self.executions_received = Counter(
            "alpine_executions_received",
            "Execution events by result (applied, already_applied, conflict, invalid,"
            " unknown_signal).",
            ["result"],
            registry=self.registry,
        )
        self.signals_late = Counter(
            "alpine_signals_late",
            "Signals stored later than late_after_seconds after their own timestamp"
            " (marked `late` for subscribers).",
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "alpine_auth_failures",
            "Rejected ingest requests by reason (missing_key, bad_key, bad_signature).",
            ["reason"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "alpine_request_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            registry=self.registry,
        )
        self.db_queries = Counter(
            "alpine_db_queries",
            "SQL statements Alpine sent to its database (the live feed's LISTEN excluded).",
            registry=self.registry,
        )

    def watch(self, engine: Engine) -> None:
        """Count every statement `engine` executes in `alpine_db_queries_total`."""

        def count(*_: Any) -> None:
            self.db_queries.inc()

        event.listen(engine, "before_cursor_execute", count)

    def exposition(self) -> bytes:
        """The text of /metrics: this process's registry, or every worker's files."""
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


class RequestTimer:
    """ASGI middleware observing `alpine_request_seconds` by route template."""

    def __init__(self, app: ASGIApp, metrics: AlpineMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self._app(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
