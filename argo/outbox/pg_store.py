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

from argo.db.postgres import PgConnection, PgDb, PgDoorbell, connect, require_schema
from argo.outbox import shared
from argo.outbox.admin import PRUNE_KEEPS, SQLITE_ADMIN, AdminQueries, SqlOutboxAdmin
from argo.outbox.attempts import POSTGRES_ATTEMPTS, AttemptLog
from argo.outbox.doorbell import Wakeup
from argo.outbox.events import EventType
from argo.outbox.lease import LeaseTime, steady_seconds
from argo.outbox.receipts import POSTGRES_RECEIPTS, ReceiptBook
from argo.outbox.shared import LONGEST_RETRY_WAIT, OutboxQueries
from argo.outbox.values import (
    Backlog,
    Claim,
    OutboxRow,
    OutboxStatus,
    Settlement,
    TableHealth,
)

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
    (EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
            AND c.event_type = '{_CREATED}' AND c.delivered_at IS NOT NULL)
     OR NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
            AND c.event_type = '{_CREATED}' AND c.delivered_at IS NULL))
    AND NOT EXISTS (SELECT 1 FROM sync_outbox AS e WHERE e.signal_id = o.signal_id
            AND (e.txid, e.id) < (o.txid, o.id)
            AND e.delivered_at IS NULL AND e.dead_at IS NULL)))"""
_TIME_HAS_COME = (
    "(o.attempts = 0 OR o.next_attempt_at <= %(now)s OR o.next_attempt_at > %(latest)s)"
)
DUE = f"{_PENDING} AND {_TIME_HAS_COME} AND {_HORIZON} AND {_UNLEASED} AND {_IN_ORDER}"
"""The due predicate over `sync_outbox AS o` (parameter %(now)s), as on SQLite."""

_RETURNING = (
    "id, event_id, event_type, signal_id, payload, created_at, attempts, first_failed_at,"
    " traceparent"
)
_LEASE = f"""
due AS (
    SELECT o.id FROM sync_outbox AS o WHERE {DUE}
    ORDER BY o.txid, o.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE sync_outbox AS s SET claimed_by = %(worker)s, claim_token = %(token)s,
        lease_expires = now() + make_interval(secs => %(lease)s),
        claimed_until = now() + make_interval(secs => %(lease)s)
    FROM due WHERE s.id = due.id
    RETURNING {", ".join(f"s.{c}" for c in _RETURNING.split(", "))}, s.lease_expires
)"""
# The count reads the snapshot from before this statement: earlier attempts only.
_CLAIMED = """SELECT c.*, (SELECT count(*) FROM outbox_attempts AS a WHERE a.outbox_id = c.id)
    AS tried FROM claimed AS c"""
CLAIM = f"""WITH {_LEASE},
opened AS (
    INSERT INTO outbox_windows (window_token, relay, claimed_at, row_ids)
    SELECT %(token)s, %(worker)s, now(), array_agg(id) FROM claimed HAVING count(*) > 0
)
{_CLAIMED}
"""
CLAIM_UNLOGGED = f"WITH {_LEASE}\n{_CLAIMED}\n"
PARKED = f"""
SELECT count(*) AS n FROM sync_outbox AS o
WHERE {_PENDING} AND o.event_type <> '{_CREATED}'
  AND NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
      AND c.event_type = '{_CREATED}' AND c.dead_at IS NULL)
  AND EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = o.signal_id
      AND c.event_type = '{_CREATED}')
"""
BACKLOG = f"""
SELECT count(*) AS pending,
    count(*) FILTER (WHERE o.claim_token IS NOT NULL AND o.lease_expires > now()) AS in_flight,
    min(o.created_at) AS oldest
FROM sync_outbox AS o WHERE {_PENDING}
"""
_HELD = "claim_token = %(token)s AND delivered_at IS NULL AND dead_at IS NULL"
_NO_LEASE = "claimed_by = NULL, claimed_until = NULL, claim_token = NULL, lease_expires = NULL"
# The latest error among pending rows, and among dead ones (each walks its partial index).
LAST_ERRORS = (
    f"SELECT o.id, o.event_id, o.last_error FROM sync_outbox AS o WHERE {_PENDING}"
    " AND o.last_error IS NOT NULL ORDER BY o.txid DESC, o.id DESC LIMIT 1",
    "SELECT id, event_id, last_error FROM sync_outbox"
    " WHERE dead_at IS NOT NULL AND discarded_at IS NULL AND last_error IS NOT NULL"
    " ORDER BY dead_at DESC LIMIT 1",
)
TABLE_HEALTH = """
SELECT coalesce(n_live_tup, 0) AS live, coalesce(n_dead_tup, 0) AS dead,
    pg_total_relation_size('sync_outbox') AS bytes,
    greatest(last_autovacuum, last_vacuum) AS vacuumed
FROM pg_stat_user_tables WHERE relid = 'sync_outbox'::regclass
"""
POSTGRES = OutboxQueries(
    settle_delivered=(
        f"UPDATE sync_outbox SET delivered_at = %(now)s, dead_at = NULL, {_NO_LEASE}"
        " WHERE id = ANY(%(ids)s) AND delivered_at IS NULL"
    ),
    settle_charged=(
        "UPDATE sync_outbox SET attempts = %(attempts)s, next_attempt_at = %(next)s,"
        " first_failed_at = coalesce(first_failed_at, %(first)s), last_error = %(error)s,"
        f" {_NO_LEASE} WHERE id = %(id)s AND {_HELD}"
    ),
    settle_dead=(
        "UPDATE sync_outbox SET dead_at = %(now)s, attempts = %(attempts)s,"
        f" last_error = %(error)s, {_NO_LEASE} WHERE id = %(id)s AND {_HELD}"
    ),
    settle_released=(
        f"UPDATE sync_outbox SET last_error = coalesce(%(error)s, last_error), {_NO_LEASE}"
        f" WHERE id = %(id)s AND {_HELD}"
    ),
    keep_receipts=(
        "INSERT INTO outbox_receipts"
        " (event_id, signal_id, event_type, receipt, verified, received_at)"
        " SELECT o.event_id, o.signal_id, o.event_type, r.receipt, r.verified, %(now)s"
        " FROM unnest(%(ids)s::bigint[], %(texts)s::text[], %(verified)s::boolean[])"
        " AS r (id, receipt, verified) JOIN sync_outbox AS o ON o.id = r.id"
        " ON CONFLICT (event_id) DO NOTHING"
    ),
    close_window="DELETE FROM outbox_windows WHERE window_token = %(token)s",
    log_posts="INSERT INTO outbox_posts VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
    log_attempts="INSERT INTO outbox_attempts VALUES (%s, %s, %s, %s, %s)",
    backlog=BACKLOG,
    dead_count=(
        "SELECT count(*) AS n FROM sync_outbox WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
    ),
    parked=PARKED,
    delivered=(
        "SELECT count(*) AS n, max(delivered_at) AS last FROM sync_outbox"
        " WHERE delivered_at IS NOT NULL"
    ),
    last_errors=LAST_ERRORS,
    last_delivered_signal=(
        "SELECT o.delivered_at, s.timestamp FROM sync_outbox AS o"
        " JOIN signals AS s ON s.signal_id = o.signal_id WHERE o.delivered_at IS NOT NULL"
        f" AND o.event_type = '{_CREATED}' ORDER BY o.delivered_at DESC LIMIT 1"
    ),
)
_RESET = (
    "UPDATE sync_outbox SET dead_at = NULL, attempts = 0, first_failed_at = NULL,"
    f" next_attempt_at = %(now)s, {_NO_LEASE}"
    " WHERE dead_at IS NOT NULL AND discarded_at IS NULL"
)
POSTGRES_ADMIN = AdminQueries(
    dead_letters=SQLITE_ADMIN.dead_letters,
    retry_all=_RESET,
    retry_ids=_RESET + " AND event_id = ANY(%(ids)s)",
    discard=(
        "UPDATE sync_outbox SET discarded_at = %(now)s WHERE event_id = %(id)s"
        " AND dead_at IS NOT NULL AND discarded_at IS NULL"
        " RETURNING signal_id, event_type"
    ),
    discard_parked=(
        "UPDATE sync_outbox SET dead_at = %(now)s, discarded_at = %(now)s,"
        " last_error = 'discarded with its signal''s creation event'"
        " WHERE signal_id = %(signal)s AND event_type <> 'signal.created'"
        " AND delivered_at IS NULL AND dead_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM sync_outbox AS c WHERE c.signal_id = sync_outbox.signal_id"
        " AND c.event_type = 'signal.created' AND c.dead_at IS NULL)"
    ),
    release_leases=(
        f"UPDATE sync_outbox SET {_NO_LEASE} WHERE claimed_by = %(worker)s"
        " AND delivered_at IS NULL AND dead_at IS NULL"
    ),
    prunable=(
        "SELECT count(*) AS n FROM sync_outbox AS p"
        f" WHERE p.delivered_at IS NOT NULL AND p.delivered_at < %(older)s AND {PRUNE_KEEPS}"
    ),
    prune_batch=(
        "DELETE FROM sync_outbox WHERE id IN (SELECT p.id FROM sync_outbox AS p"
        " WHERE p.delivered_at IS NOT NULL AND p.delivered_at < %(older)s"
        f" AND {PRUNE_KEEPS} LIMIT %(limit)s)"
    ),
    forget_workers="DELETE FROM relay_workers WHERE heartbeat_at < %(before)s",
    forget_windows="DELETE FROM outbox_windows WHERE claimed_at < %(older)s",
    forget_posts=(
        "DELETE FROM outbox_posts WHERE started_at < %(older)s"
        " AND (window_token, n) NOT IN (SELECT window_token, post_n FROM outbox_attempts)"
    ),
    record_worker=(
        "INSERT INTO relay_workers"
        " (worker_id, host, pid, started_at, heartbeat_at, state, detail)"
        " VALUES (%(id)s, %(host)s, %(pid)s, %(now)s, %(now)s, %(state)s, %(detail)s)"
        " ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,"
        " state = excluded.state, detail = excluded.detail, host = excluded.host,"
        " pid = excluded.pid, started_at = CASE WHEN relay_workers.pid = excluded.pid"
        " THEN relay_workers.started_at ELSE excluded.started_at END"
    ),
    workers=SQLITE_ADMIN.workers,
)
VERSION_EVERY_SECONDS = 0.1
_SLOT_LOCKS = 0x52454C59  # "RELY": advisory lock namespace of relay worker slots
MAX_SLOTS = 64


class PgOutboxStore:
    """Claims and settles outbox rows in Argo's PostgreSQL database (never creates it); an
    `argo.outbox.port.OutboxStore`, sibling of the SQLite store."""

    def __init__(self, conn: PgConnection, url: str | None = None) -> None:
        self._pg = conn
        self._db = PgDb(conn)
        self._url = url
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
        return cls(conn, url)

    def close(self) -> None:
        self._pg.close()

    def admin(self) -> SqlOutboxAdmin:
        return SqlOutboxAdmin(self._db, POSTGRES_ADMIN)

    def attempts(self) -> AttemptLog:
        """Every POST of every outbox row, as claim and settle logged them."""
        return AttemptLog(self._db, POSTGRES_ATTEMPTS)

    def receipts(self) -> ReceiptBook:
        """Alpine's receipts for delivered events, as kept by settle."""
        return ReceiptBook(self._db, POSTGRES_RECEIPTS)

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

    def wakeups(self) -> Wakeup | None:
        """LISTEN on Argo's channel, on a connection of its own."""
        return PgDoorbell.listen(self._url) if self._url is not None else None

    def has_due(self, now: datetime, longest_wait: float = LONGEST_RETRY_WAIT) -> bool:
        sql = f"SELECT 1 FROM sync_outbox AS o WHERE {DUE} LIMIT 1"
        params = {"now": now, "latest": now + timedelta(seconds=longest_wait)}
        return self._pg.execute(sql, params).fetchone() is not None

    def take_worker_slot(self, host: str | None = None) -> str:
        """Hold the database's first free relay slot; the worker id, `host:relay-N`.

        On PostgreSQL relays run on many hosts, so a slot is a session advisory lock on
        this store's own connection, held until that session ends (the server ends it when
        the process dies, however it dies). Slot numbers are shared by all hosts; a relay
        takes back at once only the leases of its own id (`host:relay-N`, a dead
        predecessor on the same host); a dead relay's rows on another host come back when
        their lease expires.
        """
        name = host or socket.gethostname()
        for slot in range(MAX_SLOTS):
            row = self._pg.execute(
                "SELECT pg_try_advisory_lock(%s, %s) AS got", (_SLOT_LOCKS, slot)
            ).fetchone()
            if row and row["got"]:
                return f"{name}:relay-{slot}"
        raise RuntimeError(f"{MAX_SLOTS} relays already run on this PostgreSQL outbox")

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
        `log_attempts`, the window (token, worker, rows) recorded in the same statement."""
        token = secrets.token_hex(8)
        latest = now + timedelta(seconds=longest_wait)
        params = {"now": now, "latest": latest, "worker": worker, "token": token}
        params["lease"] = lease_seconds
        rows = self._db.rows(CLAIM if log_attempts else CLAIM_UNLOGGED, params | {"limit": limit})
        ordered = sorted((OutboxRow.from_row(r) for r in rows), key=lambda r: r.id)
        ends = max((r["lease_expires"] for r in rows), default=now)
        return Claim(worker, token, tuple(ordered), LeaseTime("server", ends.timestamp()))

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> frozenset[int]:
        held = self._db.rows(
            "UPDATE sync_outbox SET lease_expires = now() + make_interval(secs => %(lease)s),"
            f" claimed_until = now() + make_interval(secs => %(lease)s) WHERE {_HELD}"
            " RETURNING id",
            {"lease": lease_seconds, "token": claim.token},
        )
        return frozenset(int(r["id"]) for r in held)

    def settle(self, claim: Claim, settlement: Settlement, now: datetime) -> int:
        """Write one window's fates (`argo.outbox.shared.settle`), as on SQLite."""
        return shared.settle(self._db, POSTGRES, claim, settlement, now)

    def backlog(self, now: datetime) -> Backlog:
        return shared.backlog(self._db, POSTGRES, {})

    def status(self, now: datetime) -> OutboxStatus:
        return shared.status(self._db, POSTGRES, self.backlog(now), self.table_health())

    def table_health(self) -> TableHealth | None:
        row = self._pg.execute(TABLE_HEALTH).fetchone()
        if row is None:
            return None
        return TableHealth(int(row["live"]), int(row["dead"]), int(row["bytes"]), row["vacuumed"])
