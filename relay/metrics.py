"""Every Prometheus metric of the relay, on one injectable registry.

Pending, lag and dead letters are read from the outbox at scrape time, so they are
true even while the delivery loop is stuck or paused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from argo.outbox import Backlog, TableHealth
from argo.timeutil import utc_now

_E2E_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
)


class OutboxCollector(Collector):
    """Reads pending, oldest pending age and dead letters when Prometheus scrapes."""

    def __init__(
        self,
        read_backlog: Callable[[], Backlog],
        read_table: Callable[[], TableHealth | None] | None = None,
    ) -> None:
        self._read_backlog = read_backlog
        self._read_table = read_table

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self._read_backlog()
        age = 0.0
        if status.oldest_pending_created_at is not None:
            age = max((utc_now() - status.oldest_pending_created_at).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "relay_outbox_pending",
            "Outbox events not yet delivered (dead letters excluded).",
            value=status.pending,
        )
        yield GaugeMetricFamily(
            "relay_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered event: the relay's lag (0 when drained).",
            value=age,
        )
        yield GaugeMetricFamily(
            "relay_outbox_dead", "Dead-lettered outbox events.", value=status.dead
        )
        yield GaugeMetricFamily(
            "relay_outbox_parked",
            "Events held back because their signal's creation event is a dead letter.",
            value=status.parked,
        )
        table = self._read_table() if self._read_table is not None else None
        if table is not None:
            yield GaugeMetricFamily(
                "relay_outbox_table_bytes",
                "Size of sync_outbox with its indexes and TOAST (PostgreSQL).",
                value=table.total_bytes,
            )
            yield GaugeMetricFamily(
                "relay_outbox_dead_tuples",
                "Dead tuples in sync_outbox awaiting autovacuum (PostgreSQL).",
                value=table.dead_rows,
            )


_ATTEMPT_BUCKETS = (1, 2, 3, 5, 8, 13, 21, 50, 100)


class RelayMetrics:
    """The relay's metrics (names fixed by ARCHITECTURE.md)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.deliveries = Counter(
            "relay_deliveries",
            "POSTs to Alpine by result: created, duplicate, applied, already_applied, http_NNN,"
            " timeout, connection_error, client_error.",
            ["result"],
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "relay_delivery_seconds",
            "Duration of one POST to Alpine.",
            registry=self.registry,
        )
        self.end_to_end_seconds = Histogram(
            "relay_end_to_end_seconds",
            "From the event's commit in Argo to Alpine's acknowledgement.",
            buckets=_E2E_BUCKETS,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "relay_last_success_timestamp_seconds",
            "Unix time of the last event Alpine acknowledged.",
            registry=self.registry,
        )
        self.signal_age_at_delivery = Histogram(
            "relay_signal_age_at_delivery_seconds",
            "From the signal's own timestamp to Alpine's acknowledgement: freshness.",
            buckets=_E2E_BUCKETS,
            registry=self.registry,
        )
        self.delivered_events = Counter(
            "relay_delivered_events",
            "Events settled delivered (each once, however many POSTs it took).",
            registry=self.registry,
        )
        self.delivered_first_try = Counter(
            "relay_delivered_first_try",
            "Events delivered by their first POST: over relay_delivered_events_total, the"
            " first-try success ratio.",
            registry=self.registry,
        )
        self.attempts_per_delivery = Histogram(
            "relay_attempts_per_delivery",
            "POSTs an event took until it was delivered (the attempt log's count).",
            buckets=_ATTEMPT_BUCKETS,
            registry=self.registry,
        )
        self.paused = Gauge(
            "relay_paused",
            "1 while delivery is paused: Alpine rejects our key, or does not answer as Alpine.",
            registry=self.registry,
        )

    def watch_outbox(
        self,
        read_backlog: Callable[[], Backlog],
        read_table: Callable[[], TableHealth | None] | None = None,
    ) -> None:
        """Export the outbox gauges, read at scrape time through `read_backlog` (and, on
        PostgreSQL, the table's size and dead tuples through `read_table`)."""
        self.registry.register(OutboxCollector(read_backlog, read_table))
