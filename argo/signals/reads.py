"""The reads of Argo's signals both stores share: outcome statistics, what was committed
and how far it got (`relay verify`), what replay re-announces, what the audit log is
checked against.

Written once over `_select` (one read, rows as dicts) and the dialect's `Queries`; the
SQLite store and the PostgreSQL store differ only in those two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from argo.reports.stats import OutcomeStats
from argo.signal import Action
from argo.signals.inventory import Committed, Delivery
from argo.signals.queries import SQLITE, Queries
from argo.timeutil import from_text, to_text
from argo.trades import Fill

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClosedSignal:
    """A signal's recorded outcome; `closed_at` is None when no close time was kept."""

    signal_id: str
    outcome: str
    exit_price: float
    profit_loss_pct: float
    closed_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ClosedSignal:
        return cls(
            signal_id=row["signal_id"],
            outcome=row["outcome"],
            exit_price=float(row["exit_price"]),
            profit_loss_pct=float(row["profit_loss_pct"]),
            closed_at=from_text(row["closed_at"]) if row["closed_at"] else None,
        )


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the database holds of a signal, for the audit log's cross-check."""

    sha256: str
    outcome: str | None
    exit_price: float | None
    order_id: str | None
    fill_price: float | None


class SignalReads:
    """Read-only reports over `signals` (and the outbox), one implementation for both
    dialects: a store provides `_select` and sets `_queries`."""

    _queries: ClassVar[Queries] = SQLITE

    def _select(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """The rows of one read in the store's dialect, as dicts (each store has its own)."""
        raise NotImplementedError

    def outcome_stats(self, since: datetime | None = None) -> OutcomeStats:
        """Counts by (symbol, strategy) and by confidence band of signals at or after `since`."""
        window = [to_text(since) if since is not None else ""]
        return OutcomeStats.from_rows(
            self._select(self._queries.outcome_groups, window),
            self._select(self._queries.outcome_bands, window),
        )

    def committed_in(self, since: datetime, until: datetime) -> dict[str, Committed]:
        """Signals whose timestamp is in [since, until), with how far their creation got."""
        rows = self._select(self._queries.committed_window, [to_text(since), to_text(until)])
        return _committed(rows)

    def committed_ids(self, signal_ids: Iterable[str]) -> dict[str, Committed]:
        """The same for given signals (a second look at ones committed meanwhile)."""
        return _committed(self._select(self._queries.committed_ids, [list(signal_ids)]))

    def closed_of(self, signal_ids: Sequence[str]) -> list[ClosedSignal]:
        """The recorded outcomes among `signal_ids`, in the order they were stored."""
        rows = self._select(self._queries.closed, [list(signal_ids)])
        return [ClosedSignal.from_row(row) for row in rows]

    def fills_of(self, signal_ids: Sequence[str]) -> list[Fill]:
        """The recorded executions among `signal_ids`, in the order they were stored."""
        return [
            Fill(
                signal_id=row["signal_id"],
                order_id=row["order_id"],
                symbol=row["symbol"],
                action=Action(row["action"]),
                fill_price=float(row["fill_price"]),
                executed_at=from_text(row["executed_at"]),
            )
            for row in self._select(self._queries.fills, [list(signal_ids)])
        ]

    def recorded(self, signal_id: str) -> Recorded | None:
        """The stored hash, outcome and execution of `signal_id`, or None if not stored."""
        rows = self._select(self._queries.recorded, [signal_id])
        return Recorded(**rows[0]) if rows else None

    def signal_ids(self) -> set[str]:
        """Every stored signal id."""
        return {row["signal_id"] for row in self._select(self._queries.signal_ids)}


def _committed(rows: Iterable[Row]) -> dict[str, Committed]:
    """Pending while a creation event is on its way; delivered when one was acknowledged
    or none is left (pruned after delivery); dead when every one is a dead letter."""
    found = {}
    for row in rows:
        if row["pending"]:
            delivery = Delivery.PENDING
        elif row["delivered"] or not row["events"]:
            delivery = Delivery.DELIVERED
        else:
            delivery = Delivery.DEAD
        found[row["signal_id"]] = Committed(row["signal_id"], row["sha256"], delivery)
    return found
