"""The outbox's values: a claimed row, a claim, each fate of a settle, the backlog and the
status. Both stores (SQLite, PostgreSQL) take and return exactly these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argo.db.seam import as_optional_time, as_time
from argo.outbox.lease import LeaseTime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed outbox row: what to send and its retry state."""

    id: int
    event_id: str
    event_type: str
    signal_id: str
    payload: str
    created_at: datetime
    attempts: int
    first_failed_at: datetime | None = None
    traceparent: str | None = None  # the span that wrote it (Argo with tracing on)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> OutboxRow:
        """From a claimed row of either dialect (times as text or timestamptz)."""
        return cls(
            id=row["id"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            signal_id=row["signal_id"],
            payload=row["payload"],
            created_at=as_time(row["created_at"]),
            attempts=row["attempts"],
            first_failed_at=as_optional_time(row["first_failed_at"]),
            traceparent=row["traceparent"],
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """Rows leased to one worker under one fencing token, oldest first."""

    worker: str
    token: str
    rows: tuple[OutboxRow, ...]
    expires: LeaseTime


@dataclass(frozen=True, slots=True)
class Charge:
    """A row that failed on its own: its new attempt count, when it is due again."""

    row_id: int
    attempts: int
    next_attempt_at: datetime
    first_failed_at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    row_id: int
    attempts: int
    error: str


@dataclass(frozen=True, slots=True)
class Release:
    """A row handed back uncharged (outage, pause, rate limit, not sent)."""

    row_id: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """Alpine's signed receipt for a row settled delivered: its JSON as Alpine sent it, and
    whether it was checked against the keys the relay pins (kept in `outbox_receipts`)."""

    row_id: int
    text: str
    verified: bool


@dataclass(frozen=True, slots=True)
class Settlement:
    """The fate of every row of one claim, written in one transaction."""

    delivered: tuple[int, ...] = ()
    charged: tuple[Charge, ...] = ()
    dead: tuple[DeadLetter, ...] = ()
    released: tuple[Release, ...] = ()
    receipts: tuple[Receipt, ...] = ()  # of delivered rows whose answer carried one


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    in_flight: int
    dead: int
    parked: int
    oldest_pending_created_at: datetime | None


@dataclass(frozen=True, slots=True)
class TableHealth:
    """What autovacuum has to do: dead tuples the prune and settles left, and the size."""

    live_rows: int
    dead_rows: int
    total_bytes: int
    last_vacuum: datetime | None


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    backlog: Backlog
    delivered: int
    last_delivered_at: datetime | None
    last_error: str | None
    last_freshness_seconds: float | None = None  # signal timestamp -> its delivery
    table: TableHealth | None = None  # PostgreSQL only: what autovacuum has to do
