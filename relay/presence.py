"""Worker presence: a stable worker id per host, the relay's row in `relay_workers`,
and what systemd hears."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from argo.outbox import OutboxAdmin, WorkerState, steady_seconds
from argo.outbox.pg_store import PgOutboxStore
from argo.process.sdnotify import SystemdNotifier
from relay.pacing import RelayState


class Presence:
    """Records state changes at once and a heartbeat every few seconds; pings the watchdog."""

    def __init__(
        self,
        admin: OutboxAdmin,
        worker_id: str,
        notifier: SystemdNotifier,
        clock: Callable[[], datetime],
        heartbeat_seconds: float = 5.0,
    ) -> None:
        self._admin = admin
        self._worker_id = worker_id
        self._notifier = notifier
        self._clock = clock
        self._heartbeat_seconds = heartbeat_seconds
        self._state = WorkerState.RUNNING
        self._detail: str | None = None
        self._last_record = 0.0

    @property
    def state(self) -> WorkerState:
        return self._state

    def started(self) -> None:
        self._record(WorkerState.RUNNING, None)
        self._notifier.ready("delivering")

    def beat(self) -> None:
        """Liveness for systemd (every call) and for `relay status` (every few seconds)."""
        self._notifier.watchdog()
        if steady_seconds() - self._last_record >= self._heartbeat_seconds:
            self._record(self._state, self._detail)

    def changed(self, state: RelayState, reason: str) -> None:
        """The relay's state changed (pause, outage, rate limit, running again)."""
        worker_state = WorkerState.PAUSED if state is RelayState.PAUSED else WorkerState.RUNNING
        detail = f"{state.value}: {reason}" if state is not RelayState.RUNNING else None
        if (worker_state, detail) != (self._state, self._detail):
            self._record(worker_state, detail)

    def stopped(self, detail: str | None = None) -> None:
        self._notifier.stopping()
        self._record(WorkerState.STOPPED, detail)

    def _record(self, state: WorkerState, detail: str | None) -> None:
        self._state, self._detail = state, detail
        self._last_record = steady_seconds()
        self._admin.record_worker(self._worker_id, state, self._clock(), detail)
        self._notifier.status(f"{state.value}{': ' + detail if detail else ''}")


MAX_SLOTS = 64


@contextmanager
def worker_slot(db_path: Path, host: str | None = None) -> Iterator[str]:
    """Hold this host's first free relay slot for `db_path`; its worker id, `host:relay-N`.

    A slot is an flock on `<db>.relay-N.lock`, released by the kernel when the process
    dies however it dies. Whoever holds slot N therefore knows that no live process
    holds leases as `host:relay-N`: a restarted relay takes over its dead predecessor's
    rows at once instead of waiting out their lease.
    """
    name = host or socket.gethostname()
    for slot in range(MAX_SLOTS):
        lock = db_path.with_name(f"{db_path.name}.relay-{slot}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield f"{name}:relay-{slot}"
        finally:
            os.close(fd)
        return
    raise RuntimeError(f"{MAX_SLOTS} relays already run on {db_path}")


def pg_worker_slot(outbox: PgOutboxStore, host: str | None = None) -> str:
    """Hold the database's first free relay slot; the worker id, `host:relay-N`.

    On PostgreSQL relays run on many hosts, so a slot is a session advisory lock on the
    outbox's own connection, held until that session ends (the server ends it when the
    process dies, however it dies). Slot numbers are shared by all hosts; a relay takes
    back at once only the leases of its own id (`host:relay-N`, a dead predecessor on the
    same host); a dead relay's rows on another host come back when their lease expires.
    """
    name = host or socket.gethostname()
    for slot in range(MAX_SLOTS):
        if outbox.take_slot(slot):
            return f"{name}:relay-{slot}"
    raise RuntimeError(f"{MAX_SLOTS} relays already run on this PostgreSQL outbox")
