"""Dead-letter triage: group dead letters by cause so an operator decides per cause. Pure."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from argo.outbox import DeadRow

_IDS = re.compile(r"\b[0-9a-f]{12,}\b|\bevt_[0-9a-f]+\b")
# Numbers, but not the digits of a word (sha256) or an HTTP status.
_NUMBERS = re.compile(r"(?<![\w.])(?<!HTTP )-?\d+(?:\.\d+)?(?:e-?\d+)?(?!\w)")


def cause_of(error: str) -> str:
    """The reason without what differs between rows (ids, numbers), keeping HTTP statuses:
    `HTTP 422: entry_price: Input should be greater than N` for every such row."""
    text = " ".join(error.split())
    return _NUMBERS.sub("N", _IDS.sub("<id>", text))[:160]


def cause_id(cause: str) -> str:
    """A short stable handle for a cause, for `relay dead retry|discard --cause`."""
    return hashlib.sha256(cause.encode()).hexdigest()[:6]


@dataclass
class Cause:
    """Dead letters sharing one cause."""

    cause: str
    event_ids: list[str] = field(default_factory=list)
    first_dead_at: datetime | None = None
    last_dead_at: datetime | None = None

    @property
    def id(self) -> str:
        return cause_id(self.cause)

    def add(self, row: DeadRow) -> None:
        self.event_ids.append(row.event_id)
        if self.first_dead_at is None or row.dead_at < self.first_dead_at:
            self.first_dead_at = row.dead_at
        if self.last_dead_at is None or row.dead_at > self.last_dead_at:
            self.last_dead_at = row.dead_at


def group(rows: Iterable[DeadRow]) -> list[Cause]:
    """Causes, the most frequent first."""
    causes: dict[str, Cause] = {}
    for row in rows:
        cause = cause_of(row.last_error)
        causes.setdefault(cause, Cause(cause)).add(row)
    return sorted(causes.values(), key=lambda c: (-len(c.event_ids), c.cause))


def select(causes: Iterable[Cause], wanted: str) -> Cause | None:
    """The cause named by its id or its exact text."""
    return next((c for c in causes if wanted in (c.id, c.cause)), None)
