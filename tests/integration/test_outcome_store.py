"""Outcomes commit with their outbox event in one transaction (real SQLite file)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from argo.signal import Outcome, OutcomeKind
from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.kit.factories import make_signals

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def outcome_for(signal_id: str, kind: OutcomeKind = OutcomeKind.WIN) -> Outcome:
    return Outcome(signal_id, "AAPL", kind, 123.0, 2.5, NOW)


def test_outcome_and_event_commit_together_once(tmp_path: Path) -> None:
    store = open_signals(tmp_path / "signals.db")
    signals = make_signals(3)
    store.add_many(signals, utc_now())
    applied = store.record_outcomes([outcome_for(signals[0].signal_id)], NOW)
    assert len(applied) == 1
    again = store.record_outcomes([outcome_for(signals[0].signal_id, OutcomeKind.LOSS)], NOW)
    assert again == []
    rows = store.connection.execute(
        "SELECT event_type, payload FROM sync_outbox WHERE signal_id = ? ORDER BY id",
        (signals[0].signal_id,),
    ).fetchall()
    assert [r[0] for r in rows] == ["signal.created", "signal.outcome"]
    assert '"outcome":"win"' in rows[1][1]
    assert len(store.open_signals()) == 2


def test_a_failure_on_the_event_insert_leaves_the_signal_open(tmp_path: Path) -> None:
    store = open_signals(tmp_path / "signals.db")
    [signal] = make_signals(1)
    store.add(signal, utc_now())
    store.connection.execute(
        "CREATE TRIGGER no_outcome_events BEFORE INSERT ON sync_outbox"
        " WHEN NEW.event_type = 'signal.outcome' BEGIN SELECT RAISE(ABORT, 'injected'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        store.record_outcomes([outcome_for(signal.signal_id)], NOW)
    row = store.connection.execute("SELECT outcome FROM signals").fetchone()
    assert row[0] is None
    assert store.connection.execute("SELECT count(*) FROM sync_outbox").fetchone()[0] == 1
