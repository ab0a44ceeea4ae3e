"""Every query the relay runs walks an index and stops early: its cost does not grow with
the delivered rows the outbox keeps (EXPLAIN QUERY PLAN on a filled outbox)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from argo.outbox.store import (
    BACKLOG,
    CLAIM,
    DEAD_COUNT,
    DELIVERED,
    DUE_ROWS,
    LAST_ERRORS,
    PARKED,
)
from tests.kit.factories import filled_store

PARAMS = {
    "now": "2026-12-01T00:00:00.000000Z",
    "epoch": "boot",
    "clock": 1.0,
    "latest": "2026-01-01T01:00:00.000000Z",
    "worker": "w",
    "until": "u",
    "token": "t",
    "expires": 2.0,
    "limit": 200,
}
QUERIES = {
    "claim": (CLAIM, PARAMS),
    "has_due": (f"{DUE_ROWS} ORDER BY o.id LIMIT 1", PARAMS),
    "backlog": (BACKLOG, PARAMS),
    "parked": (PARKED, ()),
    "dead": (DEAD_COUNT, ()),
    "delivered": (DELIVERED, ()),
    "last_pending_error": (LAST_ERRORS[0], ()),
    "last_dead_error": (LAST_ERRORS[1], ()),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_plan_walks_an_index(tmp_path: Path, name: str) -> None:
    db = tmp_path / "signals.db"
    filled_store(db, 50)[0].close()
    with sqlite3.connect(db) as conn:
        # Most rows delivered, as in a long-running outbox; statistics like production.
        conn.execute("UPDATE sync_outbox SET delivered_at = created_at WHERE id % 10 <> 0")
        conn.execute("ANALYZE")
        sql, params = QUERIES[name]
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert not [step for step in plan if "TEMP B-TREE" in step], plan
    full_scans = [s for s in plan if s.startswith("SCAN") and "USING" not in s]
    assert not full_scans, plan
