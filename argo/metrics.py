"""Every Prometheus metric of the generator, on one injectable registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from argo.timeutil import utc_now

Backlog = Callable[[], tuple[int, datetime | None]]


class OutboxBacklogCollector(Collector):
    """The outbox's pending count and oldest age, read at scrape time: a dead relay
    shows here as growing lag even though only the generator is running."""

    def __init__(self, read_backlog: Backlog) -> None:
        self._read_backlog = read_backlog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending, oldest = self._read_backlog()
        age = max((utc_now() - oldest).total_seconds(), 0.0) if oldest else 0.0
        yield GaugeMetricFamily(
            "argo_outbox_pending", "Outbox events not yet delivered (dead excluded).", value=pending
        )
        yield GaugeMetricFamily(
            "argo_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered outbox event (0 when drained).",
            value=age,
        )


class GeneratorMetrics:
    """The generator's metrics (names fixed by ARCHITECTURE.md)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.signals_generated = Counter(
            "argo_signals_generated",
            "Signals committed to the store, with their outbox event.",
            ["symbol", "action"],
            registry=self.registry,
        )
        self.outcomes = Counter(
            "argo_outcomes_recorded",
            "Outcomes written with their outbox event, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.store_seconds = Histogram(
            "argo_signal_store_seconds",
            "Time to commit one store transaction (signals + outbox rows).",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )

    def watch_outbox(self, read_backlog: Backlog) -> None:
        """Export the outbox backlog gauges through `read_backlog`."""
        self.registry.register(OutboxBacklogCollector(read_backlog))
