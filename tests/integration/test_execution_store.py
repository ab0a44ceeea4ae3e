"""Fills commit with their `signal.executed` event in one transaction, on a real SQLite file
and a real PostgreSQL database; the schema upgrades that make room for them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest

from argo.db.postgres import connect as pg_connect
from argo.db.postgres import migrations, upgrade
from argo.db.schema import current_version, ensure_schema, latest_version, statements
from argo.db.sqlite import connect
from argo.outbox.events import created_event
from argo.signal import Signal
from argo.signals import open_signals
from argo.signals.queries import SQLITE_WRITES
from argo.signals.writes import signal_params
from argo.timeutil import from_text, to_text, utc_now
from argo.trades import Fill
from tests.kit.factories import make_signals
from tests.kit.pgdb import (
    argo_database,
    argo_rows,
    conninfo,
    create_database,
    drop_database,
    url_for,
)

V3 = Path(__file__).parent / "data" / "argo_v3.sql"


def fill_for(signal: Signal, order_id: str = "paper-0001", price: float = 101.25) -> Fill:
    return Fill(signal.signal_id, order_id, signal.symbol, signal.action, price, utc_now())


def test_order_id_and_event_commit_together_once(tmp_path: Path) -> None:
    store = open_signals(tmp_path / "signals.db")
    signals = make_signals(2)
    store.add_many(signals, utc_now())
    fill = fill_for(signals[0])
    assert store.record_executions([fill], utc_now()) == [fill]
    assert store.record_executions([fill_for(signals[0], "paper-0002")], utc_now()) == []
    row = store.connection.execute(
        "SELECT order_id, fill_price, executed_at FROM signals WHERE signal_id = ?",
        (fill.signal_id,),
    ).fetchone()
    assert (row[0], row[1], from_text(row[2])) == ("paper-0001", 101.25, fill.executed_at)
    events = store.connection.execute(
        "SELECT event_type, payload FROM sync_outbox WHERE signal_id = ? ORDER BY id",
        (fill.signal_id,),
    ).fetchall()
    assert [e[0] for e in events] == ["signal.created", "signal.executed"]
    assert set(json.loads(events[1][1])) == {"signal_id", "order_id", "executed_at", "fill_price"}
    [trade] = store.trades()
    assert (trade.signal_id, trade.fill_price, trade.open) == (fill.signal_id, 101.25, True)
    store.close()


def test_a_failure_on_the_event_insert_leaves_neither(tmp_path: Path) -> None:
    store = open_signals(tmp_path / "signals.db")
    [signal] = make_signals(1)
    store.add(signal, utc_now())
    store.connection.execute(
        "CREATE TRIGGER no_executions BEFORE INSERT ON sync_outbox"
        " WHEN NEW.event_type = 'signal.executed' BEGIN SELECT RAISE(ABORT, 'injected'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        store.record_executions([fill_for(signal)], utc_now())
    row = store.connection.execute("SELECT order_id, fill_price FROM signals").fetchone()
    assert tuple(row) == (None, None)
    assert store.connection.execute("SELECT count(*) FROM sync_outbox").fetchone()[0] == 1
    store.connection.execute("DROP TRIGGER no_executions")
    assert len(store.record_executions([fill_for(signal)], utc_now())) == 1  # the retry
    store.close()


def _v3_database(path: Path) -> None:
    old = connect(path)
    for statement in statements(V3.read_text()):
        old.execute(statement)
    old.execute("PRAGMA user_version = 3")
    now = utc_now()
    now_text = to_text(now)
    for signal in make_signals(3):  # as version 3 wrote them: no traceparent column yet
        old.execute(SQLITE_WRITES.insert_signal, signal_params(signal, now_text))
        event = created_event(signal, now)
        old.execute(
            "INSERT INTO sync_outbox (event_id, event_type, signal_id, payload, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?5, ?5)",
            (event.event_id, event.event_type.value, event.signal_id, event.payload, now_text),
        )
    old.execute("DELETE FROM sync_outbox WHERE id = 3")  # pruned: its id is never reused
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        old.execute(
            "INSERT INTO sync_outbox (event_id, event_type, signal_id, payload, created_at,"
            " next_attempt_at) SELECT 'e', 'signal.executed', signal_id, '{}', 't', 't'"
            " FROM signals LIMIT 1"
        )
    old.close()


def test_a_version_3_database_upgrades_and_the_upgrade_is_safe_to_rerun(tmp_path: Path) -> None:
    _v3_database(tmp_path / "old.db")
    conn = connect(tmp_path / "old.db")
    assert current_version(conn) == 3
    before = [tuple(r) for r in conn.execute("SELECT * FROM sync_outbox ORDER BY id")]
    assert ensure_schema(conn) == latest_version()
    assert ensure_schema(conn) == latest_version()
    conn.close()
    store = open_signals(tmp_path / "old.db")  # what `argo run` does on start
    conn = store.connection
    after = [tuple(r) for r in conn.execute("SELECT * FROM sync_outbox ORDER BY id")]
    width = len(before[0])
    assert [r[:width] for r in after] == before  # every row and column kept, ids included
    assert {r[width:] for r in after} == {(None,)}  # traceparent (version 6), NULL
    [signal] = [s.signal for s in store.signals()][:1]
    assert len(store.record_executions([fill_for(signal)], utc_now())) == 1
    ids = [r[0] for r in conn.execute("SELECT id FROM sync_outbox ORDER BY id")]
    assert ids == [1, 2, 4]
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_outbox_pending", "idx_outbox_signal", "idx_signals_executed"} <= indexes
    store.close()


def test_postgresql_store_commits_fill_and_event_together() -> None:
    with argo_database() as url:
        store = open_signals(Path(url))
        signals = make_signals(2)
        store.add_many(signals, utc_now())
        fill = fill_for(signals[1], price=99.5)
        assert store.record_executions([fill], utc_now()) == [fill]
        assert store.record_executions([fill], utc_now()) == []
        [trade] = store.trades()
        assert (trade.signal_id, trade.fill_price) == (fill.signal_id, 99.5)
        store.close()
        events = argo_rows(url, "SELECT event_type, signal_id FROM sync_outbox ORDER BY id")
        assert [e["event_type"] for e in events] == [
            "signal.created",
            "signal.created",
            "signal.executed",
        ]
        with psycopg.connect(conninfo(url)) as conn:
            conn.execute(
                "CREATE FUNCTION no_exec() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'injected'; END $$"
            )
            conn.execute(
                "CREATE TRIGGER no_exec BEFORE INSERT ON sync_outbox FOR EACH ROW"
                " WHEN (NEW.event_type = 'signal.executed') EXECUTE FUNCTION no_exec()"
            )
        store = open_signals(Path(url))
        with pytest.raises(psycopg.Error, match="injected"):
            store.record_executions([fill_for(signals[0])], utc_now())
        store.close()
        [row] = argo_rows(
            url, f"SELECT order_id FROM signals WHERE signal_id = '{signals[0].signal_id}'"
        )
        assert row["order_id"] is None


def test_postgresql_upgrade_from_version_1() -> None:
    name = create_database("argo_outbox_v1")
    try:
        conn = pg_connect(conninfo(url_for(name)))
        _, first = migrations()[1]
        with conn.transaction():
            conn.execute(first.encode())
            conn.execute(
                "CREATE TABLE argo_schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            conn.execute("INSERT INTO argo_schema_migrations VALUES (1, '0001_outbox.sql')")
        later = tuple(name for version, (name, _) in sorted(migrations().items()) if version > 1)
        assert later[0] == "0002_executed.sql" and upgrade(conn).applied == later
        assert upgrade(conn).applied == ()
        conn.close()
        store = open_signals(Path(url_for(name)))
        [signal] = make_signals(1)
        store.add(signal, utc_now())
        assert len(store.record_executions([fill_for(signal)], utc_now())) == 1
        store.close()
    finally:
        drop_database(name)
