"""Every Prometheus metric of the generator, on one injectable registry."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from argo.reports.stats import GroupCounts
from argo.timeutil import utc_now

Backlog = Callable[[], tuple[int, datetime | None]]
OutcomeCounts = Callable[[], Sequence[GroupCounts]]
T = TypeVar("T")
# The outcome statistics scan the signals table (~1.5 s at 1M rows): at most once a minute.
OUTCOME_STATS_MAX_AGE = 60.0
# Buckets around the seeds' target: a signal stored within 500 ms of its bar.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


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


class Cached(Generic[T]):
    """`read()`, reused for `max_age` seconds: a scrape-time query that is too dear to
    run on every scrape."""

    def __init__(
        self, read: Callable[[], T], max_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._read, self._max_age, self._clock = read, max_age, clock
        self._value: tuple[float, T] | None = None

    def __call__(self) -> T:
        now = self._clock()
        if self._value is None or now - self._value[0] >= self._max_age:
            self._value = (now, self._read())
        return self._value[1]


class OutcomeStatsCollector(Collector):
    """Outcome statistics by symbol and strategy, read from the `signals` table at scrape
    time: they count every stored signal, and survive restarts."""

    def __init__(self, read_counts: OutcomeCounts) -> None:
        self._read_counts = read_counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["symbol", "strategy"]
        signals = GaugeMetricFamily("argo_signals_stored", "Signals in the store.", labels=labels)
        closed = GaugeMetricFamily(
            "argo_signals_closed",
            "Signals with an outcome, by outcome.",
            labels=[*labels, "outcome"],
        )
        pnl = GaugeMetricFamily(
            "argo_signals_profit_loss_pct_sum",
            "Sum of profit_loss_pct over the closed signals (divide by their count).",
            labels=labels,
        )
        win_rate = GaugeMetricFamily(
            "argo_signals_win_rate",
            "Wins over closed signals (none closed: absent).",
            labels=labels,
        )
        average = GaugeMetricFamily(
            "argo_signals_avg_profit_loss_pct",
            "Mean profit_loss_pct of the closed signals (none closed: absent).",
            labels=labels,
        )
        for group in self._read_counts():
            key, counts = [group.symbol, group.strategy], group.counts
            signals.add_metric(key, counts.signals)
            for outcome, count in (
                ("win", counts.wins),
                ("loss", counts.losses),
                ("expired", counts.expired),
            ):
                closed.add_metric([*key, outcome], count)
            pnl.add_metric(key, counts.profit_loss_pct_sum)
            tally = counts.tally()
            if tally.win_rate is not None and tally.avg_profit_loss_pct is not None:
                win_rate.add_metric(key, tally.win_rate)
                average.add_metric(key, tally.avg_profit_loss_pct)
        yield from (signals, closed, pnl, win_rate, average)


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
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.signal_latency = Histogram(
            "argo_signal_latency_seconds",
            "From reading a signal's bar to its commit (engine, signal, store), per signal.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.executions = Counter(
            "argo_executions",
            "Signals executed (order id written with its signal.executed event), by symbol"
            " and action.",
            ["symbol", "action"],
            registry=self.registry,
        )
        self.executions_skipped = Counter(
            "argo_executions_skipped",
            "Stored signals the execution hook did not execute, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.execution_halted = Gauge(
            "argo_execution_halted",
            "1 while a loss limit stops new executions, by limit (daily_loss, max_drawdown).",
            ["limit"],
            registry=self.registry,
        )
        self.open_positions = Gauge(
            "argo_execution_open_positions",
            "Positions ordered or filled and not yet closed.",
            registry=self.registry,
        )
        self.drawdown_pct = Gauge(
            "argo_execution_drawdown_pct",
            "Fall of the paper account's equity from its peak, in percent of the peak.",
            registry=self.registry,
        )
        self.daily_pnl_pct = Gauge(
            "argo_execution_daily_pnl_pct",
            "Realized P&L of the trades closed today (UTC), in percent of starting equity.",
            registry=self.registry,
        )

    def watch_outbox(self, read_backlog: Backlog) -> None:
        """Export the outbox backlog gauges through `read_backlog`."""
        self.registry.register(OutboxBacklogCollector(read_backlog))

    def watch_outcomes(
        self, read_counts: OutcomeCounts, max_age: float = OUTCOME_STATS_MAX_AGE
    ) -> None:
        """Export the outcome statistics through `read_counts`, read at most every
        `max_age` seconds."""
        self.registry.register(OutcomeStatsCollector(Cached(read_counts, max_age)))
