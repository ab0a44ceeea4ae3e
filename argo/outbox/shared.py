"""What both outbox dialects do, written once over each one's query text (`OutboxQueries`)
and one connection seam (`argo.db.seam.Db`): settle's fate loop, the backlog ("pending count
+ oldest", in flight, dead, parked) and the status. Claim and renew stay with each dialect:
that is where their lease clocks differ (the host's boot clock on SQLite, the server's
`now()` on PostgreSQL).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argo.db.seam import Db, Row, as_optional_time, as_time
from argo.outbox.values import Attempt, Backlog, Claim, OutboxStatus, Settlement, TableHealth
from argo.process.crashpoints import crash_point
from argo.timeutil import to_text

LONGEST_RETRY_WAIT = 3600.0  # seconds: the relay's default retry cap


@dataclass(frozen=True, slots=True)
class OutboxQueries:
    """One dialect's text of the shared operations (named parameters, columns by name)."""

    settle_delivered: str  # :now/:ids → delivered whoever holds the row
    settle_charged: str  # :id :token :attempts :next :first :error
    settle_dead: str  # :id :token :now :attempts :error
    settle_released: str  # :id :token :error
    keep_receipts: str  # :ids :texts :verified :now → outbox_receipts (first one kept)
    close_window: str  # :token → the window's record gone (its attempts are logged)
    log_posts: str  # positional: token, n, relay, started, ms, status, error, answer, events
    log_attempts: str  # positional: outbox id, token, post n, fate, detail
    backlog: str  # → pending, in_flight, oldest (may read :epoch :clock)
    dead_count: str  # → n
    parked: str  # → n
    delivered: str  # → n, last
    last_errors: tuple[str, str]  # → id, event_id, last_error (pending rows, dead rows)
    last_delivered_signal: str  # → delivered_at, timestamp


def settle(db: Db, q: OutboxQueries, claim: Claim, settlement: Settlement, now: datetime) -> int:
    """Write one window's fates in one transaction; how many rows the claim still held.

    A delivered row is marked delivered whoever holds it now: Alpine has it. Every other
    fate touches a row only while it still carries the claim's token.
    """
    stamp = db.time(now)
    with db.transaction():
        held = 0
        if settlement.delivered:
            db.run(q.settle_delivered, {"now": stamp, "ids": list(settlement.delivered)})
            held = len(settlement.delivered)
        if settlement.receipts:
            db.run(q.keep_receipts, _receipt_values(settlement, stamp))
        for sql, values in _fates(db, q, settlement):
            held += db.run(sql, values | {"token": claim.token, "now": stamp})
        if settlement.attempts is not None:
            db.run(q.close_window, {"token": claim.token})
            posts, rows = _attempt_rows(claim, settlement.attempts)
            db.run_many(q.log_posts, posts)
            db.run_many(q.log_attempts, rows)
        crash_point("in_settle")
    return held


EXCERPT_CHARS = 300
"""How much of an answer (or an error's text) the attempt log keeps per attempt."""


def _attempt_rows(
    claim: Claim, attempts: tuple[Attempt, ...]
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The window's POSTs (one row each, a batch once) and each outbox row's part in them,
    as positional parameters of `log_posts` and `log_attempts`."""
    first: dict[int, Attempt] = {}
    events: Counter[int] = Counter()
    rows: list[tuple[object, ...]] = []
    for a in attempts:
        first.setdefault(a.post, a)
        events[a.post] += 1
        rows.append((a.row_id, claim.token, a.post, a.fate.value, a.detail[:EXCERPT_CHARS] or None))
    posts: list[tuple[object, ...]] = [
        (
            claim.token,
            n,
            claim.worker,
            to_text(a.started_at),
            round(a.seconds * 1000, 3),
            a.status,
            a.error,
            a.answer[:EXCERPT_CHARS],
            events[n],
        )
        for n, a in first.items()
    ]
    return posts, rows


def _receipt_values(settlement: Settlement, stamp: object) -> Row:
    kept = settlement.receipts
    return {
        "ids": [r.row_id for r in kept],
        "texts": [r.text for r in kept],
        "verified": [r.verified for r in kept],
        "now": stamp,
    }


def _fates(db: Db, q: OutboxQueries, settlement: Settlement) -> Iterator[tuple[str, Row]]:
    for c in settlement.charged:
        yield (
            q.settle_charged,
            {
                "id": c.row_id,
                "attempts": c.attempts,
                "next": db.time(c.next_attempt_at),
                "first": db.time(c.first_failed_at),
                "error": c.error,
            },
        )
    for d in settlement.dead:
        yield q.settle_dead, {"id": d.row_id, "attempts": d.attempts, "error": d.error}
    for r in settlement.released:
        yield q.settle_released, {"id": r.row_id, "error": r.error}


def backlog(db: Db, q: OutboxQueries, lease: dict[str, Any]) -> Backlog:
    """Pending, in flight, dead, parked and the oldest pending time, from the partial
    indexes (cheap enough for every metrics scrape, however many rows were delivered).
    `lease`: the lease clock's reading, for a dialect whose leases are not the server's."""
    pending = db.one(q.backlog, lease) or {}
    return Backlog(
        pending=int(pending.get("pending") or 0),
        in_flight=int(pending.get("in_flight") or 0),
        dead=_count(db, q.dead_count),
        parked=_count(db, q.parked),
        oldest_pending_created_at=as_optional_time(pending.get("oldest")),
    )


def status(
    db: Db, q: OutboxQueries, now_backlog: Backlog, table: TableHealth | None
) -> OutboxStatus:
    """The backlog plus delivered count, last success and last error (`relay status`)."""
    delivered = db.one(q.delivered) or {"n": 0, "last": None}
    errors = [db.one(sql) for sql in q.last_errors]
    error = max((e for e in errors if e is not None), key=lambda e: int(e["id"]), default=None)
    return OutboxStatus(
        backlog=now_backlog,
        delivered=int(delivered["n"]),
        last_delivered_at=as_optional_time(delivered["last"]),
        last_error=error["last_error"] if error else None,
        last_error_event=error["event_id"] if error else None,
        last_freshness_seconds=_freshness(db.one(q.last_delivered_signal)),
        table=table,
    )


def _count(db: Db, sql: str) -> int:
    row = db.one(sql)
    return int(row["n"]) if row else 0


def _freshness(row: Row | None) -> float | None:
    """A signal's own time to its delivery (None when the timestamp is not readable)."""
    if row is None:
        return None
    try:
        return (as_time(row["delivered_at"]) - as_time(row["timestamp"])).total_seconds()
    except ValueError:
        return None
