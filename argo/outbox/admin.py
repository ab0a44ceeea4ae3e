"""Operator actions on the outbox: dead letters, pruning, and relay worker records.

One implementation (`SqlOutboxAdmin`) over the connection seam and each dialect's query text
(`AdminQueries`: `SQLITE_ADMIN` here, `argo.outbox.pg_store.POSTGRES_ADMIN`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argo.db.seam import Db, as_time
from argo.outbox.events import EventType

ALIVE_WITHIN = timedelta(seconds=30)


class WorkerState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class DeadRow:
    id: int
    event_id: str
    event_type: str
    signal_id: str
    attempts: int
    dead_at: datetime
    last_error: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DeadRow:
        return cls(
            id=row["id"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            signal_id=row["signal_id"],
            attempts=row["attempts"],
            dead_at=as_time(row["dead_at"]),
            last_error=row["last_error"] or "",
        )


@dataclass(frozen=True, slots=True)
class Worker:
    worker_id: str
    started_at: datetime
    heartbeat_at: datetime
    state: WorkerState
    detail: str | None
    host: str | None = None  # PostgreSQL records host and pid; on SQLite the id names the host
    pid: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Worker:
        """From `relay_workers`: PostgreSQL keeps host and pid, SQLite names the host in the id."""
        worker_id = str(row["worker_id"])
        return cls(
            worker_id=worker_id,
            started_at=as_time(row["started_at"]),
            heartbeat_at=as_time(row["heartbeat_at"]),
            state=WorkerState(row["state"]),
            detail=row["detail"],
            host=row["host"] if "host" in row else _host_of(worker_id),
            pid=row.get("pid"),
        )

    def alive(self, now: datetime) -> bool:
        return self.state is not WorkerState.STOPPED and now - self.heartbeat_at < ALIVE_WITHIN


def _host_of(worker_id: str) -> str | None:
    return worker_id.rsplit(":", 1)[0] if ":" in worker_id else None


@dataclass(frozen=True, slots=True)
class AdminQueries:
    """One dialect's text of the admin's operations (named parameters, columns by name)."""

    dead_letters: str
    retry_all: str  # :now
    retry_ids: str  # :now :ids
    discard: str  # :now :id → signal_id, event_type
    discard_parked: str  # :now :signal
    release_leases: str  # :worker
    prunable: str  # :older → n
    prune_batch: str  # :older :limit
    forget_workers: str  # :before
    forget_windows: str  # :older → windows claimed before it and never settled
    forget_posts: str  # :older → POSTs before it that no attempt refers to any more
    record_worker: str  # :id :host :pid :now :state :detail
    workers: str


# Prune never deletes a delivered creation while its signal has an undelivered one (a
# dead creation and its delivered replay): that delivered row is what lets the signal's
# later events go. Once every creation of a signal is delivered, all may go: the due rule
# reads "no undelivered creation" as delivered. Over `sync_outbox AS p`.
PRUNE_KEEPS = f"""NOT (p.event_type = '{EventType.SIGNAL_CREATED}' AND EXISTS (
    SELECT 1 FROM sync_outbox AS u WHERE u.signal_id = p.signal_id
    AND u.event_type = '{EventType.SIGNAL_CREATED}' AND u.delivered_at IS NULL))"""

SQLITE_ADMIN = AdminQueries(
    dead_letters=(
        "SELECT id, event_id, event_type, signal_id, attempts, dead_at, last_error"
        " FROM sync_outbox WHERE dead_at IS NOT NULL AND discarded_at IS NULL ORDER BY id"
    ),
    retry_all=(
        "UPDATE sync_outbox SET dead_at = NULL, attempts = 0, first_failed_at = NULL,"
        " next_attempt_at = :now, claimed_by = NULL, claimed_until = NULL, claim_token = NULL,"
        " lease_expires = NULL, lease_epoch = NULL"
        " WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
    ),
    retry_ids=(
        "UPDATE sync_outbox SET dead_at = NULL, attempts = 0, first_failed_at = NULL,"
        " next_attempt_at = :now, claimed_by = NULL, claimed_until = NULL, claim_token = NULL,"
        " lease_expires = NULL, lease_epoch = NULL"
        " WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
        " AND event_id IN (SELECT value FROM json_each(:ids))"
    ),
    discard=(
        "UPDATE sync_outbox SET discarded_at = :now WHERE event_id = :id"
        " AND dead_at IS NOT NULL AND discarded_at IS NULL"
        " RETURNING signal_id, event_type"
    ),
    discard_parked=(
        "UPDATE sync_outbox SET dead_at = :now, discarded_at = :now,"
        " last_error = 'discarded with its signal''s creation event'"
        " WHERE signal_id = :signal AND event_type <> 'signal.created'"
        " AND delivered_at IS NULL AND dead_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = sync_outbox.signal_id"
        " AND c.event_type = 'signal.created' AND c.dead_at IS NULL)"
    ),
    release_leases=(
        "UPDATE sync_outbox SET claimed_by = NULL, claimed_until = NULL,"
        " claim_token = NULL, lease_expires = NULL, lease_epoch = NULL"
        " WHERE claimed_by = :worker AND delivered_at IS NULL AND dead_at IS NULL"
    ),
    prunable=(
        "SELECT count(*) AS n FROM sync_outbox AS p"
        f" WHERE p.delivered_at IS NOT NULL AND p.delivered_at < :older AND {PRUNE_KEEPS}"
    ),
    prune_batch=(
        "DELETE FROM sync_outbox WHERE id IN (SELECT p.id FROM sync_outbox AS p"
        f" WHERE p.delivered_at IS NOT NULL AND p.delivered_at < :older AND {PRUNE_KEEPS}"
        " LIMIT :limit)"
    ),
    forget_workers="DELETE FROM relay_workers WHERE heartbeat_at < :before",
    forget_windows="DELETE FROM outbox_windows WHERE claimed_at < :older",
    forget_posts=(
        "DELETE FROM outbox_posts WHERE started_at < :older"
        " AND (window_token, n) NOT IN (SELECT window_token, post_n FROM outbox_attempts)"
    ),
    record_worker=(
        "INSERT INTO relay_workers (worker_id, started_at, heartbeat_at, state, detail)"
        " VALUES (:id, :now, :now, :state, :detail) ON CONFLICT (worker_id) DO UPDATE SET"
        " heartbeat_at = excluded.heartbeat_at, state = excluded.state,"
        " detail = excluded.detail"
    ),
    workers="SELECT * FROM relay_workers ORDER BY started_at DESC",
)


class SqlOutboxAdmin:
    """Dead letters, pruning and worker records on an open connection of either dialect
    (`argo.outbox.port.OutboxAdmin`); each operation is one short transaction."""

    def __init__(self, db: Db, queries: AdminQueries) -> None:
        self._db = db
        self._q = queries

    def dead_letters(self, limit: int | None = None) -> list[DeadRow]:
        sql = self._q.dead_letters
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [DeadRow.from_row(r) for r in self._db.rows(sql)]

    def retry_dead(self, event_ids: Sequence[str] | None, now: datetime) -> int:
        """Make dead letters due again with a fresh attempt count (all when `event_ids` is None)."""
        stamp = self._db.time(now)
        with self._db.transaction():
            if event_ids is None:
                return self._db.run(self._q.retry_all, {"now": stamp})
            return self._db.run(self._q.retry_ids, {"now": stamp, "ids": list(event_ids)})

    def discard_dead(self, event_ids: Sequence[str], now: datetime) -> int:
        """Mark dead letters as given up (kept, never deleted); how many.

        Discarding a creation also discards its signal's pending outcomes: they wait for a
        creation that will now never be delivered.
        """
        stamp = self._db.time(now)
        count = 0
        with self._db.transaction():
            for event_id in event_ids:
                row = self._db.one(self._q.discard, {"now": stamp, "id": event_id})
                if row is None:
                    continue
                count += 1
                if row["event_type"] == EventType.SIGNAL_CREATED:
                    self._db.run(self._q.discard_parked, {"now": stamp, "signal": row["signal_id"]})
        return count

    def release_leases_of(self, worker_id: str) -> int:
        """Hand back every pending row leased to `worker_id` (its process is known dead:
        its slot was free)."""
        with self._db.transaction():
            return self._db.run(self._q.release_leases, {"worker": worker_id})

    def prune_delivered(
        self,
        older_than: datetime,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete delivered rows older than `older_than`, `batch_size` per short transaction
        (on PostgreSQL their dead tuples are autovacuum's to reclaim; docs/operations.md);
        `progress` gets each batch's count. How many in all."""
        total = 0
        while True:
            with self._db.transaction():
                deleted = self._db.run(
                    self._q.prune_batch,
                    {"older": self._db.time(older_than), "limit": batch_size},
                )
            total += deleted
            if progress is not None and deleted:
                progress(deleted)
            if deleted < batch_size:
                break
        # Windows of relays killed that long ago: their unknown POSTs go like the rows.
        with self._db.transaction():
            self._db.run(self._q.forget_windows, {"older": self._db.time(older_than)})
            self._db.run(self._q.forget_posts, {"older": self._db.time(older_than)})
        return total

    def prunable(self, older_than: datetime) -> int:
        """How many delivered rows are older than `older_than` (what a prune would delete)."""
        row = self._db.one(self._q.prunable, {"older": self._db.time(older_than)})
        return int(row["n"]) if row else 0

    def record_worker(
        self, worker_id: str, state: WorkerState, now: datetime, detail: str | None = None
    ) -> None:
        """Insert or update this worker's row (state change or heartbeat)."""
        with self._db.transaction():
            self._db.run(self._q.forget_workers, {"before": self._db.time(now - timedelta(days=1))})
            self._db.run(
                self._q.record_worker,
                {
                    "id": worker_id,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "now": self._db.time(now),
                    "state": state.value,
                    "detail": detail,
                },
            )

    def workers(self, now: datetime) -> list[Worker]:
        """Workers seen in the last day, newest first."""
        return [Worker.from_row(r) for r in self._db.rows(self._q.workers)]
