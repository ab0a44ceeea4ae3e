"""Alpine's only seam to its database (PostgreSQL, or SQLite for the embedded demo).

Idempotent insert: the UNIQUE `signal_id` and `verification_hash` decide whether a
signal is new; a signal that is not new is a duplicate only when every field sent
equals the stored row (alpine/identity.py), else a conflict naming the fields. A 2xx
is only ever answered after the row is committed. Driver errors are translated here
and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, or_, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from alpine.canonical import HASHED_FIELDS, verification_hash
from alpine.crashpoint import crash_point
from alpine.errors import StoreUnavailableError
from alpine.identity import OUTCOME_FIELDS, outcome_differences, outcome_values, signal_differences
from alpine.pg_insert import insert_batch
from alpine.receipts import UPDATE_FIELDS, update_hash
from alpine.tables import feed_events, signals
from alpine.timestamps import format_timestamp
from alpine.validation import OutcomeIn, SignalIn, profit_loss_problem

# The database refused these values (a CHECK, or a value it cannot hold): the item's
# own fault, answered per item, never a 5xx. (psycopg's own classes: the PostgreSQL
# insert runs on the driver connection, see alpine.pg_insert.)
_REFUSED = (IntegrityError, DataError, psycopg.IntegrityError, psycopg.DataError)


class InsertStatus(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    INVALID = "invalid"


class OutcomeStatus(StrEnum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    CONFLICT = "conflict"
    INVALID = "invalid"
    UNKNOWN_SIGNAL = "unknown_signal"


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    status: OutcomeStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class InsertResult:
    status: InsertStatus
    alpine_signal_id: int | None
    detail: str = ""
    late: bool = False  # created, and received later than late_after_seconds
    # Created on PostgreSQL: (feed position, time stored as receipts write it), from the
    # insert itself; None where they must be read (SQLite, duplicates).
    stored: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class StoredHash:
    """One row of the reconciliation listing: the hash stored at ingest, and the hashes of
    what the row holds now (its fields, its outcome, its execution), recomputed on read so
    an edit made behind Alpine's back shows."""

    id: int
    signal_id: str
    sha256: str
    timestamp: datetime
    content_sha256: str = ""
    outcome_sha256: str | None = None
    execution_sha256: str | None = None
    positions: tuple[int | None, int | None, int | None] = (None, None, None)  # feed seq


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.close()

        return engine
    # No pool_pre_ping: it costs a round trip per request. After a database restart
    # the first request on a stale connection answers 503 and the pool is refreshed.
    # application_name marks Alpine's sessions in pg_stat_activity.
    return create_engine(
        url, pool_size=8, max_overflow=4, connect_args={"application_name": "alpine"}
    )


def row_params(signal: SignalIn, api_key_id: str) -> dict[str, Any]:
    """The `signals` columns of `signal` as stored with `api_key_id`."""
    return {
        "signal_id": signal.signal_id,
        "verification_hash": signal.sha256,
        "symbol": signal.symbol,
        "action": signal.action,
        "entry_price": signal.entry_price,
        "target_price": signal.target_price,
        "stop_price": signal.stop_price,
        "confidence": signal.confidence,
        "strategy": signal.strategy,
        "asset_type": signal.asset_type,
        "data_source": signal.data_source,
        "timestamp": signal.moment,
        "reasoning": signal.reasoning,
        "regime": signal.regime,
        "api_key_id": api_key_id,
    }


class SignalStore:
    """Stores and reads signals."""

    def __init__(self, engine: Engine, late_after_seconds: float = 300.0) -> None:
        self._engine = engine
        self._late_after = late_after_seconds  # `late`: received this much after timestamp
        self._postgres = engine.dialect.name == "postgresql"
        dialect = postgresql if self._postgres else sqlite
        self._insert = dialect.insert(signals).on_conflict_do_nothing()
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def _transaction(self, single_statement: bool = False) -> Iterator[Connection]:
        """A transaction, or for one self-contained statement on PostgreSQL, autocommit."""
        try:
            if single_statement and self._postgres:
                with self._autocommit.connect() as conn:
                    yield conn
                return
            with self._engine.begin() as conn:
                yield conn
        except _REFUSED:
            raise
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise StoreUnavailableError(str(exc.orig)) from exc
            raise

    def insert(
        self, signal: SignalIn, api_key_id: str, traces: Mapping[str, str] | None = None
    ) -> InsertResult:
        """Store `signal` once; report created, duplicate (all fields equal) or conflict."""
        return self.insert_many([signal], api_key_id, traces)[0]

    def insert_many(
        self,
        batch: Sequence[SignalIn],
        api_key_id: str,
        traces: Mapping[str, str] | None = None,
    ) -> list[InsertResult]:
        """Store each signal once, in one transaction; one result per item, in order.
        `traces`: signal id -> its ingest span's traceparent, stored with a new signal.

        If the database refuses the batch as a whole, each item is retried in its own
        transaction so that one bad item cannot sink the others.
        """
        try:
            results = self._insert_batch(batch, api_key_id, traces)
        except _REFUSED:
            if len(batch) == 1:
                return [_refused(batch[0])]
            results = [self._insert_alone(signal, api_key_id, traces) for signal in batch]
        crash_point("after_commit")  # test-only (tests/faults F4): committed, not answered
        return results

    def _insert_alone(
        self, signal: SignalIn, api_key_id: str, traces: Mapping[str, str] | None
    ) -> InsertResult:
        try:
            return self._insert_batch([signal], api_key_id, traces)[0]
        except _REFUSED:
            return _refused(signal)

    def _insert_batch(
        self, batch: Sequence[SignalIn], api_key_id: str, traces: Mapping[str, str] | None
    ) -> list[InsertResult]:
        """Insert the new signals, then judge the others against the rows they met."""
        if self._postgres:
            inserted = insert_batch(self._engine, batch, api_key_id, self._late_after, traces)
            results = _created(
                batch, {k: (v.id, v.late, (v.seq, v.stored_at)) for k, v in inserted.items()}
            )
            pending = [s for s, r in zip(batch, results, strict=True) if r is None]
            if not pending:
                return [r for r in results if r is not None]
            with self._transaction(single_statement=True) as conn:
                return _merge(results, _judge_all(conn, pending))
        with self._transaction() as conn:
            # SQLite: stamp received_at here, in the same sortable form as every time column.
            received = datetime.now(UTC)
            params = [
                row_params(s, api_key_id)
                | {
                    "received_at": received,
                    "late": (received - s.moment).total_seconds() > self._late_after,
                    "ingest_traceparent": traces.get(s.signal_id) if traces else None,
                }
                for s in batch
            ]
            statement = self._insert.returning(signals.c.id, signals.c.signal_id, signals.c.late)
            answer = conn.execute(statement, params)
            results = _created(
                batch, {r.signal_id: (int(r.id), bool(r.late), None) for r in answer}
            )
            pending = [s for s, r in zip(batch, results, strict=True) if r is None]
            return _merge(results, _judge_all(conn, pending) if pending else [])

    def apply_outcome(self, outcome: OutcomeIn) -> OutcomeResult:
        """Record a signal's outcome once; resending the same outcome is harmless.

        The P&L bound depends on the stored signal's action, so it is checked here.
        """
        values = outcome_values(outcome)
        stored = select(signals.c.action, *(signals.c[name] for name in OUTCOME_FIELDS)).where(
            signals.c.signal_id == outcome.signal_id
        )
        with self._transaction() as conn:
            row = conn.execute(stored.with_for_update()).first()
            if row is None:
                return OutcomeResult(OutcomeStatus.UNKNOWN_SIGNAL)
            if row.outcome is None:
                problem = profit_loss_problem(row.action, outcome.profit_loss_pct)
                if problem:
                    return OutcomeResult(OutcomeStatus.INVALID, problem)
                updated = conn.execute(
                    signals.update()
                    .where(signals.c.signal_id == outcome.signal_id, signals.c.outcome.is_(None))
                    .values(**values)
                ).rowcount
                if updated:
                    return OutcomeResult(OutcomeStatus.APPLIED)
                row = conn.execute(stored).first()  # SQLite: another writer got there first
                assert row is not None
        differing = outcome_differences(outcome, dict(row._mapping))
        if not differing:
            return OutcomeResult(OutcomeStatus.ALREADY_APPLIED)
        return OutcomeResult(
            OutcomeStatus.CONFLICT,
            "a different outcome is already recorded for this signal; differing fields: "
            + ", ".join(differing),
        )

    def hashes(
        self,
        since: datetime | None,
        until: datetime | None,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[StoredHash]:
        """(signal_id, sha256) by (timestamp, id), for reconciliation, after a cursor."""
        query = select(signals, *(_position(kind).label(f"{kind}_seq") for kind in _KINDS))
        if since is not None:
            query = query.where(signals.c.timestamp >= since)
        if until is not None:
            query = query.where(signals.c.timestamp < until)
        if after is not None:
            query = query.where(tuple_(signals.c.timestamp, signals.c.id) > tuple_(*after))
        query = query.order_by(signals.c.timestamp, signals.c.id).limit(limit)
        with self._transaction() as conn:
            return [current_hashes(r) for r in conn.execute(query)]

    def ping(self) -> None:
        """Raise StoreUnavailableError unless the database answers."""
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc


def current_hashes(row: Any) -> StoredHash:
    """The listing entry of a `signals` row (with its `<kind>_seq` positions): stored hash
    and what its fields, outcome and execution hash to now."""
    return StoredHash(
        int(row.id),
        row.signal_id,
        row.verification_hash,
        row.timestamp,
        content_hash("signal", row) or "",
        content_hash("outcome", row),
        content_hash("execution", row),
        (row.signal_seq, row.outcome_seq, row.execution_seq),
    )


def content_hash(kind: str, row: Any) -> str | None:
    """The SHA-256 of what a `signals` row holds now for one event kind: its fields'
    verification hash, or its outcome's or execution's update hash (None: it has none)."""
    if kind == "signal":
        fields = {name: getattr(row, name) for name in HASHED_FIELDS}
        fields["timestamp"] = format_timestamp(row.timestamp)
        return verification_hash(fields)
    if kind == "outcome":
        if row.outcome is None:
            return None
        return update_hash("signal.outcome", _values(row, "signal.outcome"))
    if row.order_id is None or row.executed_at is None:
        return None
    return update_hash("signal.executed", _values(row, "signal.executed"))


_KINDS = ("signal", "outcome", "execution")


def _position(kind: str) -> Any:
    """The feed position of the signal row's event of `kind` (correlated)."""
    return (
        select(feed_events.c.seq)
        .where(feed_events.c.signal_row == signals.c.id, feed_events.c.kind == kind)
        .scalar_subquery()
    )


def _values(row: Any, event: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in UPDATE_FIELDS[event]}


def _refused(signal: SignalIn) -> InsertResult:
    return InsertResult(InsertStatus.INVALID, None, "rejected by a database constraint")


def _created(
    batch: Sequence[SignalIn], inserted: Mapping[str, tuple[int, bool, tuple[int, str] | None]]
) -> list[InsertResult | None]:
    """`created` for the first item of each inserted signal_id; None for the rest."""
    results: list[InsertResult | None] = []
    claimed: set[str] = set()
    for signal in batch:
        new = inserted.get(signal.signal_id)
        if new is not None and signal.signal_id not in claimed:
            claimed.add(signal.signal_id)
            results.append(InsertResult(InsertStatus.CREATED, new[0], late=new[1], stored=new[2]))
        else:
            results.append(None)
    return results


def _merge(results: list[InsertResult | None], judged: list[InsertResult]) -> list[InsertResult]:
    """Fill the gaps of `results` with the judged items, in order."""
    verdicts = iter(judged)
    return [r if r is not None else next(verdicts) for r in results]


def _judge_all(conn: Connection, pending: Sequence[SignalIn]) -> list[InsertResult]:
    """For items not inserted: duplicate of a stored row, or a conflict with one."""
    ids = {s.signal_id for s in pending}
    hashes = {s.sha256 for s in pending}
    rows = conn.execute(
        select(signals).where(
            or_(signals.c.signal_id.in_(ids), signals.c.verification_hash.in_(hashes))
        )
    ).all()
    by_id = {r.signal_id: r for r in rows}
    by_hash = {r.verification_hash: r for r in rows}
    return [_judge(by_id.get(s.signal_id), by_hash.get(s.sha256), s) for s in pending]


def _judge(same_id: Any, same_hash: Any, signal: SignalIn) -> InsertResult:
    stored, key = (same_id, "signal_id") if same_id is not None else (same_hash, "sha256")
    if stored is None:
        # The conflicting row vanished between INSERT and SELECT (only a delete does that).
        raise StoreUnavailableError("conflicting row changed during the insert; retry")
    differing = signal_differences(signal, stored._mapping)
    if not differing:
        return InsertResult(InsertStatus.DUPLICATE, int(stored.id))
    return InsertResult(
        InsertStatus.CONFLICT,
        int(stored.id),
        f"a different signal with this {key} is already stored; differing fields: "
        + ", ".join(differing),
    )
