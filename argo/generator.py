"""Turning prices into stored signals: one-shot bursts and the long-running loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argo.audit import AuditLog
from argo.metrics import GeneratorMetrics
from argo.prices import PriceSource, asset_type_of
from argo.rule import SLOW_WINDOW, STRATEGY, MomentumRule
from argo.sdnotify import SystemdNotifier
from argo.signal import Signal
from argo.store import SignalStore
from argo.timeutil import to_text, utc_now

log = logging.getLogger(__name__)
WARM_UP_TICKS = SLOW_WINDOW + 1


class UniqueClock:
    """UTC timestamps that strictly increase within a process, so ids never collide."""

    def __init__(self, now: Callable[[], datetime] = utc_now) -> None:
        self._now = now
        self._last: datetime | None = None

    def next(self) -> datetime:
        moment = self._now()
        if self._last is not None and moment <= self._last:
            moment = self._last + timedelta(microseconds=1)
        self._last = moment
        return moment


class SignalFactory:
    """Feeds ticks from a price source through the rule and builds Signals."""

    def __init__(self, source: PriceSource, clock: UniqueClock | None = None) -> None:
        self._source = source
        self._rule = MomentumRule()
        self._clock = clock or UniqueClock()

    def warm_up(self, symbols: Sequence[str], ticks: int = WARM_UP_TICKS) -> None:
        """Feed `ticks` prices per symbol so the rule can decide from the first cycle."""
        for _ in range(ticks):
            for symbol in symbols:
                self._rule.observe(symbol, self._source.next_tick(symbol).price)

    def step(self, symbol: str, min_confidence: float = 0.0) -> Signal | None:
        """Advance `symbol` by one tick; a Signal if the rule fires at `min_confidence`."""
        tick = self._source.next_tick(symbol)
        decision = self._rule.observe(symbol, tick.price)
        if decision is None or decision.confidence < min_confidence:
            return None
        return Signal.create(
            symbol=symbol,
            action=decision.action,
            entry_price=decision.entry_price,
            target_price=decision.target_price,
            stop_price=decision.stop_price,
            confidence=decision.confidence,
            strategy=STRATEGY,
            asset_type=asset_type_of(symbol),
            data_source=self._source.name,
            timestamp=to_text(self._clock.next()),
            reasoning=decision.reasoning,
            regime=decision.regime,
        )


@dataclass(frozen=True, slots=True)
class GenerateResult:
    stored: int
    skipped: int
    seconds: float


class Generator:
    """Stores what the factory produces: signal + outbox row per transaction, then audit."""

    def __init__(
        self,
        store: SignalStore,
        audit: AuditLog,
        factory: SignalFactory,
        metrics: GeneratorMetrics,
    ) -> None:
        self._store = store
        self._audit = audit
        self._factory = factory
        self._metrics = metrics

    def store(self, signals: Sequence[Signal]) -> list[Signal]:
        """Commit `signals` in one transaction, then write their audit lines."""
        started = time.perf_counter()
        stored = self._store.add_many(signals, utc_now())
        self._metrics.store_seconds.observe(time.perf_counter() - started)
        for signal in stored:
            self._metrics.signals_generated.labels(signal.symbol, signal.action.value).inc()
            self._audit.signal_stored(signal)
        return stored

    def generate(
        self,
        count: int,
        symbols: Sequence[str],
        batch_size: int = 1,
        progress: Callable[[int], None] | None = None,
    ) -> GenerateResult:
        """Make and store exactly `count` new signals, cycling over `symbols`."""
        started = time.perf_counter()
        stored_total, skipped, index = 0, 0, 0
        while stored_total < count:
            batch: list[Signal] = []
            while len(batch) < min(batch_size, count - stored_total):
                signal = self._factory.step(symbols[index % len(symbols)])
                index += 1
                if signal is not None:
                    batch.append(signal)
            stored = self.store(batch)
            stored_total += len(stored)
            skipped += len(batch) - len(stored)
            if progress is not None:
                progress(len(stored))
        return GenerateResult(stored_total, skipped, time.perf_counter() - started)

    def run(
        self,
        symbols: Sequence[str],
        interval: float,
        min_confidence: float,
        stop: threading.Event,
        on_signal: Callable[[Signal], None] | None = None,
        notifier: SystemdNotifier | None = None,
    ) -> int:
        """One cycle over `symbols` every `interval` seconds until `stop` is set.

        A cycle that overruns starts the next one at once rather than piling up.
        Returns how many signals were stored.
        """
        stored_total = 0
        notifier = notifier or SystemdNotifier({})
        self._factory.warm_up(symbols)
        notifier.ready(f"generating for {len(symbols)} symbols")
        next_cycle = time.monotonic()
        while not stop.is_set():
            notifier.watchdog()
            candidates = [self._factory.step(s, min_confidence) for s in symbols]
            signals = [s for s in candidates if s is not None]
            if signals:
                for signal in self.store(signals):
                    stored_total += 1
                    if on_signal is not None:
                        on_signal(signal)
            next_cycle = max(next_cycle + interval, time.monotonic())
            # Wait in slices so the watchdog hears from us even with a long interval.
            while not stop.wait(min(1.0, max(0.0, next_cycle - time.monotonic()))):
                notifier.watchdog()
                if time.monotonic() >= next_cycle:
                    break
        notifier.stopping()
        return stored_total
