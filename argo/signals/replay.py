"""`relay replay`: enqueue fresh events rebuilt from Argo's signals table.

For backfills after Alpine lost data, or to re-send a window. Each signal gets a new
`signal.created` event, then, when it was traded, a new `signal.executed` event, then, when
it has an outcome, a new `signal.outcome` event (the ordering rule holds the later events
until the creation is delivered). Alpine answers "duplicate" or "already applied" for what
it holds, so a replay never creates a second row, and it delivers even when the signal's
old events are dead letters. The same code on SQLite and PostgreSQL: the store reads and
commits (`SignalStore.fills_of`, `closed_of`, `append_events`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from argo.outbox.events import created_event, outcome_event
from argo.signals import open_signals
from argo.signals.port import SignalStore
from argo.signals.writes import StoredSignal, execution_event

__all__ = [
    "CHUNK",
    "ReplayCount",
    "ReplayWindow",
    "SignalStore",
    "enqueue",
    "enqueue_ids",
    "matching",
    "open_store",
]

CHUNK = 1000


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    since: datetime
    until: datetime | None = None
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayCount:
    """What one replay enqueued."""

    signals: int = 0
    outcomes: int = 0
    outcomes_without_time: int = 0
    executions: int = 0

    @property
    def events(self) -> int:
        return self.signals + self.executions + self.outcomes

    def __add__(self, other: ReplayCount) -> ReplayCount:
        return ReplayCount(
            signals=self.signals + other.signals,
            outcomes=self.outcomes + other.outcomes,
            outcomes_without_time=self.outcomes_without_time + other.outcomes_without_time,
            executions=self.executions + other.executions,
        )


def open_store(path: Path) -> SignalStore:
    """Argo's signals and outbox at `path` (a SQLite file or a PostgreSQL URL)."""
    return open_signals(path)


def matching(store: SignalStore, window: ReplayWindow) -> list[StoredSignal]:
    """The stored signals in the window (by signal timestamp), oldest first."""
    return store.signals(since=window.since, until=window.until, symbol=window.symbol)


def enqueue(
    store: SignalStore,
    signals: Sequence[StoredSignal],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ReplayCount:
    """Insert new events for `signals`, CHUNK signals per short transaction: every
    creation of the chunk first, then its executions, then its outcomes, so each signal's
    events are in the order they happened."""
    total = ReplayCount()
    for start in range(0, len(signals), CHUNK):
        chunk = signals[start : start + CHUNK]
        total += _enqueue_chunk(store, chunk, now)
        if progress is not None:
            progress(len(chunk))
    return total


def enqueue_ids(store: SignalStore, signal_ids: Sequence[str], now: datetime) -> ReplayCount:
    """Replay exactly the signals `signal_ids` (for `relay verify --repair`)."""
    return enqueue(store, store.signals_with_ids(signal_ids), now)


def _enqueue_chunk(store: SignalStore, chunk: Sequence[StoredSignal], now: datetime) -> ReplayCount:
    ids = [s.signal.signal_id for s in chunk]
    fills = store.fills_of(ids)
    closed = store.closed_of(ids)
    outcomes = [
        outcome_event(c.signal_id, c.outcome, c.exit_price, c.profit_loss_pct, c.closed_at, now)
        for c in closed
        if c.closed_at is not None
    ]
    store.append_events(
        [
            *(created_event(s.signal, now) for s in chunk),
            *(execution_event(fill, now) for fill in fills),
            *outcomes,
        ]
    )
    return ReplayCount(
        signals=len(chunk),
        outcomes=len(outcomes),
        outcomes_without_time=len(closed) - len(outcomes),
        executions=len(fills),
    )
