"""Alpine's only seam to its database (PostgreSQL, or SQLite for the embedded demo).

Idempotent insert: the UNIQUE `signal_id` and `verification_hash` decide whether a
signal is new, an identical repeat, or a conflict; a 2xx is only ever answered
after the row is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from alpine.errors import StoreUnavailableError
from alpine.validation import SignalIn

_INSERT = text(
    """
    INSERT INTO signals (
        signal_id, verification_hash, symbol, action, entry_price, target_price, stop_price,
        confidence, strategy, asset_type, data_source, "timestamp", reasoning, regime, api_key_id
    ) VALUES (
        :signal_id, :sha256, :symbol, :action, :entry_price, :target_price, :stop_price,
        :confidence, :strategy, :asset_type, :data_source, :timestamp, :reasoning, :regime,
        :api_key_id
    )
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
_EXISTING = text(
    "SELECT id, signal_id, verification_hash FROM signals"
    " WHERE signal_id = :signal_id OR verification_hash = :sha256"
)


class InsertStatus(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class InsertResult:
    status: InsertStatus
    alpine_signal_id: int | None
    detail: str = ""


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
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=4)


class SignalStore:
    """Stores and reads signals; translates driver errors at this seam."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._is_sqlite = engine.dialect.name == "sqlite"

    @property
    def engine(self) -> Engine:
        return self._engine

    def insert(self, signal: SignalIn, api_key_id: str) -> InsertResult:
        """Store `signal` once; report created, duplicate (same id and hash) or conflict."""
        params = self._params(signal, api_key_id)
        try:
            with self._engine.begin() as conn:
                new_id = conn.execute(_INSERT, params).scalar_one_or_none()
                if new_id is not None:
                    return InsertResult(InsertStatus.CREATED, int(new_id))
                existing = conn.execute(_EXISTING, params).all()
        except IntegrityError as exc:
            raise ValueError(f"rejected by a database constraint: {exc.orig}") from exc
        except DBAPIError as exc:
            if not _is_unavailable(exc):
                raise
            raise StoreUnavailableError(str(exc.orig)) from exc
        return _judge(existing, signal)

    def ping(self) -> None:
        """Raise StoreUnavailableError unless the database answers."""
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM signals")).scalar_one())

    def _params(self, signal: SignalIn, api_key_id: str) -> dict[str, Any]:
        params = signal.model_dump()
        moment = signal.moment
        params["timestamp"] = moment.isoformat() if self._is_sqlite else moment
        params["api_key_id"] = api_key_id
        return params


def _is_unavailable(exc: DBAPIError) -> bool:
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


def _judge(existing: Any, signal: SignalIn) -> InsertResult:
    for row in existing:
        if row.signal_id == signal.signal_id and row.verification_hash == signal.sha256:
            return InsertResult(InsertStatus.DUPLICATE, int(row.id))
    if not existing:
        # The conflicting row vanished between INSERT and SELECT (only a delete does
        # that); the sender should simply try again.
        raise StoreUnavailableError("conflicting row changed during the insert; retry")
    row = existing[0]
    what = "signal_id" if row.signal_id == signal.signal_id else "sha256"
    return InsertResult(
        InsertStatus.CONFLICT,
        int(row.id),
        f"a different signal with this {what} is already stored",
    )
