"""Argo's seam to its database: signals and their outbox rows, written together.

Every signal commits in ONE transaction with its `signal.created` outbox row, so
a crash at any point leaves both or neither. This is the SQLite store; its sibling on
PostgreSQL is `argo.signals.pg_store.PgSignalStore`, and what both do is written once in
`argo.signals.writes` (writes) and `argo.signals.reads` (reports). `argo.signals.open_signals`
picks one from ARGO_DB.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from argo.db.schema import ensure_schema
from argo.db.sqlite import SqliteDb, connect
from argo.outbox.doorbell import Bell
from argo.outbox.events import OutboxEvent
from argo.signals.queries import SQLITE, SQLITE_WRITES, Queries, WriteQueries
from argo.signals.writes import SignalWrites, _insert_event


class SqliteSignalStore(SignalWrites):
    """Signals and their outbox events in Argo's SQLite file (a `SignalStore`)."""

    _queries: ClassVar[Queries] = SQLITE
    _writes: ClassVar[WriteQueries] = SQLITE_WRITES

    def __init__(self, conn: sqlite3.Connection, bell: Bell | None = None) -> None:
        self._conn = conn
        self._db = SqliteDb(conn)
        self._bell = bell

    @classmethod
    def open_file(cls, path: Path, *, synchronous: str = "FULL") -> SqliteSignalStore:
        """Open (creating if needed) the database at `path` with the schema applied."""
        conn = connect(path, synchronous=synchronous)
        ensure_schema(conn)
        return cls(conn, Bell(path))

    @classmethod
    def open_file_readonly(cls, path: Path) -> SqliteSignalStore:
        """Read an existing database without changing it (reports)."""
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        return cls(conn)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def ring(self) -> None:
        """Tell a listening relay that new events are committed (best effort)."""
        if self._bell is not None:
            self._bell.ring()


def insert_events(conn: sqlite3.Connection, events: Iterable[OutboxEvent]) -> None:
    """Insert outbox events inside the caller's open write transaction on `conn`."""
    store = SqliteSignalStore(conn)
    for event in events:
        _insert_event(store, event)
