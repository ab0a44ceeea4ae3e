"""A signal and its outbox row commit together or not at all (real SQLite file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from argo.signals import open_signals
from argo.signals.port import SignalStore
from argo.timeutil import utc_now
from tests.kit.factories import make_signals


def counts(store: SignalStore) -> tuple[int, int]:
    conn = store.connection
    return (
        conn.execute("SELECT count(*) FROM signals").fetchone()[0],
        conn.execute("SELECT count(*) FROM sync_outbox").fetchone()[0],
    )


def test_each_signal_gets_exactly_one_created_event(tmp_path: Path) -> None:
    store = open_signals(tmp_path / "signals.db")
    signals = make_signals(20)
    store.add_many(signals[:10], utc_now())
    for signal in signals[10:]:
        assert store.add(signal, utc_now())
    pairs = store.connection.execute(
        "SELECT s.signal_id, count(o.id), min(o.event_type),"
        " min(o.payload LIKE '%' || s.sha256 || '%')"
        " FROM signals s LEFT JOIN sync_outbox o ON o.signal_id = s.signal_id GROUP BY s.signal_id"
    ).fetchall()
    assert len(pairs) == 20
    assert all(tuple(p)[1:] == (1, "signal.created", 1) for p in pairs)


def test_failure_between_the_two_inserts_leaves_neither_row(tmp_path: Path) -> None:
    store = open_signals(tmp_path / "signals.db")
    signals = make_signals(3)
    store.add(signals[0], utc_now())
    # A real SQLite fault on the second insert of the transaction.
    store.connection.execute(
        "CREATE TRIGGER fail_outbox BEFORE INSERT ON sync_outbox"
        " BEGIN SELECT RAISE(ABORT, 'injected outbox failure'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        store.add(signals[1], utc_now())
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        store.add_many(signals[1:], utc_now())
    assert counts(store) == (1, 1)
    store.connection.execute("DROP TRIGGER fail_outbox")
    assert store.add(signals[1], utc_now())
    assert counts(store) == (2, 2)


def test_storing_the_same_signal_again_adds_nothing(tmp_path: Path) -> None:
    store = open_signals(tmp_path / "signals.db")
    signal = make_signals(1)[0]
    assert store.add(signal, utc_now()) is True
    assert store.add(signal, utc_now()) is False
    assert counts(store) == (1, 1)
