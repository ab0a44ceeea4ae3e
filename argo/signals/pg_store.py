"""Argo's writer on PostgreSQL: each signal (or outcome) and its outbox row in ONE
transaction, as the SQLite store does (the same code: `argo.signals.writes`), plus a NOTIFY
that wakes the relays.

The NOTIFY is sent inside the transaction, so PostgreSQL delivers it only on commit (and
never for a rollback); it is a hint, the relays still poll.
"""

from __future__ import annotations

from typing import ClassVar

from argo.db.postgres import PgConnection, PgDb, connect, require_schema
from argo.signals.pg_queries import POSTGRES, POSTGRES_WRITES
from argo.signals.queries import Queries, WriteQueries
from argo.signals.writes import SignalWrites


class PgSignalStore(SignalWrites):
    """Signals and their outbox events in Argo's PostgreSQL database (an
    `argo.signals.port.SignalStore`, sibling of the SQLite store)."""

    _queries: ClassVar[Queries] = POSTGRES
    _writes: ClassVar[WriteQueries] = POSTGRES_WRITES

    def __init__(self, conn: PgConnection) -> None:
        self._pg = conn
        self._db = PgDb(conn)

    @classmethod
    def open_url(cls, url: str) -> PgSignalStore:
        """Argo's database at `url`; its schema must be current (`argo db upgrade`)."""
        conn = connect(url, application_name="argo")
        try:
            require_schema(conn, url)
        except BaseException:
            conn.close()
            raise
        return cls(conn)

    def __del__(self) -> None:
        # As sqlite3 does for a store dropped unclosed: close quietly, no ResourceWarning.
        pg = getattr(self, "_pg", None)
        if pg is not None and not pg.closed:
            pg.close()
