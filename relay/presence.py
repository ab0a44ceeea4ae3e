"""Worker presence: a stable worker id per host, the relay's row in `relay_workers`,
and what systemd hears."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from argo.outbox import OutboxAdmin, WorkerState, steady_seconds
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
