"""Every Prometheus metric of the generator, on one injectable registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


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
        self.store_seconds = Histogram(
            "argo_signal_store_seconds",
            "Time to commit one store transaction (signals + outbox rows).",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
