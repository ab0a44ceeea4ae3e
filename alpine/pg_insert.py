"""Alpine's PostgreSQL insert of a batch of signals (one item for a single POST): one
autocommit statement, one round trip with the commit, on the pooled psycopg connection
itself (SQLAlchemy's execution layer cost more CPU than the rest of a request). The
receipts of a batch read their facts the same way (`driver_rows`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson
import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from alpine.errors import StoreUnavailableError
from alpine.validation import SignalIn

# The connection is unusable (server gone, network, shutdown): 503, and the pool
# drops the connection.
_LOST = (psycopg.OperationalError, psycopg.InterfaceError)

# PostgreSQL: the whole batch is one JSON parameter, expanded server-side by one statement
# (in autocommit its own transaction: one round trip per batch) that also answers each
# inserted row's feed position and time stored, what its receipt states.
_PG_BATCH_INSERT = (
    "SELECT id, signal_id, late, seq, stored_at FROM alpine_insert_signals("
    "CAST(%(rows)s AS jsonb), CAST(%(late_after)s AS double precision))"
)


class Inserted(NamedTuple):
    """A row the insert created: its id, whether it came late, its feed position and the
    time stored (as receipts write it)."""

    id: int
    late: bool
    seq: int
    stored_at: str


def _json_rows(
    batch: Sequence[SignalIn], api_key_id: str, traces: Mapping[str, str] | None = None
) -> str:
    """The batch as the JSON parameter of _PG_BATCH_INSERT (keys are column names: the
    columns alpine_insert_signals inserts, schema/alpine/postgresql/0011; change both
    together; a missing one is NULL, as `ingest_traceparent` is without `traces`).

    orjson: several times faster than json.dumps here, and it writes the aware UTC
    datetime as RFC 3339; floats in shortest round-trip form, so PostgreSQL reads back
    exactly the validated values.
    """
    rows = [
        {
            "signal_id": s.signal_id,
            "verification_hash": s.sha256,
            "symbol": s.symbol,
            "action": s.action,
            "entry_price": s.entry_price,
            "target_price": s.target_price,
            "stop_price": s.stop_price,
            "confidence": s.confidence,
            "strategy": s.strategy,
            "asset_type": s.asset_type,
            "data_source": s.data_source,
            "timestamp": s.moment,
            "reasoning": s.reasoning,
            "regime": s.regime,
            "api_key_id": api_key_id,
        }
        for s in batch
    ]
    if traces:
        for row, signal in zip(rows, batch, strict=True):
            row["ingest_traceparent"] = traces.get(signal.signal_id)
    return orjson.dumps(rows).decode()


def insert_batch(
    engine: Engine,
    batch: Sequence[SignalIn],
    api_key_id: str,
    late_after: float,
    traces: Mapping[str, str] | None = None,
) -> dict[str, Inserted]:
    """INSERT ... ON CONFLICT DO NOTHING of the whole batch in one autocommit statement:
    one round trip, the commit included. The rows inserted, by signal_id."""
    params = {"rows": _json_rows(batch, api_key_id, traces), "late_after": late_after}
    rows = driver_rows(engine, _PG_BATCH_INSERT, params)
    return {r[1]: Inserted(int(r[0]), bool(r[2]), int(r[3]), str(r[4])) for r in rows}


def driver_rows(engine: Engine, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """One autocommit statement on the pooled psycopg connection itself; its rows as
    tuples. SQLAlchemy's execution layer cost more CPU than the rest of a single-signal
    request. The statement is still counted by the engine's `before_cursor_execute`
    listeners (alpine_db_queries_total); a lost connection is StoreUnavailableError."""
    try:
        pooled = engine.raw_connection()
    except DBAPIError as exc:
        raise StoreUnavailableError(str(exc.orig)) from exc
    try:
        driver: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
        driver.autocommit = True
        try:
            with driver.cursor() as cursor:
                for listener in engine.dispatch.before_cursor_execute:
                    listener(None, cursor, sql, params, None, False)
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            if not driver.closed:
                driver.autocommit = False  # as the pool's other users expect it
    except _LOST as exc:
        pooled.invalidate(exc)
        raise StoreUnavailableError(str(exc)) from exc
    finally:
        pooled.close()
