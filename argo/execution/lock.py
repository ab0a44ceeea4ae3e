"""One `argo run --auto-execute` per database: the risk book lives in the process, so a
second executor on the same signals would keep a book of its own and the limits would no
longer hold across the two.

The lock is the kernel's or the server's, so it vanishes with its holder however it dies
(SIGKILL included) and a restart is never blocked by a dead process:

- SQLite: an exclusive `flock` on `<db>.auto-execute.lock` (the holder's pid written in it
  for the message);
- PostgreSQL: a session advisory lock on a connection of its own, held until that session
  ends (the server ends it when the process dies); its `application_name` names the holder.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from argo.db.postgres import connect, database_url
from argo.errors import ExecutionLockedError
from argo.process.redact import redact_dsn

_EXECUTOR_LOCK = (0x41455845, 1)  # "AEXE": the advisory lock's two keys


@contextmanager
def execution_lock(db_path: Path) -> Iterator[None]:
    """Hold the database's executor lock for the block; ExecutionLockedError (one line,
    naming the holder) when another process holds it."""
    url = database_url(db_path)
    if url is None:
        with _file_lock(db_path):
            yield
    else:
        with _advisory_lock(url):
            yield


def lock_path(db_path: Path) -> Path:
    """The lock file beside a SQLite database."""
    return db_path.with_name(f"{db_path.name}.auto-execute.lock")


def _refused(where: str, holder: str) -> ExecutionLockedError:
    return ExecutionLockedError(
        f"another `argo run --auto-execute` already trades on {where} ({holder}); one risk"
        " book per database: stop it first, or run this one without --auto-execute"
    )


@contextmanager
def _file_lock(db_path: Path) -> Iterator[None]:
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise _refused(str(db_path), f"pid {holder}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


@contextmanager
def _advisory_lock(url: str) -> Iterator[None]:
    me = f"argo-execute@{socket.gethostname()}:{os.getpid()}"
    conn = connect(url, application_name=me)
    try:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, %s) AS got", _EXECUTOR_LOCK).fetchone()
        if not (got and got["got"]):
            row = conn.execute(
                "SELECT a.application_name AS holder FROM pg_locks AS l"
                " JOIN pg_stat_activity AS a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
                " AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid AND l.granted",
                _EXECUTOR_LOCK,
            ).fetchone()
            holder = str(row["holder"]) if row else "another session"
            raise _refused(redact_dsn(url), holder)
        yield
    finally:
        conn.close()  # ends the session: the lock goes with it
