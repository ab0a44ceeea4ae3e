"""Argo's seam to its database: signals and their outbox rows, written together.

Every signal commits in ONE transaction with its `signal.created` outbox row, so
a crash at any point leaves both or neither. SQLite here; `argo.signals.open_signals` opens
`argo.signals.pg_store.PgSignalStore` instead when ARGO_DB is a PostgreSQL URL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from argo.db.schema import ensure_schema
from argo.db.sqlite import connect, write_transaction
from argo.outbox.doorbell import Bell
from argo.outbox.events import OutboxEvent, created_event, executed_event, outcome_event
from argo.signal import Action, AssetType, Outcome, Regime, Signal
from argo.signals.reads import Row, SignalReads
from argo.timeutil import from_text, to_text
from argo.trades import Fill, Trade

_INSERT_SIGNAL = """
INSERT INTO signals (
    signal_id, symbol, action, entry_price, target_price, stop_price, confidence,
    strategy, asset_type, data_source, timestamp, sha256, created_at, reasoning, regime
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (signal_id) DO NOTHING
"""

_INSERT_EVENT = """
INSERT INTO sync_outbox (event_id, event_type, signal_id, payload, created_at, next_attempt_at)
VALUES (?, ?, ?, ?, ?, ?)
"""

_EXECUTED = (
    "UPDATE signals SET order_id = ?, fill_price = ?, executed_at = ?"
    " WHERE signal_id = ? AND order_id IS NULL"
)
TRADES = (
    "SELECT signal_id, symbol, action, fill_price, executed_at, profit_loss_pct, closed_at"
    " FROM signals WHERE order_id IS NOT NULL ORDER BY id"
)
"""The traded signals (walks idx_signals_executed), for `trade_from_row`."""

_SIGNAL_COLUMNS = (
    "signal_id, symbol, action, entry_price, target_price, stop_price, confidence, strategy, "
    "asset_type, data_source, timestamp, sha256, reasoning, regime, created_at"
)


@dataclass(frozen=True, slots=True)
class StoredSignal:
    """A signal as read back from the `signals` table."""

    signal: Signal
    created_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row | Mapping[str, Any]) -> StoredSignal:
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


class SignalStore(SignalReads):
    """Signals and their outbox events in Argo's SQLite file (reports: `SignalReads`)."""

    def __init__(self, conn: sqlite3.Connection, bell: Bell | None = None) -> None:
        self._conn = conn
        self._bell = bell

    @classmethod
    def open_file(cls, path: Path, *, synchronous: str = "FULL") -> SignalStore:
        """Open (creating if needed) the database at `path` with the schema applied."""
        conn = connect(path, synchronous=synchronous)
        ensure_schema(conn)
        return cls(conn, Bell(path))

    @classmethod
    def open_file_readonly(cls, path: Path) -> SignalStore:
        """Read an existing database without changing it (reports)."""
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        return cls(conn)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def ring(self) -> None:
        """Tell a listening relay that new events are committed (best effort)."""
        if self._bell is not None:
            self._bell.ring()

    def append_events(self, events: Sequence[OutboxEvent]) -> None:
        """Commit `events` in one transaction, in this order (replays)."""
        with write_transaction(self._conn) as conn:
            insert_events(conn, events)
        if events:
            self.ring()

    def _select(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        # A list parameter travels as one JSON array, read back with json_each.
        values = [json.dumps(p) if isinstance(p, list) else p for p in params]
        cursor = self._conn.execute(sql, values)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def add(self, signal: Signal, now: datetime) -> bool:
        """Commit `signal` with its `signal.created` event; False if it was already stored."""
        return bool(self.add_many([signal], now))

    def add_many(self, signals: Sequence[Signal], now: datetime) -> list[Signal]:
        """Commit several signals, each with its event, in one transaction.

        Returns the signals that were new; an already stored `signal_id` is skipped
        together with its event.
        """
        created_at = to_text(now)
        stored: list[Signal] = []
        with write_transaction(self._conn) as conn:
            for signal in signals:
                cursor = conn.execute(_INSERT_SIGNAL, signal_params(signal, created_at))
                if cursor.rowcount == 0:
                    continue
                _insert_event(conn, created_event(signal, now))
                stored.append(signal)
        if stored:
            self.ring()
        return stored

    def signals(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        limit: int | None = None,
    ) -> list[StoredSignal]:
        """Stored signals in timestamp order, filtered by window and symbol."""
        clauses, params = [], []
        if since is not None:
            clauses.append("timestamp >= ?")
            params.append(to_text(since))
        if until is not None:
            clauses.append("timestamp < ?")
            params.append(to_text(until))
        if symbol is not None:
            clauses.append("symbol = ?")
            params.append(symbol)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {_SIGNAL_COLUMNS} FROM signals {where} ORDER BY timestamp, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [StoredSignal.from_row(row) for row in self._conn.execute(sql, params)]

    def signals_with_ids(self, signal_ids: Sequence[str]) -> list[StoredSignal]:
        """The stored signals among `signal_ids`, in timestamp order."""
        found: list[StoredSignal] = []
        for start in range(0, len(signal_ids), 500):
            chunk = list(signal_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {_SIGNAL_COLUMNS} FROM signals WHERE signal_id IN ({marks})"
            found.extend(StoredSignal.from_row(row) for row in self._conn.execute(sql, chunk))
        return sorted(found, key=lambda s: (s.signal.timestamp, s.signal.signal_id))

    def open_signals(self) -> list[StoredSignal]:
        """Signals without an outcome yet, oldest first."""
        sql = f"SELECT {_SIGNAL_COLUMNS} FROM signals WHERE outcome IS NULL ORDER BY id"
        return [StoredSignal.from_row(row) for row in self._conn.execute(sql)]

    def record_outcomes(self, outcomes: Sequence[Outcome], now: datetime) -> list[Outcome]:
        """Write each outcome with its `signal.outcome` event, all in one transaction.

        Returns the outcomes applied; one already recorded is skipped with its event.
        """
        applied: list[Outcome] = []
        with write_transaction(self._conn) as conn:
            for outcome in outcomes:
                cursor = conn.execute(
                    "UPDATE signals SET outcome = ?, exit_price = ?, profit_loss_pct = ?,"
                    " closed_at = ? WHERE signal_id = ? AND outcome IS NULL",
                    (
                        outcome.outcome.value,
                        outcome.exit_price,
                        outcome.profit_loss_pct,
                        to_text(outcome.closed_at),
                        outcome.signal_id,
                    ),
                )
                if cursor.rowcount == 0:
                    continue
                _insert_event(
                    conn,
                    outcome_event(
                        outcome.signal_id,
                        outcome.outcome.value,
                        outcome.exit_price,
                        outcome.profit_loss_pct,
                        outcome.closed_at,
                        now,
                    ),
                )
                applied.append(outcome)
        if applied:
            self.ring()
        return applied

    def record_executions(self, fills: Sequence[Fill], now: datetime) -> list[Fill]:
        """Write each fill's order id, price and time with its `signal.executed` event, all
        in one transaction. Returns the fills applied; a signal that already has an order
        id is skipped with its event."""
        applied: list[Fill] = []
        with write_transaction(self._conn) as conn:
            for fill in fills:
                cursor = conn.execute(
                    _EXECUTED,
                    (fill.order_id, fill.fill_price, to_text(fill.executed_at), fill.signal_id),
                )
                if cursor.rowcount == 0:
                    continue
                _insert_event(conn, execution_event(fill, now))
                applied.append(fill)
        if applied:
            self.ring()
        return applied

    def trades(self) -> list[Trade]:
        """Every traded signal (open and closed), in the order they were stored."""
        return [trade_from_row(row) for row in self._conn.execute(TRADES)]

    def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Undelivered, not-dead outbox events: how many, and the oldest one's time."""
        row = self._conn.execute(
            "SELECT count(*), min(created_at) FROM sync_outbox"
            " WHERE delivered_at IS NULL AND dead_at IS NULL"
        ).fetchone()
        return int(row[0]), from_text(row[1]) if row[1] else None


def execution_event(fill: Fill, now: datetime) -> OutboxEvent:
    """The `signal.executed` event of `fill`."""
    return executed_event(fill.signal_id, fill.order_id, fill.fill_price, fill.executed_at, now)


def trade_from_row(row: sqlite3.Row | Mapping[str, Any]) -> Trade:
    """A `Trade` from a row of `TRADES`."""
    return Trade(
        signal_id=row["signal_id"],
        symbol=row["symbol"],
        action=Action(row["action"]),
        fill_price=row["fill_price"],
        executed_at=from_text(row["executed_at"]),
        profit_loss_pct=row["profit_loss_pct"],
        closed_at=from_text(row["closed_at"]) if row["closed_at"] else None,
    )


def signal_columns() -> str:
    """The columns `StoredSignal.from_row` reads, for a SELECT."""
    return _SIGNAL_COLUMNS


def signal_params(signal: Signal, created_at: str) -> tuple[object, ...]:
    """The values of `_INSERT_SIGNAL` for `signal`, in order."""
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


def _insert_event(conn: sqlite3.Connection, event: OutboxEvent) -> None:
    conn.execute(
        _INSERT_EVENT,
        (
            event.event_id,
            event.event_type.value,
            event.signal_id,
            event.payload,
            event.created_at,
            event.created_at,
        ),
    )


def insert_events(conn: sqlite3.Connection, events: Iterable[OutboxEvent]) -> None:
    """Insert outbox events inside the caller's open write transaction."""
    for event in events:
        _insert_event(conn, event)
