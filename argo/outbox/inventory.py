"""What Argo committed in a window, and how far each signal's creation got: the Argo side
of `relay verify`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from argo.outbox.events import EventType
from argo.timeutil import to_text

# A signal with no creation event left was delivered: `relay prune` deletes only
# delivered rows.
_COMMITTED = f"""
SELECT s.signal_id, s.sha256,
       count(o.id) AS events,
       max(o.delivered_at IS NOT NULL) AS delivered,
       max(o.delivered_at IS NULL AND o.dead_at IS NULL) AS pending
FROM signals AS s
LEFT JOIN sync_outbox AS o
       ON o.signal_id = s.signal_id AND o.event_type = '{EventType.SIGNAL_CREATED}'
WHERE {{where}}
GROUP BY s.signal_id
"""


class Delivery(StrEnum):
    """How far a signal's creation got."""

    DELIVERED = "delivered"  # acknowledged by Alpine (or pruned after that)
    PENDING = "pending"  # an event is still on its way
    DEAD = "dead"  # every creation event is a dead letter


@dataclass(frozen=True, slots=True)
class Committed:
    signal_id: str
    sha256: str
    delivery: Delivery


def committed_in(
    conn: sqlite3.Connection, since: datetime, until: datetime
) -> dict[str, Committed]:
    """Signals whose timestamp is in [since, until), with their delivery state."""
    sql = _COMMITTED.format(where="s.timestamp >= ? AND s.timestamp < ?")
    return _read(conn.execute(sql, (to_text(since), to_text(until))))


def committed_ids(conn: sqlite3.Connection, signal_ids: Iterable[str]) -> dict[str, Committed]:
    """The same for given signal ids (a second look at ones committed meanwhile)."""
    ids = list(signal_ids)
    found: dict[str, Committed] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = _COMMITTED.format(where=f"s.signal_id IN ({','.join('?' * len(chunk))})")
        found.update(_read(conn.execute(sql, chunk)))
    return found


def _read(rows: Iterable[sqlite3.Row]) -> dict[str, Committed]:
    found = {}
    for row in rows:
        if row["pending"]:
            delivery = Delivery.PENDING
        elif row["delivered"] or not row["events"]:
            delivery = Delivery.DELIVERED
        else:
            delivery = Delivery.DEAD
        found[row["signal_id"]] = Committed(row["signal_id"], row["sha256"], delivery)
    return found
