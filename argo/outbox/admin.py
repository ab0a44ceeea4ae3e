"""Operator actions on the outbox: dead letters, pruning, and relay worker records."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argo.db.sqlite import write_transaction
from argo.outbox.events import EventType
from argo.timeutil import from_text, to_text

ALIVE_WITHIN = timedelta(seconds=30)
_DISCARD_PARKED = (
    "UPDATE sync_outbox SET dead_at = ?, discarded_at = ?,"
    " last_error = 'discarded with its signal''s creation event'"
    " WHERE signal_id = ? AND event_type <> 'signal.created'"
    " AND delivered_at IS NULL AND dead_at IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = sync_outbox.signal_id"
    " AND c.event_type = 'signal.created' AND c.dead_at IS NULL)"
)


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
    def from_row(cls, row: sqlite3.Row) -> DeadRow:
        return cls(
            id=row["id"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            signal_id=row["signal_id"],
            attempts=row["attempts"],
            dead_at=from_text(row["dead_at"]),
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
    def from_row(cls, row: sqlite3.Row) -> Worker:
        return cls(
            worker_id=row["worker_id"],
            started_at=from_text(row["started_at"]),
            heartbeat_at=from_text(row["heartbeat_at"]),
            state=WorkerState(row["state"]),
            detail=row["detail"],
            host=str(row["worker_id"]).rsplit(":", 1)[0] if ":" in row["worker_id"] else None,
        )

    def alive(self, now: datetime) -> bool:
        return self.state is not WorkerState.STOPPED and now - self.heartbeat_at < ALIVE_WITHIN


class OutboxAdmin:
    """Dead letters, pruning and worker records on an open Argo connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def dead_letters(self, limit: int | None = None) -> list[DeadRow]:
        sql = (
            "SELECT id, event_id, event_type, signal_id, attempts, dead_at, last_error"
            " FROM sync_outbox WHERE dead_at IS NOT NULL AND discarded_at IS NULL ORDER BY id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [DeadRow.from_row(r) for r in self._conn.execute(sql)]

    def retry_dead(self, event_ids: Sequence[str] | None, now: datetime) -> int:
        """Make dead letters due again with a fresh attempt count (all when `event_ids` is None)."""
        reset = (
            "UPDATE sync_outbox SET dead_at = NULL, attempts = 0, first_failed_at = NULL,"
            " next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL, claim_token = NULL,"
            " lease_expires = NULL, lease_epoch = NULL"
            " WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
        )
        with write_transaction(self._conn) as conn:
            if event_ids is None:
                return conn.execute(reset, (to_text(now),)).rowcount
            return sum(
                conn.execute(reset + " AND event_id = ?", (to_text(now), event_id)).rowcount
                for event_id in event_ids
            )

    def discard_dead(self, event_ids: Sequence[str], now: datetime) -> int:
        """Mark dead letters as given up (kept, never deleted); how many.

        Discarding a creation also discards its signal's pending outcomes: they wait for a
        creation that will now never be delivered.
        """
        stamp = to_text(now)
        with write_transaction(self._conn) as conn:
            count = 0
            for event_id in event_ids:
                row = conn.execute(
                    "UPDATE sync_outbox SET discarded_at = ? WHERE event_id = ?"
                    " AND dead_at IS NOT NULL AND discarded_at IS NULL"
                    " RETURNING signal_id, event_type",
                    (stamp, event_id),
                ).fetchone()
                if row is None:
                    continue
                count += 1
                if row["event_type"] == EventType.SIGNAL_CREATED:
                    conn.execute(_DISCARD_PARKED, (stamp, stamp, row["signal_id"]))
            return count

    def release_leases_of(self, worker_id: str) -> int:
        """Hand back every pending row leased to `worker_id` (its process is known dead)."""
        with write_transaction(self._conn) as conn:
            return conn.execute(
                "UPDATE sync_outbox SET claimed_by = NULL, claimed_until = NULL,"
                " claim_token = NULL, lease_expires = NULL, lease_epoch = NULL"
                " WHERE claimed_by = ? AND delivered_at IS NULL AND dead_at IS NULL",
                (worker_id,),
            ).rowcount

    def prune_delivered(
        self,
        older_than: datetime,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete delivered rows older than `older_than`, `batch_size` per transaction;
        `progress` gets each batch's count. How many in all."""
        total = 0
        while True:
            deleted = self._prune_batch(older_than, batch_size)
            total += deleted
            if progress is not None and deleted:
                progress(deleted)
            if deleted < batch_size:
                return total

    def prunable(self, older_than: datetime) -> int:
        """How many delivered rows are older than `older_than` (what a prune would delete)."""
        row = self._conn.execute(
            "SELECT count(*) FROM sync_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
            (to_text(older_than),),
        ).fetchone()
        return int(row[0])

    def _prune_batch(self, older_than: datetime, batch_size: int) -> int:
        """One short transaction deleting up to `batch_size` old delivered rows."""
        with write_transaction(self._conn) as conn:
            deleted: int = conn.execute(
                "DELETE FROM sync_outbox WHERE id IN (SELECT id FROM sync_outbox"
                " WHERE delivered_at IS NOT NULL AND delivered_at < ? LIMIT ?)",
                (to_text(older_than), batch_size),
            ).rowcount
        return deleted

    def record_worker(
        self, worker_id: str, state: WorkerState, now: datetime, detail: str | None = None
    ) -> None:
        """Insert or update this worker's row (state change or heartbeat)."""
        with write_transaction(self._conn) as conn:
            conn.execute(
                "DELETE FROM relay_workers WHERE heartbeat_at < ?",
                (to_text(now - timedelta(days=1)),),
            )
            conn.execute(
                "INSERT INTO relay_workers (worker_id, started_at, heartbeat_at, state, detail)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (worker_id) DO UPDATE SET"
                " heartbeat_at = excluded.heartbeat_at, state = excluded.state,"
                " detail = excluded.detail",
                (worker_id, to_text(now), to_text(now), state.value, detail),
            )

    def workers(self, now: datetime) -> list[Worker]:
        """Workers seen in the last day, newest first."""
        rows = self._conn.execute("SELECT * FROM relay_workers ORDER BY started_at DESC")
        return [Worker.from_row(r) for r in rows]
