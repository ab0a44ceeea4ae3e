"""Opening Argo's SQLite file and running short write transactions on it.

Both the generator and the relay write to the same file. SQLite's own busy handler
sleeps 1-100 ms between tries, so a writer that commits flat out starves the other
(see PERFORMANCE-NOTES.md). `write_transaction` therefore retries the write lock
itself, quickly and with a bounded total wait, and writers start with
`BEGIN IMMEDIATE` so a read lock never has to be upgraded.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path

from argo.db.seam import Params, Row
from argo.errors import ConfigError, StoreBusyError
from argo.timeutil import to_text

DEFAULT_LOCK_WAIT_SECONDS = 30.0
_FIRST_PAUSE = 0.0002
_MAX_PAUSE = 0.005
_URL = re.compile(r"^postgres(ql)?(\+psycopg)?:/")


def connect(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open `path` in autocommit mode with WAL, foreign keys and the given durability.

    Autocommit (isolation_level=None) means no read transaction stays open between
    statements, so the WAL can always checkpoint; writes use `write_transaction`.
    A PostgreSQL URL is a ConfigError naming ARGO_DB: the caller works on SQLite only.
    """
    if _URL.match(str(path)):
        raise ConfigError(
            "this command works on Argo's SQLite database only; ARGO_DB is a PostgreSQL URL"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 0")
    _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"), DEFAULT_LOCK_WAIT_SECONDS)
    conn.execute(f"PRAGMA synchronous = {_checked_synchronous(synchronous)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _checked_synchronous(value: str) -> str:
    allowed = {"OFF", "NORMAL", "FULL", "EXTRA"}
    upper = value.upper()
    if upper not in allowed:
        raise ValueError(f"synchronous must be one of {sorted(allowed)}, got {value!r}")
    return upper


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    message = str(exc)
    return "locked" in message or "busy" in message


def _retry_locked(operation: Callable[[], object], wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    pause = _FIRST_PAUSE
    while True:
        try:
            operation()
            return
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)


@contextmanager
def write_transaction(
    conn: sqlite3.Connection, *, lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS
) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any exception.

    Waits for the write lock with short pauses (0.2-5 ms) for at most
    `lock_wait_seconds`, then raises StoreBusyError.
    """
    try:
        _retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"), lock_wait_seconds)
    except sqlite3.OperationalError as exc:
        if _is_locked(exc):
            raise StoreBusyError(f"write lock not free after {lock_wait_seconds} s") from exc
        raise
    try:
        yield conn
        _retry_locked(lambda: conn.execute("COMMIT"), lock_wait_seconds)
    except BaseException:
        # SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR): a second
        # ROLLBACK would raise "no transaction is active" and hide the real error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class SqliteDb:
    """`argo.db.seam.Db` over one SQLite connection (autocommit; writes in
    `write_transaction`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = self.conn.execute(sql, _sqlite_params(params))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def one(self, sql: str, params: Params = ()) -> Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def run(self, sql: str, params: Params = ()) -> int:
        return int(self.conn.execute(sql, _sqlite_params(params)).rowcount)

    def run_many(self, sql: str, params: Sequence[Params]) -> None:
        self.conn.executemany(sql, [_sqlite_params(p) for p in params])

    def transaction(self) -> AbstractContextManager[object]:
        return write_transaction(self.conn)

    def time(self, value: datetime) -> object:
        return to_text(value)

    def close(self) -> None:
        self.conn.close()


def _sqlite_params(params: Params) -> Params:
    """A list parameter travels as one JSON array, read back with json_each."""
    if isinstance(params, Mapping):
        return {k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()}
    return [json.dumps(p) if isinstance(p, list) else p for p in params]
