"""What a subscriber tier may see, as pages (newest first) and as stream windows.

A signal is visible to a tier at v = max(timestamp + delay, received_at). The rows
that became visible in a window (t0, t1] are a fixed set, so a stream position is
(t0, t1, last id), and resuming from it repeats and skips nothing. A window may end
no later than the horizon: the moment before which every row is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, text

from alpine.tables import signals
from alpine.tiers import Tier

_BASE = (
    "signal_id",
    "symbol",
    "action",
    "entry_price",
    "target_price",
    "stop_price",
    "confidence",
    "strategy",
    "asset_type",
    "data_source",
    "timestamp",
    "verification_hash",
    "late",  # received later than late_after_seconds after its timestamp (never fresh)
)
_OPTIONAL = {
    "reasoning": ("reasoning",),
    "regime": ("regime",),
    "outcome": ("outcome", "exit_price", "profit_loss_pct", "closed_at"),
    # `executed` is derived: whether Argo traded the signal (an order id is stored).
    "execution": ("executed", "order_id", "executed_at", "fill_price"),
}


# received_at is now(), the start of the inserting transaction, so a row can commit
# after rows with a later received_at. On PostgreSQL the horizon is the start of the
# oldest open transaction of Alpine's own connections (application_name, set by
# store.make_engine): nothing older can still appear. The margin covers the instant
# between a transaction taking its start time and publishing it.
_PG_HORIZON = text(
    "SELECT clock_timestamp() - interval '10 milliseconds', min(xact_start)"
    " FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name = :app AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
)
HORIZON_MARGIN = timedelta(milliseconds=10)
APPLICATION_NAME = "alpine"
# SQLite (one process, short transactions): assume commits take less than this.
SQLITE_SETTLE = timedelta(seconds=0.25)


@dataclass(frozen=True, slots=True)
class FeedItem:
    id: int
    body: dict[str, Any]


def shape(row: Any, tier: Tier) -> dict[str, Any]:
    """The fields of `row` that `tier` may see, JSON-ready."""
    names = list(_BASE)
    for field in sorted(tier.fields):
        names.extend(_OPTIONAL[field])
    body = {}
    for name in names:
        value = row.order_id is not None if name == "executed" else getattr(row, name)
        if name == "late":
            value = bool(value)
        body[name] = (
            value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
        )
    return body


def _entitled(tier: Tier) -> list[ColumnElement[bool]]:
    return [
        signals.c.asset_type.in_(sorted(tier.asset_types)),
        signals.c.confidence >= tier.min_confidence,
    ]


def _visible_at(tier: Tier, moment: datetime) -> ColumnElement[bool]:
    return and_(signals.c.timestamp <= moment - tier.delay, signals.c.received_at <= moment)


class Feed:
    """Reads signals as subscribers see them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def page(
        self,
        tier: Tier,
        now: datetime,
        *,
        symbol: str | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[FeedItem]:
        """Visible signals, most recently received first, below `before_id`."""
        clauses = [*_entitled(tier), signals.c.timestamp <= now - tier.delay]
        if symbol:
            clauses.append(signals.c.symbol == symbol)
        if since:
            clauses.append(signals.c.timestamp >= since)
        if before_id is not None:
            clauses.append(signals.c.id < before_id)
        query = select(signals).where(*clauses).order_by(signals.c.id.desc()).limit(limit)
        return self._run(query, tier)

    def window(
        self, tier: Tier, start: datetime, end: datetime, after_id: int, limit: int
    ) -> list[FeedItem]:
        """Signals that became visible in (start, end], by id, above `after_id`."""
        query = (
            select(signals)
            .where(
                *_entitled(tier),
                _visible_at(tier, end),
                or_(signals.c.timestamp > start - tier.delay, signals.c.received_at > start),
                signals.c.id > after_id,
            )
            .order_by(signals.c.id)
            .limit(limit)
        )
        return self._run(query, tier)

    def horizon(self) -> tuple[datetime, bool]:
        """The latest moment before which every signal row is committed (database clock),
        and whether an open transaction holds it back (then it moves on without notice)."""
        if self._engine.dialect.name != "postgresql":
            return datetime.now(UTC) - SQLITE_SETTLE, False
        with self._engine.connect() as conn:
            clock, oldest = conn.execute(_PG_HORIZON, {"app": APPLICATION_NAME}).one()
        if oldest is not None and oldest < clock:
            return oldest.astimezone(UTC), True
        return clock.astimezone(UTC), False

    def next_release(self, tier: Tier, now: datetime) -> datetime | None:
        """When the next stored signal becomes visible to a delayed `tier`, if any will."""
        query = select(func.min(signals.c.timestamp)).where(
            *_entitled(tier), signals.c.timestamp > now - tier.delay
        )
        with self._engine.connect() as conn:
            first: datetime | None = conn.execute(query).scalar_one()
        return None if first is None else first + tier.delay

    def _run(self, query: Any, tier: Tier) -> list[FeedItem]:
        with self._engine.connect() as conn:
            rows: Sequence[Any] = conn.execute(query).all()
        return [FeedItem(int(row.id), shape(row, tier)) for row in rows]
