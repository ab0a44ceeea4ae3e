"""The outbox's one face: what the relay (and `relay status`, `relay dead`, `relay prune`)
may ask of it, whichever database holds it. `argo.outbox.store.SqliteOutboxStore` and
`argo.outbox.pg_store.PgOutboxStore` implement it as siblings; `argo.outbox.open_outbox`
picks one from the location.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from argo.outbox.admin import DeadRow, Worker, WorkerState
from argo.outbox.attempts import AttemptLog
from argo.outbox.doorbell import Wakeup
from argo.outbox.receipts import ReceiptBook
from argo.outbox.values import Backlog, Claim, OutboxStatus, Settlement, TableHealth


class OutboxAdmin(Protocol):
    """Operator actions: dead letters, pruning, relay worker records."""

    def dead_letters(self, limit: int | None = None) -> list[DeadRow]: ...

    def retry_dead(self, event_ids: Sequence[str] | None, now: datetime) -> int: ...

    def discard_dead(self, event_ids: Sequence[str], now: datetime) -> int: ...

    def release_leases_of(self, worker_id: str) -> int: ...

    def prune_delivered(
        self,
        older_than: datetime,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> int: ...

    def prunable(self, older_than: datetime) -> int: ...

    def record_worker(
        self, worker_id: str, state: WorkerState, now: datetime, detail: str | None = None
    ) -> None: ...

    def workers(self, now: datetime) -> list[Worker]: ...


class OutboxStore(Protocol):
    """Claim, renew and settle rows under leases and fencing tokens; the backlog, the status
    and the table's health; wake-ups; a worker slot; the admin."""

    def has_due(self, now: datetime, longest_wait: float = ...) -> bool: ...

    def claim(
        self,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        longest_wait: float = ...,
        *,
        log_attempts: bool = ...,
    ) -> Claim: ...

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> frozenset[int]: ...

    def settle(self, claim: Claim, settlement: Settlement, now: datetime) -> int: ...

    def backlog(self, now: datetime) -> Backlog: ...

    def status(self, now: datetime) -> OutboxStatus: ...

    def table_health(self) -> TableHealth | None: ...

    def data_version(self) -> int:
        """Changes whenever a writer commits: a cheap "anything new?" probe."""
        ...

    def wakeups(self) -> Wakeup | None:
        """The hint that rows were committed, to wait on between polls (None: poll only)."""
        ...

    def take_worker_slot(self, host: str | None = None) -> str:
        """Hold the first free relay slot until `close`; the worker id, `host:relay-N`.

        Whoever holds slot N knows that no live process holds leases as `host:relay-N`, so
        a restarted relay takes its dead predecessor's rows back at once."""
        ...

    def admin(self) -> OutboxAdmin: ...

    def attempts(self) -> AttemptLog:
        """Every POST of every outbox row, as claim and settle logged them."""
        ...

    def receipts(self) -> ReceiptBook:
        """Alpine's receipts for delivered events, as kept by settle."""
        ...

    def close(self) -> None: ...
