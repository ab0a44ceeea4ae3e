"""The attempt log read back (`outbox_attempts`, written by claim and settle): every POST of
an event, for `relay attempts`, `relay trace` and the counts `relay status` and `relay dead
list` show. A window claimed and never settled (its relay was killed) shows each of its rows
as in flight while the row carries its token, then as unknown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argo.db.seam import Db, as_optional_time, as_time
from argo.outbox.values import AttemptFate
from argo.timeutil import to_text


@dataclass(frozen=True, slots=True)
class LoggedAttempt:
    """One POST of one event as the log holds it."""

    number: int  # 1, 2, 3, ... per event
    event_id: str
    event_type: str
    signal_id: str
    relay: str
    window: str
    started_at: datetime
    duration_ms: float | None
    status: int | None
    error: str | None
    answer: str | None
    fate: AttemptFate

    def as_json(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "signal_id": self.signal_id,
            "relay": self.relay,
            "window": self.window,
            "started_at": to_text(self.started_at),
            "duration_ms": self.duration_ms,
            "http_status": self.status,
            "error": self.error,
            "answer": self.answer,
            "fate": self.fate.value,
        }


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An outbox row as `relay trace` shows it: when Argo committed it and where it stands."""

    event_id: str
    event_type: str
    signal_id: str
    committed_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    discarded_at: datetime | None
    charged: int  # failures of its own so far
    next_attempt_at: datetime | None
    last_error: str | None
    claimed_by: str | None
    traceparent: str | None = None  # Argo's span that wrote it (tracing on)

    @property
    def trace_id(self) -> str | None:
        """The OpenTelemetry trace id of the span that wrote it, if one did."""
        parts = (self.traceparent or "").split("-")
        return parts[1] if len(parts) == 4 else None

    @property
    def state(self) -> str:
        if self.delivered_at is not None:
            return "delivered"
        if self.discarded_at is not None:
            return "discarded"
        if self.dead_at is not None:
            return "dead"
        return "in flight" if self.claimed_by else "pending"

    def as_json(self) -> dict[str, Any]:
        def text(moment: datetime | None) -> str | None:
            return to_text(moment) if moment is not None else None

        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "signal_id": self.signal_id,
            "state": self.state,
            "committed_at": to_text(self.committed_at),
            "delivered_at": text(self.delivered_at),
            "dead_at": text(self.dead_at),
            "discarded_at": text(self.discarded_at),
            "charged_attempts": self.charged,
            "next_attempt_at": text(self.next_attempt_at),
            "last_error": self.last_error,
            "claimed_by": self.claimed_by,
            "trace_id": self.trace_id,
        }


@dataclass(frozen=True, slots=True)
class AttemptQueries:
    """One dialect's text of the reads (named parameters)."""

    by_key: str  # :key → the attempts of event `key`, or of every event of signal `key`
    counts: str  # :ids (outbox row ids) → outbox_id, n
    entries: str  # :key → the outbox rows of event `key`, or of signal `key`, in order


_LOGGED = """SELECT o.id AS outbox_id, o.event_id, o.event_type, o.signal_id, p.relay,
    p.window_token, p.started_at, p.duration_ms, p.http_status, p.error, p.answer, a.fate, p.n,
    a.detail, p.events
FROM outbox_attempts AS a
JOIN outbox_posts AS p ON p.window_token = a.window_token AND p.n = a.post_n
JOIN sync_outbox AS o ON o.id = a.outbox_id WHERE {match}"""
# Windows claimed and never settled: their rows' POSTs may or may not have reached Alpine.
_OPEN = """SELECT o.id, o.event_id, o.event_type, o.signal_id, w.relay, w.window_token,
    w.claimed_at, NULL, NULL, NULL, NULL,
    CASE WHEN o.claim_token = w.window_token THEN 'in flight' ELSE 'unknown' END, 0, NULL, 1
FROM outbox_windows AS w {rows} JOIN sync_outbox AS o ON o.id = {row_id} WHERE {match}"""
_ORDER = " ORDER BY 1, 7, 13"
_SQLITE_MATCH = "(o.event_id = :key OR o.signal_id = :key)"
_PG_MATCH = "(o.event_id = %(key)s OR o.signal_id = %(key)s)"
_ENTRIES = """SELECT event_id, event_type, signal_id, created_at, delivered_at, dead_at,
    discarded_at, attempts, next_attempt_at, last_error, claimed_by, traceparent
    FROM sync_outbox"""
SQLITE_ATTEMPTS = AttemptQueries(
    by_key=_LOGGED.format(match=_SQLITE_MATCH)
    + " UNION ALL "
    + _OPEN.format(rows=", json_each(w.row_ids) AS r", row_id="r.value", match=_SQLITE_MATCH)
    + _ORDER,
    counts=(
        "SELECT outbox_id, count(*) AS n FROM outbox_attempts"
        " WHERE outbox_id IN (SELECT value FROM json_each(:ids)) GROUP BY outbox_id"
    ),
    entries=f"{_ENTRIES} WHERE event_id = :key OR signal_id = :key ORDER BY id",
)
POSTGRES_ATTEMPTS = AttemptQueries(
    by_key=_LOGGED.format(match=_PG_MATCH)
    + " UNION ALL "
    + _OPEN.format(rows="CROSS JOIN unnest(w.row_ids) AS r (id)", row_id="r.id", match=_PG_MATCH)
    + _ORDER,
    counts=(
        "SELECT outbox_id, count(*) AS n FROM outbox_attempts"
        " WHERE outbox_id = ANY(%(ids)s) GROUP BY outbox_id"
    ),
    entries=f"{_ENTRIES} WHERE event_id = %(key)s OR signal_id = %(key)s ORDER BY txid, id",
)


class AttemptLog:
    """The attempt log on an open connection of either dialect."""

    def __init__(self, db: Db, queries: AttemptQueries) -> None:
        self._db = db
        self._q = queries

    def find(self, key: str) -> list[LoggedAttempt]:
        """The attempts of event `key`, or of every event of signal `key`, in order."""
        return _numbered(self._db.rows(self._q.by_key, {"key": key}))

    def entries(self, key: str) -> list[OutboxEntry]:
        """The outbox rows of event `key`, or of every event of signal `key`, in order."""
        return [_entry(r) for r in self._db.rows(self._q.entries, {"key": key})]

    def counts(self, row_ids: Iterable[int]) -> dict[int, int]:
        """How many attempts the log holds for each of those outbox rows."""
        ids = sorted(set(row_ids))
        if not ids:
            return {}
        rows = self._db.rows(self._q.counts, {"ids": ids})
        return {int(r["outbox_id"]): int(r["n"]) for r in rows}


def _numbered(rows: Sequence[Mapping[str, Any]]) -> list[LoggedAttempt]:
    seen: dict[int, int] = {}
    found = []
    for row in rows:
        number = seen[row["outbox_id"]] = seen.get(row["outbox_id"], 0) + 1
        found.append(
            LoggedAttempt(
                number=number,
                event_id=row["event_id"],
                event_type=row["event_type"],
                signal_id=row["signal_id"],
                relay=row["relay"],
                window=row["window_token"],
                started_at=as_time(row["started_at"]),
                duration_ms=_float(row["duration_ms"]),
                status=_int(row["http_status"]),
                error=row["error"],
                answer=_answer(row),
                fate=AttemptFate(row["fate"]),
            )
        )
    return found


def _entry(row: Mapping[str, Any]) -> OutboxEntry:
    return OutboxEntry(
        event_id=row["event_id"],
        event_type=row["event_type"],
        signal_id=row["signal_id"],
        committed_at=as_time(row["created_at"]),
        delivered_at=as_optional_time(row["delivered_at"]),
        dead_at=as_optional_time(row["dead_at"]),
        discarded_at=as_optional_time(row["discarded_at"]),
        charged=int(row["attempts"]),
        next_attempt_at=as_optional_time(row["next_attempt_at"]),
        last_error=row["last_error"],
        claimed_by=row["claimed_by"],
        traceparent=row["traceparent"],
    )


def _answer(row: Mapping[str, Any]) -> str | None:
    """A POST's answer; for a batch POST, this row's own part of it."""
    events = int(row["events"] or 1)
    if events > 1:
        return f"batch POST of {events}: {row['detail'] or row['answer']}"
    return row["answer"]  # type: ignore[no-any-return]


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))
