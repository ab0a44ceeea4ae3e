"""Argo's writer on PostgreSQL: each signal (or outcome) and its outbox row in ONE transaction,
exactly as `argo.signals.store.SignalStore` does on SQLite, plus a NOTIFY that wakes the relays.

The NOTIFY is sent inside the transaction, so PostgreSQL delivers it only on commit (and
never for a rollback); it is a hint, the relays still poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, NoReturn

from argo.db.postgres import CHANNEL, PgConnection, connect, not_on_postgres, require_schema
from argo.outbox.events import OutboxEvent, created_event, outcome_event
from argo.signal import Outcome, Signal
from argo.signals.pg_queries import POSTGRES
from argo.signals.queries import Queries
from argo.signals.reads import Row
from argo.signals.store import (
    TRADES,
    SignalStore,
    StoredSignal,
    execution_event,
    signal_columns,
    signal_params,
    trade_from_row,
)
from argo.timeutil import to_text
from argo.trades import Fill, Trade

_INSERT_SIGNAL = """
INSERT INTO signals (
    signal_id, symbol, action, entry_price, target_price, stop_price, confidence,
    strategy, asset_type, data_source, timestamp, sha256, created_at, reasoning, regime
) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (signal_id) DO NOTHING
"""
_INSERT_EVENT = """
INSERT INTO sync_outbox (event_id, event_type, signal_id, payload, created_at, next_attempt_at)
VALUES (%s, %s, %s, %s, %s, %s)
"""
_OUTCOME = (
    "UPDATE signals SET outcome = %s, exit_price = %s, profit_loss_pct = %s, closed_at = %s"
    " WHERE signal_id = %s AND outcome IS NULL"
)

_EXECUTED = (
    "UPDATE signals SET order_id = %s, fill_price = %s, executed_at = %s"
    " WHERE signal_id = %s AND order_id IS NULL"
)


class PgSignalStore(SignalStore):
    """Signals and their outbox events in Argo's PostgreSQL database."""

    _queries: ClassVar[Queries] = POSTGRES

    def __init__(self, conn: PgConnection) -> None:
        self._pg = conn
        self._bell = None

    @classmethod
    def open_url(cls, url: str) -> PgSignalStore:
        """Argo's database at `url`; its schema must be current (`argo db upgrade`)."""
        conn = connect(url, application_name="argo")
        try:
            require_schema(conn, url)
        except BaseException:
            conn.close()
            raise
        return cls(conn)

    @property
    def connection(self) -> NoReturn:
        raise not_on_postgres("this command")

    def close(self) -> None:
        self._pg.close()

    def __del__(self) -> None:
        # As sqlite3 does for a store dropped unclosed: close quietly, no ResourceWarning.
        pg = getattr(self, "_pg", None)
        if pg is not None and not pg.closed:
            pg.close()

    def ring(self) -> None:
        """Nothing to do: the writing transaction itself sent the NOTIFY."""

    def append_events(self, events: Sequence[OutboxEvent]) -> None:
        with self._pg.transaction():
            for event in events:
                self._insert_event(event)
            if events:
                self._notify()

    def _select(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._pg.execute(sql.encode(), params).fetchall()

    def add_many(self, signals: Sequence[Signal], now: datetime) -> list[Signal]:
        created_at = to_text(now)
        stored: list[Signal] = []
        with self._pg.transaction():
            for signal in signals:
                cursor = self._pg.execute(_INSERT_SIGNAL, signal_params(signal, created_at))
                if cursor.rowcount == 0:
                    continue
                self._insert_event(created_event(signal, now))
                stored.append(signal)
            if stored:
                self._notify()
        return stored

    def record_outcomes(self, outcomes: Sequence[Outcome], now: datetime) -> list[Outcome]:
        applied: list[Outcome] = []
        with self._pg.transaction():
            for o in outcomes:
                cursor = self._pg.execute(
                    _OUTCOME,
                    (
                        o.outcome.value,
                        o.exit_price,
                        o.profit_loss_pct,
                        to_text(o.closed_at),
                        o.signal_id,
                    ),
                )
                if cursor.rowcount == 0:
                    continue
                self._insert_event(
                    outcome_event(
                        o.signal_id,
                        o.outcome.value,
                        o.exit_price,
                        o.profit_loss_pct,
                        o.closed_at,
                        now,
                    )
                )
                applied.append(o)
            if applied:
                self._notify()
        return applied

    def record_executions(self, fills: Sequence[Fill], now: datetime) -> list[Fill]:
        applied: list[Fill] = []
        with self._pg.transaction():
            for fill in fills:
                cursor = self._pg.execute(
                    _EXECUTED,
                    (fill.order_id, fill.fill_price, to_text(fill.executed_at), fill.signal_id),
                )
                if cursor.rowcount == 0:
                    continue
                self._insert_event(execution_event(fill, now))
                applied.append(fill)
            if applied:
                self._notify()
        return applied

    def trades(self) -> list[Trade]:
        return [trade_from_row(row) for row in self._pg.execute(TRADES.encode())]

    def signals(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        limit: int | None = None,
    ) -> list[StoredSignal]:
        clauses, params = [], []
        for clause, value in (
            ("timestamp >= %s", to_text(since) if since else None),
            ("timestamp < %s", to_text(until) if until else None),
            ("symbol = %s", symbol),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {signal_columns()} FROM signals {where} ORDER BY timestamp, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [StoredSignal.from_row(row) for row in self._pg.execute(sql.encode(), params)]

    def signals_with_ids(self, signal_ids: Sequence[str]) -> list[StoredSignal]:
        sql = f"SELECT {signal_columns()} FROM signals WHERE signal_id = ANY(%s)"
        found = [StoredSignal.from_row(r) for r in self._pg.execute(sql.encode(), [signal_ids])]
        return sorted(found, key=lambda s: (s.signal.timestamp, s.signal.signal_id))

    def open_signals(self) -> list[StoredSignal]:
        sql = f"SELECT {signal_columns()} FROM signals WHERE outcome IS NULL ORDER BY id"
        return [StoredSignal.from_row(row) for row in self._pg.execute(sql.encode())]

    def outbox_backlog(self) -> tuple[int, datetime | None]:
        row: dict[str, Any] | None = self._pg.execute(
            "SELECT count(*) AS n, min(created_at) AS oldest FROM sync_outbox"
            " WHERE delivered_at IS NULL AND dead_at IS NULL"
        ).fetchone()
        return (int(row["n"]), row["oldest"]) if row else (0, None)

    def _insert_event(self, event: OutboxEvent) -> None:
        self._pg.execute(
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

    def _notify(self) -> None:
        self._pg.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
