"""The relay's only seam to Argo's SQLite outbox: claim, mark, release, inspect.

Per-row state with a lease: a row is due when it is neither delivered nor dead,
its `next_attempt_at` has passed and no live lease covers it. Results are written
in one short write transaction per batch, never while waiting on the network.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argo.sqlite import connect, write_transaction
from argo.store import apply_schema
from argo.timeutil import from_text, to_text
from relay.store_admin import OutboxAdmin

_CLAIM = """
UPDATE sync_outbox SET claimed_by = :worker, claimed_until = :until
WHERE id IN (
    SELECT o.id FROM sync_outbox AS o
    WHERE o.delivered_at IS NULL AND o.dead_at IS NULL
      AND o.next_attempt_at <= :now
      AND (o.claimed_until IS NULL OR o.claimed_until <= :now)
      AND NOT EXISTS (
          SELECT 1 FROM sync_outbox AS earlier
          WHERE earlier.signal_id = o.signal_id AND earlier.id < o.id
            AND earlier.delivered_at IS NULL
      )
    ORDER BY o.id
    LIMIT :limit
)
RETURNING id, event_id, event_type, signal_id, payload, created_at, attempts
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed outbox row: what to send and its retry state."""

    id: int
    event_id: str
    event_type: str
    signal_id: str
    payload: str
    created_at: datetime
    attempts: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxRow:
        return cls(
            id=row["id"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            signal_id=row["signal_id"],
            payload=row["payload"],
            created_at=from_text(row["created_at"]),
            attempts=row["attempts"],
        )


@dataclass(frozen=True, slots=True)
class Retry:
    """A row that failed on its own: charged one attempt, due again at `next_attempt_at`."""

    row_id: int
    attempts: int
    next_attempt_at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    row_id: int
    error: str


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Everything one batch decided, written in one transaction."""

    delivered: Sequence[int] = ()
    retries: Sequence[Retry] = ()
    dead: Sequence[DeadLetter] = ()
    released: Sequence[int] = ()
    release_error: str | None = None


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    in_flight: int
    dead: int
    oldest_pending_created_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    pending: int
    in_flight: int
    dead: int
    delivered: int
    oldest_pending_created_at: datetime | None
    last_delivered_at: datetime | None
    last_error: str | None


class OutboxStore:
    """Claims and settles outbox rows in Argo's SQLite file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, path: Path, *, synchronous: str = "FULL") -> OutboxStore:
        """Open Argo's database at `path`, creating the schema if it is new."""
        conn = connect(path, synchronous=synchronous)
        apply_schema(conn)
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    def admin(self) -> OutboxAdmin:
        """Operator actions (dead letters, pruning, worker records) on this connection."""
        return OutboxAdmin(self._conn)

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap "anything new?" probe."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def has_due(self, now: datetime) -> bool:
        """Whether any row is due (a read; no write lock taken)."""
        text = to_text(now)
        row = self._conn.execute(
            "SELECT 1 FROM sync_outbox WHERE delivered_at IS NULL AND dead_at IS NULL "
            "AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?) LIMIT 1",
            (text, text),
        ).fetchone()
        return row is not None

    def claim(self, worker: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxRow]:
        """Lease up to `limit` due rows to `worker`, oldest first."""
        params = {
            "worker": worker,
            "until": to_text(now + lease),
            "now": to_text(now),
            "limit": limit,
        }
        with write_transaction(self._conn) as conn:
            rows = conn.execute(_CLAIM, params).fetchall()
        return sorted((OutboxRow.from_row(r) for r in rows), key=lambda r: r.id)

    def settle(self, worker: str, now: datetime, outcome: BatchOutcome) -> None:
        """Write a batch's results in one short transaction.

        Delivered rows are marked whoever holds them now (they were delivered);
        retries, dead letters and releases only touch rows still leased to `worker`.
        """
        stamp = to_text(now)
        with write_transaction(self._conn) as conn:
            conn.executemany(
                "UPDATE sync_outbox SET delivered_at = ?, claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ? AND delivered_at IS NULL",
                [(stamp, row_id) for row_id in outcome.delivered],
            )
            conn.executemany(
                "UPDATE sync_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?,"
                " claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
                [
                    (r.attempts, to_text(r.next_attempt_at), r.error, r.row_id, worker)
                    for r in outcome.retries
                ],
            )
            conn.executemany(
                "UPDATE sync_outbox SET dead_at = ?, last_error = ?,"
                " claimed_by = NULL, claimed_until = NULL"
                " WHERE id = ? AND claimed_by = ? AND delivered_at IS NULL",
                [(stamp, d.error, d.row_id, worker) for d in outcome.dead],
            )
            conn.executemany(
                "UPDATE sync_outbox SET claimed_by = NULL, claimed_until = NULL,"
                " last_error = coalesce(?, last_error) WHERE id = ? AND claimed_by = ?",
                [(outcome.release_error, row_id, worker) for row_id in outcome.released],
            )

    def backlog(self, now: datetime) -> Backlog:
        """Pending, in flight, dead and the oldest pending time, from the partial indexes
        (cheap enough for every metrics scrape, however many rows were delivered)."""
        pending = self._conn.execute(
            "SELECT count(*), sum(claimed_until > ?), min(created_at) FROM sync_outbox"
            " WHERE delivered_at IS NULL AND dead_at IS NULL",
            (to_text(now),),
        ).fetchone()
        dead = self._conn.execute(
            "SELECT count(*) FROM sync_outbox WHERE dead_at IS NOT NULL"
        ).fetchone()[0]
        return Backlog(
            pending=pending[0],
            in_flight=pending[1] or 0,
            dead=dead,
            oldest_pending_created_at=from_text(pending[2]) if pending[2] else None,
        )

    def status(self, now: datetime) -> OutboxStatus:
        """The backlog plus delivered count, last success and last error (`relay status`)."""
        backlog = self.backlog(now)
        delivered, last = self._conn.execute(
            "SELECT count(*), max(delivered_at) FROM sync_outbox WHERE delivered_at IS NOT NULL"
        ).fetchone()
        errors = [
            self._conn.execute(
                f"SELECT id, last_error FROM sync_outbox WHERE {where}"
                " AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
            for where in ("delivered_at IS NULL AND dead_at IS NULL", "dead_at IS NOT NULL")
        ]
        latest = max((e for e in errors if e is not None), key=lambda e: e[0], default=None)
        return OutboxStatus(
            pending=backlog.pending,
            in_flight=backlog.in_flight,
            dead=backlog.dead,
            delivered=delivered,
            oldest_pending_created_at=backlog.oldest_pending_created_at,
            last_delivered_at=from_text(last) if last else None,
            last_error=latest[1] if latest else None,
        )
