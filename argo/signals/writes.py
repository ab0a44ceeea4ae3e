"""What both signal stores do, written once: each signal (outcome, execution) committed
with its outbox event in ONE transaction, and the signal reads, over the connection seam
(`argo.db.seam.Db`) and the dialect's query text (`WriteQueries`, `Queries`).

The SQLite store (`argo.signals.store`) and the PostgreSQL store (`argo.signals.pg_store`)
are siblings over this: they differ in how they open, their query text, and how a relay
hears of a commit (a doorbell datagram after it on SQLite, a NOTIFY inside it on
PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from argo.db.postgres import CHANNEL
from argo.db.seam import Db, Row, as_optional_time, as_time
from argo.outbox.events import OutboxEvent, created_event, executed_event, outcome_event
from argo.signal import Action, AssetType, Outcome, Regime, Signal
from argo.signals.queries import (
    OPEN_SIGNALS,
    OUTBOX_BACKLOG,
    SIGNAL_COLUMNS,
    SQLITE_WRITES,
    TRADES,
    WriteQueries,
)
from argo.signals.reads import SignalReads
from argo.timeutil import to_text
from argo.trades import Fill, Trade

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredSignal:
    """A signal as read back from the `signals` table."""

    signal: Signal
    created_at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredSignal:
        return cls(
            signal=Signal(
                signal_id=row["signal_id"],
                symbol=row["symbol"],
                action=Action(row["action"]),
                entry_price=row["entry_price"],
                target_price=row["target_price"],
                stop_price=row["stop_price"],
                confidence=row["confidence"],
                strategy=row["strategy"],
                asset_type=AssetType(row["asset_type"]),
                data_source=row["data_source"],
                timestamp=row["timestamp"],
                sha256=row["sha256"],
                reasoning=row["reasoning"] or "",
                regime=Regime(row["regime"] or "CHOP"),
            ),
            created_at=row["created_at"],
        )


class SignalWrites(SignalReads):
    """The writes and signal reads of both stores over `_db`, `_queries` and `_writes`
    (each store sets them); `ring` tells a relay after a commit (SQLite's doorbell)."""

    _db: Db
    _writes: ClassVar[WriteQueries] = SQLITE_WRITES

    def _select(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._db.rows(sql, params)

    def ring(self) -> None:
        """Tell a listening relay that new events are committed (best effort)."""

    def close(self) -> None:
        self._db.close()

    def _commit_each(self, items: Sequence[T], apply: Callable[[T], OutboxEvent | None]) -> list[T]:
        """In one transaction: `apply` each item (None: already done, skipped) and insert
        the outbox event it returns. The items applied."""
        applied: list[T] = []
        with self._db.transaction():
            for item in items:
                event = apply(item)
                if event is None:
                    continue
                _insert_event(self, event)
                applied.append(item)
            if applied:
                self._notify()
        if applied:
            self.ring()
        return applied

    def _notify(self) -> None:
        if self._writes.notify:
            self._db.run(self._writes.notify, (CHANNEL,))

    def append_events(self, events: Sequence[OutboxEvent]) -> None:
        """Commit `events` in one transaction, in this order (replays)."""
        self._commit_each(events, lambda event: event)

    def add(self, signal: Signal, now: datetime) -> bool:
        """Commit `signal` with its `signal.created` event; False if it was already stored."""
        return bool(self.add_many([signal], now))

    def add_many(
        self, signals: Sequence[Signal], now: datetime, traces: Mapping[str, str] | None = None
    ) -> list[Signal]:
        """Commit several signals, each with its event, in one transaction; `traces`
        (signal id -> traceparent of the span that made it) goes into each event's row.

        Returns the signals that were new; an already stored `signal_id` is skipped
        together with its event.
        """
        created_at = to_text(now)
        traces = traces or {}

        def insert(signal: Signal) -> OutboxEvent | None:
            if self._db.run(self._writes.insert_signal, signal_params(signal, created_at)) == 0:
                return None
            return created_event(signal, now, traces.get(signal.signal_id))

        return self._commit_each(signals, insert)

    def record_outcomes(
        self, outcomes: Sequence[Outcome], now: datetime, traces: Mapping[str, str] | None = None
    ) -> list[Outcome]:
        """Write each outcome with its `signal.outcome` event, all in one transaction
        (`traces`: signal id -> traceparent for the event's row, as in `add_many`).

        Returns the outcomes applied; one already recorded is skipped with its event.
        """
        traces = traces or {}

        def record(o: Outcome) -> OutboxEvent | None:
            values = (
                o.outcome.value,
                o.exit_price,
                o.profit_loss_pct,
                to_text(o.closed_at),
                o.signal_id,
            )
            if self._db.run(self._writes.record_outcome, values) == 0:
                return None
            return outcome_event(
                o.signal_id,
                o.outcome.value,
                o.exit_price,
                o.profit_loss_pct,
                o.closed_at,
                now,
                traces.get(o.signal_id),
            )

        return self._commit_each(outcomes, record)

    def record_executions(self, fills: Sequence[Fill], now: datetime) -> list[Fill]:
        """Write each fill's order id, price and time with its `signal.executed` event, all
        in one transaction. Returns the fills applied; a signal that already has an order
        id is skipped with its event."""

        def record(fill: Fill) -> OutboxEvent | None:
            values = (fill.order_id, fill.fill_price, to_text(fill.executed_at), fill.signal_id)
            if self._db.run(self._writes.record_execution, values) == 0:
                return None
            return execution_event(fill, now)

        return self._commit_each(fills, record)

    def signals(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        limit: int | None = None,
    ) -> list[StoredSignal]:
        """Stored signals in timestamp order, filtered by window and symbol."""
        mark = self._writes.mark
        clauses, params = [], []
        for clause, value in (
            (f"timestamp >= {mark}", to_text(since) if since else None),
            (f"timestamp < {mark}", to_text(until) if until else None),
            (f"symbol = {mark}", symbol),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {SIGNAL_COLUMNS} FROM signals {where} ORDER BY timestamp, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [StoredSignal.from_row(row) for row in self._db.rows(sql, params)]

    def signals_with_ids(self, signal_ids: Sequence[str]) -> list[StoredSignal]:
        """The stored signals among `signal_ids`, in timestamp order."""
        rows = self._db.rows(self._writes.signals_with_ids, [list(signal_ids)])
        found = [StoredSignal.from_row(row) for row in rows]
        return sorted(found, key=lambda s: (s.signal.timestamp, s.signal.signal_id))

    def open_signals(self) -> list[StoredSignal]:
        """Signals without an outcome yet, oldest first."""
        return [StoredSignal.from_row(row) for row in self._db.rows(OPEN_SIGNALS)]

    def trades(self) -> list[Trade]:
        """Every traded signal (open and closed), in the order they were stored."""
        return [trade_from_row(row) for row in self._db.rows(TRADES)]

    def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Undelivered, not-dead outbox events: how many, and the oldest one's time."""
        row = self._db.one(OUTBOX_BACKLOG)
        return (int(row["n"]), as_optional_time(row["oldest"])) if row else (0, None)


def _insert_event(store: SignalWrites, event: OutboxEvent) -> None:
    """Insert one outbox event inside the store's open write transaction."""
    store._db.run(
        store._writes.insert_event,
        (
            event.event_id,
            event.event_type.value,
            event.signal_id,
            event.payload,
            event.created_at,
            event.created_at,
            event.traceparent,
        ),
    )


def execution_event(fill: Fill, now: datetime) -> OutboxEvent:
    """The `signal.executed` event of `fill`."""
    return executed_event(fill.signal_id, fill.order_id, fill.fill_price, fill.executed_at, now)


def trade_from_row(row: Mapping[str, Any]) -> Trade:
    """A `Trade` from a row of `TRADES`."""
    return Trade(
        signal_id=row["signal_id"],
        symbol=row["symbol"],
        action=Action(row["action"]),
        fill_price=row["fill_price"],
        executed_at=as_time(row["executed_at"]),
        profit_loss_pct=row["profit_loss_pct"],
        closed_at=as_optional_time(row["closed_at"]),
    )


def signal_params(signal: Signal, created_at: str) -> tuple[object, ...]:
    """The values of `WriteQueries.insert_signal` for `signal`, in order."""
    return (
        signal.signal_id,
        signal.symbol,
        signal.action.value,
        signal.entry_price,
        signal.target_price,
        signal.stop_price,
        signal.confidence,
        signal.strategy,
        signal.asset_type.value,
        signal.data_source,
        signal.timestamp,
        signal.sha256,
        created_at,
        signal.reasoning,
        signal.regime.value,
    )
