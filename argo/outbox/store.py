"""The relay's side of Argo's SQLite outbox: claim, renew, settle, and the backlog.

A row is *due* when it is neither delivered nor dead, its `next_attempt_at` has passed,
no live lease covers it, and, for an outcome (any event but a creation), its signal's
creation was delivered and no earlier event of that signal is still pending (an outcome,
or after a replay the replayed creation: the old delivered creation does not let the
replayed outcome overtake it). A claim leases rows under a fresh fencing token; renewing
and settling touch only rows that still carry that token. Results are written in one
short transaction per window, never while waiting on the network.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from argo.db.schema import upgrade_existing
from argo.db.sqlite import connect, write_transaction
from argo.errors import OutboxMissingError
from argo.outbox.admin import OutboxAdmin
from argo.outbox.events import EventType
from argo.outbox.lease import LeaseClock, boot_clock
from argo.outbox.values import (
    Backlog,
    Charge,
    Claim,
    DeadLetter,
    OutboxRow,
    OutboxStatus,
    Release,
    Settlement,
    TableHealth,
)
from argo.process.crashpoints import crash_point
from argo.timeutil import from_text, to_text

LONGEST_RETRY_WAIT = 3600.0  # seconds: the relay's default retry cap
_PENDING = "o.delivered_at IS NULL AND o.dead_at IS NULL"
_UNLEASED = "(o.claim_token IS NULL OR o.lease_epoch IS NOT :epoch OR o.lease_expires <= :clock)"
_IN_ORDER = f"""(o.event_type = '{EventType.SIGNAL_CREATED}' OR (
    EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
            AND c.event_type = '{EventType.SIGNAL_CREATED}' AND c.delivered_at IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM sync_outbox AS e WHERE e.signal_id = o.signal_id
            AND e.id < o.id AND e.delivered_at IS NULL AND e.dead_at IS NULL)))"""
# Due: never tried (whatever the wall clock did since), or its retry time has come, or
# that time lies further ahead than any retry wait can (the wall clock stepped back).
_TIME_HAS_COME = "(o.attempts = 0 OR o.next_attempt_at <= :now OR o.next_attempt_at > :latest)"
DUE = f"{_PENDING} AND {_TIME_HAS_COME} AND {_UNLEASED} AND {_IN_ORDER}"
"""The due predicate over `sync_outbox AS o` (parameters :now, :latest, :epoch, :clock)."""

DUE_ROWS = f"SELECT o.id FROM sync_outbox AS o INDEXED BY idx_outbox_pending WHERE {DUE}"
CLAIM = f"""
UPDATE sync_outbox SET claimed_by = :worker, claimed_until = :until, claim_token = :token,
    lease_expires = :expires, lease_epoch = :epoch
WHERE id IN ({DUE_ROWS} ORDER BY o.id LIMIT :limit)
RETURNING id, event_id, event_type, signal_id, payload, created_at, attempts, first_failed_at
"""
PARKED = f"""
SELECT count(*) FROM sync_outbox AS o INDEXED BY idx_outbox_pending
WHERE {_PENDING} AND o.event_type <> '{EventType.SIGNAL_CREATED}'
  AND NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
      AND c.event_type = '{EventType.SIGNAL_CREATED}' AND c.dead_at IS NULL)
"""
BACKLOG = (
    "SELECT count(*), sum(o.claim_token IS NOT NULL AND o.lease_epoch = ?"
    f" AND o.lease_expires > ?), min(o.created_at) FROM sync_outbox AS o WHERE {_PENDING}"
)
DEAD_COUNT = "SELECT count(*) FROM sync_outbox WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
DELIVERED = "SELECT count(*), max(delivered_at) FROM sync_outbox WHERE delivered_at IS NOT NULL"
# The most recently delivered creation, and its signal's own time (freshness).
LAST_DELIVERED_SIGNAL = f"""
SELECT o.delivered_at, s.timestamp FROM sync_outbox AS o
JOIN signals AS s ON s.signal_id = o.signal_id
WHERE o.delivered_at IS NOT NULL AND o.event_type = '{EventType.SIGNAL_CREATED}'
ORDER BY o.delivered_at DESC LIMIT 1
"""
# The latest error among pending rows, and among dead ones (each walks its own index).
LAST_ERRORS = (
    f"SELECT o.id, o.last_error FROM sync_outbox AS o WHERE {_PENDING}"
    " AND o.last_error IS NOT NULL ORDER BY o.id DESC LIMIT 1",
    "SELECT id, last_error FROM sync_outbox WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
    " AND last_error IS NOT NULL ORDER BY dead_at DESC LIMIT 1",
)
_HELD = "claim_token = ? AND delivered_at IS NULL AND dead_at IS NULL"
_NO_LEASE = (
    "claimed_by = NULL, claimed_until = NULL, claim_token = NULL,"
    " lease_expires = NULL, lease_epoch = NULL"
)


class OutboxStore:
    """Claims and settles outbox rows in Argo's SQLite file (never creates it)."""

    def __init__(self, conn: sqlite3.Connection, lease_clock: LeaseClock = boot_clock) -> None:
        self._conn = conn
        self._lease_clock = lease_clock

    @classmethod
    def open_file(
        cls,
        path: Path,
        *,
        setting: str = "ARGO_DB",
        synchronous: str = "NORMAL",
        lease_clock: LeaseClock = boot_clock,
    ) -> OutboxStore:
        """Open Argo's existing database at `path`, upgrading its schema if it is older.

        The relay's own commits (claims, renewals, settles) skip the fsync by default
        (`synchronous=NORMAL` in WAL mode): a power loss can undo only the last of them, and
        an undone claim or settle costs a redelivery that Alpine absorbs, never a signal.
        The signals themselves are committed by Argo with `synchronous=FULL`.

        Raises OutboxMissingError, naming `setting`, when there is no database or no outbox.
        """
        if not path.is_file():
            raise OutboxMissingError(f"no Argo database at {path} (check {setting} or --db)")
        conn = connect(path, synchronous=synchronous)
        try:
            upgrade_existing(conn, f"{setting}={path}")
        except BaseException:
            conn.close()
            raise
        return cls(conn, lease_clock)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def admin(self) -> OutboxAdmin:
        """Operator actions (dead letters, pruning, worker records) on this connection."""
        return OutboxAdmin(self._conn)

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap "anything new?" probe."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _due_params(self, now: datetime, longest_wait: float) -> dict[str, object]:
        lease_now = self._lease_clock()
        return {
            "now": to_text(now),
            "latest": to_text(now + _seconds(longest_wait)),
            "epoch": lease_now.epoch,
            "clock": lease_now.seconds,
        }

    def has_due(self, now: datetime, longest_wait: float = LONGEST_RETRY_WAIT) -> bool:
        """Whether any row is due (a read; no write lock taken). `longest_wait`: the
        longest wait a charged row can have been given (the relay's retry cap)."""
        sql = f"{DUE_ROWS} ORDER BY o.id LIMIT 1"
        return self._conn.execute(sql, self._due_params(now, longest_wait)).fetchone() is not None

    def claim(
        self,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        longest_wait: float = LONGEST_RETRY_WAIT,
    ) -> Claim:
        """Lease up to `limit` due rows to `worker` under a new fencing token."""
        params = self._due_params(now, longest_wait)
        expires = self._lease_clock().plus(lease_seconds)
        token = secrets.token_hex(8)
        params.update(
            worker=worker,
            until=to_text(now + _seconds(lease_seconds)),
            token=token,
            expires=expires.seconds,
            limit=limit,
        )
        with write_transaction(self._conn) as conn:
            rows = conn.execute(CLAIM, params).fetchall()
        ordered = sorted((OutboxRow.from_row(r) for r in rows), key=lambda r: r.id)
        return Claim(worker, token, tuple(ordered), expires)

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> frozenset[int]:
        """Extend the lease of the claim's rows it still holds; their ids."""
        expires = self._lease_clock().plus(lease_seconds)
        with write_transaction(self._conn) as conn:
            held = conn.execute(
                f"UPDATE sync_outbox SET lease_expires = ?, lease_epoch = ?, claimed_until = ?"
                f" WHERE {_HELD} RETURNING id",
                (
                    expires.seconds,
                    expires.epoch,
                    to_text(now + _seconds(lease_seconds)),
                    claim.token,
                ),
            ).fetchall()
        return frozenset(int(r[0]) for r in held)

    def settle(self, claim: Claim, settlement: Settlement, now: datetime) -> int:
        """Write one window's fates; how many rows the claim still held.

        A delivered row is marked delivered whoever holds it now: Alpine has it. Every
        other fate touches a row only while it still carries the claim's token.
        """
        stamp = to_text(now)
        token = claim.token
        with write_transaction(self._conn) as conn:
            conn.executemany(
                f"UPDATE sync_outbox SET delivered_at = ?, dead_at = NULL, {_NO_LEASE}"
                " WHERE id = ? AND delivered_at IS NULL",
                [(stamp, row_id) for row_id in settlement.delivered],
            )
            held = len(settlement.delivered)
            for sql, params in (
                (
                    "attempts = ?, next_attempt_at = ?,"
                    " first_failed_at = coalesce(first_failed_at, ?), last_error = ?",
                    [
                        (
                            c.attempts,
                            to_text(c.next_attempt_at),
                            to_text(c.first_failed_at),
                            c.error,
                            c.row_id,
                            token,
                        )
                        for c in settlement.charged
                    ],
                ),
                (
                    "dead_at = ?, attempts = ?, last_error = ?",
                    [(stamp, d.attempts, d.error, d.row_id, token) for d in settlement.dead],
                ),
                (
                    "last_error = coalesce(?, last_error)",
                    [(r.error, r.row_id, token) for r in settlement.released],
                ),
            ):
                for values in params:
                    held += conn.execute(
                        f"UPDATE sync_outbox SET {sql}, {_NO_LEASE} WHERE id = ? AND {_HELD}",
                        values,
                    ).rowcount
            crash_point("in_settle")
        return held

    def backlog(self, now: datetime) -> Backlog:
        """Pending, in flight, dead, parked and the oldest pending time, from the partial
        indexes (cheap enough for every metrics scrape, however many rows were delivered)."""
        lease_now = self._lease_clock()
        pending = self._conn.execute(BACKLOG, (lease_now.epoch, lease_now.seconds)).fetchone()
        dead = self._conn.execute(DEAD_COUNT).fetchone()[0]
        return Backlog(
            pending=pending[0],
            in_flight=pending[1] or 0,
            dead=dead,
            parked=self._conn.execute(PARKED).fetchone()[0],
            oldest_pending_created_at=from_text(pending[2]) if pending[2] else None,
        )

    def status(self, now: datetime) -> OutboxStatus:
        """The backlog plus delivered count, last success and last error (`relay status`)."""
        delivered, last = self._conn.execute(DELIVERED).fetchone()
        errors = [self._conn.execute(sql).fetchone() for sql in LAST_ERRORS]
        latest = max((e for e in errors if e is not None), key=lambda e: e[0], default=None)
        fresh = self._conn.execute(LAST_DELIVERED_SIGNAL).fetchone()
        return OutboxStatus(
            backlog=self.backlog(now),
            delivered=delivered,
            last_delivered_at=from_text(last) if last else None,
            last_error=latest[1] if latest else None,
            last_freshness_seconds=_between(fresh[1], fresh[0]) if fresh else None,
        )

    def table_health(self) -> TableHealth | None:
        """PostgreSQL's dead tuples and size; None here (SQLite reuses freed pages in place)."""
        return None


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _between(start: str, end: str) -> float | None:
    try:
        return (from_text(end) - from_text(start)).total_seconds()
    except ValueError:
        return None


__all__ = [
    "Backlog",
    "Charge",
    "Claim",
    "DeadLetter",
    "OutboxRow",
    "OutboxStatus",
    "OutboxStore",
    "Release",
    "Settlement",
    "TableHealth",
]
