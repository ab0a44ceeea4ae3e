"""Operator actions on the PostgreSQL outbox: dead letters, pruning, relay worker records.

The same operations as `argo.outbox.admin` on SQLite, each one short transaction.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from argo.db.postgres import PgConnection
from argo.outbox.admin import DeadRow, OutboxAdmin, Worker, WorkerState

_NO_LEASE = "claimed_by = NULL, claimed_until = NULL, claim_token = NULL, lease_expires = NULL"
_DISCARD_PARKED = (
    "UPDATE sync_outbox SET dead_at = %(now)s, discarded_at = %(now)s,"
    " last_error = 'discarded with its signal''s creation event'"
    " WHERE signal_id = %(signal)s AND event_type <> 'signal.created'"
    " AND delivered_at IS NULL AND dead_at IS NULL"
    " AND NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = sync_outbox.signal_id"
    " AND c.event_type = 'signal.created' AND c.dead_at IS NULL)"
)
_RESET = (
    "UPDATE sync_outbox SET dead_at = NULL, attempts = 0, first_failed_at = NULL,"
    f" next_attempt_at = %(now)s, {_NO_LEASE}"
    " WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
)


class PgOutboxAdmin(OutboxAdmin):
    """Dead letters, pruning and worker records on an open PostgreSQL connection."""

    def __init__(self, conn: PgConnection) -> None:
        self._pg = conn

    def dead_letters(self, limit: int | None = None) -> list[DeadRow]:
        sql = (
            "SELECT id, event_id, event_type, signal_id, attempts, dead_at, last_error"
            " FROM sync_outbox WHERE dead_at IS NOT NULL AND discarded_at IS NULL ORDER BY id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_dead_row(r) for r in self._pg.execute(sql)]

    def retry_dead(self, event_ids: Sequence[str] | None, now: datetime) -> int:
        with self._pg.transaction():
            if event_ids is None:
                return self._pg.execute(_RESET, {"now": now}).rowcount
            return self._pg.execute(
                _RESET + " AND event_id = ANY(%(ids)s)", {"now": now, "ids": list(event_ids)}
            ).rowcount

    def discard_dead(self, event_ids: Sequence[str], now: datetime) -> int:
        count = 0
        with self._pg.transaction():
            for event_id in event_ids:
                row = self._pg.execute(
                    "UPDATE sync_outbox SET discarded_at = %(now)s WHERE event_id = %(id)s"
                    " AND dead_at IS NOT NULL AND discarded_at IS NULL"
                    " RETURNING signal_id, event_type",
                    {"now": now, "id": event_id},
                ).fetchone()
                if row is None:
                    continue
                count += 1
                if row["event_type"] == "signal.created":
                    self._pg.execute(_DISCARD_PARKED, {"now": now, "signal": row["signal_id"]})
        return count

    def release_leases_of(self, worker_id: str) -> int:
        """Hand back every pending row leased to `worker_id` (its slot was free, so its
        session, and with it the process or its link to the database, is gone)."""
        return self._pg.execute(
            f"UPDATE sync_outbox SET {_NO_LEASE} WHERE claimed_by = %s"
            " AND delivered_at IS NULL AND dead_at IS NULL",
            (worker_id,),
        ).rowcount

    def prunable(self, older_than: datetime) -> int:
        row = self._pg.execute(
            "SELECT count(*) AS n FROM sync_outbox"
            " WHERE delivered_at IS NOT NULL AND delivered_at < %s",
            (older_than,),
        ).fetchone()
        return int(row["n"]) if row else 0

    def _prune_batch(self, older_than: datetime, batch_size: int) -> int:
        """One autocommitted DELETE (its dead tuples are autovacuum's to reclaim; see
        docs/operations.md)."""
        return self._pg.execute(
            "DELETE FROM sync_outbox WHERE id IN (SELECT id FROM sync_outbox"
            " WHERE delivered_at IS NOT NULL AND delivered_at < %s LIMIT %s)",
            (older_than, batch_size),
        ).rowcount

    def record_worker(
        self, worker_id: str, state: WorkerState, now: datetime, detail: str | None = None
    ) -> None:
        with self._pg.transaction():
            self._pg.execute(
                "DELETE FROM relay_workers WHERE heartbeat_at < %s", (now - timedelta(days=1),)
            )
            self._pg.execute(
                "INSERT INTO relay_workers"
                " (worker_id, host, pid, started_at, heartbeat_at, state, detail)"
                " VALUES (%(id)s, %(host)s, %(pid)s, %(now)s, %(now)s, %(state)s, %(detail)s)"
                " ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,"
                " state = excluded.state, detail = excluded.detail, host = excluded.host,"
                " pid = excluded.pid, started_at = CASE WHEN relay_workers.pid = excluded.pid"
                " THEN relay_workers.started_at ELSE excluded.started_at END",
                {
                    "id": worker_id,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "now": now,
                    "state": state.value,
                    "detail": detail,
                },
            )

    def workers(self, now: datetime) -> list[Worker]:
        rows = self._pg.execute("SELECT * FROM relay_workers ORDER BY started_at DESC")
        return [_worker(r) for r in rows]


def _dead_row(row: dict[str, Any]) -> DeadRow:
    return DeadRow(
        id=row["id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        signal_id=row["signal_id"],
        attempts=row["attempts"],
        dead_at=row["dead_at"],
        last_error=row["last_error"] or "",
    )


def _worker(row: dict[str, Any]) -> Worker:
    return Worker(
        worker_id=row["worker_id"],
        started_at=row["started_at"],
        heartbeat_at=row["heartbeat_at"],
        state=WorkerState(row["state"]),
        detail=row["detail"],
        host=row["host"],
        pid=row["pid"],
    )
