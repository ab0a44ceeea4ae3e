"""The relay's side of Argo's SQLite outbox: claim, renew, settle, and the backlog.

A row is *due* when it is neither delivered nor dead, its `next_attempt_at` has passed,
no live lease covers it, and, for an outcome (any event but a creation), its signal's
creation was delivered and no earlier event of that signal is still pending (an outcome,
or after a replay the replayed creation: the old delivered creation does not let the
replayed outcome overtake it). "Its creation was delivered" reads: a delivered creation
row exists, or none of its creation rows is undelivered (`relay prune` deleted them all,
and prune deletes only delivered rows and keeps a delivered creation while its signal
has an undelivered one), so an outcome days after a prune is never stranded. A claim
leases rows under a fresh fencing token; renewing and settling touch only rows that still
carry that token. Results are written in one short transaction per window, never while
waiting on the network.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import socket
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from argo.db.schema import upgrade_existing
from argo.db.sqlite import SqliteDb, connect
from argo.errors import OutboxMissingError
from argo.outbox import shared
from argo.outbox.admin import SQLITE_ADMIN, SqlOutboxAdmin
from argo.outbox.attempts import SQLITE_ATTEMPTS, AttemptLog
from argo.outbox.doorbell import Doorbell, Wakeup
from argo.outbox.events import EventType
from argo.outbox.lease import LeaseClock, boot_clock
from argo.outbox.receipts import SQLITE_RECEIPTS, ReceiptBook
from argo.outbox.shared import LONGEST_RETRY_WAIT, OutboxQueries
from argo.outbox.values import (
    Backlog,
    Claim,
    OutboxRow,
    OutboxStatus,
    Settlement,
    TableHealth,
)
from argo.timeutil import to_text

_PENDING = "o.delivered_at IS NULL AND o.dead_at IS NULL"
_UNLEASED = "(o.claim_token IS NULL OR o.lease_epoch IS NOT :epoch OR o.lease_expires <= :clock)"
_IN_ORDER = f"""(o.event_type = '{EventType.SIGNAL_CREATED}' OR (
    (EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
            AND c.event_type = '{EventType.SIGNAL_CREATED}' AND c.delivered_at IS NOT NULL)
     OR NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
            AND c.event_type = '{EventType.SIGNAL_CREATED}' AND c.delivered_at IS NULL))
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
RETURNING id, event_id, event_type, signal_id, payload, created_at, attempts, first_failed_at,
    traceparent,
    (SELECT count(*) FROM outbox_attempts AS a WHERE a.outbox_id = sync_outbox.id) AS tried
"""
OPEN_WINDOW = (
    "INSERT INTO outbox_windows (window_token, relay, claimed_at, row_ids)"
    " VALUES (:token, :worker, :now, :ids)"
)
PARKED = f"""
SELECT count(*) AS n FROM sync_outbox AS o INDEXED BY idx_outbox_pending
WHERE {_PENDING} AND o.event_type <> '{EventType.SIGNAL_CREATED}'
  AND NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
      AND c.event_type = '{EventType.SIGNAL_CREATED}' AND c.dead_at IS NULL)
  AND EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
      AND c.event_type = '{EventType.SIGNAL_CREATED}')
"""
BACKLOG = (
    "SELECT count(*) AS pending, sum(o.claim_token IS NOT NULL AND o.lease_epoch = :epoch"
    " AND o.lease_expires > :clock) AS in_flight, min(o.created_at) AS oldest"
    f" FROM sync_outbox AS o WHERE {_PENDING}"
)
DEAD_COUNT = (
    "SELECT count(*) AS n FROM sync_outbox WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
)
DELIVERED = (
    "SELECT count(*) AS n, max(delivered_at) AS last FROM sync_outbox"
    " WHERE delivered_at IS NOT NULL"
)
# The most recently delivered creation, and its signal's own time (freshness).
LAST_DELIVERED_SIGNAL = f"""
SELECT o.delivered_at, s.timestamp FROM sync_outbox AS o
JOIN signals AS s ON s.signal_id = o.signal_id
WHERE o.delivered_at IS NOT NULL AND o.event_type = '{EventType.SIGNAL_CREATED}'
ORDER BY o.delivered_at DESC LIMIT 1
"""
# The latest error among pending rows, and among dead ones (each walks its own index).
LAST_ERRORS = (
    f"SELECT o.id, o.event_id, o.last_error FROM sync_outbox AS o WHERE {_PENDING}"
    " AND o.last_error IS NOT NULL ORDER BY o.id DESC LIMIT 1",
    "SELECT id, event_id, last_error FROM sync_outbox"
    " WHERE dead_at IS NOT NULL AND discarded_at IS NULL AND last_error IS NOT NULL"
    " ORDER BY dead_at DESC LIMIT 1",
)
_HELD = "claim_token = :token AND delivered_at IS NULL AND dead_at IS NULL"
_NO_LEASE = (
    "claimed_by = NULL, claimed_until = NULL, claim_token = NULL,"
    " lease_expires = NULL, lease_epoch = NULL"
)
SQLITE = OutboxQueries(
    settle_delivered=(
        f"UPDATE sync_outbox SET delivered_at = :now, dead_at = NULL, {_NO_LEASE}"
        " WHERE id IN (SELECT value FROM json_each(:ids)) AND delivered_at IS NULL"
    ),
    settle_charged=(
        "UPDATE sync_outbox SET attempts = :attempts, next_attempt_at = :next,"
        " first_failed_at = coalesce(first_failed_at, :first), last_error = :error,"
        f" {_NO_LEASE} WHERE id = :id AND {_HELD}"
    ),
    settle_dead=(
        "UPDATE sync_outbox SET dead_at = :now, attempts = :attempts, last_error = :error,"
        f" {_NO_LEASE} WHERE id = :id AND {_HELD}"
    ),
    settle_released=(
        f"UPDATE sync_outbox SET last_error = coalesce(:error, last_error), {_NO_LEASE}"
        f" WHERE id = :id AND {_HELD}"
    ),
    keep_receipts=(
        "INSERT INTO outbox_receipts"
        " (event_id, signal_id, event_type, receipt, verified, received_at)"
        " SELECT o.event_id, o.signal_id, o.event_type,"
        " json_extract(:texts, '$[' || r.key || ']'),"
        " json_extract(:verified, '$[' || r.key || ']'), :now"
        " FROM json_each(:ids) AS r JOIN sync_outbox AS o ON o.id = r.value"
        " WHERE true ON CONFLICT (event_id) DO NOTHING"
    ),
    close_window="DELETE FROM outbox_windows WHERE window_token = :token",
    log_posts="INSERT INTO outbox_posts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    log_attempts="INSERT INTO outbox_attempts VALUES (?, ?, ?, ?, ?)",
    backlog=BACKLOG,
    dead_count=DEAD_COUNT,
    parked=PARKED,
    delivered=DELIVERED,
    last_errors=LAST_ERRORS,
    last_delivered_signal=LAST_DELIVERED_SIGNAL,
)
MAX_SLOTS = 64


class SqliteOutboxStore:
    """Claims and settles outbox rows in Argo's SQLite file (never creates it); an
    `argo.outbox.port.OutboxStore`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        lease_clock: LeaseClock = boot_clock,
        path: Path | None = None,
    ) -> None:
        self._conn = conn
        self._db = SqliteDb(conn)
        self._lease_clock = lease_clock
        self._path = path
        self._slot: int | None = None

    @classmethod
    def open_file(
        cls,
        path: Path,
        *,
        setting: str = "ARGO_DB",
        synchronous: str = "NORMAL",
        lease_clock: LeaseClock = boot_clock,
    ) -> SqliteOutboxStore:
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
        return cls(conn, lease_clock, path)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        if self._slot is not None:
            os.close(self._slot)
            self._slot = None
        self._conn.close()

    def admin(self) -> SqlOutboxAdmin:
        """Operator actions (dead letters, pruning, worker records) on this connection."""
        return SqlOutboxAdmin(self._db, SQLITE_ADMIN)

    def attempts(self) -> AttemptLog:
        """Every POST of every outbox row, as claim and settle logged them."""
        return AttemptLog(self._db, SQLITE_ATTEMPTS)

    def receipts(self) -> ReceiptBook:
        """Alpine's receipts for delivered events, as kept by settle."""
        return ReceiptBook(self._db, SQLITE_RECEIPTS)

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap "anything new?" probe."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def wakeups(self) -> Wakeup | None:
        """The doorbell beside the file (None when another relay holds it, or no file)."""
        return Doorbell.listen(self._path) if self._path is not None else None

    def take_worker_slot(self, host: str | None = None) -> str:
        """Hold this host's first free relay slot for the file until `close`.

        A slot is an flock on `<db>.relay-N.lock`, released by the kernel when the process
        dies however it dies.
        """
        if self._path is None:
            raise RuntimeError("a worker slot needs the database's path")
        name = host or socket.gethostname()
        for slot in range(MAX_SLOTS):
            lock = self._path.with_name(f"{self._path.name}.relay-{slot}.lock")
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._slot = fd
            return f"{name}:relay-{slot}"
        raise RuntimeError(f"{MAX_SLOTS} relays already run on {self._path}")

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
        *,
        log_attempts: bool = True,
    ) -> Claim:
        """Lease up to `limit` due rows to `worker` under a new fencing token; with
        `log_attempts`, the window (token, worker, rows) recorded in the same transaction."""
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
        with self._db.transaction():
            rows = self._db.rows(CLAIM, params)
            if rows and log_attempts:
                window = {"worker": worker, "token": token, "now": to_text(now)}
                self._db.run(OPEN_WINDOW, window | {"ids": [r["id"] for r in rows]})
        ordered = sorted((OutboxRow.from_row(r) for r in rows), key=lambda r: r.id)
        return Claim(worker, token, tuple(ordered), expires)

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> frozenset[int]:
        """Extend the lease of the claim's rows it still holds; their ids."""
        expires = self._lease_clock().plus(lease_seconds)
        with self._db.transaction():
            held = self._db.rows(
                "UPDATE sync_outbox SET lease_expires = :expires, lease_epoch = :epoch,"
                f" claimed_until = :until WHERE {_HELD} RETURNING id",
                {
                    "expires": expires.seconds,
                    "epoch": expires.epoch,
                    "until": to_text(now + _seconds(lease_seconds)),
                    "token": claim.token,
                },
            )
        return frozenset(int(r["id"]) for r in held)

    def settle(self, claim: Claim, settlement: Settlement, now: datetime) -> int:
        """Write one window's fates (`argo.outbox.shared.settle`)."""
        return shared.settle(self._db, SQLITE, claim, settlement, now)

    def backlog(self, now: datetime) -> Backlog:
        """Pending, in flight, dead, parked and the oldest pending time."""
        lease_now = self._lease_clock()
        return shared.backlog(
            self._db, SQLITE, {"epoch": lease_now.epoch, "clock": lease_now.seconds}
        )

    def status(self, now: datetime) -> OutboxStatus:
        """The backlog plus delivered count, last success and last error (`relay status`)."""
        return shared.status(self._db, SQLITE, self.backlog(now), self.table_health())

    def table_health(self) -> TableHealth | None:
        """PostgreSQL's dead tuples and size; None here (SQLite reuses freed pages in place)."""
        return None


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
