"""Fills held after a failed store are not dropped at SIGTERM: a real `argo run
--auto-execute` whose fill cannot be committed (a trigger refuses `signal.executed` rows)
writes it beside the database with one log line at SIGTERM, and the next start commits it."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

from argo.signals import open_signals
from tests.support import spawn, wait_for

RUN = ("run", "--auto-execute", "--interval", "0.05", "--metrics-port", "0", "--threshold", "0")
REFUSE_FILLS = (
    "CREATE TRIGGER no_executions BEFORE INSERT ON sync_outbox"
    " WHEN NEW.event_type = 'signal.executed' BEGIN SELECT RAISE(ABORT, 'injected'); END"
)


def _sql(db: Path, statement: str) -> None:
    with sqlite3.connect(db, timeout=30) as conn:
        conn.execute(statement)


def test_a_fill_held_at_sigterm_is_written_and_applied_at_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    env = {"ARGO_DB": str(db), "ARGO_AUDIT_LOG": str(tmp_path / "signals.log")}
    open_signals(db).close()
    _sql(db, REFUSE_FILLS)
    log = tmp_path / "first.log"
    first = spawn("argo", *RUN, env=env, log=log)
    try:
        wait_for(
            lambda: "event=store_failed" in log.read_text() or first.poll() is not None,
            timeout=90,
            what="a fill's commit to fail",
        )
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, log.read_text()
    held_file = tmp_path / "signals.db.held-fills.jsonl"
    held = [json.loads(line) for line in held_file.read_text().splitlines()]
    assert held and all(h["order_id"].startswith("paper-") for h in held)
    assert log.read_text().count("event=fills_held") == 1
    store = open_signals(db)
    try:
        assert store.trades() == []
    finally:
        store.close()

    _sql(db, "DROP TRIGGER no_executions")
    log = tmp_path / "second.log"
    second = spawn("argo", *RUN, env=env, log=log)
    try:
        wait_for(
            lambda: "argo: generating for" in log.read_text() or second.poll() is not None,
            timeout=60,
            what="the next start",
        )
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()
    assert "event=held_fills_applied" in log.read_text()
    assert not held_file.exists()
    store = open_signals(db)
    try:
        recorded = {f.order_id for f in store.fills_of([h["signal_id"] for h in held])}
    finally:
        store.close()
    assert recorded == {h["order_id"] for h in held}
