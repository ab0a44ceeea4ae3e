"""Argo's transactional outbox, the one face the relay uses.

- `events`: what Argo announces (payloads, event ids), written with each change.
- `schema`: create or upgrade Argo's SQLite schema.
- `store`: claim, renew and settle rows under leases and fencing tokens; the backlog.
- `admin`: dead letters, pruning, relay worker records.
- `replay` (imported as `argo.outbox.replay`): re-announce stored signals.
- `pg`, `pg_store`, `pg_admin`, `pg_signals`: the same outbox on PostgreSQL, chosen when
  ARGO_DB is a `postgresql+psycopg://` URL (`OutboxStore.open` and `SignalStore.open`
  return the PostgreSQL classes); the relay needs nothing else.
"""

from argo.errors import ArgoError, OutboxMissingError, SchemaError, StoreBusyError
from argo.outbox.admin import DeadRow, OutboxAdmin, Worker, WorkerState
from argo.outbox.events import (
    EventType,
    OutboxEvent,
    created_event,
    encode_payload,
    executed_event,
    new_event_id,
    outcome_event,
)
from argo.outbox.lease import LeaseClock, LeaseTime, boot_clock, steady_seconds
from argo.outbox.store import (
    Backlog,
    Charge,
    Claim,
    DeadLetter,
    OutboxRow,
    OutboxStatus,
    OutboxStore,
    Release,
    Settlement,
    TableHealth,
)

__all__ = [
    "ArgoError",
    "Backlog",
    "Charge",
    "Claim",
    "DeadLetter",
    "DeadRow",
    "EventType",
    "LeaseClock",
    "LeaseTime",
    "OutboxAdmin",
    "OutboxEvent",
    "OutboxMissingError",
    "OutboxRow",
    "OutboxStatus",
    "OutboxStore",
    "Release",
    "SchemaError",
    "Settlement",
    "StoreBusyError",
    "TableHealth",
    "Worker",
    "WorkerState",
    "boot_clock",
    "created_event",
    "encode_payload",
    "executed_event",
    "new_event_id",
    "outcome_event",
    "steady_seconds",
]
