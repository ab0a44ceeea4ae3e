"""What a subscriber tier may see, in feed order.

Every stored signal, outcome and execution is an event of `feed_events` at a position
`seq` (1, 2, 3, ...) taken in commit order by a trigger under feed_head's lock (see
schema/alpine/*/..._feed.sql). Any snapshot therefore holds exactly the events
1..head: a reader may take all it sees, and nothing can later commit below it. No
clock and no margin decide what is released.

A tier sees the events it is entitled to (asset types, minimum confidence; outcomes
and executions only with those fields), in feed order. A delayed tier sees a prefix
of that order: up to its *frontier*, the position before the first entitled event
whose signal is younger than the delay; so each event is released no earlier than
its signal's timestamp + delay, and the order never changes.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, func, select, text

from alpine.positions import Position
from alpine.record import RecordSealer, entry_range, read_entries, record_of
from alpine.tables import feed_events, feed_head, signals
from alpine.tiers import Tier
from alpine.timestamps import format_timestamp

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
# The events besides `signal`, each shown to the tiers that have the field of that name.
UPDATE_KINDS = ("outcome", "execution")
EPOCH_TTL_SECONDS = 1.0  # a new epoch (restore, failover, new-epoch) shows within this

_JOINED = feed_events.join(signals, signals.c.id == feed_events.c.signal_row)
# PostgreSQL: the stored token, with what a restore changes by itself (the database's
# oid after pg_restore into a new database, the timeline after point-in-time recovery).
_PG_EPOCH = text(
    "SELECT h.epoch, d.oid, (SELECT timeline_id FROM pg_control_checkpoint())"
    " FROM feed_head h, pg_database d WHERE h.id = 1 AND d.datname = current_database()"
)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event as a tier sees it."""

    seq: int
    kind: str  # signal | outcome | execution
    body: dict[str, Any]
    trace: str | None = None  # a signal's ingest span (traceparent), when tracing stored one

    def item(
        self, prev_seq: int, epoch: str, record: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The event with its position (and its record entry, when Alpine seals one):
        JSON-ready, the same in pages and on the stream.

        `prev_seq` is the tier's previous event (0 before the first): a subscriber that
        does not hold it has a gap.
        """
        item = {
            "event": self.kind,
            **self.body,
            "seq": self.seq,
            "prev_seq": prev_seq,
            "cursor": Position(epoch, self.seq).cursor,
            "epoch": epoch,
        }
        if record is not None:
            item["record"] = record
        return item


def shape(row: Any, tier: Tier) -> dict[str, Any]:
    """The fields of signal `row` that `tier` may see, JSON-ready."""
    names = list(_BASE)
    for field in sorted(tier.fields):
        names.extend(_OPTIONAL[field])
    return _fields(row, names)


def event_body(kind: str, row: Any, tier: Tier) -> dict[str, Any]:
    """A `signal` event shows the signal as stored now; an `outcome` or `execution`
    event shows the signal's id and the fields that event recorded."""
    if kind == "signal":
        return shape(row, tier)
    return _fields(row, ("signal_id", *_OPTIONAL[kind]))


def _fields(row: Any, names: Iterable[str]) -> dict[str, Any]:
    body = {}
    for name in names:
        value = row.order_id is not None if name == "executed" else getattr(row, name)
        if name == "late":
            value = bool(value)
        # One fixed form (microseconds always): the text Argo hashed, whole seconds too.
        body[name] = format_timestamp(value) if isinstance(value, datetime) else value
    return body


def kinds(tier: Tier) -> list[str]:
    """The kinds of event `tier` is shown."""
    return ["signal", *(kind for kind in UPDATE_KINDS if kind in tier.fields)]


def _entitled(tier: Tier, events: Any = feed_events, rows: Any = signals) -> list[Any]:
    return [
        rows.c.asset_type.in_(sorted(tier.asset_types)),
        rows.c.confidence >= tier.min_confidence,
        events.c.kind.in_(kinds(tier)),
    ]


def chain(events: Sequence[FeedEvent], prev_seq: int) -> list[tuple[FeedEvent, int]]:
    """Each event of a run of consecutive tier events with its predecessor's position."""
    linked = []
    for event in events:
        linked.append((event, prev_seq))
        prev_seq = event.seq
    return linked


class Feed:
    """Reads the feed as subscribers see it; with a sealer, seals the record as it reads."""

    def __init__(self, engine: Engine, sealer: RecordSealer | None = None) -> None:
        self._engine = engine
        self._sealer = sealer
        self._epoch: tuple[float, str] | None = None
        self._pinned = threading.local()

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Reads of this thread inside share one connection (a live-feed pass: one
        checkout, not one per query)."""
        with self._engine.connect() as conn:
            self._pinned.conn = conn
            try:
                yield
            finally:
                self._pinned.conn = None

    def _connect(self) -> AbstractContextManager[Connection]:
        conn: Connection | None = getattr(self._pinned, "conn", None)
        return nullcontext(conn) if conn is not None else self._engine.connect()

    def head(self) -> int:
        """The position of the last committed event (0 for an empty feed); with a sealer,
        every event up to it is sealed into the record first."""
        with self._connect() as conn:
            if self._sealer is not None:
                return self._sealer.seal(conn)
            return int(
                conn.execute(select(feed_head.c.seq).where(feed_head.c.id == 1)).scalar_one()
            )

    def linked(
        self, events: Sequence[FeedEvent], prev_seq: int
    ) -> list[tuple[FeedEvent, int, dict[str, Any] | None]]:
        """`chain` with each event's record entry (None without a sealer)."""
        pairs = chain(events, prev_seq)
        span = entry_range([(e.seq, p) for e, p in pairs]) if self._sealer is not None else None
        if span is None:
            return [(event, prev, None) for event, prev in pairs]
        with self._connect() as conn:
            entries = read_entries(conn, *span)
        return [(event, prev, record_of(event.seq, prev, entries)) for event, prev in pairs]

    def epoch(self) -> str:
        """The name of this history; it changes only when history is restored or rewound."""
        now = time.monotonic()
        if self._epoch is None or now - self._epoch[0] > EPOCH_TTL_SECONDS:
            self._epoch = (now, self._read_epoch())
        return self._epoch[1]

    def _read_epoch(self) -> str:
        with self._connect() as conn:
            if self._engine.dialect.name == "postgresql":
                token, oid, timeline = conn.execute(_PG_EPOCH).one()
                parts = f"{token}:{oid}:{timeline}"
            else:
                parts = str(
                    conn.execute(select(feed_head.c.epoch).where(feed_head.c.id == 1)).scalar_one()
                )
        return hashlib.sha256(parts.encode()).hexdigest()[:16]

    def frontier(self, tier: Tier, head: int, now: datetime) -> int:
        """The last position `tier` may read at `now`, given the feed's `head`."""
        return self.release(tier, head, now)[0]

    def release(self, tier: Tier, head: int, now: datetime) -> tuple[int, datetime | None]:
        """The tier's frontier at `now`, and when the next of its waiting signals is due
        (None: nothing waits). One query for a delayed tier, none for the others."""
        if not tier.delay:
            return head, None
        query = (
            select(func.min(feed_events.c.seq), func.min(signals.c.timestamp))
            .select_from(_JOINED)
            .where(*_entitled(tier), signals.c.timestamp > now - tier.delay)
        )
        with self._connect() as conn:
            blocked, first = conn.execute(query).one()
        if blocked is None:
            return head, None
        return min(head, int(blocked) - 1), first + tier.delay

    def window(self, tier: Tier, after: int, until: int, limit: int) -> list[FeedEvent]:
        """The tier's events in (after, until], in feed order, at most `limit`."""
        query = (
            self._select()
            .where(*_entitled(tier), feed_events.c.seq > after, feed_events.c.seq <= until)
            .order_by(feed_events.c.seq)
            .limit(limit)
        )
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [
            FeedEvent(
                int(r.seq),
                r.kind,
                event_body(r.kind, r, tier),
                r.ingest_traceparent if r.kind == "signal" else None,
            )
            for r in rows
        ]

    def previous(self, tier: Tier, seq: int) -> int:
        """The position of the tier's last event at or before `seq` (0 if none)."""
        query = (
            select(feed_events.c.seq)
            .select_from(_JOINED)
            .where(*_entitled(tier), feed_events.c.seq <= seq)
            .order_by(feed_events.c.seq.desc())
            .limit(1)
        )
        with self._connect() as conn:
            found: int | None = conn.execute(query).scalar()
        return found or 0

    def signal_position(self, row_id: int) -> int | None:
        """The position of the signal event of row `row_id`, if it is stored."""
        query = select(feed_events.c.seq).where(
            feed_events.c.signal_row == row_id, feed_events.c.kind == "signal"
        )
        with self._connect() as conn:
            found: int | None = conn.execute(query).scalar()
        return found

    def page(
        self,
        tier: Tier,
        until: int,
        *,
        symbol: str | None = None,
        since: datetime | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[tuple[FeedEvent, int]]:
        """The tier's signals up to position `until`, newest first, below `before`; each
        with the position of the tier's event before it."""
        earlier_events, earlier_rows = feed_events.alias("earlier_e"), signals.alias("earlier_s")
        prev_seq = (
            select(earlier_events.c.seq)
            .select_from(
                earlier_events.join(earlier_rows, earlier_rows.c.id == earlier_events.c.signal_row)
            )
            .where(
                *_entitled(tier, earlier_events, earlier_rows),
                earlier_events.c.seq < feed_events.c.seq,
            )
            .order_by(earlier_events.c.seq.desc())
            .limit(1)
            .scalar_subquery()
        )
        clauses: list[ColumnElement[bool]] = [
            *_entitled(tier),
            feed_events.c.kind == "signal",
            feed_events.c.seq <= until,
        ]
        if symbol:
            clauses.append(signals.c.symbol == symbol)
        if since:
            clauses.append(signals.c.timestamp >= since)
        if before is not None:
            clauses.append(feed_events.c.seq < before)
        query = (
            self._select(prev_seq.label("prev_seq"))
            .where(*clauses)
            .order_by(feed_events.c.seq.desc())
            .limit(limit)
        )
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [(FeedEvent(int(r.seq), r.kind, shape(r, tier)), int(r.prev_seq or 0)) for r in rows]

    def _select(self, *extra: Any) -> Select[Any]:
        return select(feed_events.c.seq, feed_events.c.kind, signals, *extra).select_from(_JOINED)
