"""Turning prices into stored signals: one-shot bursts and the long-running loop."""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argo.audit import AuditLog
from argo.engine.decide import HISTORY, EngineConfig, SignalEngine, signal_from
from argo.engine.outcomes import OutcomeTracker
from argo.errors import StoreError
from argo.execution.executor import Executor
from argo.metrics import GeneratorMetrics
from argo.prices.sources import Bar, PriceSource
from argo.process.sdnotify import SystemdNotifier
from argo.process.spans import OFF, Tracing
from argo.process.trace_book import TraceBook
from argo.signal import Outcome, Signal
from argo.signals.port import SignalStore
from argo.timeutil import utc_now
from argo.trades import Fill

log = logging.getLogger(__name__)

# A store transaction that failed whole (argo/db/sqlite.py rolls it back): `argo run` keeps
# what it held and commits it at its next cycle instead of exiting (every write is
# idempotent: what did commit is skipped then).
STORE_FAILURES: tuple[type[Exception], ...] = (StoreError, sqlite3.Error)


def _store_failed(exc: Exception, held: int) -> None:
    log.warning(
        "store transaction failed (%s); %d signals/outcomes kept for the next cycle",
        exc,
        held,
        extra={"event": "store_failed", "held": held},
    )


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
    """Feeds bars from a price source through the engine and builds Signals."""

    def __init__(
        self,
        source: PriceSource,
        config: EngineConfig | None = None,
        clock: UniqueClock | None = None,
    ) -> None:
        self._source = source
        self._engine = SignalEngine(config)
        self._clock = clock or UniqueClock()
        self.timed = False  # note `read_ns` at each step (tracing on)
        self.read_ns = 0  # when the last step's bar arrived (ns since the epoch)

    @property
    def live(self) -> bool:
        """The source waits for new bars: a None bar means "none yet", not "exhausted"."""
        return bool(getattr(self._source, "live", False))

    def warm_up(self, symbols: Sequence[str], bars: int = HISTORY) -> None:
        """Feed `bars` bars per symbol so the engine can decide from the first cycle."""
        for _ in range(bars):
            for symbol in symbols:
                bar = self._source.next_bar(symbol)
                if bar is not None:
                    self._engine.warm(bar)

    def step(self, symbol: str) -> tuple[Signal | None, Bar | None]:
        """Advance `symbol` by one bar: the Signal the engine emits (if any), and the bar.

        The bar is None when the source is exhausted.
        """
        bar = self._source.next_bar(symbol)
        if self.timed:
            self.read_ns = time.time_ns()
        if bar is None:
            return None, None
        decision = self._engine.observe(bar)
        if decision is None:
            return None, bar
        return signal_from(decision, bar, self._source.name, self._clock.next()), bar


@dataclass(frozen=True, slots=True)
class GenerateResult:
    stored: int
    skipped: int
    seconds: float
    exhausted: bool = False


class Generator:
    """Stores what the factory produces (signal + outbox row in one transaction, then the
    audit line) and, in `run`, the outcomes of open signals (outcome + outbox row); with an
    `executor`, the fills of executed signals and their orders (argo.execution.executor)."""

    def __init__(
        self,
        store: SignalStore,
        audit: AuditLog,
        factory: SignalFactory,
        metrics: GeneratorMetrics,
        tracker: OutcomeTracker | None = None,
        executor: Executor | None = None,
        tracing: Tracing = OFF,
    ) -> None:
        self._store = store
        self._audit = audit
        self._factory = factory
        self._metrics = metrics
        self._tracker = tracker or OutcomeTracker()
        self._executor = executor
        # signal_id -> perf_counter() when its bar was asked for (argo_signal_latency_seconds).
        self._read_at: dict[str, float] = {}
        # What a cycle could not commit (disk full, database locked too long): the next
        # cycle commits it first, so a failing store delays signals but never drops them.
        self._unsaved_outcomes: list[Outcome] = []
        self._unsaved_signals: list[Signal] = []
        self._unsaved_fills: list[Fill] = []
        # Tracing on: each signal's span from its bar to its commit (argo.process.tracing).
        self._tracing = tracing
        self._spans = TraceBook(tracing)
        self._outcome_spans = TraceBook(tracing)
        factory.timed = tracing.on

    def _step(self, symbol: str) -> tuple[Signal | None, Bar | None]:
        """The factory's step, noting when the bar of a new signal was asked for."""
        asked = time.perf_counter()
        asked_ns = time.time_ns() if self._tracing.on else 0
        signal, bar = self._factory.step(symbol)
        if signal is not None:
            self._read_at[signal.signal_id] = asked
            if self._tracing.on:
                self._begin_span(signal, asked_ns)
        return signal, bar

    def _begin_span(self, signal: Signal, asked_ns: int) -> None:
        """The signal's span (ended by its commit): bar read, then consensus."""
        read_ns = self._factory.read_ns
        attributes = {
            "argo.signal_id": signal.signal_id,
            "argo.symbol": signal.symbol,
            "argo.action": signal.action.value,
            "argo.confidence": signal.confidence,
        }
        phases = (("bar read", asked_ns, read_ns), ("consensus", read_ns, time.time_ns()))
        self._spans.begin(signal.signal_id, "argo signal", asked_ns, attributes, phases)

    def store(self, signals: Sequence[Signal]) -> list[Signal]:
        """Commit `signals` in one transaction, then write their audit lines."""
        traces = self._spans.traces(s.signal_id for s in signals) if self._tracing.on else None
        started_ns = time.time_ns() if traces else 0
        started = time.perf_counter()
        stored = self._store.add_many(signals, utc_now(), traces)
        committed = time.perf_counter()
        if traces:
            self._spans.committed(traces, started_ns, {signal.signal_id for signal in stored})
        self._metrics.store_seconds.observe(committed - started)
        new = {signal.signal_id for signal in stored}
        for signal in signals:
            asked = self._read_at.pop(signal.signal_id, None)
            if asked is not None and signal.signal_id in new:
                self._metrics.signal_latency.observe(committed - asked)
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
        """Make and store `count` new signals, cycling over `symbols` bar by bar.

        Stops early when the price source runs out of bars for every symbol.
        """
        started = time.perf_counter()
        stored_total = skipped = 0
        exhausted: set[str] = set()
        self._factory.warm_up(symbols)
        signals = self._signals(symbols, exhausted)
        while stored_total < count:
            batch = list(itertools.islice(signals, min(batch_size, count - stored_total)))
            if not batch:
                break
            stored = self.store(batch)
            stored_total += len(stored)
            skipped += len(batch) - len(stored)
            if progress is not None:
                progress(len(stored))
        return GenerateResult(
            stored_total, skipped, time.perf_counter() - started, len(exhausted) == len(symbols)
        )

    def _signals(self, symbols: Sequence[str], exhausted: set[str]) -> Iterator[Signal]:
        """Signals bar by bar, round-robin over `symbols`, until every symbol runs out."""
        for symbol in itertools.cycle(symbols):
            if len(exhausted) == len(symbols):
                return
            signal, bar = self._step(symbol)
            if bar is None:
                exhausted.add(symbol)
            elif signal is not None:
                yield signal

    def cycle(self, symbols: Sequence[str]) -> tuple[list[Signal], list[Outcome], bool]:
        """One bar per symbol: fills, outcomes of open signals, then new signals; all stored
        (fills first, so an outcome measured from a fill never commits before it).

        Returns what was stored, and whether the price source is exhausted.
        """
        now = utc_now()
        signals, outcomes, fills, exhausted = self._read(symbols, now)
        done = exhausted == len(symbols) and not self._factory.live
        fills, self._unsaved_fills = self._unsaved_fills + fills, []
        outcomes, self._unsaved_outcomes = self._unsaved_outcomes + outcomes, []
        signals, self._unsaved_signals = self._unsaved_signals + signals, []
        try:
            if self._executor is not None:
                self._executor.commit(fills, now)
            recorded = self._record_outcomes(outcomes, now) if outcomes else []
        except STORE_FAILURES as exc:
            # All kept for the next cycle; fills and outcomes that did commit are skipped then.
            self._unsaved_fills, self._unsaved_outcomes = fills, outcomes
            self._unsaved_signals = signals
            _store_failed(exc, len(fills) + len(outcomes) + len(signals))
            return [], [], done
        for outcome in recorded:
            self._metrics.outcomes.labels(outcome.outcome.value).inc()
            self._audit.outcome_recorded(outcome)
        if self._executor is not None:
            self._executor.closed(recorded, now)
        try:
            stored = self.store(signals) if signals else []
        except STORE_FAILURES as exc:
            self._unsaved_signals = signals
            _store_failed(exc, len(signals))
            return [], recorded, done
        self._tracker.track(stored)
        if self._executor is not None:
            self._executor.consider(stored, now)
        return stored, recorded, done

    def _record_outcomes(self, outcomes: list[Outcome], now: datetime) -> list[Outcome]:
        """Commit `outcomes`; tracing on, each in a span of its own (a new trace)."""
        if not self._tracing.on:
            return self._store.record_outcomes(outcomes, now)
        started_ns = time.time_ns()
        ids = [o.signal_id for o in outcomes]
        for o in outcomes:
            attributes = {"argo.signal_id": o.signal_id, "argo.outcome": o.outcome.value}
            self._outcome_spans.begin(o.signal_id, "argo outcome", started_ns, attributes)
        recorded = self._store.record_outcomes(outcomes, now, self._outcome_spans.traces(ids))
        self._outcome_spans.committed(ids, started_ns, {o.signal_id for o in recorded})
        return recorded

    def _read(
        self, symbols: Sequence[str], now: datetime
    ) -> tuple[list[Signal], list[Outcome], list[Fill], int]:
        """One bar per symbol: new signals, decided outcomes, the broker's fills, and how
        many symbols ran out of bars. A bar fills orders before it judges outcomes, so a
        traded signal's P&L is measured from its fill."""
        signals: list[Signal] = []
        outcomes: list[Outcome] = []
        fills: list[Fill] = []
        exhausted = 0
        for symbol in symbols:
            signal, bar = self._step(symbol)
            if bar is None:
                exhausted += 1
                continue
            if self._executor is not None:
                fills.extend(self._executor.on_bar(bar, now, self._tracker))
            outcomes.extend(self._tracker.check(bar, now))
            if signal is not None:
                signals.append(signal)
        return signals, outcomes, fills, exhausted

    def run(
        self,
        symbols: Sequence[str],
        interval: float,
        stop: threading.Event,
        on_signal: Callable[[Signal], None] | None = None,
        notifier: SystemdNotifier | None = None,
    ) -> int:
        """One cycle over `symbols` every `interval` seconds until `stop` is set.

        A cycle that overruns starts the next one at once rather than piling up;
        SIGTERM (stop) lets the current cycle finish. Returns how many signals were stored.
        """
        stored_total = 0
        notifier = notifier or SystemdNotifier({})
        self._tracker.track(s.signal for s in self._store.open_signals())
        if self._executor is not None:
            self._executor.restore(self._tracker, utc_now())
        self._factory.warm_up(symbols)
        notifier.ready(f"generating for {len(symbols)} symbols")
        next_cycle = time.monotonic()
        while not stop.is_set():
            notifier.watchdog()
            stored, _, exhausted = self.cycle(symbols)
            stored_total += len(stored)
            for signal in stored:
                if on_signal is not None:
                    on_signal(signal)
            if exhausted:
                log.warning("price source exhausted; stopping", extra={"event": "exhausted"})
                break
            next_cycle = max(next_cycle + interval, time.monotonic())
            # Wait in slices so the watchdog hears from us even with a long interval.
            while not stop.wait(min(1.0, max(0.0, next_cycle - time.monotonic()))):
                notifier.watchdog()
                if time.monotonic() >= next_cycle:
                    break
        if self._executor is not None:
            held, self._unsaved_fills = self._unsaved_fills, []
            self._executor.stop(held, utc_now())
        notifier.stopping()
        return stored_total
