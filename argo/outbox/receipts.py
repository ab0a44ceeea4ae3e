"""The receipts Alpine signed for delivered events, as the relay keeps them
(`outbox_receipts`, written by settle): read back for `relay receipts` and `relay verify`.

Rows outlive the outbox rows they belong to (`relay prune` leaves them), so a dispute long
after delivery still has its proof.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argo.db.seam import Db, as_time
from argo.timeutil import to_text


@dataclass(frozen=True, slots=True)
class KeptReceipt:
    """One kept receipt: the event it is for, Alpine's signed JSON, and when it came."""

    event_id: str
    signal_id: str
    event_type: str
    receipt: dict[str, Any]
    verified: bool  # checked against the relay's pinned keys when it came
    received_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> KeptReceipt:
        return cls(
            event_id=row["event_id"],
            signal_id=row["signal_id"],
            event_type=row["event_type"],
            receipt=json.loads(row["receipt"]),
            verified=bool(row["verified"]),
            received_at=as_time(row["received_at"]),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "signal_id": self.signal_id,
            "event_type": self.event_type,
            "received_at": to_text(self.received_at),
            "verified_on_receipt": self.verified,
            "receipt": self.receipt,
        }


@dataclass(frozen=True, slots=True)
class ReceiptQueries:
    """One dialect's text of the reads (named parameters)."""

    by_key: str  # :key → the receipts of that event id, or of every event of that signal id
    between: str  # :since :until :limit → received in [since, until), oldest first
    for_signals: str  # :ids → every receipt of those signals


_COLUMNS = "event_id, signal_id, event_type, receipt, verified, received_at"
SQLITE_RECEIPTS = ReceiptQueries(
    by_key=(
        f"SELECT {_COLUMNS} FROM outbox_receipts WHERE event_id = :key OR signal_id = :key"
        " ORDER BY received_at, event_id"
    ),
    between=(
        f"SELECT {_COLUMNS} FROM outbox_receipts WHERE received_at >= :since"
        " AND received_at < :until ORDER BY received_at, event_id LIMIT :limit"
    ),
    for_signals=(
        f"SELECT {_COLUMNS} FROM outbox_receipts"
        " WHERE signal_id IN (SELECT value FROM json_each(:ids)) ORDER BY received_at, event_id"
    ),
)
POSTGRES_RECEIPTS = ReceiptQueries(
    by_key=(
        f"SELECT {_COLUMNS} FROM outbox_receipts"
        " WHERE event_id = %(key)s OR signal_id = %(key)s ORDER BY received_at, event_id"
    ),
    between=(
        f"SELECT {_COLUMNS} FROM outbox_receipts WHERE received_at >= %(since)s"
        " AND received_at < %(until)s ORDER BY received_at, event_id LIMIT %(limit)s"
    ),
    for_signals=(
        f"SELECT {_COLUMNS} FROM outbox_receipts WHERE signal_id = ANY(%(ids)s)"
        " ORDER BY received_at, event_id"
    ),
)


class ReceiptBook:
    """The kept receipts on an open connection of either dialect."""

    def __init__(self, db: Db, queries: ReceiptQueries) -> None:
        self._db = db
        self._q = queries

    def find(self, key: str) -> list[KeptReceipt]:
        """The receipt of event `key`, or those of every event of signal `key`."""
        return [KeptReceipt.from_row(r) for r in self._db.rows(self._q.by_key, {"key": key})]

    def between(
        self, since: datetime, until: datetime, limit: int = 1_000_000
    ) -> list[KeptReceipt]:
        """Receipts received in [since, until), oldest first."""
        values = {"since": self._db.time(since), "until": self._db.time(until), "limit": limit}
        return [KeptReceipt.from_row(r) for r in self._db.rows(self._q.between, values)]

    def for_signals(self, signal_ids: Iterable[str]) -> list[KeptReceipt]:
        """Every kept receipt of those signals (creation, outcome, execution)."""
        ids = sorted(set(signal_ids))
        if not ids:
            return []
        rows = self._db.rows(self._q.for_signals, {"ids": ids})
        return [KeptReceipt.from_row(r) for r in rows]
