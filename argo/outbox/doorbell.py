"""A best-effort wake-up from Argo's writers to the relay: one datagram on a Unix socket
beside the database after each commit.

The relay learns of a commit within a millisecond instead of at its next poll. It is a
hint only: a writer that rings while no relay listens costs one failed `sendto`; a ring
lost (socket buffer full, second relay on the host) costs at most one poll interval,
because the relay still reads `PRAGMA data_version` between waits. On PostgreSQL the
hint is LISTEN/NOTIFY instead (`argo.db.postgres.PgDoorbell`); each outbox store's
`wakeups()` opens its own.
"""

from __future__ import annotations

import atexit
import contextlib
import select
import socket
from pathlib import Path
from typing import Protocol


def doorbell_path(db_path: Path) -> Path:
    """Where the relay of the database at `db_path` listens."""
    return db_path.with_name(db_path.name + ".doorbell")


_sender: socket.socket | None = None


def _sending_socket() -> socket.socket:
    """One unbound datagram socket per process, shared by every Bell (sendto is atomic)."""
    global _sender
    if _sender is None:
        _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _sender.setblocking(False)
        atexit.register(_sender.close)  # closed, not left to the interpreter's teardown
    return _sender


class Bell:
    """The writer's side: `ring()` after a commit; never raises, never blocks."""

    def __init__(self, db_path: Path) -> None:
        self._path = str(doorbell_path(db_path))

    def ring(self) -> None:
        with contextlib.suppress(OSError):
            _sending_socket().sendto(b"!", self._path)


class Wakeup(Protocol):
    """What the relay waits on between polls: a doorbell (SQLite) or LISTEN (PostgreSQL)."""

    def wait(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class Doorbell:
    """The relay's side: a bound datagram socket to wait on."""

    def __init__(self, sock: socket.socket, path: Path) -> None:
        self._socket = sock
        self._path = path

    @classmethod
    def listen(cls, db_path: Path) -> Doorbell | None:
        """Bind the doorbell of `db_path`; None when another live relay holds it or the
        path cannot be bound (the caller then relies on polling alone)."""
        path = doorbell_path(db_path)
        if path.exists() and _answered(path):
            return None
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left behind by a relay that was killed
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(path))
        except OSError:
            sock.close()
            return None
        sock.setblocking(False)
        return cls(sock, path)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a ring; True if one (or several) came."""
        ready, _, _ = select.select([self._socket], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while self._socket.recv(64):
                pass
        return True

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


def _answered(path: Path) -> bool:
    """Whether a live socket is bound at `path` (a stale one refuses the connection)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
