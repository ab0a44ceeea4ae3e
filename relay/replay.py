"""`relay replay`: enqueue fresh `signal.created` events rebuilt from Argo's signals table.

For backfills after Alpine lost data, or to re-send a window. Alpine answers
"duplicate" for what it already holds, so a replay never creates a second row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from argo.outbox import created_event
from argo.sqlite import write_transaction
from argo.store import SignalStore, StoredSignal, insert_events

CHUNK = 1000


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    since: datetime
    until: datetime | None = None
    symbol: str | None = None


def matching(store: SignalStore, window: ReplayWindow) -> list[StoredSignal]:
    """The stored signals in the window (by signal timestamp), oldest first."""
    return store.signals(since=window.since, until=window.until, symbol=window.symbol)


def enqueue(
    store: SignalStore,
    signals: list[StoredSignal],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert one new event per signal, CHUNK per short transaction; return how many."""
    enqueued = 0
    for start in range(0, len(signals), CHUNK):
        chunk = signals[start : start + CHUNK]
        with write_transaction(store.connection) as conn:
            insert_events(conn, [created_event(s.signal, now) for s in chunk])
        enqueued += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return enqueued
