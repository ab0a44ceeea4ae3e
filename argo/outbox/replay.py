"""`relay replay`: enqueue fresh events rebuilt from Argo's signals table.

For backfills after Alpine lost data, or to re-send a window. Each signal gets a new
`signal.created` event and, when it has an outcome, a new `signal.outcome` event after
it (the ordering rule holds the outcome until the creation is delivered). Alpine
answers "duplicate" or "already applied" for what it holds, so a replay never creates
a second row, and it delivers even when the signal's old events are dead letters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from argo.outbox.events import OutboxEvent, created_event, outcome_event
from argo.sqlite import write_transaction
from argo.store import SignalStore, StoredSignal, insert_events
from argo.timeutil import from_text

CHUNK = 1000

# The outcome's own time: the column, or (for outcomes recorded before it existed) the
# latest outcome event's payload.
_OUTCOMES = """
SELECT s.signal_id, s.outcome, s.exit_price, s.profit_loss_pct,
       coalesce(s.closed_at, (
           SELECT json_extract(e.payload, '$.closed_at') FROM sync_outbox AS e
           WHERE e.signal_id = s.signal_id AND e.event_type = 'signal.outcome'
           ORDER BY e.id DESC LIMIT 1)) AS closed_at
FROM signals AS s WHERE s.outcome IS NOT NULL AND s.signal_id IN ({marks})
"""


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

    def __add__(self, other: ReplayCount) -> ReplayCount:
        return ReplayCount(
            self.signals + other.signals,
            self.outcomes + other.outcomes,
            self.outcomes_without_time + other.outcomes_without_time,
        )


def open_store(path: Path) -> SignalStore:
    """Argo's signals and outbox at `path`, for a replay."""
    return SignalStore.open(path)


def matching(store: SignalStore, window: ReplayWindow) -> list[StoredSignal]:
    """The stored signals in the window (by signal timestamp), oldest first."""
    return store.signals(since=window.since, until=window.until, symbol=window.symbol)


def enqueue(
    store: SignalStore,
    signals: Sequence[StoredSignal],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ReplayCount:
    """Insert new events for `signals`, CHUNK signals per short transaction."""
    total = ReplayCount()
    for start in range(0, len(signals), CHUNK):
        chunk = signals[start : start + CHUNK]
        with write_transaction(store.connection) as conn:
            outcomes, untimed = _outcome_events(store, chunk, now)
            events = [created_event(s.signal, now) for s in chunk]
            insert_events(conn, [*events, *outcomes])
        store.ring()
        total += ReplayCount(len(chunk), len(outcomes), untimed)
        if progress is not None:
            progress(len(chunk))
    return total


def enqueue_ids(conn: sqlite3.Connection, signal_ids: Sequence[str], now: datetime) -> ReplayCount:
    """Replay exactly the signals `signal_ids` (for `relay verify --repair`)."""
    store = SignalStore(conn)
    return enqueue(store, store.signals_with_ids(signal_ids), now)


def _outcome_events(
    store: SignalStore, chunk: Sequence[StoredSignal], now: datetime
) -> tuple[list[OutboxEvent], int]:
    marks = ",".join("?" * len(chunk))
    rows = store.connection.execute(
        _OUTCOMES.format(marks=marks), [s.signal.signal_id for s in chunk]
    ).fetchall()
    events = [
        outcome_event(
            row["signal_id"],
            row["outcome"],
            row["exit_price"],
            row["profit_loss_pct"],
            from_text(row["closed_at"]),
            now,
        )
        for row in rows
        if row["closed_at"]
    ]
    return events, len(rows) - len(events)
