"""The relay's side of Argo's outbox on PostgreSQL: the same claim, renew and settle as
`argo.outbox.store` (same due rule, fencing token and fates), for relays on many hosts.

Differences that come from the engine, nothing else:

- A claim locks its rows with `FOR UPDATE SKIP LOCKED` inside its own statement, so two
  relays claiming at once get disjoint rows without waiting for each other.
- Leases run on the database server's clock (`now()`), the one clock every host shares.
- Ids (bigserial) become visible out of commit order. Rows carry their transaction id and
  are claimed in (txid, id) order, only below the drain horizon (`HORIZON`: the oldest
  transaction of this database still in progress for the claim's snapshot): every
  transaction that could still add an earlier row has ended, so "oldest first" and the
  per-signal order never skip a row that commits a moment later.
"""

from __future__ import annotations

import secrets
import socket
from datetime import datetime, timedelta
from typing import Any, NoReturn

from argo.db.postgres import PgConnection, connect, not_on_postgres, require_schema
from argo.outbox.events import EventType
from argo.outbox.lease import LeaseTime, steady_seconds
from argo.outbox.pg_admin import PgOutboxAdmin
from argo.outbox.store import (
    LONGEST_RETRY_WAIT,
    Backlog,
    Claim,
    OutboxRow,
    OutboxStatus,
    OutboxStore,
    Settlement,
    TableHealth,
)
from argo.process.crashpoints import crash_point
from argo.timeutil import from_text

_CREATED = EventType.SIGNAL_CREATED.value
_PENDING = "o.delivered_at IS NULL AND o.dead_at IS NULL"
_UNLEASED = "(o.claim_token IS NULL OR o.lease_expires <= now())"
# The drain horizon: pg_snapshot_xmin(pg_current_snapshot()), the oldest transaction in
# progress for this statement's snapshot, but ignoring transactions known to run in
# another database (they cannot write this outbox), so a long transaction elsewhere on the
# cluster does not hold every relay back. A transaction not found, or whose session this
# role may not see, counts: the horizon errs only towards waiting.
HORIZON = """(SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.backend_xid = x::xid
        AND a.datname IS DISTINCT FROM current_database()))"""
_HORIZON = f"o.txid < {HORIZON}"
_IN_ORDER = f"""(o.event_type = '{_CREATED}' OR (
    EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
            AND c.event_type = '{_CREATED}' AND c.delivered_at IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM sync_outbox AS e WHERE e.signal_id = o.signal_id
            AND (e.txid, e.id) < (o.txid, o.id)
            AND e.delivered_at IS NULL AND e.dead_at IS NULL)))"""
_TIME_HAS_COME = (
    "(o.attempts = 0 OR o.next_attempt_at <= %(now)s OR o.next_attempt_at > %(latest)s)"
)
DUE = f"{_PENDING} AND {_TIME_HAS_COME} AND {_HORIZON} AND {_UNLEASED} AND {_IN_ORDER}"
"""The due predicate over `sync_outbox AS o` (parameter %(now)s), as on SQLite."""

_RETURNING = "id, event_id, event_type, signal_id, payload, created_at, attempts, first_failed_at"
CLAIM = f"""
WITH due AS (
    SELECT o.id FROM sync_outbox AS o WHERE {DUE}
    ORDER BY o.txid, o.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
UPDATE sync_outbox AS s SET claimed_by = %(worker)s, claim_token = %(token)s,
    lease_expires = now() + make_interval(secs => %(lease)s),
    claimed_until = now() + make_interval(secs => %(lease)s)
FROM due WHERE s.id = due.id
RETURNING {", ".join(f"s.{c}" for c in _RETURNING.split(", "))}, s.lease_expires
"""
PARKED = f"""
SELECT count(*) AS n FROM sync_outbox AS o
WHERE {_PENDING} AND o.event_type <> '{_CREATED}'
  AND NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
      AND c.event_type = '{_CREATED}' AND c.dead_at IS NULL)
"""
BACKLOG = f"""
SELECT count(*) AS pending,
    count(*) FILTER (WHERE o.claim_token IS NOT NULL AND o.lease_expires > now()) AS in_flight,
    min(o.created_at) AS oldest
FROM sync_outbox AS o WHERE {_PENDING}
"""
_HELD = "claim_token = %(token)s AND delivered_at IS NULL AND dead_at IS NULL"
_NO_LEASE = "claimed_by = NULL, claimed_until = NULL, claim_token = NULL, lease_expires = NULL"
_FATES = {
    "charged": "attempts = %(attempts)s, next_attempt_at = %(next)s,"
    " first_failed_at = coalesce(first_failed_at, %(first)s), last_error = %(error)s",
    "dead": "dead_at = %(now)s, attempts = %(attempts)s, last_error = %(error)s",
    "released": "last_error = coalesce(%(error)s, last_error)",
}
# The latest error among pending rows, and among dead ones (each walks its partial index).
LAST_ERRORS = (
    f"SELECT o.id, o.last_error FROM sync_outbox AS o WHERE {_PENDING}"
    " AND o.last_error IS NOT NULL ORDER BY o.txid DESC, o.id DESC LIMIT 1",
    "SELECT id, last_error FROM sync_outbox WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
    " AND last_error IS NOT NULL ORDER BY dead_at DESC LIMIT 1",
)
TABLE_HEALTH = """
SELECT coalesce(n_live_tup, 0) AS live, coalesce(n_dead_tup, 0) AS dead,
    pg_total_relation_size('sync_outbox') AS bytes,
    greatest(last_autovacuum, last_vacuum) AS vacuumed
FROM pg_stat_user_tables WHERE relid = 'sync_outbox'::regclass
"""
VERSION_EVERY_SECONDS = 0.1
_SLOT_LOCKS = 0x52454C59  # "RELY": advisory lock namespace of relay worker slots


class PgOutboxStore(OutboxStore):
    """Claims and settles outbox rows in Argo's PostgreSQL database (never creates it)."""

    def __init__(self, conn: PgConnection) -> None:
        self._pg = conn
        self._version = 0
        self._version_read_at = float("-inf")

    @classmethod
    def open_url(cls, url: str) -> PgOutboxStore:
        """Argo's database at `url`; OutboxMissingError (exit 2) when its schema is not there."""
        conn = connect(url, application_name=f"argo-relay@{socket.gethostname()}")
        try:
            require_schema(conn, url)
        except BaseException:
            conn.close()
            raise
        return cls(conn)

    @property
    def connection(self) -> NoReturn:
        raise not_on_postgres("this command")

    @property
    def pg(self) -> PgConnection:
        return self._pg

    def close(self) -> None:
        self._pg.close()

    def admin(self) -> PgOutboxAdmin:
        return PgOutboxAdmin(self._pg)

    def data_version(self) -> int:
        """The newest visible row id: changes when a writer commits rows.

        Read at most every `VERSION_EVERY_SECONDS`: the relay polls this every 10 ms while
        idle, LISTEN/NOTIFY already wakes it at once, and N idle relays must not cost the
        server N x 100 queries a second. A missed NOTIFY costs at most this much more.
        """
        now = steady_seconds()
        if now - self._version_read_at >= VERSION_EVERY_SECONDS:
            row = self._pg.execute("SELECT coalesce(max(id), 0) AS v FROM sync_outbox").fetchone()
            self._version = int(row["v"]) if row else 0
            self._version_read_at = now
        return self._version

    def has_due(self, now: datetime, longest_wait: float = LONGEST_RETRY_WAIT) -> bool:
        sql = f"SELECT 1 FROM sync_outbox AS o WHERE {DUE} LIMIT 1"
        params = {"now": now, "latest": now + timedelta(seconds=longest_wait)}
        return self._pg.execute(sql, params).fetchone() is not None

    def take_slot(self, slot: int) -> bool:
        """Hold relay slot `slot` for this session (any host); the server frees it when the
        session ends, however the process died."""
        row = self._pg.execute(
            "SELECT pg_try_advisory_lock(%s, %s) AS got", (_SLOT_LOCKS, slot)
        ).fetchone()
        return bool(row and row["got"])

    def claim(
        self,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        longest_wait: float = LONGEST_RETRY_WAIT,
    ) -> Claim:
        """Lease up to `limit` due rows to `worker` under a new fencing token."""
        token = secrets.token_hex(8)
        latest = now + timedelta(seconds=longest_wait)
        params = {"now": now, "latest": latest, "worker": worker, "token": token}
        params["lease"] = lease_seconds
        rows = self._pg.execute(CLAIM, params | {"limit": limit}).fetchall()
        ordered = sorted((_outbox_row(r) for r in rows), key=lambda r: r.id)
        ends = max((r["lease_expires"] for r in rows), default=now)
        return Claim(worker, token, tuple(ordered), LeaseTime("server", ends.timestamp()))

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> frozenset[int]:
        held = self._pg.execute(
            "UPDATE sync_outbox SET lease_expires = now() + make_interval(secs => %(lease)s),"
            f" claimed_until = now() + make_interval(secs => %(lease)s) WHERE {_HELD}"
            " RETURNING id",
            {"lease": lease_seconds, "token": claim.token},
        ).fetchall()
        return frozenset(int(r["id"]) for r in held)

    def settle(self, claim: Claim, settlement: Settlement, now: datetime) -> int:
        """Write one window's fates in one transaction, as on SQLite: delivered whoever holds
        the row now; every other fate only while the row still carries the claim's token."""
        base = {"now": now, "token": claim.token}
        with self._pg.transaction():
            held = 0
            if settlement.delivered:
                self._pg.execute(
                    f"UPDATE sync_outbox SET delivered_at = %(now)s, dead_at = NULL, {_NO_LEASE}"
                    " WHERE id = ANY(%(ids)s) AND delivered_at IS NULL",
                    base | {"ids": list(settlement.delivered)},
                )
                held = len(settlement.delivered)
            for fate, values in _fate_values(settlement):
                cursor = self._pg.execute(
                    f"UPDATE sync_outbox SET {_FATES[fate]}, {_NO_LEASE}"
                    f" WHERE id = %(id)s AND {_HELD}",
                    base | values,
                )
                held += cursor.rowcount
            crash_point("in_settle")
        return held

    def backlog(self, now: datetime) -> Backlog:
        pending = self._pg.execute(BACKLOG).fetchone() or {}
        dead = self._pg.execute(
            "SELECT count(*) AS n FROM sync_outbox WHERE dead_at IS NOT NULL"
            " AND discarded_at IS NULL"
        ).fetchone()
        parked = self._pg.execute(PARKED).fetchone()
        return Backlog(
            pending=int(pending.get("pending") or 0),
            in_flight=int(pending.get("in_flight") or 0),
            dead=int(dead["n"]) if dead else 0,
            parked=int(parked["n"]) if parked else 0,
            oldest_pending_created_at=pending.get("oldest"),
        )

    def status(self, now: datetime) -> OutboxStatus:
        delivered = self._pg.execute(
            "SELECT count(*) AS n, max(delivered_at) AS last FROM sync_outbox"
            " WHERE delivered_at IS NOT NULL"
        ).fetchone() or {"n": 0, "last": None}
        errors = [self._pg.execute(sql).fetchone() for sql in LAST_ERRORS]
        error = max((e for e in errors if e is not None), key=lambda e: e["id"], default=None)
        fresh = self._pg.execute(
            "SELECT o.delivered_at, s.timestamp FROM sync_outbox AS o"
            " JOIN signals AS s ON s.signal_id = o.signal_id WHERE o.delivered_at IS NOT NULL"
            f" AND o.event_type = '{_CREATED}' ORDER BY o.delivered_at DESC LIMIT 1"
        ).fetchone()
        return OutboxStatus(
            backlog=self.backlog(now),
            delivered=int(delivered["n"]),
            last_delivered_at=delivered["last"],
            last_error=error["last_error"] if error else None,
            last_freshness_seconds=_freshness(fresh),
            table=self.table_health(),
        )

    def table_health(self) -> TableHealth | None:
        row = self._pg.execute(TABLE_HEALTH).fetchone()
        if row is None:
            return None
        return TableHealth(int(row["live"]), int(row["dead"]), int(row["bytes"]), row["vacuumed"])


def _fate_values(settlement: Settlement) -> list[tuple[str, dict[str, Any]]]:
    values: list[tuple[str, dict[str, Any]]] = []
    for c in settlement.charged:
        values.append(
            (
                "charged",
                {
                    "id": c.row_id,
                    "attempts": c.attempts,
                    "next": c.next_attempt_at,
                    "first": c.first_failed_at,
                    "error": c.error,
                },
            )
        )
    values.extend(
        ("dead", {"id": d.row_id, "attempts": d.attempts, "error": d.error})
        for d in settlement.dead
    )
    values.extend(("released", {"id": r.row_id, "error": r.error}) for r in settlement.released)
    return values


def _outbox_row(row: dict[str, Any]) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        signal_id=row["signal_id"],
        payload=row["payload"],
        created_at=row["created_at"],
        attempts=row["attempts"],
        first_failed_at=row["first_failed_at"],
    )


def _freshness(row: dict[str, Any] | None) -> float | None:
    if row is None:
        return None
    delivered: datetime = row["delivered_at"]
    try:
        return (delivered - from_text(row["timestamp"])).total_seconds()
    except ValueError:
        return None
