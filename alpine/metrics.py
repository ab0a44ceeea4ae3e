"""Every Prometheus metric of Alpine, on one injectable registry."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send


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
