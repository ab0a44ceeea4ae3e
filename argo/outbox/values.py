"""The outbox's values: a claimed row, a claim, each fate of a settle, the backlog and the
status. Both stores (SQLite, PostgreSQL) take and return exactly these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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
    tried: int = 0  # POSTs the attempt log held for it before this claim

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
            tried=int(row.get("tried") or 0),
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


class AttemptFate(StrEnum):
    """What one POST of a row led to, as the attempt log keeps it."""

    IN_FLIGHT = "in flight"  # claimed, its window not settled yet
    DELIVERED = "delivered"
    RETRY_LATER = "retry later"  # charged: due again after the row's backoff
    RETRIED_AT_ONCE = "retried at once"  # a quick second POST followed in the same window
    RELEASED = "released"  # handed back uncharged (outage, pause, rate limit)
    DEAD = "dead"
    UNKNOWN = "unknown"  # read only: left in flight by a relay that stopped before settling


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of one row (or its share of a batch POST), for the attempt log."""

    row_id: int
    post: int  # the POST's number: a batch's rows share it (unique in the window)
    started_at: datetime
    seconds: float
    status: int | None  # Alpine's HTTP status, when an answer came
    error: str | None  # the transport error's class, when none did
    answer: str  # a capped excerpt of the POST's answer, or the reason
    detail: str  # this row's own answer within it (a batch item's), or ""
    fate: AttemptFate


@dataclass(frozen=True, slots=True)
class Settlement:
    """The fate of every row of one claim, written in one transaction."""

    delivered: tuple[int, ...] = ()
    charged: tuple[Charge, ...] = ()
    dead: tuple[DeadLetter, ...] = ()
    released: tuple[Release, ...] = ()
    receipts: tuple[Receipt, ...] = ()  # of delivered rows whose answer carried one
    attempts: tuple[Attempt, ...] | None = None  # None: the attempt log is off


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
    last_error_event: str | None = None  # the event whose row holds `last_error`
    last_freshness_seconds: float | None = None  # signal timestamp -> its delivery
    table: TableHealth | None = None  # PostgreSQL only: what autovacuum has to do
