"""Alpine's seam to the execution columns of `signals` (order_id, executed_at, fill_price).

An execution is recorded once per signal: the first one is applied; the same one again
is `already_applied`; any other (another order id, price or time) is a conflict naming
the fields. The three columns are written together in one UPDATE, committed before the
handler answers. Driver errors are translated here, as in alpine/store.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from alpine.errors import StoreUnavailableError
from alpine.store import OutcomeStatus
from alpine.tables import signals

_FIELDS = ("order_id", "executed_at", "fill_price")


ExecutionStatus = OutcomeStatus  # the same answers: an update recorded once per signal


@dataclass(frozen=True, slots=True)
class Execution:
    """One `signal.executed` event, validated."""

    signal_id: str
    order_id: str
    executed_at: datetime
    fill_price: float

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    status: ExecutionStatus
    detail: str = ""


class ExecutionStore:
    """Records which signals were traded."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except (IntegrityError, DataError):
            raise
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise StoreUnavailableError(str(exc.orig)) from exc
            raise

    def apply(self, execution: Execution) -> ExecutionResult:
        """Record `execution` once; resending the same one is harmless."""
        stored = select(*(signals.c[name] for name in _FIELDS)).where(
            signals.c.signal_id == execution.signal_id
        )
        try:
            with self._transaction() as conn:
                row = conn.execute(stored.with_for_update()).first()
                if row is None:
                    return ExecutionResult(ExecutionStatus.UNKNOWN_SIGNAL)
                if row.order_id is None:
                    updated = conn.execute(
                        signals.update()
                        .where(
                            signals.c.signal_id == execution.signal_id,
                            signals.c.order_id.is_(None),
                        )
                        .values(**execution.values())
                    ).rowcount
                    if updated:
                        return ExecutionResult(ExecutionStatus.APPLIED)
                    row = conn.execute(stored).first()  # SQLite: another writer got there first
                    assert row is not None
        except (IntegrityError, DataError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "refused"
            return ExecutionResult(ExecutionStatus.INVALID, f"refused by the database: {reason}")
        differing = _differences(execution, dict(row._mapping))
        if not differing:
            return ExecutionResult(ExecutionStatus.ALREADY_APPLIED)
        return ExecutionResult(
            ExecutionStatus.CONFLICT,
            "a different execution is already recorded for this signal; differing fields: "
            + ", ".join(differing),
        )


def _differences(execution: Execution, stored: dict[str, Any]) -> list[str]:
    """The execution fields whose stored value differs from `execution`'s."""
    return [name for name in _FIELDS if stored[name] != getattr(execution, name)]
