"""Argo's transactional outbox, the one face the relay uses.

- `events`: what Argo announces (payloads, event ids), written with each change.
- `port`: the face itself, `OutboxStore` and `OutboxAdmin` (Protocols): claim, renew and
  settle rows under leases and fencing tokens; the backlog and status; wake-ups; a worker
  slot; dead letters, pruning, relay worker records.
- `store` (SQLite) and `pg_store` (PostgreSQL): sibling implementations, which differ in
  their query text and lease clocks only; `shared` and `admin` hold what they share,
  written once over `argo.db.seam.Db`.
- `values`, `lease`, `doorbell`: what the face takes and returns, lease time, wake-ups.
- `open_outbox` (here, at the face): the outbox at a location, on either database.
"""

from pathlib import Path

from argo.db.postgres import database_url
from argo.errors import ArgoError, OutboxMissingError, SchemaError, StoreBusyError
from argo.outbox.admin import DeadRow, Worker, WorkerState
from argo.outbox.attempts import AttemptLog, LoggedAttempt, OutboxEntry
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
from argo.outbox.pg_store import PgOutboxStore
from argo.outbox.port import OutboxAdmin, OutboxStore
from argo.outbox.receipts import KeptReceipt, ReceiptBook
from argo.outbox.store import SqliteOutboxStore
from argo.outbox.values import (
    Attempt,
    AttemptFate,
    Backlog,
    Charge,
    Claim,
    DeadLetter,
    OutboxRow,
    OutboxStatus,
    Receipt,
    Release,
    Settlement,
    TableHealth,
)

__all__ = [
    "ArgoError",
    "Attempt",
    "AttemptFate",
    "AttemptLog",
    "Backlog",
    "Charge",
    "Claim",
    "DeadLetter",
    "DeadRow",
    "EventType",
    "KeptReceipt",
    "LeaseClock",
    "LeaseTime",
    "LoggedAttempt",
    "OutboxAdmin",
    "OutboxEntry",
    "OutboxEvent",
    "OutboxMissingError",
    "OutboxRow",
    "OutboxStatus",
    "OutboxStore",
    "Receipt",
    "ReceiptBook",
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
    "open_outbox",
    "outcome_event",
    "steady_seconds",
]


def open_outbox(
    location: Path,
    *,
    setting: str = "ARGO_DB",
    synchronous: str = "NORMAL",
    lease_clock: LeaseClock = boot_clock,
) -> OutboxStore:
    """Argo's existing outbox at `location`: a SQLite file (upgraded if older), or the
    PostgreSQL database a `postgresql+psycopg://` URL names.

    Raises OutboxMissingError, naming `setting`, when there is no database or no outbox.
    """
    url = database_url(location)
    if url is not None:
        return PgOutboxStore.open_url(url)
    return SqliteOutboxStore.open_file(
        location, setting=setting, synchronous=synchronous, lease_clock=lease_clock
    )
